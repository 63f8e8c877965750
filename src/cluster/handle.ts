/**
 * ClusterHandle: what every operation on one cluster needs, and nothing more: its spec, Grid Engine,
 * its state directory and its GCS connection. It submits and finds the cluster's jobs; up, down,
 * scale, status (and the autoscaler) are built on it.
 */
import type { ClusterSpec } from "../config/normalise.js";
import type { GcsClient } from "../ray/gcs.js";
import { type RayNode, rayNodesFrom } from "../ray/nodes.js";
import { SgeClient } from "../sge/client.js";
import type { JobEntry } from "../sge/qstat.js";
import type { SubmitResult } from "../sge/qsub.js";
import { ClusterError } from "./errors.js";
import { clusterJobPattern, headJobName, parseJobName, workerJobName } from "./identity.js";
import { type AutoscalerMode, asksForMemory, jobRequest, jobScript, perSlotFor } from "./requests.js";
import { type AutoscalerHeartbeat, gcsAddress, HEARTBEAT_STALE_S, type HeadInfo, StateDir } from "./state-dir.js";

export interface HandleOptions {
  sge?: SgeClient;
  /** Where the autoscaler runs (default: the config's autoscaler.mode). */
  autoscaler?: AutoscalerMode;
  /** Progress lines while waiting (default: none). */
  log?: (line: string) => void;
}

export class ClusterHandle {
  readonly sge: SgeClient;
  readonly state: StateDir;
  readonly log: (line: string) => void;
  readonly autoscalerMode: AutoscalerMode;
  private perSlot: Promise<boolean> | undefined;
  private readonly gcsClients = new Map<string, GcsClient>();

  constructor(
    readonly spec: ClusterSpec,
    options: HandleOptions = {},
  ) {
    this.sge = options.sge ?? new SgeClient();
    this.state = new StateDir(spec.stateDir);
    this.log = options.log ?? (() => {});
    this.autoscalerMode = options.autoscaler ?? spec.autoscaler.mode;
  }

  /** Whether memory is requested per slot: asked of Grid Engine (qconf -sc) once per handle. */
  memoryPerSlot(): Promise<boolean> {
    this.perSlot ??= (async () => {
      if (this.spec.memoryPerSlot !== undefined) return this.spec.memoryPerSlot;
      if (!asksForMemory(this.spec)) return false;
      return perSlotFor(this.spec, await this.sge.complexes());
    })();
    return this.perSlot;
  }

  /** What preflight found out already (it reads the complexes anyway). */
  knowMemoryPerSlot(perSlot: boolean): void {
    this.perSlot ??= Promise.resolve(perSlot);
  }

  /** Submit the head job. */
  async startHead(): Promise<SubmitResult> {
    await this.state.ensure();
    return this.sge.submit({
      name: headJobName(this.spec.name),
      scriptText: jobScript(this.spec, this.spec.head, this.state, this.autoscalerMode),
      ...jobRequest(this.spec, this.spec.head, await this.memoryPerSlot(), this.state),
    });
  }

  /** Submit `count` workers of a type as one array job; they wait for the head's address. */
  async addWorkers(typeName: string, count: number): Promise<SubmitResult> {
    const type = this.spec.workerTypes.find((t) => t.name === typeName);
    if (!type)
      throw new ClusterError(
        `no worker type "${typeName}" (types: ${this.spec.workerTypes.map((t) => t.name).join(", ")})`,
      );
    if (count < 1) throw new ClusterError("count must be at least 1");
    await this.state.ensure();
    return this.sge.submit({
      name: workerJobName(this.spec.name, type.name),
      scriptText: jobScript(this.spec, type, this.state, this.autoscalerMode),
      array: { first: 1, last: count },
      ...jobRequest(this.spec, type, await this.memoryPerSlot(), this.state),
    });
  }

  /** The cluster's jobs in Grid Engine, one row per task (pending arrays expanded). */
  async jobs(): Promise<JobEntry[]> {
    const rows = await this.sge.listJobs({ name: clusterJobPattern(this.spec.name) }, { tasks: "expand" });
    return rows.filter((r) => parseJobName(this.spec.name, r.name) !== undefined);
  }

  /**
   * Ids of the cluster's jobs: found by name, and confirmed by their `-ac` context
   * (ray_sge_cluster=NAME), so a job of someone's own that happens to match the name is left alone.
   */
  async ownJobIds(): Promise<number[]> {
    const ids = [...new Set((await this.jobs()).map((j) => j.id))];
    if (ids.length === 0) return [];
    const details = await this.sge.jobDetails(clusterJobPattern(this.spec.name));
    const ours = new Set(details.filter((d) => d.context.ray_sge_cluster === this.spec.name).map((d) => d.id));
    return ids.filter((id) => ours.has(id));
  }

  /** A gRPC client of the head's GCS with the cluster's token (one per address, kept). */
  async gcs(info: HeadInfo): Promise<GcsClient> {
    const address = gcsAddress(info);
    let c = this.gcsClients.get(address);
    if (!c) {
      c = await this.state.gcsClient(info);
      this.gcsClients.set(address, c);
    }
    return c;
  }

  async rayNodes(info: HeadInfo): Promise<RayNode[]> {
    return rayNodesFrom(await (await this.gcs(info)).getClusterResourceState());
  }

  /** Is an autoscaler of this cluster alive (its heartbeat is fresh)? */
  async autoscalerInfo(): Promise<AutoscalerHeartbeat | undefined> {
    const a = await this.state.readHeartbeat();
    return a && Date.now() / 1000 - a.last_round_at < HEARTBEAT_STALE_S ? a : undefined;
  }

  /** Close the GCS connections (a process that is done with the cluster exits sooner). */
  close(): void {
    for (const c of this.gcsClients.values()) c.close();
    this.gcsClients.clear();
  }
}
