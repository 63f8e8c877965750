/** `ray-sge info`: what the Grid Engine cluster offers, gathered with the client and rendered as text. */
import type { Queue, SgeClient } from "../sge/client.js";
import type { ParallelEnvironment } from "../sge/qconf.js";
import type { ExecHost } from "../sge/qhost.js";
import { describeScheduler, type SchedulerInfo } from "../sge/scheduler.js";
import { formatTable } from "./table.js";

export interface ClusterInfo {
  scheduler: SchedulerInfo;
  hosts: ExecHost[];
  queues: Queue[];
  parallelEnvironments: ParallelEnvironment[];
}

export async function gatherInfo(sge: SgeClient, signal?: AbortSignal): Promise<ClusterInfo> {
  const call = signal ? { signal } : {};
  const [scheduler, hosts, queues, parallelEnvironments] = await Promise.all([
    sge.scheduler(call),
    sge.hosts(call),
    sge.queues(call),
    sge.parallelEnvironments(call),
  ]);
  return { scheduler, hosts, queues, parallelEnvironments };
}

const GiB = 1024 ** 3;
const gib = (b: number | undefined) => (b === undefined ? "-" : `${(b / GiB).toFixed(1)}`);

/** Pure: the text `ray-sge info` prints. */
export function renderInfo(info: ClusterInfo): string {
  const out: string[] = [`Scheduler: ${describeScheduler(info.scheduler)}`, ""];
  out.push(`Execution hosts (${info.hosts.length})`);
  out.push(
    ...formatTable([
      ["HOST", "ARCH", "CPUS", "LOAD", "MEMORY USED/TOTAL GiB", "STATE"],
      ...info.hosts.map((h) => [
        h.name,
        h.arch ?? "-",
        String(h.cpus ?? "-"),
        h.load === undefined ? "-" : h.load.toFixed(2),
        `${gib(h.memUsedBytes)}/${gib(h.memTotalBytes)}`,
        h.reporting ? "ok" : "not reporting (execd down?)",
      ]),
    ]),
  );
  for (const q of info.queues) {
    const used = q.instances.reduce((n, i) => n + i.slotsUsed, 0);
    const total = q.instances.reduce((n, i) => n + i.slotsTotal, 0);
    const usable = q.instances.filter((i) => i.usable).length;
    out.push("", `Queue ${q.name}: ${q.instances.length} instances (${usable} usable), slots ${used}/${total} used`);
    out.push(
      ...formatTable([
        ["INSTANCE", "TYPE", "SLOTS USED/TOTAL", "STATE"],
        ...q.instances.map((i) => [
          i.name,
          i.qtype,
          `${i.slotsUsed}/${i.slotsTotal}`,
          i.state ? `${i.state}: ${i.problems.join(", ")}` : "ok",
        ]),
      ]),
    );
  }
  out.push("", `Parallel environments (${info.parallelEnvironments.length})`);
  out.push(
    ...formatTable([
      ["NAME", "ALLOCATION", "SLOTS", "TIGHT INTEGRATION"],
      ...info.parallelEnvironments.map((p) => [
        p.name,
        p.allocationRule,
        String(p.slots),
        p.controlSlaves ? "yes (control_slaves TRUE)" : "no",
      ]),
    ]),
  );
  return `${out.join("\n")}\n`;
}
