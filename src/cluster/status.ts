/** Gather a cluster's status: Grid Engine's jobs, head.json, one GCS call, why pending jobs wait. */
import { pendingDemandFrom, rayNodesFrom } from "../ray/nodes.js";
import type { ClusterHandle } from "./handle.js";
import { type ClusterStatus, headRunning, type RayView, statusView } from "./view.js";

export async function clusterStatus(h: ClusterHandle): Promise<ClusterStatus> {
  const [jobs, head] = await Promise.all([h.jobs(), h.state.readHeadInfo()]);
  let ray: RayView | undefined;
  let rayError: string | undefined;
  if (head && headRunning(head, jobs)) {
    try {
      const s = await (await h.gcs(head)).getClusterStatus();
      ray = { nodes: rayNodesFrom(s.resources), demand: pendingDemandFrom(s.resources), autoscaling: s.autoscaling };
    } catch (e) {
      rayError = (e as Error).message;
    }
  } else rayError = jobs.length === 0 ? "no jobs" : "the head job is not running";
  // why pending jobs wait: one qstat -j per pending job (not per task)
  const reasons = new Map<number, string>();
  await Promise.all(
    [...new Set(jobs.filter((j) => j.status === "pending").map((j) => j.id))].map(async (id) => {
      const d = await h.sge.jobDetail(id).catch(() => undefined);
      if (d?.schedulingMessages[0]) reasons.set(id, d.schedulingMessages[0]);
    }),
  );
  return statusView({
    spec: h.spec,
    jobs,
    head,
    headInfoPath: h.state.headInfoPath,
    ray,
    rayError,
    reasons,
    now: Date.now(),
  });
}
