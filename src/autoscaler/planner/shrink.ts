/**
 * The round's last phases: idle live nodes above min_workers drained (IDLE_TERMINATION, then
 * deleted by the loop), queued jobs whose demand is gone deleted after cancelAfterMs (hysteresis),
 * and what Ray shows as pending: one instance per job on its way.
 */
import type { Capacity } from "./bins.js";
import type { JobsView } from "./jobs.js";
import { ids, type Round } from "./round.js";
import type { PlannerNodeType } from "./types.js";
import type { WalltimeView } from "./walltime.js";

export function shrink(r: Round, cap: Capacity, jobs: JobsView, wall: WalltimeView): void {
  const { out, settings, now } = r;
  const remaining = new Map(jobs.counts);
  for (const { job, node } of [...jobs.live].sort((a, b) => b.job.jobId - a.job.jobId || b.job.taskId - a.job.taskId)) {
    if (wall.replaced.has(job.instanceId)) continue;
    const t = r.types.get(job.type) as PlannerNodeType;
    if (cap.liveBins.get(job.instanceId)?.used) continue;
    if (node.idleMs < settings.idleTimeoutMs) continue;
    if ((remaining.get(t.name) ?? 0) <= t.minWorkers) continue;
    remaining.set(t.name, (remaining.get(t.name) ?? 0) - 1);
    out.drain.push({
      instanceId: job.instanceId,
      nodeId: node.nodeId,
      reason: "IDLE_TERMINATION",
      deadlineMs: 0,
      why: `idle for ${Math.round(node.idleMs / 1000)} s (idle timeout ${Math.round(settings.idleTimeoutMs / 1000)} s)`,
    });
  }
  for (const j of [...jobs.onTheWay].reverse()) {
    const bin = cap.jobBins.get(j.instanceId);
    if (!bin || bin.used || j.phase !== "pending") continue;
    const t = r.types.get(j.type) as PlannerNodeType;
    if ((remaining.get(t.name) ?? 0) <= t.minWorkers) continue;
    const since = r.input.memory.unneededSince[j.instanceId] ?? now;
    r.memory.unneededSince[j.instanceId] = since;
    if (now - since >= settings.cancelAfterMs) {
      remaining.set(t.name, (remaining.get(t.name) ?? 0) - 1);
      out.cancel.push({ ...ids(j), why: `queued and not needed for ${Math.round((now - since) / 1000)} s` });
      delete r.memory.unneededSince[j.instanceId];
    }
  }
  const cancelled = new Set(out.cancel.map((c) => c.instanceId));
  for (const j of jobs.onTheWay) {
    if (cancelled.has(j.instanceId)) continue;
    out.pendingInstances.push({
      nodeType: j.type,
      instanceId: j.instanceId,
      ip: "",
      details:
        j.phase === "pending"
          ? `qw in ${j.queue ?? "Grid Engine"}${j.reason ? `: ${j.reason}` : ""}`
          : `running on ${j.host ?? "?"}, Ray starting`,
    });
  }
}
