/**
 * The cluster's Ray nodes and waiting demand as `status`, `scale` and `up` show them: a pure view of
 * the GCS's resource state (gcs.ts).
 */
import { type ClusterResourceState, lifeOf, type NodeLife } from "./messages.js";

export interface RayNode {
  nodeId: string;
  /** Resources not in use. */
  available: Record<string, number>;
  /** How long the node has been idle, in milliseconds (0 when busy). */
  idleMs: number;
  /** RAY_CLOUD_INSTANCE_ID of the node: "<job>.<task>" of its Grid Engine job. */
  instanceId: string;
  nodeType: string;
  /** As `ray list nodes` says it (plus DRAINING): messages.ts lifeOf. */
  state: NodeLife;
  ip: string;
  isHead: boolean;
  resources: Record<string, number>;
}

/** Work Ray could not place yet: resource shapes and how many of each. */
export interface PendingDemand {
  resources: Record<string, number>;
  count: number;
}

export function rayNodesFrom(s: ClusterResourceState): RayNode[] {
  return s.nodes.map((n) => ({
    nodeId: n.nodeId,
    available: n.available,
    idleMs: n.idleMs,
    instanceId: n.instanceId,
    nodeType: n.nodeType,
    state: lifeOf(n.status),
    ip: n.ip,
    isHead: n.total["node:__internal_head__"] !== undefined,
    resources: n.total,
  }));
}

/** Tasks and actors waiting, and placement group bundles waiting, as shapes with counts. */
export function pendingDemandFrom(s: ClusterResourceState): PendingDemand[] {
  const out: PendingDemand[] = s.pending.map((p) => ({ resources: p.request.resources, count: p.count }));
  for (const g of s.gangs) for (const r of g.requests) out.push({ resources: r.resources, count: 1 });
  return out;
}
