/**
 * The autoscaler protocol's messages as ray-sge uses them, and the pure conversions between them and
 * the wire objects of proto/autoscaler.proto (snake_case, as decoded by proto-loader with keepCase).
 */

export type Resources = Record<string, number>;

/**
 * A node's state in the autoscaler protocol (what the planner reads). People see another vocabulary,
 * the one of `ray list nodes` (ALIVE, DEAD), plus DRAINING: `NodeLife` and `lifeOf` below are the one
 * translation between the two.
 */
export type NodeStatusName = "UNSPECIFIED" | "RUNNING" | "DEAD" | "IDLE" | "DRAINING";

/** A node's state as people see it (status, scale): RUNNING and IDLE are both ALIVE. */
export type NodeLife = "ALIVE" | "DRAINING" | "DEAD";

export function lifeOf(status: NodeStatusName): NodeLife {
  return status === "DEAD" ? "DEAD" : status === "DRAINING" ? "DRAINING" : "ALIVE";
}

/** Can the node take work (the planner counts its capacity)? */
export function takesWork(status: NodeStatusName): boolean {
  return status === "RUNNING" || status === "IDLE";
}

export interface RayNodeState {
  /** Hex node id. */
  nodeId: string;
  /** RAY_CLOUD_INSTANCE_ID of the node: "<job>.<task>" of its Grid Engine job. */
  instanceId: string;
  nodeType: string;
  status: NodeStatusName;
  ip: string;
  total: Resources;
  available: Resources;
  labels: Record<string, string>;
  /** How long the node has been idle (0 when busy). */
  idleMs: number;
  /** What keeps a busy node busy, in Ray's words. */
  activity: string[];
}

/** One requirement on a node's labels: `key in values` or `key not in values`. */
export interface LabelConstraint {
  key: string;
  operator: "in" | "not_in";
  values: string[];
}

export interface ResourceRequest {
  resources: Resources;
  /** Placement group bundles: anti-affinity (STRICT_SPREAD) or affinity (STRICT_PACK) on a label. */
  antiAffinity?: { label: string; value: string };
  affinity?: { label: string; value: string };
  /** Alternatives, each a conjunction of label constraints; the request fits a node matching any one. */
  labelSelectors: LabelConstraint[][];
}

export interface RequestByCount {
  request: ResourceRequest;
  count: number;
}

/** A placement group waiting to be placed: all bundles or none. */
export interface GangRequest {
  requests: ResourceRequest[];
  details: string;
}

export interface ClusterResourceState {
  version: number;
  lastSeenAutoscalerVersion: number;
  sessionName: string;
  nodes: RayNodeState[];
  /** Tasks and actors waiting for resources (feasible or not: the autoscaler decides). */
  pending: RequestByCount[];
  /** Placement groups waiting. */
  gangs: GangRequest[];
  /** `request_resources()`: the cluster should be able to hold each list of bundles at once. */
  constraints: RequestByCount[][];
}

export interface PendingInstance {
  nodeType: string;
  instanceId: string;
  ip: string;
  details: string;
}

export interface FailedInstanceRequest {
  nodeType: string;
  count: number;
  reason: string;
  startMs: number;
  failedMs: number;
}

export interface AutoscalingState {
  lastSeenClusterVersion: number;
  version: number;
  pendingInstances: PendingInstance[];
  infeasible: ResourceRequest[];
  infeasibleGangs: GangRequest[];
  infeasibleConstraints: RequestByCount[][];
  failed: FailedInstanceRequest[];
}

// ---------------------------------------------------------------------------------- wire shapes

