/**
 * Set the number of workers of a type. Grows with one array job. Shrinks pending tasks first, then
 * idle nodes: DrainNode(IDLE_TERMINATION) through the GCS, and qdel of that task only if the drain
 * was accepted; a busy node (drain refused) is kept unless `force`.
 */
import { ClusterError } from "./errors.js";
import type { ClusterHandle } from "./handle.js";
import { clusterStatus } from "./status.js";
import { removalOrder } from "./view.js";

export interface ScaleResult {
  type: string;
  before: number;
  /** Array jobs submitted, "job.first-last". */
  added: string[];
  /** Instance ids removed. */
  removed: string[];
  /** Nodes that would have been removed but were busy. */
  kept: { node: string; why: string }[];
}

/** Call it holding the cluster's lock. */
export async function scaleWorkers(
  h: ClusterHandle,
  typeName: string | undefined,
  workers: number,
  opts: { force?: boolean },
): Promise<ScaleResult> {
  const types = h.spec.workerTypes;
  const type =
    typeName === undefined ? (types.length === 1 ? types[0] : undefined) : types.find((t) => t.name === typeName);
  if (!type) {
    throw new ClusterError(
      typeName === undefined
        ? `the cluster has several worker types (${types.map((t) => t.name).join(", ")}): say which with --type`
        : `no worker type "${typeName}" (types: ${types.map((t) => t.name).join(", ")})`,
    );
  }
  if (workers < type.minWorkers || workers > type.maxWorkers) {
    throw new ClusterError(
      `${type.name} workers must stay within min_workers ${type.minWorkers} and max_workers ${type.maxWorkers}, not ${workers}`,
    );
  }
  const status = await clusterStatus(h);
  const mine = status.nodes.filter(
    (n) => n.role === "worker" && n.nodeType === type.name && !["deleting", "error"].includes(n.sgeStatus),
  );
  const result: ScaleResult = { type: type.name, before: mine.length, added: [], removed: [], kept: [] };
  if (workers > mine.length) {
    const r = await h.addWorkers(type.name, workers - mine.length);
    result.added.push(`${r.jobId}.${r.tasks?.first ?? 1}-${r.tasks?.last ?? 1}`);
    h.log(`${workers - mine.length} worker(s) of type ${type.name} submitted as array job ${r.jobId}`);
    return result;
  }
  let excess = mine.length - workers;
  const head = status.head;
  for (const n of removalOrder(mine)) {
    if (excess === 0) break;
    if (n.sgeStatus === "running" && n.ray === "ALIVE" && head) {
      const node = (await h.rayNodes(head)).find((r) => r.instanceId === n.instanceId);
      const drain = node
        ? await (await h.gcs(head)).drainNode(
            node.nodeId,
            "IDLE_TERMINATION",
            `ray-sge scale ${h.spec.name} --workers ${workers}`,
          )
        : { accepted: true, rejection: "" };
      if (!drain.accepted && !opts.force) {
        result.kept.push({ node: n.instanceId, why: `busy (drain refused: ${drain.rejection || "node not idle"})` });
        h.log(`keeping ${n.instanceId} on ${n.host}: busy (use --force to remove it anyway)`);
        continue;
      }
    }
    await h.sge.deleteJobs([`${n.jobId}.${n.taskId ?? 1}`]);
    result.removed.push(n.instanceId);
    h.log(`removed ${n.instanceId}${n.host ? ` on ${n.host}` : ""} (${n.sgeState}, Ray ${n.ray})`);
    excess--;
  }
  return result;
}
