/**
 * Which Ray nodes the GCS knows, asked through Ray's own Python client (`ray._raylet.GcsClient`,
 * ~0.4 s per call) with the cluster's token. An interim until the TypeScript gRPC client of the
 * autoscaler: it needs Ray's Python on the machine running ray-sge (head.json names the one the head
 * used; on a shared filesystem the same path works here).
 */
import type { CommandRunner } from "../sge/run.js";

export interface RayNode {
  nodeId: string;
  /** Resources not in use (from the autoscaler's view of the GCS). */
  available?: Record<string, number>;
  /** How long the node has been idle, in milliseconds (0 when busy). */
  idleMs?: number;
  /** RAY_CLOUD_INSTANCE_ID of the node: "<job>.<task>" of its Grid Engine job. */
  instanceId: string;
  nodeType: string;
  state: "ALIVE" | "DEAD";
  ip: string;
  isHead: boolean;
  resources: Record<string, number>;
}

const PROBE = `
import json, sys
from ray._raylet import GcsClient
c = GcsClient(address=sys.argv[1])
nodes = c.get_all_node_info(timeout=float(sys.argv[2]))
usage, demand = {}, []
try:
    from ray.core.generated.autoscaler_pb2 import GetClusterResourceStateReply
    reply = GetClusterResourceStateReply()
    reply.ParseFromString(c.get_cluster_resource_state())
    state = reply.cluster_resource_state
    for ns in state.node_states:
        usage[ns.node_id.hex()] = {"available": dict(ns.available_resources), "idleMs": ns.idle_duration_ms}
    for r in state.pending_resource_requests:
        demand.append({"resources": dict(r.request.resources_bundle), "count": r.count})
except Exception as e:  # older Ray without the autoscaler v2 state: nodes only
    print("resource state unavailable: %s" % e, file=sys.stderr)
out = []
for n in nodes.values():
    d = {"nodeId": n.node_id.hex(), "instanceId": n.instance_id, "nodeType": n.node_type_name,
         "state": "ALIVE" if n.state == 0 else "DEAD", "ip": n.node_manager_address,
         "isHead": n.is_head_node, "resources": dict(n.resources_total)}
    d.update(usage.get(d["nodeId"], {}))
    out.append(d)
print(json.dumps({"nodes": out, "demand": demand}))
`;

/** Work Ray could not place yet: resource shapes and how many of each. */
export interface PendingDemand {
  resources: Record<string, number>;
  count: number;
}

export class RayProbeError extends Error {
  override readonly name = "RayProbeError";
}

export async function listRayNodes(
  runner: CommandRunner,
  opts: { python: string; address: string; tokenPath: string; timeoutMs?: number; signal?: AbortSignal },
): Promise<RayNode[]> {
  return (await rayState(runner, opts)).nodes;
}

/** The GCS's nodes (with usage) and the pending demand, in one call. */
export async function rayState(
  runner: CommandRunner,
  opts: { python: string; address: string; tokenPath: string; timeoutMs?: number; signal?: AbortSignal },
): Promise<{ nodes: RayNode[]; demand: PendingDemand[] }> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const env = { ...process.env, RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN_PATH: opts.tokenPath };
  const r = await runner.run([opts.python, "-c", PROBE, opts.address, String(Math.max(1, timeoutMs / 1000 - 2))], {
    env,
    timeoutMs,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.exitCode !== 0) {
    const last = r.stderr.trim().split("\n").at(-1) ?? "";
    throw new RayProbeError(`the Ray GCS at ${opts.address} did not answer: ${last}`);
  }
  return JSON.parse(r.stdout) as { nodes: RayNode[]; demand: PendingDemand[] };
}

const DRAIN = `
import json, sys
from ray._raylet import GcsClient
from ray.core.generated.autoscaler_pb2 import DrainNodeReason
ok, msg = GcsClient(address=sys.argv[1]).drain_node(
  node_id=sys.argv[2], reason=DrainNodeReason.Value(sys.argv[3]), reason_message=sys.argv[4], deadline_timestamp_ms=0)
print(json.dumps({"accepted": bool(ok), "message": msg}))
`;

/**
 * Ask the GCS to drain a node. IDLE_TERMINATION is refused for a node that runs tasks (measured),
 * which is what makes it safe to qdel a node's job after an accepted drain.
 */
export async function drainRayNode(
  runner: CommandRunner,
  opts: {
    python: string;
    address: string;
    tokenPath: string;
    nodeId: string;
    reason: "IDLE_TERMINATION" | "PREEMPTION";
    message: string;
  },
): Promise<{ accepted: boolean; message: string }> {
  const env = { ...process.env, RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN_PATH: opts.tokenPath };
  const reason = `DRAIN_NODE_REASON_${opts.reason}`;
  const r = await runner.run([opts.python, "-c", DRAIN, opts.address, opts.nodeId, reason, opts.message], {
    env,
    timeoutMs: 30_000,
  });
  if (r.exitCode !== 0)
    throw new RayProbeError(`drain of node ${opts.nodeId} failed: ${r.stderr.trim().split("\n").at(-1) ?? ""}`);
  return JSON.parse(r.stdout) as { accepted: boolean; message: string };
}