interface RawLabelSelector {
  label_constraints?: { label_key: string; operator: string; label_values?: string[] }[];
}
interface RawRequest {
  resources_bundle?: Record<string, number>;
  placement_constraints?: {
    anti_affinity?: { label_name: string; label_value: string } | null;
    affinity?: { label_name: string; label_value: string } | null;
  }[];
  label_selectors?: RawLabelSelector[];
}
interface RawByCount {
  request?: RawRequest | null;
  count?: number;
}
interface RawNode {
  node_id?: Uint8Array | string;
  instance_id?: string;
  ray_node_type_name?: string;
  status?: string;
  node_ip_address?: string;
  total_resources?: Record<string, number>;
  available_resources?: Record<string, number>;
  labels?: Record<string, string>;
  dynamic_labels?: Record<string, string>;
  idle_duration_ms?: number;
  node_activity?: string[];
}
export interface RawClusterResourceState {
  cluster_resource_state_version?: number;
  last_seen_autoscaler_state_version?: number;
  cluster_session_name?: string;
  node_states?: RawNode[];
  pending_resource_requests?: RawByCount[];
  pending_gang_resource_requests?: { requests?: RawRequest[]; details?: string }[];
  cluster_resource_constraints?: { resource_requests?: RawByCount[] }[];
}

function hex(id: Uint8Array | string | undefined): string {
  if (id === undefined) return "";
  if (typeof id === "string") return Buffer.from(id, "base64").toString("hex");
  return Buffer.from(id).toString("hex");
}

function decodeRequest(r: RawRequest | null | undefined): ResourceRequest {
  const out: ResourceRequest = { resources: { ...(r?.resources_bundle ?? {}) }, labelSelectors: [] };
  for (const c of r?.placement_constraints ?? []) {
    if (c.anti_affinity) out.antiAffinity = { label: c.anti_affinity.label_name, value: c.anti_affinity.label_value };
    if (c.affinity) out.affinity = { label: c.affinity.label_name, value: c.affinity.label_value };
  }
  for (const s of r?.label_selectors ?? []) {
    const all = (s.label_constraints ?? []).map((c) => ({
      key: c.label_key,
      operator: c.operator === "LABEL_OPERATOR_NOT_IN" ? ("not_in" as const) : ("in" as const),
      values: [...(c.label_values ?? [])],
    }));
    if (all.length > 0) out.labelSelectors.push(all);
  }
  return out;
}

function decodeByCount(r: RawByCount): RequestByCount {
  return { request: decodeRequest(r.request), count: Number(r.count ?? 0) };
}

export function decodeClusterResourceState(raw: RawClusterResourceState | null | undefined): ClusterResourceState {
  const s = raw ?? {};
  return {
    version: Number(s.cluster_resource_state_version ?? 0),
    lastSeenAutoscalerVersion: Number(s.last_seen_autoscaler_state_version ?? 0),
    sessionName: s.cluster_session_name ?? "",
    nodes: (s.node_states ?? []).map((n) => ({
      nodeId: hex(n.node_id),
      instanceId: n.instance_id ?? "",
      nodeType: n.ray_node_type_name ?? "",
      status: (n.status ?? "UNSPECIFIED") as NodeStatusName,
      ip: n.node_ip_address ?? "",
      total: { ...(n.total_resources ?? {}) },
      available: { ...(n.available_resources ?? {}) },
      labels: { ...(n.labels ?? {}), ...(n.dynamic_labels ?? {}) },
      idleMs: Number(n.idle_duration_ms ?? 0),
      activity: [...(n.node_activity ?? [])],
    })),
    pending: (s.pending_resource_requests ?? []).map(decodeByCount).filter((r) => r.count > 0),
    gangs: (s.pending_gang_resource_requests ?? []).map((g) => ({
      requests: (g.requests ?? []).map(decodeRequest),
      details: g.details ?? "",
    })),
    constraints: (s.cluster_resource_constraints ?? []).map((c) =>
      (c.resource_requests ?? []).map(decodeByCount).filter((r) => r.count > 0),
    ),
  };
}

