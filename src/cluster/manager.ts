/**
 * RayClusterManager: a Ray cluster made of Grid Engine jobs, the library's front door and what the
 * CLI runs. A thin shell: each operation lives in its own file (up.ts, shutdown.ts, scale.ts,
 * status.ts, preflight.ts) over a ClusterHandle, and takes the cluster's lock where it changes
 * something. Its state lives in Grid Engine (job names and context) and in the state directory, so a
 * new process picks up where another left off, and `shutdown` works from Grid Engine alone.
 */
import { type Connection, connectionFrom } from "./connection.js";
import { type DriverNodeOutcome, ensureDriverNode } from "./driver-node.js";
import { ClusterError } from "./errors.js";
import { ClusterHandle } from "./handle.js";
import { withClusterLock } from "./lock.js";
import { preflight } from "./preflight.js";
import { type ScaleResult, scaleWorkers } from "./scale.js";
import { shutdownCluster } from "./shutdown.js";
import { clusterStatus } from "./status.js";
import { bringUp, type UpResult } from "./up.js";
import type { ClusterStatus } from "./view.js";

export type { HandleOptions as ManagerOptions } from "./handle.js";
export type { ScaleResult } from "./scale.js";
export type { UpResult } from "./up.js";
export type { ClusterStatus, NodeStatus } from "./view.js";
export { ClusterError };

export class RayClusterManager extends ClusterHandle {
  /** Check what can be checked before submitting anything (the checks `doctor` runs, then `qsub -w v`). */
  preflight(): Promise<void> {
    return preflight(this);
  }

  /**
   * Bring the cluster up, or reconcile a live one; one up (or down, or scale) at a time: a second up
   * waits, then reconciles with what the first made. A failed `up` deletes what it submitted.
   */
  async up(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<UpResult> {
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    await this.preflight();
    const tokenIsNew = await this.state.ensure();
    return withClusterLock(this.state, "up", () => bringUp(this, deadline, tokenIsNew, opts.signal), {
      timeoutMs: Math.max(0, deadline - Date.now()),
      log: this.log,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  status(): Promise<ClusterStatus> {
    return clusterStatus(this);
  }

  /** Set the number of workers of a type (busy nodes kept unless `force`). */
  scale(typeName: string | undefined, workers: number, opts: { force?: boolean } = {}): Promise<ScaleResult> {
    return withClusterLock(this.state, "scale", () => scaleWorkers(this, typeName, workers, opts), {
      timeoutMs: 120_000,
      log: this.log,
    });
  }

  /** Delete every job of the cluster found in Grid Engine and wait until they are gone. Idempotent. */
  shutdown(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ deleted: number[] }> {
    // an up that is still at work finishes first (else its workers would appear after we looked)
    return withClusterLock(this.state, "down", () => shutdownCluster(this, opts), {
      timeoutMs: 600_000,
      log: this.log,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** How to reach the running cluster; a ClusterError saying why not when it is not up. */
  async connection(): Promise<Connection> {
    const [head, jobs] = await Promise.all([this.state.readHeadInfo(), this.jobs()]);
    const r = connectionFrom(this.spec.name, head, jobs, this.state.tokenPath);
    if (!r.ok) throw new ClusterError(`${r.why}: start it with \`ray-sge up CONFIG\``);
    return r.connection;
  }

  token(): Promise<string> {
    return this.state.token();
  }

  /** Drivers on this host need a Ray node here: reuse one of the cluster's, else the driver node. */
  ensureDriverNode(conn: Connection, opts: { timeoutMs?: number } = {}): Promise<DriverNodeOutcome> {
    return ensureDriverNode(
      { spec: this.spec, state: this.state, rayNodes: () => this.rayNodes(conn.head), log: this.log },
      conn,
      opts,
    );
  }
}
