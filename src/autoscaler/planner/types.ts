/** The planner's input, output and memory. */
import type {
  ClusterResourceState,
  FailedInstanceRequest,
  GangRequest,
  PendingInstance,
  RequestByCount,
  ResourceRequest,
  Resources,
} from "../../ray/messages.js";
import { type BurstMemory, type BurstSettings, DEFAULT_BURST } from "../burst.js";

export interface PlannerNodeType {
  name: string;
  /** What one node of this type gives Ray: CPU (slots), GPU, memory when declared, custom resources. */
  resources: Resources;
  labels: Record<string, string>;
  minWorkers: number;
  maxWorkers: number;
  /** The job's h_rt in seconds, when the type has one. */
  walltimeS?: number;
  /** Drain this long before h_rt (default: the settings' walltimeMarginMs). */
  walltimeMarginMs?: number;
}

export type JobPhase = "pending" | "running" | "error" | "other";

/** One Grid Engine task of the cluster's worker jobs. */
export interface WorkerJob {
  instanceId: string;
  jobId: number;
  taskId: number;
  type: string;
  phase: JobPhase;
  host?: string;
  queue?: string;
  submittedMs: number;
  startedMs?: number;
  /** Grid Engine's words: why it waits (pending) or what went wrong (error). */
  reason?: string;
}

/** A worker job that left Grid Engine without being deleted by us (from qacct when it answers). */
export interface EndedJob {
  instanceId: string;
  type: string;
  /** Deleted by qdel (its notify signal ended it): says nothing about its type. */
  deleted?: boolean;
  startedMs?: number;
  endedMs: number;
  /** Whether its Ray node ever registered. */
  registered: boolean;
  reason: string;
}

export interface PlannerSettings {
  idleTimeoutMs: number;
  /** Drain nodes this long before their h_rt ends (per type with h_rt). */
  walltimeMarginMs: number;
  /** A queued job whose demand is gone is deleted only after being unneeded this long. */
  cancelAfterMs: number;
  /** A running job whose Ray node has not registered after this long is failed. */
  registerTimeoutMs: number;
  /** Backoff after a failure: base doubles per consecutive failure, up to max. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Ray's upscaling_speed: workers on their way at once, at most max(5, this x nodes alive). */
  upscalingSpeed: number;
  /** Launch for waiting tasks/actors only when they will not drain first (burst.ts); undefined: at once. */
  burst?: BurstSettings;
}

export const DEFAULT_SETTINGS: PlannerSettings = {
  idleTimeoutMs: 5 * 60_000,
  walltimeMarginMs: 5 * 60_000,
  cancelAfterMs: 30_000,
  registerTimeoutMs: 300_000,
  backoffBaseMs: 30_000,
  backoffMaxMs: 600_000,
  upscalingSpeed: 1,
  burst: DEFAULT_BURST,
};

export interface TypeBackoff {
  until: number;
  failures: number;
  reason: string;
}

/** What the planner remembers between rounds (losing it, e.g. after a restart, is safe). */
export interface PlannerMemory {
  /** Queued jobs found unneeded, since when. */
  unneededSince: Record<string, number>;
  backoff: Record<string, TypeBackoff>;
  /** Nodes drained ahead of their walltime, and when. */
  walltimeDrained: Record<string, number>;
  /** Recent failures, reported to Ray for a while. */
  failures: FailedInstanceRequest[];
  /** What the burst gate remembers (burst.ts). */
  burst?: BurstMemory;
  /** Worker nodes busy at the end of the round: should one die, it is replaced at once. */
  busy?: string[];
}

export function emptyMemory(): PlannerMemory {
  return { unneededSince: {}, backoff: {}, walltimeDrained: {}, failures: [] };
}

export interface PlanInput {
  now: number;
  types: readonly PlannerNodeType[];
  /** Global max_workers. */
  maxWorkers: number;
  jobs: readonly WorkerJob[];
  ray: ClusterResourceState;
  ended?: readonly EndedJob[];
  /** Submissions qsub refused last round (the loop hands them back: they count as failures of their type). */
  refused?: readonly RefusedSubmission[];
  settings: PlannerSettings;
  memory: PlannerMemory;
}

export interface RefusedSubmission {
  type: string;
  reason: string;
  atMs: number;
}

export interface Launch {
  type: string;
  count: number;
  why: string;
}

export interface Drain {
  instanceId: string;
  nodeId: string;
  reason: "IDLE_TERMINATION" | "PREEMPTION";
  /** 0: none. */
  deadlineMs: number;
  why: string;
}

export interface Cancel {
  instanceId: string;
  jobId: number;
  taskId: number;
  why: string;
}

export interface Plan {
  launch: Launch[];
  drain: Drain[];
  /** Worker tasks to qdel: queued ones no longer needed, failed ones, dead Ray nodes, drained nodes. */
  cancel: Cancel[];
  infeasible: ResourceRequest[];
  infeasibleGangs: GangRequest[];
  infeasibleConstraints: RequestByCount[][];
  pendingInstances: PendingInstance[];
  /** Why demand waits although it is feasible (max_workers reached, backoff). */
  held: string[];
  /** New failures of this round, for the events log (all recent ones, reported to Ray: memory.failures). */
  newFailures: { type: string; instanceId: string; reason: string }[];
  /** Look again this soon (ms): young demand's grace ends then (the burst gate). */
  recheckInMs?: number;
  memory: PlannerMemory;
}
