/** `ray-sge up | down | status`: the cluster commands. Text for people on stdout, progress on stderr. */
import { copyFile, mkdir, open, readdir, readFile, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { Autoscaler, type AutoscalerEvent, recentEvents } from "../autoscaler/autoscaler.js";
import { isDriverInstance } from "../cluster/driver-node.js";
import {
  type AutoscalerHeartbeat,
  type AutoscalerMode,
  type ClusterStatus,
  RayClusterManager,
} from "../cluster/manager.js";
import { pidAlive } from "../cluster/pid.js";
import { parseJobName } from "../cluster/state.js";
import type { ClusterSpec } from "../config/normalise.js";
import {
  clusterFrom,
  clustersInGridEngine,
  defaultStateRoot,
  progress,
  seconds,
  specFrom,
  UsageError,
} from "./common.js";
import { formatTable } from "./table.js";

const AUTOSCALER_MODES = ["head", "local", "off"] as const;

export async function upCommand(
  config: string,
  opts: { json?: boolean; timeout?: string; autoscaler?: string },
): Promise<void> {
  const timeoutMs = seconds(opts.timeout, "--timeout", 600) * 1000;
  const { spec, file, warnings } = await specFrom(config);
  for (const w of warnings) process.stderr.write(`ray-sge: warning: ${w}\n`);
  const mode = opts.autoscaler as AutoscalerMode | undefined;
  if (mode !== undefined && !AUTOSCALER_MODES.includes(mode))
    throw new UsageError(`--autoscaler wants one of ${AUTOSCALER_MODES.join(", ")}, not "${opts.autoscaler}"`);
  const manager = new RayClusterManager(spec, { log: progress, ...(mode ? { autoscaler: mode } : {}) });
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.once("SIGINT", onInt);
  try {
    const r = await manager.up({ timeoutMs, signal: ac.signal });
    // the config is kept with the state, and under the default root too, so that `ray-sge status NAME`
    // finds the cluster whatever its state_dir
    for (const dir of new Set([spec.stateDir, join(defaultStateRoot(), spec.name)])) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await copyFile(file, join(dir, "config.yaml"));
    }
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ cluster: spec.name, ...r, tokenPath: manager.state.tokenPath }, null, 2)}\n`,
      );
      return;
    }
    process.stdout.write(
      [
        `Ray cluster ${spec.name} is up: head on ${r.head.host} (job ${r.head.job_id}), ${r.workersAlive} worker(s).`,
        `  address:   ${r.address}`,
        `  autoscaler: ${r.autoscaler}${r.autoscaler === "off" ? "" : `; events: ${join(manager.state.path, "events.jsonl")}`}`,
        `  dashboard: http://${r.head.ip}:${r.head.dashboard_port}/ (asks for the token: ray-sge dashboard ${spec.name})`,
        `  drivers:   ray-sge submit ${spec.name} -- python app.py     (the head runs it; output streams here)`,
        `             eval "$(ray-sge env ${spec.name})"   then ray.init(), ray status, ray job list, ray list nodes ...`,
        `  status:    ray-sge status ${spec.name}     stop: ray-sge down ${spec.name}`,
        "",
      ].join("\n"),
    );
  } finally {
    process.removeListener("SIGINT", onInt);
  }
}

