/**
 * What is wrong with the Grid Engine cluster for a config, as checks each with a fix. Pure, over the
 * facts Grid Engine reports. One set of checks for both: `up`'s preflight stops at the first failure,
 * `doctor` prints them all.
 */
import type { ClusterSpec, NodeTypeSpec } from "../config/normalise.js";
import type { Queue, SgeClient } from "../sge/client.js";
import type { Complex, ParallelEnvironment } from "../sge/qconf.js";
import type { ExecHost } from "../sge/qhost.js";
import { describeScheduler, type SchedulerInfo } from "../sge/scheduler.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about it, when not ok. */
  fix?: string;
}

export interface ClusterFacts {
  queues: Queue[];
  pes: ParallelEnvironment[];
  complexes: Complex[];
  hosts: ExecHost[];
  /** Which Grid Engine answered (absent when it was not asked). */
  scheduler?: SchedulerInfo;
}

const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)}G`;

/** Pure: what is wrong with the Grid Engine cluster, for this config (or in general without one). */
export function checkCluster(facts: ClusterFacts, spec?: ClusterSpec): Check[] {
  const checks: Check[] = [
    {
      name: "qmaster",
      status: "ok",
      detail: facts.scheduler ? `answers: ${describeScheduler(facts.scheduler)}` : "answers",
    },
  ];
  const types: NodeTypeSpec[] = spec ? [spec.head, ...spec.workerTypes] : [];
  const wanted = new Set(types.map((t) => t.sge.queue).filter((q): q is string => !!q && !q.includes("@")));
  const queues = wanted.size > 0 ? facts.queues.filter((q) => wanted.has(q.name)) : facts.queues;
  for (const name of wanted) {
    if (!facts.queues.some((q) => q.name === name)) {
      checks.push({
        name: `queue ${name}`,
        status: "fail",
        detail: "does not exist",
        fix: `pick one of: ${facts.queues.map((q) => q.name).join(", ")} (qconf -sql)`,
      });
    }
  }
  for (const q of queues) {
    const bad = q.instances.filter((i) => !i.usable || i.state.includes("a"));
    const usable = q.instances.filter((i) => i.usable).length;
    if (bad.length === 0) {
      checks.push({ name: `queue ${q.name}`, status: "ok", detail: `${q.instances.length} instance(s), all usable` });
      continue;
    }
    const fixes = new Set<string>();
    for (const i of bad) {
      if (i.state.includes("E"))
        fixes.add(
          `clear the error state after fixing its cause: qmod -c ${i.name} (qstat -explain E -q ${i.name} says why)`,
        );
      if (i.state.includes("d")) fixes.add(`enable it: qmod -e ${i.name}`);
      if (i.state.includes("u")) fixes.add(`the execd on ${i.host} is not reporting: start sge_execd there`);
      if (i.state.includes("a")) fixes.add(`${i.name} is over a load threshold (qconf -sq ${q.name}: load_thresholds)`);
    }
    checks.push({
      name: `queue ${q.name}`,
      status: usable === 0 ? "fail" : "warn",
      detail: `${usable}/${q.instances.length} usable; ${bad.map((i) => `${i.name}: ${i.problems.join(", ")}`).join("; ")}`,
      fix: [...fixes].join("; "),
    });
  }
  for (const pe of new Set(types.map((t) => t.sge.parallelEnvironment))) {
    const found = facts.pes.find((p) => p.name === pe);
    checks.push(
      found
        ? { name: `parallel environment ${pe}`, status: "ok", detail: `${found.allocationRule}, ${found.slots} slots` }
        : {
            name: `parallel environment ${pe}`,
            status: "fail",
            detail: "does not exist",
            fix: `use one of: ${facts.pes.map((p) => p.name).join(", ") || "none (ask your admin for one with allocation_rule $pe_slots)"}`,
          },
    );
  }
  if (spec) {
    for (const [what, cx, needed] of [
      ["memory", spec.memoryComplex, types.some((t) => t.memoryBytes !== undefined)],
      ["GPU", spec.gpuComplex, types.some((t) => t.gpus > 0)],
    ] as const) {
      if (!needed) continue;
      const c = facts.complexes.find((x) => x.name === cx);
      checks.push(
        c
          ? {
              name: `${what} complex ${cx}`,
              status: "ok",
              detail: `${c.type}, consumable ${c.consumable}${c.consumable === "YES" ? " (requested per slot)" : ""}`,
            }
          : {
              name: `${what} complex ${cx}`,
              status: "fail",
              detail: "does not exist (qconf -sc)",
              fix: `set sge.${what === "GPU" ? "gpu" : "memory"}_complex to the complex your site uses`,
            },
      );
    }
  }
  if ((facts.scheduler?.major ?? 0) >= 9) checks.push(...terabyteRequests(types));
  const reporting = facts.hosts.filter((h) => h.reporting);
  checks.push(
    reporting.length === facts.hosts.length
      ? { name: "execution hosts", status: "ok", detail: `${facts.hosts.length} reporting` }
      : {
          name: "execution hosts",
          status: reporting.length === 0 ? "fail" : "warn",
          detail: `${facts.hosts.length - reporting.length} of ${facts.hosts.length} not reporting: ${facts.hosts
            .filter((h) => !h.reporting)
            .map((h) => h.name)
            .join(", ")}`,
          fix: "start sge_execd on them (qhost shows '-' for hosts whose execd is down)",
        },
  );
  const largest = Math.max(0, ...facts.hosts.map((h) => h.memTotalBytes ?? 0));
  for (const t of types) {
    if (t.memoryBytes === undefined) continue;
    checks.push(
      t.memoryBytes <= largest
        ? {
            name: `memory for ${t.name}`,
            status: "ok",
            detail: `${gib(t.memoryBytes)} asked, largest host has ${gib(largest)}`,
          }
        : {
            name: `memory for ${t.name}`,
            status: "fail",
            detail: `node type ${t.name} asks for ${gib(t.memoryBytes)}${spec ? ` of ${spec.memoryComplex}` : ""}, but no execution host has that much memory (largest: ${gib(largest)}, qhost)`,
            fix: `lower ${t.role === "head" ? "head_node" : t.name}.resources.memory`,
          },
    );
  }
  return checks;
}

/**
 * 9.x's qsub refuses a memory size with a T suffix (`-l mem_free=1T`: "not a memory value", measured
 * on OCS 9.1.4; 8.1.9 takes it). ray-sge writes node memory in M itself; this is about the config's
 * own `-l` requests, which are passed as written.
 */
function terabyteRequests(types: NodeTypeSpec[]): Check[] {
  const checks: Check[] = [];
  for (const t of types) {
    for (const [name, value] of Object.entries(t.sge.resources)) {
      const m = typeof value === "string" ? /^(\d+(?:\.\d+)?)[tT]$/.exec(value) : null;
      if (!m) continue;
      checks.push({
        name: `request ${name} for ${t.name}`,
        status: "fail",
        detail: `${name}=${value}: 9.x's qsub refuses the T suffix ("not a memory value")`,
        fix: `write it in G: ${name}=${Number(m[1]) * 1024}G`,
      });
    }
  }
  return checks;
}

/** Ask Grid Engine for the facts the checks read (five commands, at once). */
export async function gatherFacts(sge: SgeClient): Promise<ClusterFacts> {
  const [queues, pes, complexes, hosts, scheduler] = await Promise.all([
    sge.queues(),
    sge.parallelEnvironments(),
    sge.complexes(),
    sge.hosts(),
    sge.scheduler(),
  ]);
  return { queues, pes, complexes, hosts, scheduler };
}

/** A check in one line: "name: detail; fix: ...". */
export function checkText(c: Check): string {
  return `${c.name}: ${c.detail}${c.fix ? `; fix: ${c.fix}` : ""}`;
}
