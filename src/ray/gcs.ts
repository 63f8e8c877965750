/**
 * A typed gRPC client of Ray's autoscaler state service, served by the GCS on its port
 * (ray.rpc.autoscaler.AutoscalerStateService). Messages come from our own proto/autoscaler.proto,
 * which holds the fields we use with Ray's field numbers. Every call carries the cluster token as
 * `authorization: Bearer <token>` and a deadline; the channel reconnects by itself with a short
 * backoff, and a call on a broken channel fails at once (no wait-for-ready) so the caller decides.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  type AutoscalingState,
  type ClusterResourceState,
  decodeAutoscalingState,
  decodeClusterResourceState,
  encodeAutoscalingState,
  encodeResourceRequest,
  type RawAutoscalingState,
  type RawClusterResourceState,
  type ResourceRequest,
} from "./messages.js";

export type DrainReason = "IDLE_TERMINATION" | "PREEMPTION";

export class GcsError extends Error {
  override readonly name = "GcsError";
  constructor(
    message: string,
    /** gRPC status name, e.g. UNAVAILABLE, DEADLINE_EXCEEDED, UNAUTHENTICATED. */
    readonly code: string,
    readonly method: string,
  ) {
    super(message);
  }
  /** The GCS could not be reached (or answered too late): worth a retry later, not a verdict. */
  get transient(): boolean {
    return ["UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED", "RESOURCE_EXHAUSTED", "ABORTED"].includes(this.code);
  }
}

const PROTO_DIR = fileURLToPath(new URL("../../proto/", import.meta.url));

type Callback = (err: grpc.ServiceError | null, reply: unknown) => void;
type Method = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;
type ServiceClient = grpc.Client & Record<string, Method>;
type ServiceCtor = new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => ServiceClient;

let serviceCtor: ServiceCtor | undefined;

function loadService(): ServiceCtor {
  if (serviceCtor) return serviceCtor;
  const def = protoLoader.loadSync("autoscaler.proto", {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    objects: false,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    ray: { rpc: { autoscaler: { AutoscalerStateService: ServiceCtor } } };
  };
  serviceCtor = pkg.ray.rpc.autoscaler.AutoscalerStateService;
  return serviceCtor;
}

export interface GcsClientOptions {
  /** "ip:port" of the GCS. */
  address: string;
  /** The cluster token (sent as a Bearer token); undefined when the cluster runs without auth. */
  token?: string;
  /** Deadline of each call (default 10 s). */
  timeoutMs?: number;
}

export class GcsClient {
  private readonly client: ServiceClient;
  private readonly timeoutMs: number;
  private readonly metadata: grpc.Metadata;

  constructor(readonly options: GcsClientOptions) {
    const Ctor = loadService();
    this.client = new Ctor(options.address, grpc.credentials.createInsecure(), {
      // reconnect quickly after a GCS restart or a network blip, but not in a tight loop
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.min_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5000,
      "grpc.max_receive_message_length": 256 * 1024 * 1024,
      "grpc.enable_retries": 0,
    });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.metadata = new grpc.Metadata();
    if (options.token) this.metadata.set("authorization", `Bearer ${options.token}`);
  }

  private call<T>(method: string, req: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fn = this.client[method] as Method;
      fn.call(this.client, req, this.metadata, { deadline: Date.now() + timeoutMs }, (err, reply) => {
        if (!err) return resolve(reply as T);
        const code = grpc.status[err.code] ?? String(err.code);
        const hint =
          code === "UNAUTHENTICATED"
            ? " (the GCS refused the token: is this the cluster's token file?)"
            : code === "UNAVAILABLE"
              ? " (GCS not reachable)"
              : "";
        reject(new GcsError(`${method} to ${this.options.address}: ${code}: ${err.details}${hint}`, code, method));
      });
    });
  }

  /** Nodes (with usage and idle time), pending demand, placement groups and request_resources constraints. */
  async getClusterResourceState(lastSeenVersion = 0): Promise<ClusterResourceState> {
    const r = await this.call<{ cluster_resource_state: RawClusterResourceState | null }>("GetClusterResourceState", {
      last_seen_cluster_resource_state_version: lastSeenVersion,
    });
    return decodeClusterResourceState(r.cluster_resource_state);
  }

  /** What the autoscaler is doing (pending instances, infeasible requests, failures): shown by `ray status`. */
  async reportAutoscalingState(state: AutoscalingState): Promise<void> {
    await this.call("ReportAutoscalingState", { autoscaling_state: encodeAutoscalingState(state) });
  }

  /** The cluster's resource state and the autoscaler's last report together (what `ray status` reads). */
  async getClusterStatus(): Promise<{ resources: ClusterResourceState; autoscaling: AutoscalingState }> {
    const r = await this.call<{
      cluster_resource_state: RawClusterResourceState | null;
      autoscaling_state: RawAutoscalingState | null;
    }>("GetClusterStatus", {});
    return {
      resources: decodeClusterResourceState(r.cluster_resource_state),
      autoscaling: decodeAutoscalingState(r.autoscaling_state),
    };
  }

  /**
   * Ask the GCS to drain a node. IDLE_TERMINATION is refused for a busy node; PREEMPTION is accepted and
   * the node takes no new work until `deadlineMs` (0: none).
   */
  async drainNode(
    nodeIdHex: string,
    reason: DrainReason,
    message: string,
    deadlineMs = 0,
  ): Promise<{ accepted: boolean; rejection: string }> {
    const r = await this.call<{ is_accepted: boolean; rejection_reason_message: string }>("DrainNode", {
      node_id: Buffer.from(nodeIdHex, "hex"),
      reason: `DRAIN_NODE_REASON_${reason}`,
      reason_message: message,
      deadline_timestamp_ms: deadlineMs,
    });
    return { accepted: r.is_accepted, rejection: r.rejection_reason_message };
  }

  /** What `ray.autoscaler.sdk.request_resources()` does: the cluster should be able to hold these bundles. */
  async requestClusterResourceConstraint(bundles: { request: ResourceRequest; count: number }[]): Promise<void> {
    await this.call("RequestClusterResourceConstraint", {
      cluster_resource_constraint: {
        resource_requests: bundles.map((b) => ({ request: encodeResourceRequest(b.request), count: b.count })),
      },
    });
  }

  close(): void {
    this.client.close();
  }
}
