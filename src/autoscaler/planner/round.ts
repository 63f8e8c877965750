/**
 * One planning round: its input, the plan and the memory it builds (both fresh objects, owned by
 * the round: nothing here changes what an earlier round returned), and what Ray knows by instance id.
 */
import type { RayNodeState, Resources } from "../../ray/messages.js";
import { recordFailure } from "./failures.js";
import { alive } from "./resources.js";
import type { Plan, PlanInput, PlannerMemory, PlannerNodeType, PlannerSettings, WorkerJob } from "./types.js";

export interface Round {
  input: PlanInput;
  now: number;
  settings: PlannerSettings;
  types: ReadonlyMap<string, PlannerNodeType>;
  /** What Ray knows, by instance id (several nodes can share a host: never match by IP). */
  rayByInstance: ReadonlyMap<string, RayNodeState>;
  /** Per type: what a registered node of it really has (fills in auto-detected memory). */
  observed: Map<string, Resources>;
  memory: PlannerMemory;
  out: Plan;
  /** Note a failure of a type: reported to Ray, the type backs off. */
  fail(type: string, instanceId: string, reason: string, startMs: number): void;
}

export function startRound(input: PlanInput): Round {
  const { now, settings } = input;
  const types = new Map(input.types.map((t) => [t.name, t]));
  const memory: PlannerMemory = {
    unneededSince: {},
    backoff: { ...input.memory.backoff },
    walltimeDrained: {},
    failures: input.memory.failures.filter((f) => now - f.failedMs < 10 * 60_000),
  };
  const out: Plan = {
    launch: [],
    drain: [],
    cancel: [],
    infeasible: [],
    infeasibleGangs: [],
    infeasibleConstraints: [],
    pendingInstances: [],
    held: [],
    newFailures: [],
    memory,
  };
  const rayByInstance = new Map<string, RayNodeState>();
  for (const n of input.ray.nodes) {
    const prev = rayByInstance.get(n.instanceId);
    if (!prev || (alive(n) && !alive(prev))) rayByInstance.set(n.instanceId, n);
  }
  const observed = new Map<string, Resources>();
  for (const n of input.ray.nodes) if (alive(n) && types.has(n.nodeType)) observed.set(n.nodeType, n.total);
  return {
    input,
    now,
    settings,
    types,
    rayByInstance,
    observed,
    memory,
    out,
    fail(type, instanceId, reason, startMs) {
      recordFailure(memory, settings, now, { type, instanceId, reason, startMs });
      out.newFailures.push({ type, instanceId, reason });
    },
  };
}

export function ids(j: WorkerJob): { instanceId: string; jobId: number; taskId: number } {
  return { instanceId: j.instanceId, jobId: j.jobId, taskId: j.taskId };
}
