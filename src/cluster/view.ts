/**
 * The status view of a cluster: its Grid Engine jobs matched with Ray's nodes by instance id
 * ("<job>.<task>"), what Ray waits for, and what became of the head. Pure: status.ts gathers the facts.
 */
import type { ClusterSpec } from "../config/normalise.js";
import type { AutoscalingState, NodeLife } from "../ray/messages.js";
import type { PendingDemand, RayNode } from "../ray/nodes.js";
import type { JobEntry } from "../sge/qstat.js";
import { formatRuntime } from "../sge/qsub.js";
import { parseDuration } from "../sge/units.js";
import { parseJobName } from "./identity.js";
import type { HeadInfo } from "./state-dir.js";

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
  /** The node's IP address as Ray knows it (its Ray node's, or the head's published one). */
  ip?: string;
  /** Why the job waits, when Grid Engine says (pending jobs only). */
  waitingBecause?: string;
  /** Its Ray node as people see it (messages.ts lifeOf), or why there is none to see. */
  ray: NodeLife | "not registered" | "unknown";
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

/** What Ray said, when it answered. */
export interface RayView {
  nodes: RayNode[];
  demand: PendingDemand[];
  autoscaling: AutoscalingState;
}

export interface StatusFacts {
  spec: ClusterSpec;
  jobs: readonly JobEntry[];
  /** head.json, if there is one. */
  head: HeadInfo | undefined;
  headInfoPath: string;
  ray: RayView | undefined;
  rayError: string | undefined;
  /** Why pending jobs wait (Grid Engine's first scheduling message), by job id. */
  reasons: ReadonlyMap<number, string>;
  now: number;
}

/** Is the head whose address was published running (its job is)? */
export function headRunning(head: HeadInfo | undefined, jobs: readonly JobEntry[]): boolean {
  return !!head && jobs.some((j) => String(j.id) === head.job_id && j.status === "running");
}

export function statusView(f: StatusFacts): ClusterStatus {
  const { spec, jobs, head, ray } = f;
  const types = new Map([spec.head, ...spec.workerTypes].map((t) => [t.name, t]));
  const byInstance = new Map((ray?.nodes ?? []).map((n) => [n.instanceId, n]));
  const nodes: NodeStatus[] = [];
  for (const j of jobs) {
    const who = parseJobName(spec.name, j.name);
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
    const why = f.reasons.get(j.id);
    if (why && j.status === "pending") n.waitingBecause = why;
    if (rn?.ip) n.ip = rn.ip;
    else if (who.role === "head" && head && String(j.id) === head.job_id && j.status === "running") n.ip = head.ip;
    if (rn) {
      n.resources = rn.resources;
      if (rn.available) n.available = rn.available;
      if (rn.idleMs !== undefined) n.idleMs = rn.idleMs;
    }
    const hrt = types.get(who.type)?.sge.hardRuntime;
    if (hrt !== undefined && j.startedAtMs !== undefined) {
      const limit = parseDuration(formatRuntime("h_rt", hrt)) ?? 0;
      n.secondsLeft = Math.max(0, Math.round(limit - (f.now - j.startedAtMs) / 1000));
    }
    nodes.push(n);
  }
  const status: ClusterStatus = {
    name: spec.name,
    nodes,
    strayRayNodes: [...byInstance.values()].filter((n) => n.state === "ALIVE"),
    pendingDemand: ray?.demand ?? [],
    infeasible: [
      ...(ray?.autoscaling.infeasible ?? []).map((r) => r.resources),
      ...(ray?.autoscaling.infeasibleGangs ?? []).flatMap((g) => g.requests.map((r) => r.resources)),
    ],
    failures: (ray?.autoscaling.failed ?? []).map((x) => ({
      nodeType: x.nodeType,
      reason: x.reason,
      at: new Date(x.failedMs).toISOString(),
    })),
  };
  // the published address is the head's only while its job runs: else say what became of it
  const headJob = jobs.find((j) => parseJobName(spec.name, j.name)?.role === "head" && j.status === "running");
  if (!head && headJob)
    status.headUnpublished = `the head job ${headJob.id} runs${headJob.host ? ` on ${headJob.host}` : ""}, but its address (${f.headInfoPath}) is missing: the state directory was lost or is not shared; \`ray-sge down ${spec.name}\` removes the cluster, \`up\` starts it anew`;
  if (head && headRunning(head, jobs)) status.head = head;
  else if (head) {
    const job = jobs.find((j) => String(j.id) === head.job_id);
    status.headGone = job
      ? `the head job ${head.job_id} is ${job.state}${job.host ? ` on ${job.host}` : ""}, not running`
      : `the head job ${head.job_id} (on ${head.host}) is no longer in Grid Engine`;
  }
  if (f.rayError) status.rayError = f.rayError;
  return status;
}

/** The order scale removes nodes in: those doing nothing for Ray yet (pending, not registered), then the newest. */
export function removalOrder(nodes: readonly NodeStatus[]): NodeStatus[] {
  return [...nodes].sort((a, b) => rank(a) - rank(b) || b.jobId - a.jobId || (b.taskId ?? 0) - (a.taskId ?? 0));
}

function rank(n: NodeStatus): number {
  if (n.sgeStatus !== "running") return 0;
  return n.ray !== "ALIVE" ? 1 : 2;
}
