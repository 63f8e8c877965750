/**
 * The autoscaler's decisions as one pure function: Ray's demand (tasks and actors, placement groups,
 * request_resources constraints), the cluster's Ray nodes and its Grid Engine worker jobs in; what to
 * submit, drain and delete, what is infeasible and what to report to Ray out. Nothing here talks to a
 * server or reads the clock: the loop (../autoscaler.ts) gathers the input and carries `memory` from one
 * round to the next.
 *
 * Capacity is counted as bins: a live Ray node offers what it has available (for waiting work) and
 * its total (for request_resources); a worker job still on its way (queued in Grid Engine, or running
 * with Ray not yet registered) offers its type's full resources. Waiting work is placed first-fit,
 * largest first, onto bins, and what does not fit opens the smallest node type that can hold it,
 * within the per-type and global max_workers.
 */
import { capacity } from "./bins.js";
import { placeDemand } from "./demand.js";
import { noteFailures, sortJobs } from "./jobs.js";
import { startRound } from "./round.js";
import { shrink } from "./shrink.js";
import type { Plan, PlanInput } from "./types.js";
import { drainForWalltime } from "./walltime.js";

/** One round's decisions. The phases in order; each file says what its phase decides. */
export function plan(input: PlanInput): Plan {
  const round = startRound(input);
  noteFailures(round);
  const jobs = sortJobs(round);
  const wall = drainForWalltime(round, jobs);
  const cap = capacity(round, jobs, wall);
  placeDemand(round, cap, jobs, wall);
  shrink(round, cap, jobs, wall);
  return round.out;
}
