/** The round's first phases: what ended, and the worker jobs sorted into failed, dead, on their way and live. */
import type { RayNodeState } from "../../ray/messages.js";
import { alive } from "./resources.js";
import { ids, type Round } from "./round.js";
import type { WorkerJob } from "./types.js";

export interface JobsView {
  /** Jobs per type that count against max_workers. */
  counts: Map<string, number>;
  /** Types whose walltime-drained nodes still work: one job on its way of each is their replacement. */
  reserved: string[];
  onTheWay: WorkerJob[];
  live: { job: WorkerJob; node: RayNodeState }[];
  /** Nodes busy last round that died since (their job ended, or Ray lists them dead): replaced at once. */
  diedBusy: { type: string; instanceId: string }[];
}

/** Is a node at work (leased workers, or tasks running)? */
export function isBusy(node: RayNodeState): boolean {
  return node.idleMs === 0 && node.activity.length > 0;
}

/**
 * Jobs that ended on their own, and submissions qsub refused: failures only with evidence that the
 * type cannot work (the job ended before its Ray node ever registered: setup failed, Ray would not
 * start). A node that ran and then died (its raylet killed, its host lost), or a job deleted by qdel,
 * says nothing against its type.
 */
export function noteFailures(r: Round): void {
  for (const e of r.input.ended ?? []) {
    if (!e.registered && !e.deleted) r.fail(e.type, e.instanceId, e.reason, e.startedMs ?? e.endedMs);
  }
  for (const s of r.input.refused ?? []) r.fail(s.type, "qsub", `qsub refused: ${s.reason}`, s.atMs);
}

export function sortJobs(r: Round): JobsView {
  const { out, memory, settings, now } = r;
  const v: JobsView = { counts: new Map(), reserved: [], onTheWay: [], live: [], diedBusy: [] };
  const count = (type: string) => v.counts.set(type, (v.counts.get(type) ?? 0) + 1);
  // a node that was at work and died (a host lost, Ray killed) left work behind: its retried tasks may
  // show as demand only for moments (measured: ~4 s), too short for the burst gate to judge them
  const wasBusy = new Set(r.input.memory.busy ?? []);
  for (const e of r.input.ended ?? [])
    if (e.registered && !e.deleted && wasBusy.has(e.instanceId))
      v.diedBusy.push({ type: e.type, instanceId: e.instanceId });
  for (const j of [...r.input.jobs].sort((a, b) => a.jobId - b.jobId || a.taskId - b.taskId)) {
    if (!r.types.has(j.type)) continue;
    const node = r.rayByInstance.get(j.instanceId);
    if (j.phase === "error") {
      out.cancel.push({ ...ids(j), why: `in error state: ${j.reason ?? "see qstat -j"}` });
      r.fail(j.type, j.instanceId, `Grid Engine error state: ${j.reason ?? "unknown"}`, j.submittedMs);
      continue;
    }
    if (j.phase === "other") {
      count(j.type);
      continue;
    }
    if (j.phase === "running" && node && node.status === "DEAD") {
      out.cancel.push({ ...ids(j), why: "its Ray node is dead" });
      if (wasBusy.has(j.instanceId)) v.diedBusy.push({ type: j.type, instanceId: j.instanceId });
      continue;
    }
    const drainedAt = r.input.memory.walltimeDrained[j.instanceId];
    if (j.phase === "running" && node && (node.status === "DRAINING" || drainedAt !== undefined)) {
      // drained (ahead of walltime, or by hand): its job is deleted once its work is done; while it
      // works, a node drained for walltime keeps its replacement (on its way) needed
      const busy = isBusy(node);
      if (!busy && node.status === "DRAINING") out.cancel.push({ ...ids(j), why: "drained and idle" });
      else if (drainedAt === undefined) count(j.type);
      if (drainedAt !== undefined) {
        memory.walltimeDrained[j.instanceId] = drainedAt;
        if (busy) v.reserved.push(j.type);
      }
      continue;
    }
    if (j.phase === "running" && !node && j.startedMs !== undefined && now - j.startedMs > settings.registerTimeoutMs) {
      out.cancel.push({ ...ids(j), why: `Ray did not register within ${settings.registerTimeoutMs / 1000} s` });
      r.fail(
        j.type,
        j.instanceId,
        `Ray did not register within ${settings.registerTimeoutMs / 1000} s of the job starting (see its log)`,
        j.startedMs,
      );
      continue;
    }
    count(j.type);
    if (node && alive(node)) v.live.push({ job: j, node });
    else v.onTheWay.push(j);
  }
  memory.busy = v.live.filter((l) => isBusy(l.node)).map((l) => l.job.instanceId);
  return v;
}
