/**
 * `down`: delete every job of the cluster found in Grid Engine and wait until they are gone. It
 * learns what to delete before anything irreversible, so a failure leaves the cluster as it was.
 */
import { sleep } from "../base/sleep.js";
import type { JobEntry } from "../sge/qstat.js";
import { stopDriverNode } from "./driver-node.js";
import { ClusterError } from "./errors.js";
import type { ClusterHandle } from "./handle.js";
import { parseJobName } from "./identity.js";

function uniqueIds(jobs: readonly JobEntry[]): number[] {
  return [...new Set(jobs.map((j) => j.id))];
}

function jobsText(jobs: readonly JobEntry[]): string {
  return jobs
    .map((j) => `job ${j.id}${j.taskId ? `.${j.taskId}` : ""} (${j.state}${j.host ? ` on ${j.host}` : ""})`)
    .join(", ");
}

/**
 * Why `down` ends with jobs left: after qdel, Grid Engine keeps a running job (state dr) until the
 * execution daemon of its host confirms it ended; with that daemon down, it stays until the host is
 * back (measured on 8.1.9: kill -9 of an execd, the jobs left 1 to 3 minutes after its restart).
 * `qdel -f` is offered only as a last resort, and down never forces: on 8.1.9 a manager's forced
 * deletion of an array task whose execd is down crashed the qmaster ("got NULL element for JB_type";
 * 2 of the last 3 tries here).
 */
export function stuckDeletionMessage(cluster: string, left: readonly JobEntry[], waitedS: number): string {
  const hosts = [...new Set(left.filter((j) => j.state.includes("d") && j.host).map((j) => j.host as string))];
  const ids = uniqueIds(left).join(" ");
  if (hosts.length === 0)
    return `${jobsText(left)} still in Grid Engine ${waitedS} s after qdel; ask Grid Engine why: qstat -j ${ids}`;
  const head = left.some((j) => parseJobName(cluster, j.name)?.role === "head");
  return `${jobsText(left)} still in Grid Engine ${waitedS} s after qdel: the execution daemon of ${hosts.join(", ")} has not confirmed the end (is sge_execd down there?). Grid Engine stops and removes them when it answers again (1 to 3 minutes after sge_execd is back, measured)${head ? "; until then the head's Ray runs on" : "; their Ray nodes have stopped already (a node ends 10 s after its head)"}. Have sge_execd started on ${hosts.join(", ")}, then run ray-sge down again (with --timeout 300 it waits that long). Last resort, for a Grid Engine manager: qdel -f ${ids} (Son of Grid Engine 8.1.9's qmaster crashed on it for array tasks here).`;
}

/** Call it holding the cluster's lock. */
export async function shutdownCluster(
  h: ClusterHandle,
  opts: { timeoutMs?: number; signal?: AbortSignal },
): Promise<{ deleted: number[] }> {
  // learn what to delete before anything irreversible: if Grid Engine cannot say, nothing changes
  const ids = await h.ownJobIds();
  // the autoscaler checks this before each submission: nothing new appears while we delete
  await h.state.askAutoscalerToStop();
  if (ids.length > 0) {
    h.log(`deleting job(s) ${ids.join(", ")}`);
    try {
      await h.sge.deleteJobs(ids);
    } catch (e) {
      // nothing was deleted: the cluster is as it was, and its autoscaler carries on
      await h.state.clearAutoscalerStop();
      throw e;
    }
  }
  // this host's driver node, while the GCS still answers its drain; the others end 10 s after it
  const driver = await stopDriverNode(h.state);
  if (driver) h.log(`stopped the driver node on this host (pid ${driver})`);
  // wait for exactly the jobs deleted: anything else matching the name is not ours to wait for
  const mine = new Set(ids);
  const remaining = async () => (await h.jobs()).filter((j) => mine.has(j.id));
  const waitMs = opts.timeoutMs ?? 120_000;
  const start = Date.now();
  let told = false;
  while (Date.now() - start < waitMs) {
    const left = await remaining();
    if (left.length === 0) break;
    if (!told && Date.now() - start >= 10_000) {
      h.log(`waiting for Grid Engine to remove ${jobsText(left)} (up to ${Math.round(waitMs / 1000)} s) ...`);
      told = true;
    }
    await sleep(500, opts.signal);
  }
  const left = await remaining();
  if (left.length > 0)
    throw new ClusterError(stuckDeletionMessage(h.spec.name, left, Math.round((Date.now() - start) / 1000)));
  // a submission that raced with us (the autoscaler acting as we began): delete it as well
  const late = (await h.ownJobIds()).filter((id) => !mine.has(id));
  if (late.length > 0) {
    h.log(`deleting job(s) submitted while shutting down: ${late.join(", ")}`);
    await h.sge.deleteJobs(late);
    ids.push(...late);
  }
  await h.state.clearHeadInfo();
  return { deleted: ids };
}