export interface RawAutoscalingState {
  autoscaler_state_version?: number;
  pending_instances?: { ray_node_type_name?: string; instance_id?: string; ip_address?: string; details?: string }[];
  infeasible_resource_requests?: RawRequest[];
  infeasible_gang_resource_requests?: { requests?: RawRequest[]; details?: string }[];
  infeasible_cluster_resource_constraints?: { resource_requests?: RawByCount[] }[];
  failed_instance_requests?: {
    ray_node_type_name?: string;
    count?: number;
    reason?: string;
    start_ts?: number;
    failed_ts?: number;
  }[];
}

/** What an autoscaler last reported (ours, or none: all empty). */
export function decodeAutoscalingState(raw: RawAutoscalingState | null | undefined): AutoscalingState {
  const s = raw ?? {};
  return {
    lastSeenClusterVersion: 0,
    version: Number(s.autoscaler_state_version ?? 0),
    pendingInstances: (s.pending_instances ?? []).map((p) => ({
      nodeType: p.ray_node_type_name ?? "",
      instanceId: p.instance_id ?? "",
      ip: p.ip_address ?? "",
      details: p.details ?? "",
    })),
    infeasible: (s.infeasible_resource_requests ?? []).map(decodeRequest),
    infeasibleGangs: (s.infeasible_gang_resource_requests ?? []).map((g) => ({
      requests: (g.requests ?? []).map(decodeRequest),
      details: g.details ?? "",
    })),
    infeasibleConstraints: (s.infeasible_cluster_resource_constraints ?? []).map((c) =>
      (c.resource_requests ?? []).map(decodeByCount),
    ),
    failed: (s.failed_instance_requests ?? []).map((f) => ({
      nodeType: f.ray_node_type_name ?? "",
      count: Number(f.count ?? 0),
      reason: f.reason ?? "",
      startMs: Number(f.start_ts ?? 0) * 1000,
      failedMs: Number(f.failed_ts ?? 0) * 1000,
    })),
  };
}

export function encodeResourceRequest(r: ResourceRequest): RawRequest {
  const pc: NonNullable<RawRequest["placement_constraints"]> = [];
  if (r.antiAffinity)
    pc.push({ anti_affinity: { label_name: r.antiAffinity.label, label_value: r.antiAffinity.value } });
  if (r.affinity) pc.push({ affinity: { label_name: r.affinity.label, label_value: r.affinity.value } });
  return {
    resources_bundle: r.resources,
    placement_constraints: pc,
    label_selectors: r.labelSelectors.map((all) => ({
      label_constraints: all.map((c) => ({
        label_key: c.key,
        operator: c.operator === "not_in" ? "LABEL_OPERATOR_NOT_IN" : "LABEL_OPERATOR_IN",
        label_values: c.values,
      })),
    })),
  };
}

export function encodeAutoscalingState(s: AutoscalingState): Record<string, unknown> {
  return {
    last_seen_cluster_resource_state_version: s.lastSeenClusterVersion,
    autoscaler_state_version: s.version,
    pending_instances: s.pendingInstances.map((p) => ({
      instance_type_name: p.nodeType,
      ray_node_type_name: p.nodeType,
      instance_id: p.instanceId,
      ip_address: p.ip,
      details: p.details,
    })),
    infeasible_resource_requests: s.infeasible.map(encodeResourceRequest),
    infeasible_gang_resource_requests: s.infeasibleGangs.map((g) => ({
      requests: g.requests.map(encodeResourceRequest),
      details: g.details,
    })),
    infeasible_cluster_resource_constraints: s.infeasibleConstraints.map((c) => ({
      resource_requests: c.map((r) => ({ request: encodeResourceRequest(r.request), count: r.count })),
    })),
    failed_instance_requests: s.failed.map((f) => ({
      instance_type_name: f.nodeType,
      ray_node_type_name: f.nodeType,
      count: f.count,
      reason: f.reason,
      // seconds: `ray status` reads them with datetime.fromtimestamp
      start_ts: Math.floor(f.startMs / 1000),
      failed_ts: Math.floor(f.failedMs / 1000),
    })),
  };
}