export async function downCommand(target: string, opts: { json?: boolean; timeout?: string }): Promise<void> {
  const timeoutMs = seconds(opts.timeout, "--timeout", 120) * 1000;
  const { spec, lost } = await clusterFrom(target);
  if (lost) progress(lost);
  const manager = new RayClusterManager(spec, { log: progress });
  const r = await manager.shutdown({ timeoutMs });
  const kept = await stat(manager.state.logDir).then(
    () => `logs kept in ${manager.state.logDir}`,
    () => `its state directory ${manager.state.path} is gone, and its logs with it`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify({ cluster: spec.name, ...r, ...(lost ? { lost } : {}) })}\n`);
  else
    process.stdout.write(
      r.deleted.length
        ? `Cluster ${spec.name}: deleted job(s) ${r.deleted.join(", ")}; ${kept}\n`
        : `Cluster ${spec.name}: no jobs (already down)\n`,
    );
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
      ? `${m}m${String(seconds % 60).padStart(2, "0")}s`
      : `${seconds}s`;
}

export interface StatusView extends ClusterStatus {
  /** When the cluster is known from Grid Engine alone: what is missing. */
  lost?: string;
  autoscaler?: AutoscalerHeartbeat | undefined;
  events?: AutoscalerEvent[];
}

function eventText(e: AutoscalerEvent): string {
  const { time, event, ...rest } = e;
  const why = rest.why;
  delete rest.why;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${time.slice(11, 19)} ${event}${fields ? ` ${fields}` : ""}${why ? `: ${why}` : ""}`;
}

