/**
 * RayClusterManager: a Ray cluster made of Grid Engine jobs. The imperative shell around the pure
 * parts (config, job scripts): submits, waits, observes, deletes. Its state lives in Grid Engine (job
 * names and context) and in the cluster's state directory, so a new process picks up where another
 * left off, and `shutdown` works from Grid Engine alone.
 */

import { spawn } from "node:child_process";
import { open, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../base/sleep.js";
import type { ClusterSpec, NodeTypeSpec } from "../config/normalise.js";
import type { GcsClient } from "../ray/gcs.js";
import type { AutoscalingState } from "../ray/messages.js";
import { type PendingDemand, pendingDemandFrom, type RayNode, rayNodesFrom } from "../ray/nodes.js";
import { SgeClient } from "../sge/client.js";
import type { Complex } from "../sge/qconf.js";
import type { JobEntry } from "../sge/qstat.js";
import type { JobOptions, ResourceValue, SubmitResult } from "../sge/qsub.js";
import { formatRuntime } from "../sge/qsub.js";
import { parseDuration } from "../sge/units.js";
import { VERSION } from "../version.js";
import { type Connection, connectionFrom } from "./connection.js";
import { type DriverNodeOutcome, ensureDriverNode, stopDriverNode } from "./driver-node.js";
import { rayResourceArgs, renderHeadScript, renderWorkerScript } from "./jobscript.js";
import { withClusterLock } from "./lock.js";
import {
  askAutoscalerToStop,
  clearAutoscalerStop,
  clusterJobPattern,
  gcsAddress,
  type HeadInfo,
  headJobName,
  jobContext,
  parseJobName,
  StateDir,
  workerJobName,
} from "./state.js";

export type AutoscalerMode = "head" | "local" | "off";

/** The CLI this library belongs to: what the head job (or a local process) runs as the autoscaler. */
export const CLI_PATH = fileURLToPath(new URL("../../bin/ray-sge.js", import.meta.url));

export interface ManagerOptions {
  sge?: SgeClient;
  /** Where the autoscaler runs (default: the config's autoscaler.mode). */
  autoscaler?: AutoscalerMode;
  /** Progress lines while waiting (default: none). */
  log?: (line: string) => void;
}

export interface NodeStatus {
  /** "<job>.<task>", the id SGE jobs and Ray nodes are matched by. */
  instanceId: string;
  jobId: number;
  taskId?: number;
  role: "head" | "worker";
  nodeType: string;
  sgeState: string;
  sgeStatus: JobEntry["status"];
  host?: string;
  /** Why the job waits, when Grid Engine says (pending jobs only). */
  waitingBecause?: string;
  ray: "ALIVE" | "DRAINING" | "DEAD" | "not registered" | "unknown";
  /** Ray's total resources of the node. */
  resources?: Record<string, number>;
  /** Ray's resources not in use. */
  available?: Record<string, number>;
  idleMs?: number;
  /** Seconds until the job's h_rt ends it, for running jobs with h_rt. */
  secondsLeft?: number;
}

export interface ClusterStatus {
  name: string;
  /** The running head's published address (absent when its job is not running). */
  head?: HeadInfo;
  /** What became of the head whose address was published, when its job is not running. */
  headGone?: string;
  /** A running head job whose address is not there (head.json lost with the state directory). */
  headUnpublished?: string;
  /** Why Ray's side is unknown, when it is. */
  rayError?: string;
  nodes: NodeStatus[];
  /** Ray nodes with no Grid Engine job of this cluster (their job ended, or started by hand). */
  strayRayNodes: RayNode[];
  /** Work Ray could not place yet (resource shapes and counts). */
  pendingDemand: PendingDemand[];
  /** What the autoscaler last reported to Ray: demand no node type can hold, failed workers. */
  infeasible: Record<string, number>[];
  failures: { nodeType: string; reason: string; at: string }[];
}

/** What the autoscaler writes to autoscaler.json each round (skipped rounds too). */
export interface AutoscalerHeartbeat {
  pid: number;
  host: string;
  mode: string;
  last_round_at: number;
  /** Why its rounds are being skipped (qstat failed, GCS not answering), when they are. */
  skipping?: string;
}

export interface UpResult {
  head: HeadInfo;
  /** Where the autoscaler runs, in words ("head job 12 (pid 345 on node1)", "locally (pid 345; ...)", "off"). */
  autoscaler: string;
  address: string;
  submitted: SubmitResult[];
  reused: boolean;
  workersAlive: number;
}

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

/** The order scale removes nodes in: those doing nothing for Ray yet (pending, not registered), then the newest. */
export function removalOrder(nodes: readonly NodeStatus[]): NodeStatus[] {
  return [...nodes].sort((a, b) => rank(a) - rank(b) || b.jobId - a.jobId || (b.taskId ?? 0) - (a.taskId ?? 0));
}

function rank(n: NodeStatus): number {
  if (n.sgeStatus !== "running") return 0;
  return n.ray !== "ALIVE" ? 1 : 2;
}

/**
 * Pure: is memory requested per slot? The config says, else the complex does: a YES consumable is
 * counted per slot, JOB consumables and load values (NO) per job and host.
 */
export function perSlotFor(spec: ClusterSpec, complexes: readonly Complex[]): boolean {
  if (spec.memoryPerSlot !== undefined) return spec.memoryPerSlot;
  const cx = complexes.find((c) => c.name === spec.memoryComplex);
  if (!cx)
    throw new ClusterError(
      `the memory complex "${spec.memoryComplex}" does not exist (qconf -sc); set sge.memory_complex`,
    );
  return cx.consumable === "YES";
}

/**
 * Pure: a node type's resources -> qsub options. slots -> `-pe PE slots`; memory -> the memory
 * complex (per slot when it is a per-slot consumable); gpus -> the GPU complex; h_rt/s_rt; queue,
 * project, qsub_options' other words; name-independent tags (-ac) and graceful signals (-notify).
 */
export function jobRequest(
  spec: ClusterSpec,
  type: NodeTypeSpec,
  memoryPerSlot: boolean,
  state: { path: string; logDir: string },
): Omit<JobOptions, "name" | "scriptText"> {
  const hard: Record<string, ResourceValue> = { ...type.sge.resources };
  if (type.memoryBytes !== undefined) {
    const bytes = memoryPerSlot ? Math.ceil(type.memoryBytes / type.slots) : type.memoryBytes;
    hard[spec.memoryComplex] = `${Math.ceil(bytes / 1024 ** 2)}M`;
  }
  if (type.gpus > 0) hard[spec.gpuComplex] = type.gpus;
  const o: Omit<JobOptions, "name" | "scriptText"> = {
    shell: "/bin/bash",
    cwd: state.path,
    stdoutPath: join(state.logDir, type.role === "head" ? "head.$JOB_ID.out" : `${type.name}.$JOB_ID.$TASK_ID.out`),
    joinOutput: true,
    parallelEnvironment: { name: type.sge.parallelEnvironment, slots: type.slots },
    hardResources: hard,
    context: jobContext(spec.name, type.role, type.name),
    notify: true,
    nativeArgs: type.sge.nativeArgs,
  };
  if (type.sge.queue) o.queue = type.sge.queue;
  if (type.sge.project) o.project = type.sge.project;
  if (type.sge.hardRuntime !== undefined) o.hardRuntime = type.sge.hardRuntime;
  if (type.sge.softRuntime !== undefined) o.softRuntime = type.sge.softRuntime;
  return o;
}

export class ClusterError extends Error {
  override readonly name = "ClusterError";
}

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
 */
export function stuckDeletionMessage(cluster: string, left: readonly JobEntry[], waitedS: number): string {
  const hosts = [...new Set(left.filter((j) => j.state.includes("d") && j.host).map((j) => j.host as string))];
  const ids = uniqueIds(left).join(" ");
  if (hosts.length === 0)
    return `${jobsText(left)} still in Grid Engine ${waitedS} s after qdel; ask Grid Engine why: qstat -j ${ids}`;
  const head = left.some((j) => parseJobName(cluster, j.name)?.role === "head");
  return `${jobsText(left)} still in Grid Engine ${waitedS} s after qdel: the execution daemon of ${hosts.join(", ")} has not confirmed the end (is sge_execd down there?). Grid Engine stops and removes them when it answers again${head ? "; until then the head's Ray runs on" : "; their Ray nodes have stopped already (a node ends 10 s after its head)"}. A Grid Engine manager can remove them now: qdel -f ${ids}. Run ray-sge down again to check.`;
}

export { InterruptedError } from "../base/sleep.js";

export class RayClusterManager {
  readonly sge: SgeClient;
  readonly state: StateDir;
  private readonly log: (line: string) => void;
  private perSlot: Promise<boolean> | undefined;
  readonly autoscalerMode: AutoscalerMode;

  constructor(
    readonly spec: ClusterSpec,
    options: ManagerOptions = {},
  ) {
    this.sge = options.sge ?? new SgeClient();
    this.state = new StateDir(spec.stateDir);
    this.log = options.log ?? (() => {});
    this.autoscalerMode = options.autoscaler ?? spec.autoscaler.mode;
  }

  // ------------------------------------------------------------------------------------ submit

  private jobOptions(type: NodeTypeSpec, memoryPerSlot: boolean): Omit<JobOptions, "name" | "scriptText"> {
    return jobRequest(this.spec, type, memoryPerSlot, this.state);
  }

  private scriptFor(type: NodeTypeSpec): string {
    const input = {
      cluster: this.spec.name,
      stateDir: this.state.path,
      rayExecutable: this.spec.rayExecutable,
      nodeType: type.name,
      role: type.role,
      resourceArgs: rayResourceArgs(type),
      extraArgs: type.rayStartArgs,
      setupCommands: type.setupCommands,
      version: VERSION,
    };
    if (type.role === "head") {
      return renderHeadScript({
        ...input,
        ...(this.autoscalerMode === "head"
          ? { autoscaler: { node: process.execPath, cli: CLI_PATH, spec: this.state.specPath } }
          : {}),
        ...(this.spec.gcsPort ? { gcsPort: this.spec.gcsPort } : {}),
        ...(this.spec.dashboardPort ? { dashboardPort: this.spec.dashboardPort } : {}),
      });
    }
    return renderWorkerScript(input);
  }

  /** Whether memory is requested per slot: asked of Grid Engine once per manager (preflight answers it too). */
  private memoryPerSlot(): Promise<boolean> {
    this.perSlot ??= (async () => {
      if (this.spec.memoryPerSlot !== undefined) return this.spec.memoryPerSlot;
      if (![this.spec.head, ...this.spec.workerTypes].some((t) => t.memoryBytes !== undefined)) return false;
      return perSlotFor(this.spec, await this.sge.complexes());
    })();
    return this.perSlot;
  }

  /** Submit the head job. */
  async startHead(): Promise<SubmitResult> {
    await this.state.ensure();
    return this.sge.submit({
      name: headJobName(this.spec.name),
      scriptText: this.scriptFor(this.spec.head),
      ...this.jobOptions(this.spec.head, await this.memoryPerSlot()),
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
      scriptText: this.scriptFor(type),
      array: { first: 1, last: count },
      ...this.jobOptions(type, await this.memoryPerSlot()),
    });
  }

  // -------------------------------------------------------------------------------------- up

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

  /**
   * Check what can be checked before submitting anything: queues and PEs exist and can take jobs, and
   * each node type's request could ever run. `qsub -w v` gives Grid Engine's own reasons, but on
   * 8.1.9 it (and `-w e`) refuses every request of a load-value complex such as mem_free, even 1G
   * (measured); those are left out of it and checked against what qhost reports instead.
   */
  async preflight(): Promise<void> {
    const [queues, pes, complexes, hosts] = await Promise.all([
      this.sge.queues(),
      this.sge.parallelEnvironments(),
      this.sge.complexes(),
      this.sge.hosts(),
    ]);
    const memCx = complexes.find((c) => c.name === this.spec.memoryComplex);
    const types = [this.spec.head, ...this.spec.workerTypes];
    const perSlot = types.some((t) => t.memoryBytes !== undefined) ? perSlotFor(this.spec, complexes) : false;
    this.perSlot ??= Promise.resolve(perSlot);
    for (const type of types) {
      const q = type.sge.queue;
      const queue = queues.find((x) => x.name === q);
      if (q && !q.includes("@") && !queue) {
        throw new ClusterError(
          `queue "${q}" (node type ${type.name}) does not exist; queues: ${queues.map((x) => x.name).join(", ")}`,
        );
      }
      if (queue && !queue.instances.some((i) => i.usable)) {
        throw new ClusterError(
          `queue "${q}" has no usable instance: ${queue.instances.map((i) => `${i.name} ${i.problems.join(", ") || "?"}`).join("; ")}`,
        );
      }
      if (!pes.some((p) => p.name === type.sge.parallelEnvironment)) {
        throw new ClusterError(
          `parallel environment "${type.sge.parallelEnvironment}" (node type ${type.name}) does not exist; PEs: ${pes.map((p) => p.name).join(", ")}`,
        );
      }
      const opts = this.jobOptions(type, perSlot);
      const loadValues = new Set(complexes.filter((c) => c.consumable === "NO").map((c) => c.name));
      const hard = Object.fromEntries(Object.entries(opts.hardResources ?? {}).filter(([k]) => !loadValues.has(k)));
      const v = await this.sge.verify({
        ...opts,
        hardResources: hard,
        name: headJobName(this.spec.name),
        scriptText: "true\n",
      });
      if (!v.suitable) {
        throw new ClusterError(`node type ${type.name} can never run as requested: ${v.messages.join("; ")}`);
      }
      if (type.memoryBytes !== undefined && memCx?.consumable === "NO") {
        const largest = Math.max(0, ...hosts.map((h) => h.memTotalBytes ?? 0));
        if (largest < type.memoryBytes) {
          const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)}G`;
          throw new ClusterError(
            `node type ${type.name} asks for ${gib(type.memoryBytes)} of ${this.spec.memoryComplex}, but no execution host has that much memory (largest: ${gib(largest)}, qhost)`,
          );
        }
      }
    }
  }

  /**
   * Bring the cluster up, or reconcile a live one: head job, min_workers per type (submitted at once;
   * they wait for the head's address), wait until the GCS answers and the workers have joined. A
   * failed `up` deletes what it submitted.
   */
  async up(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<UpResult> {
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    await this.preflight();
    const tokenIsNew = await this.state.ensure();
    // one up (or down, or scale) at a time: a second up waits, then reconciles with what the first made
    return withClusterLock(this.state.path, "up", () => this.upLocked(deadline, tokenIsNew, opts.signal), {
      timeoutMs: Math.max(0, deadline - Date.now()),
      log: this.log,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  private async upLocked(deadline: number, tokenIsNew: boolean, signal: AbortSignal | undefined): Promise<UpResult> {
    const opts = signal ? { signal } : {};
    await this.writeSpec();
    await clearAutoscalerStop(this.state.path);
    const existing = (await this.jobs()).filter((j) => j.status !== "deleting");
    const head = existing.find((j) => parseJobName(this.spec.name, j.name)?.role === "head" && j.status !== "error");
    const submitted: SubmitResult[] = [];
    try {
      if (!head) {
        if (existing.length > 0) {
          this.log(`removing ${existing.length} job(s) left from an earlier run without a head`);
          await this.sge.deleteJobs([...new Set(existing.map((j) => j.id))]);
        }
        await this.state.clearHeadInfo();
        if (tokenIsNew) this.log(`token: ${this.state.tokenPath} (0600)`);
        const h = await this.startHead();
        submitted.push(h);
        this.log(`head job ${h.jobId} submitted`);
        // Grid Engine arbitrates too: should another head of this cluster be live (an up whose lock
        // could not hold, e.g. a state dir not shared), the older one stays and this up gives way
        const heads = (await this.jobs()).filter(
          (j) =>
            parseJobName(this.spec.name, j.name)?.role === "head" && j.status !== "deleting" && j.status !== "error",
        );
        const older = heads.find((j) => j.id < h.jobId);
        if (older)
          throw new ClusterError(
            `another head job (${older.id}) of cluster ${this.spec.name} appeared while this up ran: this one gives way; \`ray-sge up\` again reconciles with it`,
          );
      } else {
        this.log(`cluster ${this.spec.name} exists (head job ${head.id}, ${head.state}): reconciling`);
      }
      for (const type of this.spec.workerTypes) {
        const have = existing.filter(
          (j) => parseJobName(this.spec.name, j.name)?.type === type.name && j.status !== "error",
        ).length;
        const need = type.minWorkers - have;
        if (need > 0) {
          const w = await this.addWorkers(type.name, need);
          submitted.push(w);
          this.log(`${need} worker(s) of type ${type.name} submitted as array job ${w.jobId}`);
        }
      }
      const info = await this.waitForHead(head?.id ?? (submitted[0] as SubmitResult).jobId, deadline, opts.signal);
      const autoscaler = await this.ensureAutoscaler(info);
      const want = this.spec.workerTypes.reduce((n, t) => n + t.minWorkers, 0);
      const alive = await this.waitForWorkers(info, want, deadline, opts.signal);
      return {
        head: info,
        autoscaler,
        address: `${info.ip}:${info.gcs_port}`,
        submitted,
        reused: head !== undefined,
        workersAlive: alive,
      };
    } catch (e) {
      if (submitted.length > 0) {
        this.log(
          `up failed: deleting the ${submitted.length} job(s) it submitted (${submitted.map((s) => s.jobId).join(", ")})`,
        );
        await this.sge.deleteJobs(submitted.map((s) => s.jobId)).catch(() => undefined);
        // and wait (bounded) until Grid Engine has let them go: a failed up leaves nothing behind
        const ids = new Set(submitted.map((s) => s.jobId));
        for (let i = 0; i < 60; i++) {
          const left = await this.jobs().catch(() => []);
          if (!left.some((j) => ids.has(j.id))) break;
          await sleep(500).catch(() => undefined);
        }
      }
      throw e;
    }
  }

  /**
   * The normalised config, for the autoscaler (in the head job it cannot see the user's config file),
   * with what up found out about Grid Engine.
   */
  private async writeSpec(): Promise<void> {
    const tmp = `${this.state.specPath}.tmp`;
    // decided here, on the submit host: `qconf -sc` needs an admin host, which the head's host rarely is
    const spec: ClusterSpec = { ...this.spec, memoryPerSlot: await this.memoryPerSlot() };
    await writeFile(tmp, JSON.stringify(spec, null, 2), { mode: 0o600 });
    await rename(tmp, this.state.specPath);
  }

  /** The autoscaler's last heartbeat (autoscaler.json, written every 2 s while it runs), however old. */
  async autoscalerHeartbeat(): Promise<AutoscalerHeartbeat | undefined> {
    try {
      return JSON.parse(await readFile(join(this.state.path, "autoscaler.json"), "utf8"));
    } catch {
      return undefined;
    }
  }

  /** Is an autoscaler of this cluster alive (its heartbeat is fresh)? */
  async autoscalerInfo(): Promise<AutoscalerHeartbeat | undefined> {
    const a = await this.autoscalerHeartbeat();
    return a && Date.now() / 1000 - a.last_round_at < 10 ? a : undefined;
  }

  /**
   * The autoscaler as configured: in the head job (the head says whether it could start it there;
   * if not, it runs here instead, and we say so), here on this host, or off.
   */
  private async ensureAutoscaler(info: HeadInfo): Promise<string> {
    if (this.autoscalerMode === "off") return "off";
    // judged by its heartbeat, never by what head.json once said; the head job's one (re)starts on its
    // own within seconds (up removed any stop file a failed down left)
    const inHead = this.autoscalerMode === "head" && info.autoscaler === "head";
    const deadline = Date.now() + (inHead ? 20_000 : 0);
    for (;;) {
      const running = await this.autoscalerInfo();
      if (running) return `${running.mode} (pid ${running.pid} on ${running.host})`;
      if (Date.now() >= deadline) break;
      await sleep(500);
    }
    if (inHead)
      this.log(
        "the autoscaler in the head job does not answer (no heartbeat for 20 s): running it on this host instead",
      );
    else if (this.autoscalerMode === "head")
      this.log(
        `the autoscaler cannot run in the head job (${info.autoscaler ?? "unknown"}): running it on this host instead`,
      );
    return `locally (pid ${await this.startLocalAutoscaler()}; it stops when the head job ends)`;
  }

  /** Start `ray-sge autoscaler` on this host, detached, its output in the cluster's logs. */
  async startLocalAutoscaler(): Promise<number> {
    const log = await open(join(this.state.logDir, "autoscaler.local.out"), "a", 0o600);
    try {
      const child = spawn(process.execPath, [CLI_PATH, "autoscaler", this.state.specPath, "--mode", "local"], {
        detached: true,
        stdio: ["ignore", log.fd, log.fd],
      });
      child.unref();
      return child.pid ?? 0;
    } finally {
      await log.close();
    }
  }

  private async waitForHead(headJob: number, deadline: number, signal?: AbortSignal): Promise<HeadInfo> {
    let lastSaid = "";
    let lastAsked = 0;
    let reason: string | undefined;
    let state = "";
    while (Date.now() < deadline) {
      const info = await this.state.readHeadInfo();
      if (info && info.job_id === String(headJob)) return info;
      const [row] = await this.sge.listJobs({ jobIds: [headJob] });
      if (!row) {
        const why = await this.whyJobEnded(headJob);
        throw new ClusterError(`the head job ${headJob} ended before Ray came up${why}`);
      }
      state = row.state;
      if (row.status === "error") {
        const d = await this.sge.jobDetail(headJob).catch(() => undefined);
        throw new ClusterError(
          `the head job ${headJob} is in error state: ${d?.tasks[0]?.messages.join("; ") ?? "see qstat -j"}`,
        );
      }
      if (row.status === "running" && row.startedAtMs !== undefined && Date.now() - row.startedAtMs > 120_000) {
        throw new ClusterError(
          `the head job ${headJob} has run for ${Math.round((Date.now() - row.startedAtMs) / 1000)} s without publishing ${this.state.headInfoPath} (state directory lost or not shared with ${row.host}?): \`ray-sge down ${this.spec.name}\`, then up again`,
        );
      }
      if (row.status !== "pending") reason = undefined;
      else if (Date.now() - lastAsked > 5000) {
        // Grid Engine's own words for why the job waits, asked every few seconds
        lastAsked = Date.now();
        const msgs = (await this.sge.jobDetail(headJob).catch(() => undefined))?.schedulingMessages ?? [];
        reason =
          msgs.length === 0
            ? undefined
            : `${msgs[0]}${msgs.length > 1 ? ` (and ${msgs.length - 1} more: qstat -j ${headJob})` : ""}`;
      }
      const say = `head job ${headJob}: ${row.state}${row.host ? ` on ${row.host}` : ""}${reason ? `, waiting: ${reason}` : ""}`;
      if (say !== lastSaid) this.log(say);
      lastSaid = say;
      await sleep(500, signal);
    }
    throw new ClusterError(
      state.includes("qw")
        ? `the head job ${headJob} was still waiting in the queue when the time ran out${reason ? `: ${reason}` : ""} (raise --timeout, or change the request)`
        : `the head did not publish its address in time (head job ${headJob}, ${state}); see ${this.state.logDir}`,
    );
  }

  private async whyJobEnded(jobId: number): Promise<string> {
    try {
      const [a] = await this.sge.accounting(jobId, { name: headJobName(this.spec.name) });
      const log = join(this.state.logDir, `head.${jobId}.out`);
      // the job script's own words for why it stopped (setup failed, no ray[default], ...)
      const said = (await readFile(log, "utf8").catch(() => ""))
        .split("\n")
        .filter((l) => l.includes("] ERROR: "))
        .at(-1)
        ?.replace(/^.*\] ERROR: /, "");
      return a
        ? `: exit status ${a.exitStatus}${a.failed ? `, failed ${a.failed} (${a.failedReason ?? ""})` : ""} on ${a.host}${said ? `: ${said}` : ""}; its log: ${log}`
        : said
          ? `: ${said}; its log: ${log}`
          : "";
    } catch {
      return "";
    }
  }

  private gcsClients = new Map<string, GcsClient>();

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

  /** Close the GCS connections (a process that is done with the manager exits sooner). */
  close(): void {
    for (const c of this.gcsClients.values()) c.close();
    this.gcsClients.clear();
  }

  async rayNodes(info: HeadInfo): Promise<RayNode[]> {
    return rayNodesFrom(await (await this.gcs(info)).getClusterResourceState());
  }

  private async waitForWorkers(info: HeadInfo, want: number, deadline: number, signal?: AbortSignal): Promise<number> {
    let last = -1;
    while (Date.now() < deadline) {
      const nodes = await this.rayNodes(info).catch(() => undefined);
      const alive = nodes?.filter((n) => n.state === "ALIVE" && !n.isHead).length ?? 0;
      if (alive !== last) this.log(`Ray: head up at ${info.ip}:${info.gcs_port}, ${alive}/${want} worker(s) joined`);
      last = alive;
      // the head counts too: the GCS lists a node once its raylet has reported its resources
      if (nodes && alive >= want && nodes.some((n) => n.isHead && n.state === "ALIVE")) return alive;
      await sleep(1000, signal);
    }
    throw new ClusterError(
      `only ${last} of ${want} workers joined in time; see ${this.state.logDir} and \`ray-sge status ${this.spec.name}\``,
    );
  }

  // ------------------------------------------------------------------------------ connecting

  /** How to reach the running cluster; a ClusterError saying why not when it is not up. */
  async connection(): Promise<Connection> {
    const [head, jobs] = await Promise.all([this.state.readHeadInfo(), this.jobs()]);
    const r = connectionFrom(this.spec.name, head, jobs, this.state.tokenPath);
    if (!r.ok) throw new ClusterError(`${r.why}: start it with \`ray-sge up CONFIG\``);
    return r.connection;
  }

  async token(): Promise<string> {
    return (await readFile(this.state.tokenPath, "utf8")).trim();
  }

  /** Drivers on this host need a Ray node here: reuse one of the cluster's, else the driver node. */
  async ensureDriverNode(conn: Connection, opts: { timeoutMs?: number } = {}): Promise<DriverNodeOutcome> {
    return ensureDriverNode(
      { spec: this.spec, state: this.state, rayNodes: () => this.rayNodes(conn.head), log: this.log },
      conn,
      opts,
    );
  }

  // ---------------------------------------------------------------------------------- status

  async status(): Promise<ClusterStatus> {
    const [jobs, head] = await Promise.all([this.jobs(), this.state.readHeadInfo()]);
    let ray: { nodes: RayNode[]; demand: PendingDemand[]; autoscaling: AutoscalingState } | undefined;
    let rayError: string | undefined;
    const headAlive = head && jobs.some((j) => String(j.id) === head.job_id && j.status === "running");
    if (head && headAlive) {
      try {
        const s = await (await this.gcs(head)).getClusterStatus();
        ray = { nodes: rayNodesFrom(s.resources), demand: pendingDemandFrom(s.resources), autoscaling: s.autoscaling };
      } catch (e) {
        rayError = (e as Error).message;
      }
    } else rayError = jobs.length === 0 ? "no jobs" : "the head job is not running";
    // why pending jobs wait: one qstat -j per pending job (not per task)
    const reasons = new Map<number, string>();
    await Promise.all(
      [...new Set(jobs.filter((j) => j.status === "pending").map((j) => j.id))].map(async (id) => {
        const d = await this.sge.jobDetail(id).catch(() => undefined);
        if (d?.schedulingMessages[0]) reasons.set(id, d.schedulingMessages[0]);
      }),
    );
    const types = new Map([this.spec.head, ...this.spec.workerTypes].map((t) => [t.name, t]));
    const byInstance = new Map((ray?.nodes ?? []).map((n) => [n.instanceId, n]));
    const nodes: NodeStatus[] = [];
    for (const j of jobs) {
      const who = parseJobName(this.spec.name, j.name);
      if (!who) continue;
      const instanceId = `${j.id}.${j.taskId ?? 0}`;
      const rn = byInstance.get(instanceId);
      byInstance.delete(instanceId);
      const n: NodeStatus = {
        instanceId,
        jobId: j.id,
        role: who.role,
        nodeType: who.type,
        sgeState: j.state,
        sgeStatus: j.status,
        ray: rn ? rn.state : ray ? "not registered" : "unknown",
      };
      if (j.taskId !== undefined) n.taskId = j.taskId;
      if (j.host) n.host = j.host;
      const why = reasons.get(j.id);
      if (why && j.status === "pending") n.waitingBecause = why;
      if (rn) {
        n.resources = rn.resources;
        if (rn.available) n.available = rn.available;
        if (rn.idleMs !== undefined) n.idleMs = rn.idleMs;
      }
      const hrt = types.get(who.type)?.sge.hardRuntime;
      if (hrt !== undefined && j.startedAtMs !== undefined) {
        const limit = parseDuration(formatRuntime("h_rt", hrt)) ?? 0;
        n.secondsLeft = Math.max(0, Math.round(limit - (Date.now() - j.startedAtMs) / 1000));
      }
      nodes.push(n);
    }
    const status: ClusterStatus = {
      name: this.spec.name,
      nodes,
      strayRayNodes: [...byInstance.values()].filter((n) => n.state === "ALIVE"),
      pendingDemand: ray?.demand ?? [],
      infeasible: [
        ...(ray?.autoscaling.infeasible ?? []).map((r) => r.resources),
        ...(ray?.autoscaling.infeasibleGangs ?? []).flatMap((g) => g.requests.map((r) => r.resources)),
      ],
      failures: (ray?.autoscaling.failed ?? []).map((f) => ({
        nodeType: f.nodeType,
        reason: f.reason,
        at: new Date(f.failedMs).toISOString(),
      })),
    };
    // the published address is the head's only while its job runs: else say what became of it
    const headJob = jobs.find((j) => parseJobName(this.spec.name, j.name)?.role === "head" && j.status === "running");
    if (!head && headJob)
      status.headUnpublished = `the head job ${headJob.id} runs${headJob.host ? ` on ${headJob.host}` : ""}, but its address (${this.state.headInfoPath}) is missing: the state directory was lost or is not shared; \`ray-sge down ${this.spec.name}\` removes the cluster, \`up\` starts it anew`;
    if (head && headAlive) status.head = head;
    else if (head) {
      const job = jobs.find((j) => String(j.id) === head.job_id);
      status.headGone = job
        ? `the head job ${head.job_id} is ${job.state}${job.host ? ` on ${job.host}` : ""}, not running`
        : `the head job ${head.job_id} (on ${head.host}) is no longer in Grid Engine`;
    }
    if (rayError) status.rayError = rayError;
    return status;
  }

  // ----------------------------------------------------------------------------------- scale

  /**
   * Set the number of workers of a type. Grows with one array job. Shrinks pending tasks first, then
   * idle nodes: DrainNode(IDLE_TERMINATION) through the GCS, and qdel of that task only if the drain
   * was accepted; a busy node (drain refused) is kept unless `force`.
   */
  async scale(typeName: string | undefined, workers: number, opts: { force?: boolean } = {}): Promise<ScaleResult> {
    return withClusterLock(this.state.path, "scale", () => this.scaleLocked(typeName, workers, opts), {
      timeoutMs: 120_000,
      log: this.log,
    });
  }

  private async scaleLocked(
    typeName: string | undefined,
    workers: number,
    opts: { force?: boolean },
  ): Promise<ScaleResult> {
    const types = this.spec.workerTypes;
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
    const status = await this.status();
    const mine = status.nodes.filter(
      (n) => n.role === "worker" && n.nodeType === type.name && !["deleting", "error"].includes(n.sgeStatus),
    );
    const result: ScaleResult = { type: type.name, before: mine.length, added: [], removed: [], kept: [] };
    if (workers > mine.length) {
      const r = await this.addWorkers(type.name, workers - mine.length);
      result.added.push(`${r.jobId}.${r.tasks?.first ?? 1}-${r.tasks?.last ?? 1}`);
      this.log(`${workers - mine.length} worker(s) of type ${type.name} submitted as array job ${r.jobId}`);
      return result;
    }
    let excess = mine.length - workers;
    const order = removalOrder(mine);
    const head = status.head;
    for (const n of order) {
      if (excess === 0) break;
      if (n.sgeStatus === "running" && n.ray === "ALIVE" && head) {
        const node = (await this.rayNodes(head)).find((r) => r.instanceId === n.instanceId);
        const drain = node
          ? await (await this.gcs(head)).drainNode(
              node.nodeId,
              "IDLE_TERMINATION",
              `ray-sge scale ${this.spec.name} --workers ${workers}`,
            )
          : { accepted: true, rejection: "" };
        if (!drain.accepted && !opts.force) {
          result.kept.push({ node: n.instanceId, why: `busy (drain refused: ${drain.rejection || "node not idle"})` });
          this.log(`keeping ${n.instanceId} on ${n.host}: busy (use --force to remove it anyway)`);
          continue;
        }
      }
      await this.sge.deleteJobs([`${n.jobId}.${n.taskId ?? 1}`]);
      result.removed.push(n.instanceId);
      this.log(`removed ${n.instanceId}${n.host ? ` on ${n.host}` : ""} (${n.sgeState}, Ray ${n.ray})`);
      excess--;
    }
    return result;
  }

  // -------------------------------------------------------------------------------- shutdown

  /** Delete every job of the cluster found in Grid Engine and wait until they are gone. Idempotent. */
  async shutdown(opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ deleted: number[] }> {
    // an up that is still at work finishes first (else its workers would appear after we looked)
    return withClusterLock(this.state.path, "down", () => this.shutdownLocked(opts), {
      timeoutMs: 600_000,
      log: this.log,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  private async shutdownLocked(opts: { timeoutMs?: number; signal?: AbortSignal }): Promise<{ deleted: number[] }> {
    // learn what to delete before anything irreversible: if Grid Engine cannot say, nothing changes
    const ids = await this.ownJobIds();
    // the autoscaler checks this before each submission: nothing new appears while we delete
    await askAutoscalerToStop(this.state.path);
    if (ids.length > 0) {
      this.log(`deleting job(s) ${ids.join(", ")}`);
      try {
        await this.sge.deleteJobs(ids);
      } catch (e) {
        // nothing was deleted: the cluster is as it was, and its autoscaler carries on
        await clearAutoscalerStop(this.state.path);
        throw e;
      }
    }
    // this host's driver node, while the GCS still answers its drain; the others end 10 s after it
    const driver = await stopDriverNode(this.state);
    if (driver) this.log(`stopped the driver node on this host (pid ${driver})`);
    // wait for exactly the jobs deleted: anything else matching the name is not ours to wait for
    const mine = new Set(ids);
    const remaining = async () => (await this.jobs()).filter((j) => mine.has(j.id));
    const waitMs = opts.timeoutMs ?? 120_000;
    const start = Date.now();
    let told = false;
    while (Date.now() - start < waitMs) {
      const left = await remaining();
      if (left.length === 0) break;
      if (!told && Date.now() - start >= 10_000) {
        this.log(`waiting for Grid Engine to remove ${jobsText(left)} (up to ${Math.round(waitMs / 1000)} s) ...`);
        told = true;
      }
      if (Date.now() - start + 30_000 > waitMs)
        await this.sge.deleteJobs(uniqueIds(left), { force: true }).catch(() => undefined);
      await sleep(500, opts.signal);
    }
    const left = await remaining();
    if (left.length > 0)
      throw new ClusterError(stuckDeletionMessage(this.spec.name, left, Math.round((Date.now() - start) / 1000)));
    // a submission that raced with us (the autoscaler acting as we began): delete it as well
    const late = (await this.ownJobIds()).filter((id) => !mine.has(id));
    if (late.length > 0) {
      this.log(`deleting job(s) submitted while shutting down: ${late.join(", ")}`);
      await this.sge.deleteJobs(late, { force: true });
      ids.push(...late);
    }
    await this.state.clearHeadInfo();
    return { deleted: ids };
  }
}
