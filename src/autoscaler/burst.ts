/**
 * Whether waiting tasks and actors are worth a new worker: a job of a batch system takes a while to
 * arrive (qsub, the queue, Ray starting), and work the cluster drains before then would only leave
 * a worker idle until its idle timeout (measured before: the guide's 100 instant tasks made 8 workers
 * that started after the work was done). Pure: the planner calls it with what it remembers.
 *
 * - Demand younger than `graceMs` waits: a new Ray job's worker processes take seconds to start
 *   before any of its tasks ends (measured on the testbed, 4 CPUs, the guide's app: 97 waiting, the
 *   first fall 1.9 s later, all gone 0.8 s after that). The age of demand that grew is counted from
 *   when its tasks showed, on average (count-weighted): a burst shows in steps (6, then 97), and its
 *   bulk is as young as the 97; a backlog that grows by one (6, then 7) is as old as the 6. Growing
 *   demand waits up to `maxGraceMs` after it first showed.
 *   The head job has the GCS ask the raylets for their queues every 250 ms (Ray's default: 1 s), so
 *   these ages are seen to a quarter second.
 * - Demand that is draining (its count is below its peak of the last `windowMs`) waits while the
 *   cluster, at the rate it drains since that peak, would finish it before a worker could arrive.
 * - How long a worker takes to arrive is observed: qsub -> its Ray node alive, per worker (the median
 *   of the last ones), `defaultArrivalMs` until one has been seen.
 * Demand that does not drain (long tasks, actors) is launched for once the grace has passed.
 * Placement groups, request_resources() and min_workers do not pass through here.
 */

export interface BurstSettings {
  graceMs: number;
  maxGraceMs: number;
  windowMs: number;
  defaultArrivalMs: number;
}

export const DEFAULT_BURST: BurstSettings = {
  graceMs: 2_000,
  maxGraceMs: 3_000,
  windowMs: 5_000,
  defaultArrivalMs: 15_000,
};

export interface BurstMemory {
  /** Since when some task/actor demand has been waiting (unbroken, but for blinks shorter than BLINK_MS). */
  since?: number;
  /** Since when none has been waiting, while that is shorter than BLINK_MS. */
  noneSince?: number;
  /** When its tasks showed, on average (each rise weighs as many as it added). */
  rose?: number;
  /** Recent (time, waiting count) samples, oldest first, within windowMs. */
  samples: [number, number][];
  /** Observed qsub -> Ray node alive of recent workers, ms (at most 20). */
  arrivals: number[];
  /** Workers on their way: instance id -> when submitted. */
  waiting: Record<string, number>;
}

export function emptyBurstMemory(): BurstMemory {
  return { samples: [], arrivals: [], waiting: {} };
}

export interface BurstInput {
  now: number;
  /** Tasks and actors waiting now (their count, all shapes). */
  waitingCount: number;
  /** Worker jobs on their way (queued, or running with Ray not registered): id and submission time. */
  onTheWay: readonly { instanceId: string; submittedMs: number }[];
  /** Instance ids of workers whose Ray node is alive. */
  live: ReadonlySet<string>;
}

export interface BurstVerdict {
  /** Why new workers wait for this demand, when they do. */
  hold?: string;
  /** When the hold is the grace: how long until it ends. */
  recheckInMs?: number;
  arrivalMs: number;
  memory: BurstMemory;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** No demand for less than this is a blink, not the end of the demand. */
const BLINK_MS = 1_500;

export function burstGate(input: BurstInput, prev: BurstMemory | undefined, settings: BurstSettings): BurstVerdict {
  const { now } = input;
  const before = prev ?? emptyBurstMemory();
  // arrivals: a worker seen on its way before and alive now has arrived
  const arrivals = [...before.arrivals];
  for (const [id, submitted] of Object.entries(before.waiting))
    if (input.live.has(id)) arrivals.push(Math.max(0, now - submitted));
  const waiting: Record<string, number> = {};
  for (const j of input.onTheWay) waiting[j.instanceId] = j.submittedMs;
  const memory: BurstMemory = {
    samples: [...before.samples.filter(([t]) => now - t <= settings.windowMs), [now, input.waitingCount]],
    arrivals: arrivals.slice(-20),
    waiting,
  };
  const arrivalMs = memory.arrivals.length > 0 ? median(memory.arrivals) : settings.defaultArrivalMs;
  if (input.waitingCount === 0) {
    // a blink (a task's lease moving between raylets shows as no demand for a moment) keeps its age
    const noneSince = before.noneSince ?? now;
    if (before.since !== undefined && now - noneSince < BLINK_MS) {
      memory.since = before.since;
      memory.noneSince = noneSince;
      if (before.rose !== undefined) memory.rose = before.rose;
    } else memory.samples = [];
    return { memory, arrivalMs };
  }
  // demand back after more than a blink is new demand
  const fresh = before.since === undefined || (before.noneSince !== undefined && now - before.noneSince >= BLINK_MS);
  if (fresh) memory.samples = [[now, input.waitingCount]];
  const since = fresh ? now : (before.since as number);
  memory.since = since;
  const last = before.samples.filter(([, c]) => c > 0).at(-1);
  const prevCount = last?.[1] ?? 0;
  const prevRose = before.rose ?? since;
  memory.rose =
    fresh || prevCount === 0
      ? now
      : input.waitingCount > prevCount
        ? (prevCount * prevRose + (input.waitingCount - prevCount) * now) / input.waitingCount
        : prevRose;
  const age = now - since;
  const grace = Math.min(settings.maxGraceMs, Math.max(settings.graceMs, memory.rose - since + settings.graceMs));
  if (age < grace)
    return {
      memory,
      arrivalMs,
      recheckInMs: grace - age,
      hold: `${input.waitingCount} task(s)/actor(s) waiting for ${(age / 1000).toFixed(1)} s: most bursts drain within ${(grace / 1000).toFixed(1)} s`,
    };
  // the peak of the window (its latest time): a burst that rose and now falls is draining
  let [t0, c0] = memory.samples[0] as [number, number];
  // (the last time at the peak: one task ending after a long wait is a fall of one in a moment)
  for (const [t, c] of memory.samples) if (c >= c0) [t0, c0] = [t, c];
  if (input.waitingCount < c0 && now > t0) {
    const ratePerMs = (c0 - input.waitingCount) / (now - t0);
    const drainMs = input.waitingCount / ratePerMs;
    if (drainMs < arrivalMs)
      return {
        memory,
        arrivalMs,
        hold: `${input.waitingCount} task(s) waiting drain in about ${(drainMs / 1000).toFixed(1)} s at the current rate; a new worker takes about ${(arrivalMs / 1000).toFixed(0)} s to arrive`,
      };
  }
  return { memory, arrivalMs };
}

/** Ray's upscaling_speed: at most max(5, speed x the nodes now alive) workers on their way at once. */
export function pendingLimit(upscalingSpeed: number, aliveNodes: number): number {
  return Math.max(5, Math.ceil(upscalingSpeed * aliveNodes));
}