function shape(r: Record<string, number>): string {
  return Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** Pure: the text of `ray-sge status`. */
export function renderStatus(s: StatusView): string {
  const lines = [`Cluster ${s.name}`];
  if (s.headGone) lines.push(`  head: gone: ${s.headGone}; \`ray-sge down ${s.name}\` removes what is left`);
  if (s.headUnpublished) lines.push(`  head: ${s.headUnpublished}`);
  if (s.lost) lines.push(`  ${s.lost}`);
  if (s.head) {
    lines.push(
      `  head: ${s.head.host} (job ${s.head.job_id}), GCS ${s.head.ip}:${s.head.gcs_port}, dashboard http://${s.head.ip}:${s.head.dashboard_port}/`,
    );
  }
  if (s.rayError) lines.push(`  Ray: unknown (${s.rayError})`);
  if (s.nodes.length === 0) lines.push("  no jobs in Grid Engine");
  const rows = [["NODE", "TYPE", "SGE", "HOST", "RAY", "CPU USED/TOTAL", "IDLE", "H_RT LEFT"]];
  for (const n of s.nodes) {
    const total = n.resources?.CPU;
    // Ray leaves a resource out of `available` when none of it is free
    const used = total === undefined || n.available === undefined ? undefined : total - (n.available.CPU ?? 0);
    rows.push([
      n.instanceId,
      n.nodeType,
      n.sgeState,
      n.host ?? "-",
      n.ray,
      total === undefined ? "-" : `${used ?? "?"}/${total}`,
      n.idleMs ? duration(Math.round(n.idleMs / 1000)) : "-",
      n.secondsLeft === undefined ? "-" : duration(n.secondsLeft),
    ]);
  }
  if (s.nodes.length > 0) lines.push(...formatTable(rows));
  for (const n of s.nodes) if (n.waitingBecause) lines.push(`  ${n.instanceId} waits: ${n.waitingBecause}`);
  for (const d of s.pendingDemand) {
    lines.push(
      `  pending demand: ${d.count} x ${Object.entries(d.resources)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")}`,
    );
  }
  for (const r of s.infeasible) lines.push(`  infeasible: {${shape(r)}}: no node type can hold it (never submitted)`);
  for (const f of s.failures) lines.push(`  failed worker (${f.nodeType}, ${f.at.slice(11, 19)}): ${f.reason}`);
  for (const n of s.strayRayNodes)
    lines.push(
      isDriverInstance(n.instanceId)
        ? `  driver node ${n.instanceId} on ${n.ip} (ray-sge env: drivers there join through it; no CPUs)`
        : `  Ray node ${n.instanceId || n.nodeId} on ${n.ip} has no job of this cluster`,
    );
  if (s.autoscaler)
    lines.push(
      `  autoscaler: ${s.autoscaler.mode}, pid ${s.autoscaler.pid} on ${s.autoscaler.host}${s.autoscaler.skipping ? ` (skipping rounds: ${s.autoscaler.skipping})` : ""}`,
    );
  else if (s.head)
    lines.push(
      `  autoscaler: not running${s.head.autoscaler && s.head.autoscaler !== "head" ? ` (${s.head.autoscaler})` : ""}`,
    );
  if (s.events && s.events.length > 0) {
    lines.push("  recent autoscaler events:");
    for (const e of s.events) lines.push(`    ${eventText(e)}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function statusCommand(target: string, opts: { json?: boolean; watch?: string | boolean }): Promise<void> {
  const { spec, lost } = await clusterFrom(target);
  const manager = new RayClusterManager(spec);
  const view = async (): Promise<StatusView> => {
    const [s, autoscaler, events] = await Promise.all([
      manager.status(),
      manager.autoscalerInfo(),
      recentEvents(manager.state.path, 8),
    ]);
    // this incarnation's events only: the log is kept across `down` and `up`
    const since = (s.head?.started_at ?? 0) * 1000;
    return { ...s, autoscaler, events: events.filter((e) => Date.parse(e.time) >= since), ...(lost ? { lost } : {}) };
  };
  if (!opts.watch) {
    const s = await view();
    process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
    return;
  }
  const every = typeof opts.watch === "string" ? Number(opts.watch) : 2;
  if (!(every > 0)) throw new UsageError(`--watch wants seconds, not ${opts.watch}`);
  let stop = false;
  process.once("SIGINT", () => {
    stop = true;
  });
  while (!stop) {
    const s = await view();
    // JSON: one document per line; text: redraw the screen
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(s)}\n`
        : `\x1b[H\x1b[2J${new Date().toLocaleTimeString()}  (every ${every} s, Ctrl-C ends)\n${renderStatus(s)}`,
    );
    for (let waited = 0; waited < every * 1000 && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
  }
}

/** Log file of a node: head.<job>.out or <type>.<job>.<task>.out in the state dir's logs/. */
function logFileOf(
  logDir: string,
  role: "head" | "worker",
  type: string,
  jobId: number,
  taskId: number | undefined,
): string {
  return join(logDir, role === "head" ? `head.${jobId}.out` : `${type}.${jobId}.${taskId ?? 1}.out`);
}

export async function logsCommand(
  target: string,
  opts: { node?: string; follow?: boolean; lines?: string; json?: boolean; ray?: boolean; file?: string },
): Promise<void> {
  if (opts.ray) {
    if (opts.follow) throw new UsageError("--ray shows the logs nodes kept when their job ended: no --follow");
    const { rayLogsCommand } = await import("./ray-logs.js");
    return rayLogsCommand(target, opts);
  }
  if (opts.file) throw new UsageError("--file goes with --ray (Ray's own logs of a node)");
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec);
  const [status, files] = await Promise.all([
    manager.status(),
    readdir(manager.state.logDir).catch(() => [] as string[]),
  ]);
  let targets: { id: string; file: string }[];
  if (opts.node) {
    const n = status.nodes.find((x) => x.instanceId === opts.node || String(x.jobId) === opts.node);
    const m = /^(\d+)\.(\d+)$/.exec(opts.node);
    const file = n
      ? logFileOf(manager.state.logDir, n.role, n.nodeType, n.jobId, n.taskId)
      : files
          .map((f) => join(manager.state.logDir, f))
          .find((f) => m && (f.endsWith(`.${m[1]}.${m[2]}.out`) || (m[2] === "0" && f.endsWith(`head.${m[1]}.out`))));
    if (!file) throw new UsageError(`no node ${opts.node} in cluster ${spec.name} (see ray-sge status ${spec.name})`);
    targets = [{ id: opts.node, file }];
  } else {
    targets = status.nodes.map((n) => ({
      id: n.instanceId,
      file: logFileOf(manager.state.logDir, n.role, n.nodeType, n.jobId, n.taskId),
    }));
    if (targets.length === 0) {
      process.stdout.write(
        `cluster ${spec.name} has no jobs; earlier logs are in ${manager.state.logDir}:\n${files.map((f) => `  ${f}`).join("\n")}\n`,
      );
      return;
    }
  }
  const lines = Number(opts.lines ?? 40);
  if (opts.json) {
    const logs = await Promise.all(
      targets.map(async (t) => ({
        node: t.id,
        file: t.file,
        tail: (await readFile(t.file, "utf8").catch(() => ""))
          .split("\n")
          .slice(-lines - 1)
          .join("\n"),
      })),
    );
    const rayLogs = { kept: manager.state.rayLogDir, live: "ray logs (after ray-sge env)" };
    process.stdout.write(`${JSON.stringify({ cluster: spec.name, logs, rayLogs }, null, 2)}\n`);
    return;
  }
  const offsets = new Map<string, number>();
  for (const t of targets) {
    const text = await readFile(t.file, "utf8").catch(() => "");
    offsets.set(t.file, Buffer.byteLength(text));
    process.stdout.write(
      `==> ${t.id} (${t.file}) <==\n${text
        .split("\n")
        .slice(-lines - 1)
        .join("\n")}${text.endsWith("\n") || !text ? "" : "\n"}`,
    );
  }
  process.stdout.write(
    `Ray's own logs: ray-sge logs ${spec.name} --ray (kept in ${manager.state.rayLogDir} when each node's job ends); while nodes run, \`ray logs\` after eval "$(ray-sge env ${spec.name})"\n`,
  );
  if (!opts.follow) return;
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  while (!ac.signal.aborted) {
    for (const t of targets) {
      const size = await stat(t.file)
        .then((s) => s.size)
        .catch(() => 0);
      const from = offsets.get(t.file) ?? 0;
      if (size > from) {
        const fh = await open(t.file, "r");
        const buf = Buffer.alloc(size - from);
        await fh.read(buf, 0, buf.length, from);
        await fh.close();
        offsets.set(t.file, size);
        process.stdout.write(
          targets.length > 1 ? buf.toString("utf8").replace(/^(?=.)/gm, `[${t.id}] `) : buf.toString("utf8"),
        );
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function listCommand(opts: { json?: boolean }): Promise<void> {
  const root = defaultStateRoot();
  const names = (await readdir(root).catch(() => [] as string[])).sort();
  const rows: { name: string; jobs: number; head?: string; address?: string; lost?: string }[] = [];
  // clusters Grid Engine knows whose state directory is gone are listed too, and said to be
  const inGridEngine = await clustersInGridEngine();
  for (const name of [...new Set([...names, ...inGridEngine])].sort()) {
    let spec: ClusterSpec;
    let lost: string | undefined;
    try {
      ({ spec, lost } = await clusterFrom(name));
    } catch {
      continue;
    }
    const m = new RayClusterManager(spec);
    const [jobs, head] = await Promise.all([m.jobs(), m.state.readHeadInfo()]);
    // the head job: the one head.json names, else (its state dir lost) the one named as the head
    const headRow = jobs.find((j) =>
      head ? String(j.id) === head.job_id : parseJobName(spec.name, j.name)?.role === "head",
    );
    const row: (typeof rows)[number] = { name, jobs: jobs.length };
    if (lost) row.lost = "state directory missing";
    if (headRow) row.head = `${headRow.state}${headRow.host ? ` on ${headRow.host}` : ""}`;
    if (head && headRow?.status === "running") row.address = `${head.ip}:${head.gcs_port}`;
    rows.push(row);
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no clusters in ${root}\n`);
    return;
  }
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(20)} ${String(r.jobs).padStart(3)} node(s)  head ${r.head ?? "-"}  ${r.address ?? ""}${r.lost ? `  (${r.lost}: ray-sge down ${r.name} removes it)` : ""}\n`,
    );
}

export async function scaleCommand(
  target: string,
  opts: { workers: string; type?: string; force?: boolean; json?: boolean },
): Promise<void> {
  const workers = Number(opts.workers);
  if (!Number.isInteger(workers) || workers < 0)
    throw new UsageError(`--workers wants a whole number, not ${opts.workers}`);
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec, { log: progress });
  const r = await manager.scale(opts.type, workers, opts.force ? { force: true } : {});
  const auto = await manager.autoscalerInfo();
  if (auto)
    progress(
      `note: the autoscaler (${auto.mode}) keeps following Ray's demand: it removes idle workers above min_workers after idle_timeout_minutes (${spec.idleTimeoutMinutes}) and adds workers for waiting work`,
    );
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const now = r.before + (r.added.length ? workers - r.before : 0) - r.removed.length;
  process.stdout.write(
    `${r.type} workers: ${r.before} -> ${now}${r.kept.length ? ` (kept ${r.kept.length} busy: ${r.kept.map((k) => k.node).join(", ")}; --force removes them)` : ""}\n`,
  );
}

export async function doctorCommand(
  config: string | undefined,
  opts: { json?: boolean; probes?: boolean },
): Promise<number> {
  const { SgeClient } = await import("../sge/client.js");
  const { checkCluster, probeAutoscaler, probeNetwork, probeRay, probeSubmitHostReach } = await import(
    "../cluster/doctor.js"
  );
  const { CLI_PATH } = await import("../cluster/manager.js");
  const sge = new SgeClient();
  const spec = config ? (await specFrom(config)).spec : undefined;
  const [queues, pes, complexes, hosts] = await Promise.all([
    sge.queues(),
    sge.parallelEnvironments(),
    sge.complexes(),
    sge.hosts(),
  ]);
  const checks = checkCluster({ queues, pes, complexes, hosts }, spec);
  if (spec && opts.probes !== false) {
    const manager = new RayClusterManager(spec);
    await manager.state.ensure();
    progress(
      "probing: a job checks Ray on an execution host, two jobs check the network between hosts, one the way back to this host, one the autoscaler's needs",
    );
    const [ray, net, back, auto] = await Promise.all([
      probeRay(sge, spec, manager.state.logDir),
      probeNetwork(sge, spec, manager.state.logDir, hosts),
      probeSubmitHostReach(sge, spec, manager.state.logDir, hosts),
      probeAutoscaler(sge, spec, manager.state.logDir, { node: process.execPath, cli: CLI_PATH }),
    ]);
    checks.push(ray, net, back, auto);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
  else {
    const mark = { ok: "ok  ", warn: "WARN", fail: "FAIL" } as const;
    for (const c of checks) {
      process.stdout.write(`${mark[c.status]} ${c.name}: ${c.detail}\n`);
      if (c.fix) process.stdout.write(`     fix: ${c.fix}\n`);
    }
  }
  return checks.some((c) => c.status === "fail") ? 1 : 0;
}

/**
 * Run the autoscaler in the foreground until the head job ends (what the head job runs; also
 * `--autoscaler=local`). TARGET: a cluster name, its config, or the spec.json in its state dir.
 */
export async function autoscalerCommand(target: string, opts: { mode?: string; once?: boolean }): Promise<void> {
  let spec: ClusterSpec;
  if (target.endsWith(".json")) {
    try {
      spec = JSON.parse(await readFile(target, "utf8")) as ClusterSpec;
    } catch (e) {
      throw new UsageError(`cannot read the cluster spec ${target}: ${(e as Error).message}`);
    }
    if (typeof spec.name !== "string" || !Array.isArray(spec.workerTypes) || !spec.autoscaler)
      throw new UsageError(`${target} is not a ray-sge cluster spec (written by ray-sge up)`);
  } else spec = (await specFrom(target)).spec;
  const say = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const manager = new RayClusterManager(spec, { log: say });
  const other = await manager.autoscalerInfo();
  if (other && other.pid !== process.pid && !(other.host === hostname() && !pidAlive(other.pid))) {
    throw new UsageError(
      `an autoscaler already runs for cluster ${spec.name}: ${other.mode}, pid ${other.pid} on ${other.host}`,
    );
  }
  const autoscaler = new Autoscaler(manager, { mode: opts.mode ?? "local", log: say });
  if (opts.once) {
    const r = await autoscaler.round();
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const outcome = await autoscaler.run(ac.signal);
  say(`autoscaler of ${spec.name} ends: ${outcome}`);
}
