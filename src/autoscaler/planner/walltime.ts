/** Walltime: drain a node ahead of its h_rt (PREEMPTION, deadline = the job's end); replace a busy one early. */
import { isBusy, type JobsView } from "./jobs.js";
import type { Round } from "./round.js";
import type { PlannerNodeType } from "./types.js";

export interface WalltimeView {
  /** Nodes drained this round ahead of h_rt: they take no work and do not count against max_workers. */
  replaced: Set<string>;
  /** Types of busy drained nodes: each gets a replacement now. */
  replacements: PlannerNodeType[];
}

export function drainForWalltime(r: Round, jobs: JobsView): WalltimeView {
  const w: WalltimeView = { replaced: new Set(), replacements: [] };
  for (const { job, node } of jobs.live) {
    const t = r.types.get(job.type) as PlannerNodeType;
    if (t.walltimeS === undefined || job.startedMs === undefined) continue;
    const end = job.startedMs + t.walltimeS * 1000;
    if (r.now < end - (t.walltimeMarginMs ?? r.settings.walltimeMarginMs)) continue;
    r.out.drain.push({
      instanceId: job.instanceId,
      nodeId: node.nodeId,
      reason: "PREEMPTION",
      deadlineMs: end,
      why: `h_rt ends in ${Math.max(0, Math.round((end - r.now) / 1000))} s`,
    });
    r.memory.walltimeDrained[job.instanceId] = r.now;
    w.replaced.add(job.instanceId);
    // the drained node no longer counts against max_workers: its replacement may start now
    jobs.counts.set(t.name, (jobs.counts.get(t.name) ?? 1) - 1);
    if (isBusy(node)) w.replacements.push(t);
  }
  return w;
}
