/**
 * The autoscaler's decisions as one pure function: Ray's demand (tasks and actors, placement groups,
 * request_resources constraints), the cluster's Ray nodes and its Grid Engine worker jobs in; what to
 * submit, drain and delete, what is infeasible and what to report to Ray out. Nothing here talks to a
 * server or reads the clock: the loop (autoscaler.ts) gathers the input and carries `memory` from one
 * round to the next.
 *
 * Capacity is counted as bins: a live Ray node offers what it has available (for waiting work) and
 * its total (for request_resources); a worker job still on its way (queued in Grid Engine, or running
 * with Ray not yet registered) offers its type's full resources. Waiting work is placed first-fit,
 * largest first, onto bins, and what does not fit opens the smallest node type that can hold it,
 * within the per-type and global max_workers.
 */
import type {
  ClusterResourceState,
  FailedInstanceRequest,
  GangRequest,
  LabelConstraint,
  PendingInstance,
  RayNodeState,
  RequestByCount,
  ResourceRequest,
  Resources,
} from "../ray/messages.js";
import { type BurstMemory, type BurstSettings, burstGate, DEFAULT_BURST, pendingLimit } from "./burst.js";

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
  settings: PlannerSettings;
  memory: PlannerMemory;
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
  failed: FailedInstanceRequest[];
  /** Why demand waits although it is feasible (max_workers reached, backoff). */
  held: string[];
  /** New failures of this round, for the events log. */
  newFailures: { type: string; instanceId: string; reason: string }[];
  /** Look again this soon (ms): young demand's grace ends then (the burst gate). */
  recheckInMs?: number;
  memory: PlannerMemory;
}

interface Bin {
  /** Live Ray node (available/total) or a worker on its way (type resources). */
  key: string;
  type: string;
  free: Resources;
  labels: Record<string, string>;
  used: boolean;
}

const EPS = 1e-9;

/** Demand keys no new node can satisfy (node affinity, placement group bundles already placed). */
function placeableKey(key: string): boolean {
  return !key.startsWith("node:") && !key.includes("_group_");
}

function fits(free: Resources, need: Resources, optimistic: ReadonlySet<string> = EMPTY): boolean {
  for (const [k, v] of Object.entries(need)) {
    if (v <= 0) continue;
    const have = free[k];
    if (have === undefined) {
      if (!optimistic.has(k)) return false;
    } else if (have + EPS < v) return false;
  }
  return true;
}
const EMPTY: ReadonlySet<string> = new Set();
/** Ray sets these itself when the config does not: unknown until a node of the type has registered. */
const AUTO_DETECTED: ReadonlySet<string> = new Set(["memory", "object_store_memory"]);

function take(free: Resources, need: Resources): void {
  for (const [k, v] of Object.entries(need)) if (free[k] !== undefined) free[k] = (free[k] as number) - v;
}

function labelsMatch(labels: Record<string, string>, selectors: readonly LabelConstraint[][]): boolean {
  if (selectors.length === 0) return true;
  return selectors.some((all) =>
    all.every((c) => {
      const v = labels[c.key];
      return c.operator === "in" ? v !== undefined && c.values.includes(v) : v === undefined || !c.values.includes(v);
    }),
  );
}

function size(r: Resources): number {
  // order requests for first-fit decreasing: GPUs weigh most, then CPUs, then memory (per GiB)
  return (r.GPU ?? 0) * 1000 + (r.CPU ?? 0) + (r.memory ?? 0) / 2 ** 30 / 4;
}

function shapeText(r: ResourceRequest): string {
  return Object.entries(r.resources)
    .map(([k, v]) => `${k}: ${k.includes("memory") ? `${(v / 2 ** 30).toFixed(1)}GiB` : v}`)
    .join(", ");
}

/** The state of one round's placement: bins, counts per type, launches. */
class Placement {
  readonly bins: Bin[] = [];
  readonly launches = new Map<string, { count: number; why: Set<string> }>();
  readonly held = new Set<string>();
  /** While set, new nodes are refused with this reason (the burst gate holds tasks and actors). */
  blockWhy: string | undefined;
  /** New workers this round may bring the number on their way up to this (upscaling_speed). */
  launchCap = Number.POSITIVE_INFINITY;
  private launched = 0;
  private total: number;
  private readonly count = new Map<string, number>();

  constructor(
    private readonly types: readonly PlannerNodeType[],
    private readonly maxWorkers: number,
    counts: Map<string, number>,
    private readonly backoff: Record<string, TypeBackoff>,
    private readonly now: number,
    /** Per type: what a registered node of it really has (fills in auto-detected memory). */
    private readonly observed: Map<string, Resources>,
  ) {
    for (const [t, n] of counts) this.count.set(t, n);
    this.total = [...counts.values()].reduce((a, b) => a + b, 0);
  }

  typeResources(t: PlannerNodeType): Resources {
    return { ...(this.observed.get(t.name) ?? {}), ...t.resources };
  }

  private optimisticFor(t: PlannerNodeType): ReadonlySet<string> {
    return this.observed.has(t.name) ? EMPTY : AUTO_DETECTED;
  }

  /** Per request shape: the first bin that may still hold it (bins only fill up, new ones go last). */
  private readonly cursor = new Map<string, number>();
  private readonly candidateCache = new Map<string, PlannerNodeType[]>();

  /** Types that could ever hold the request, smallest first. */
  candidates(r: ResourceRequest): PlannerNodeType[] {
    const key = shapeKey(r);
    let c = this.candidateCache.get(key);
    if (!c) {
      c = this.computeCandidates(r);
      this.candidateCache.set(key, c);
    }
    return c;
  }

  private computeCandidates(r: ResourceRequest): PlannerNodeType[] {
    return (
      this.types
        .filter((t) => t.maxWorkers > 0)
        .filter((t) => fits(this.typeResources(t), r.resources, this.optimisticFor(t)))
        .filter((t) => labelsMatch({ ...t.labels, "ray.io/node-group": t.name }, r.labelSelectors))
        // the smallest that fits (GPUs, then CPUs); among equals the plainest (fewest labels), keeping
        // labelled nodes for the work that asks for them; then the least declared memory (a type that
        // declares none gets what Ray finds on the host: count it as large)
        .sort(
          (a, b) =>
            (a.resources.GPU ?? 0) - (b.resources.GPU ?? 0) ||
            (a.resources.CPU ?? 0) - (b.resources.CPU ?? 0) ||
            Object.keys(a.labels).length - Object.keys(b.labels).length ||
            (a.resources.memory ?? Number.MAX_VALUE) - (b.resources.memory ?? Number.MAX_VALUE) ||
            a.name.localeCompare(b.name),
        )
    );
  }

  feasible(r: ResourceRequest): boolean {
    return this.candidates(r).length > 0;
  }

  /**
   * Open a new node for the request; undefined (and a reason kept) when limits or backoff forbid.
   * `required` (min_workers, walltime replacements) passes the burst gate and upscaling_speed.
   */
  open(r: ResourceRequest, why: string, required = false): Bin | undefined {
    if (!required && this.blockWhy) {
      this.held.add(`${shapeText(r)} waits: ${this.blockWhy}`);
      return undefined;
    }
    if (!required && this.launched >= this.launchCap) {
      this.held.add(
        `${shapeText(r)} waits: upscaling_speed allows ${this.launchCap === 0 ? "no more" : this.launchCap} new worker(s) on their way this round`,
      );
      return undefined;
    }
    const reasons: string[] = [];
    for (const t of this.candidates(r)) {
      const b = this.backoff[t.name];
      if (b && b.until > this.now) {
        reasons.push(
          `type ${t.name} backs off for ${Math.ceil((b.until - this.now) / 1000)} s after ${b.failures} failure(s): ${b.reason}`,
        );
        continue;
      }
      if ((this.count.get(t.name) ?? 0) >= t.maxWorkers) {
        reasons.push(`type ${t.name} is at its max_workers (${t.maxWorkers})`);
        continue;
      }
      if (this.total >= this.maxWorkers) {
        reasons.push(`the cluster is at its max_workers (${this.maxWorkers})`);
        break;
      }
      this.count.set(t.name, (this.count.get(t.name) ?? 0) + 1);
      this.total++;
      this.launched++;
      const l = this.launches.get(t.name) ?? { count: 0, why: new Set<string>() };
      l.count++;
      l.why.add(why);
      this.launches.set(t.name, l);
      const bin: Bin = {
        key: `new:${t.name}:${l.count}`,
        type: t.name,
        free: this.typeResources(t),
        labels: { ...t.labels, "ray.io/node-group": t.name },
        used: false,
      };
      this.bins.push(bin);
      return bin;
    }
    for (const x of reasons) this.held.add(`${shapeText(r)} waits: ${x}`);
    return undefined;
  }

  /** First bin (in order) that holds the request and is not excluded. */
  find(r: ResourceRequest, exclude?: ReadonlySet<Bin>): Bin | undefined {
    const key = exclude ? undefined : shapeKey(r);
    const start = key === undefined ? 0 : (this.cursor.get(key) ?? 0);
    for (let i = start; i < this.bins.length; i++) {
      const b = this.bins[i] as Bin;
      if (exclude?.has(b)) continue;
      const optimistic = b.key.startsWith("node:") ? EMPTY : this.optimisticForBin(b);
      if (fits(b.free, r.resources, optimistic) && labelsMatch(b.labels, r.labelSelectors)) {
        if (key !== undefined) this.cursor.set(key, i);
        return b;
      }
    }
    if (key !== undefined) this.cursor.set(key, this.bins.length);
    return undefined;
  }

  private optimisticForBin(b: Bin): ReadonlySet<string> {
    const t = this.types.find((x) => x.name === b.type);
    return t ? this.optimisticFor(t) : EMPTY;
  }

  place(r: ResourceRequest, why: string, exclude?: ReadonlySet<Bin>): Bin | undefined {
    const bin = this.find(r, exclude) ?? this.open(r, why);
    if (bin) {
      take(bin.free, r.resources);
      bin.used = true;
    }
    return bin;
  }

  /** Try a whole placement group; commit only if every bundle finds a place. */
  placeGang(g: GangRequest, why: string): boolean {
    const saved = this.snapshot();
    const strictPack = g.requests.length > 0 && g.requests.every((r) => r.affinity);
    const requests = strictPack
      ? [merge(g.requests)]
      : [...g.requests].sort((a, b) => size(b.resources) - size(a.resources));
    const spread = requests.some((r) => r.antiAffinity);
    const usedByGang = new Set<Bin>();
    for (const r of requests) {
      const bin = this.place(r, why, spread ? usedByGang : undefined);
      if (!bin) {
        this.restore(saved);
        return false;
      }
      usedByGang.add(bin);
    }
    return true;
  }

  private snapshot() {
    return {
      bins: this.bins.map((b) => ({ ...b, free: { ...b.free } })),
      launches: new Map([...this.launches].map(([k, v]) => [k, { count: v.count, why: new Set(v.why) }])),
      count: new Map(this.count),
      total: this.total,
      launched: this.launched,
    };
  }

  private restore(s: ReturnType<Placement["snapshot"]>): void {
    this.cursor.clear();
    this.bins.splice(0, this.bins.length, ...s.bins);
    this.launches.clear();
    for (const [k, v] of s.launches) this.launches.set(k, v);
    this.count.clear();
    for (const [k, v] of s.count) this.count.set(k, v);
    this.total = s.total;
    this.launched = s.launched;
  }

  countOf(type: string): number {
    return this.count.get(type) ?? 0;
  }
}

const shapeKeys = new WeakMap<ResourceRequest, string>();

/** Requests of the same shape share a key (expand() repeats the same object `count` times). */
function shapeKey(r: ResourceRequest): string {
  let k = shapeKeys.get(r);
  if (k === undefined) {
    k = JSON.stringify([r.resources, r.labelSelectors]);
    shapeKeys.set(r, k);
  }
  return k;
}

function merge(requests: readonly ResourceRequest[]): ResourceRequest {
  const resources: Resources = {};
  for (const r of requests) for (const [k, v] of Object.entries(r.resources)) resources[k] = (resources[k] ?? 0) + v;
  return { resources, labelSelectors: requests[0]?.labelSelectors ?? [] };
}

function expand(list: readonly RequestByCount[]): ResourceRequest[] {
  const out: ResourceRequest[] = [];
  for (const r of list) for (let i = 0; i < r.count; i++) out.push(r.request);
  return out.sort((a, b) => size(b.resources) - size(a.resources));
}

function placeable(r: ResourceRequest): boolean {
  return Object.keys(r.resources).every(placeableKey);
}

function alive(n: RayNodeState): boolean {
  return n.status === "RUNNING" || n.status === "IDLE";
}

/**
 * Note a failed worker (or a refused submission) in the memory: reported to Ray for 10 minutes, and
 * its type backs off, doubling per failure in a row (a failure after a quiet spell starts over).
 */
export function recordFailure(
  memory: PlannerMemory,
  settings: PlannerSettings,
  now: number,
  f: { type: string; instanceId: string; reason: string; startMs: number },
): void {
  const prev = memory.backoff[f.type];
  const failures = (prev && now - prev.until < settings.backoffMaxMs ? prev.failures : 0) + 1;
  const wait = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** (failures - 1));
  memory.backoff[f.type] = { until: now + wait, failures, reason: f.reason };
  memory.failures.push({
    nodeType: f.type,
    count: 1,
    reason: `${f.instanceId}: ${f.reason}`,
    startMs: f.startMs,
    failedMs: now,
  });
}

export function plan(input: PlanInput): Plan {
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
    failed: [],
    held: [],
    newFailures: [],
    memory,
  };
  const fail = (type: string, instanceId: string, reason: string, startMs: number) => {
    recordFailure(memory, settings, now, { type, instanceId, reason, startMs });
    out.newFailures.push({ type, instanceId, reason });
  };

  // ---- what Ray knows, by instance id (several nodes can share a host: never match by IP)
  const rayByInstance = new Map<string, RayNodeState>();
  for (const n of input.ray.nodes) {
    const prev = rayByInstance.get(n.instanceId);
    if (!prev || (alive(n) && !alive(prev))) rayByInstance.set(n.instanceId, n);
  }
  const observed = new Map<string, Resources>();
  for (const n of input.ray.nodes) if (alive(n) && types.has(n.nodeType)) observed.set(n.nodeType, n.total);

  // ---- jobs that ended on their own: failures only with evidence that the type cannot work (the job
  // ended before its Ray node ever registered: setup failed, Ray would not start). A node that ran and
  // then died (its raylet killed, its host lost), or a job deleted by qdel, says nothing against its type.
  for (const e of input.ended ?? []) {
    if (!e.registered && !e.deleted) fail(e.type, e.instanceId, e.reason, e.startedMs ?? e.endedMs);
  }

  // ---- sort the jobs: failed, dead, on their way, live
  const counts = new Map<string, number>();
  /** Types whose walltime-drained nodes still work: one job on its way of each is their replacement. */
  const reserved: string[] = [];
  const onTheWay: WorkerJob[] = [];
  const live: { job: WorkerJob; node: RayNodeState }[] = [];
  for (const j of [...input.jobs].sort((a, b) => a.jobId - b.jobId || a.taskId - b.taskId)) {
    if (!types.has(j.type)) continue;
    const node = rayByInstance.get(j.instanceId);
    if (j.phase === "error") {
      out.cancel.push({ ...ids(j), why: `in error state: ${j.reason ?? "see qstat -j"}` });
      fail(j.type, j.instanceId, `Grid Engine error state: ${j.reason ?? "unknown"}`, j.submittedMs);
      continue;
    }
    if (j.phase === "other") {
      counts.set(j.type, (counts.get(j.type) ?? 0) + 1);
      continue;
    }
    if (j.phase === "running" && node && node.status === "DEAD") {
      out.cancel.push({ ...ids(j), why: "its Ray node is dead" });
      continue;
    }
    const drainedAt = input.memory.walltimeDrained[j.instanceId];
    if (j.phase === "running" && node && (node.status === "DRAINING" || drainedAt !== undefined)) {
      // drained (ahead of walltime, or by hand): its job is deleted once its work is done; while it
      // works, a node drained for walltime keeps its replacement (on its way) needed
      const busy = node.idleMs === 0 && node.activity.length > 0;
      if (!busy && node.status === "DRAINING") out.cancel.push({ ...ids(j), why: "drained and idle" });
      else if (drainedAt === undefined) counts.set(j.type, (counts.get(j.type) ?? 0) + 1);
      if (drainedAt !== undefined) {
        memory.walltimeDrained[j.instanceId] = drainedAt;
        if (busy) reserved.push(j.type);
      }
      continue;
    }
    if (j.phase === "running" && !node && j.startedMs !== undefined && now - j.startedMs > settings.registerTimeoutMs) {
      out.cancel.push({ ...ids(j), why: `Ray did not register within ${settings.registerTimeoutMs / 1000} s` });
      fail(
        j.type,
        j.instanceId,
        `Ray did not register within ${settings.registerTimeoutMs / 1000} s of the job starting (see its log)`,
        j.startedMs,
      );
      continue;
    }
    counts.set(j.type, (counts.get(j.type) ?? 0) + 1);
    if (node && alive(node)) live.push({ job: j, node });
    else onTheWay.push(j);
  }

  // ---- walltime: drain ahead of h_rt (PREEMPTION, deadline = the job's end); replace a busy node early
  const walltimeReplaced = new Set<string>();
  const replacements: PlannerNodeType[] = [];
  for (const { job, node } of live) {
    const t = types.get(job.type) as PlannerNodeType;
    if (t.walltimeS === undefined || job.startedMs === undefined) continue;
    const end = job.startedMs + t.walltimeS * 1000;
    if (now < end - (t.walltimeMarginMs ?? settings.walltimeMarginMs)) continue;
    out.drain.push({
      instanceId: job.instanceId,
      nodeId: node.nodeId,
      reason: "PREEMPTION",
      deadlineMs: end,
      why: `h_rt ends in ${Math.max(0, Math.round((end - now) / 1000))} s`,
    });
    memory.walltimeDrained[job.instanceId] = now;
    walltimeReplaced.add(job.instanceId);
    // the drained node no longer counts against max_workers: its replacement may start now
    counts.set(t.name, (counts.get(t.name) ?? 1) - 1);
    if (node.idleMs === 0 && node.activity.length > 0) replacements.push(t);
  }

  const placement = new Placement(input.types, input.maxWorkers, counts, memory.backoff, now, observed);
  placement.launchCap = Math.max(
    0,
    pendingLimit(settings.upscalingSpeed, input.ray.nodes.filter(alive).length) - onTheWay.length,
  );
  const liveBins = new Map<string, Bin>();
  // live nodes of this cluster, the head included (it takes work too); draining nodes take none
  for (const n of input.ray.nodes) {
    if (!alive(n) || walltimeReplaced.has(n.instanceId)) continue;
    const bin: Bin = {
      key: `node:${n.instanceId}`,
      type: n.nodeType,
      free: { ...n.available },
      labels: n.labels,
      used: false,
    };
    placement.bins.push(bin);
    liveBins.set(n.instanceId, bin);
  }
  const jobBins = new Map<string, Bin>();
  for (const j of onTheWay) {
    const t = types.get(j.type) as PlannerNodeType;
    const bin: Bin = {
      key: `job:${j.instanceId}`,
      type: t.name,
      free: placement.typeResources(t),
      labels: { ...t.labels, "ray.io/node-group": t.name },
      used: false,
    };
    placement.bins.push(bin);
    jobBins.set(j.instanceId, bin);
  }
  for (const type of reserved) {
    const bin = placement.bins.find((b) => b.key.startsWith("job:") && b.type === type && !b.used);
    if (bin) bin.used = true;
  }

  for (const t of replacements)
    placement.open(
      { resources: {}, labelSelectors: [[{ key: "ray.io/node-group", operator: "in", values: [t.name] }]] },
      `replaces a node of type ${t.name} ahead of its h_rt`,
      true,
    );

  // ---- waiting work: placement groups (all or nothing), then tasks and actors, largest first
  for (const g of input.ray.gangs) {
    const requests = g.requests.filter(placeable);
    if (requests.length < g.requests.length) continue;
    const gang = { ...g, requests };
    const feasible = requests.every((r) => placement.feasible(r)) && spreadFeasible(gang, placement);
    if (!feasible) {
      out.infeasibleGangs.push(g);
      continue;
    }
    placement.placeGang(gang, `placement group ${g.details.split("|")[0]}`);
  }
  // tasks and actors pass the burst gate: no worker for work the cluster drains before one arrives
  const waitingCount = input.ray.pending.filter((p) => placeable(p.request)).reduce((n, p) => n + p.count, 0);
  if (settings.burst) {
    const verdict = burstGate(
      {
        now,
        waitingCount,
        onTheWay: onTheWay.map((j) => ({ instanceId: j.instanceId, submittedMs: j.submittedMs })),
        live: new Set(live.map((l) => l.job.instanceId)),
      },
      input.memory.burst,
      settings.burst,
    );
    memory.burst = verdict.memory;
    placement.blockWhy = verdict.hold;
    if (verdict.recheckInMs !== undefined) out.recheckInMs = verdict.recheckInMs;
  }
  for (const r of expand(input.ray.pending)) {
    if (!placeable(r)) continue;
    if (!placement.feasible(r)) {
      if (!out.infeasible.some((x) => sameShape(x, r))) out.infeasible.push(r);
      continue;
    }
    placement.place(r, `waiting task/actor {${shapeText(r)}}`);
  }
  placement.blockWhy = undefined;

  // ---- request_resources(): the cluster's total must hold the bundles at once
  for (const c of input.ray.constraints) {
    const bundles = expand(c).filter(placeable);
    if (bundles.some((r) => !placement.feasible(r))) {
      out.infeasibleConstraints.push(c);
      continue;
    }
    const totals: Bin[] = [];
    for (const n of input.ray.nodes)
      if (alive(n) && !walltimeReplaced.has(n.instanceId))
        totals.push({ key: n.instanceId, type: n.nodeType, free: { ...n.total }, labels: n.labels, used: false });
    for (const b of placement.bins)
      if (!b.key.startsWith("node:")) {
        const t = types.get(b.type) as PlannerNodeType;
        totals.push({ key: b.key, type: b.type, free: placement.typeResources(t), labels: b.labels, used: false });
      }
    for (const r of bundles) {
      const bin = totals.find(
        (b) => fits(b.free, r.resources, AUTO_DETECTED) && labelsMatch(b.labels, r.labelSelectors),
      );
      if (bin) {
        take(bin.free, r.resources);
        markUsed(bin.key, placement);
        continue;
      }
      const opened = placement.open(r, `request_resources {${shapeText(r)}}`);
      if (opened) {
        const t = types.get(opened.type) as PlannerNodeType;
        const fresh: Bin = {
          key: opened.key,
          type: opened.type,
          free: placement.typeResources(t),
          labels: opened.labels,
          used: true,
        };
        take(fresh.free, r.resources);
        opened.used = true;
        totals.push(fresh);
      }
    }
  }

  // ---- min_workers per type
  for (const t of input.types) {
    while (placement.countOf(t.name) < t.minWorkers) {
      const bin = placement.open(
        { resources: {}, labelSelectors: [[{ key: "ray.io/node-group", operator: "in", values: [t.name] }]] },
        `min_workers ${t.minWorkers}`,
        true,
      );
      if (!bin) break;
      bin.used = true;
    }
  }

  out.launch = [...placement.launches].map(([type, l]) => ({ type, count: l.count, why: [...l.why].join("; ") }));
  out.held = [...placement.held];

  // ---- scale down: idle live nodes above min_workers, drained (IDLE_TERMINATION) then deleted
  const remaining = new Map(counts);
  for (const { job, node } of [...live].sort((a, b) => b.job.jobId - a.job.jobId || b.job.taskId - a.job.taskId)) {
    if (walltimeReplaced.has(job.instanceId)) continue;
    const t = types.get(job.type) as PlannerNodeType;
    const bin = liveBins.get(job.instanceId);
    if (bin?.used) continue;
    if (node.idleMs < settings.idleTimeoutMs) continue;
    if ((remaining.get(t.name) ?? 0) <= t.minWorkers) continue;
    remaining.set(t.name, (remaining.get(t.name) ?? 0) - 1);
    out.drain.push({
      instanceId: job.instanceId,
      nodeId: node.nodeId,
      reason: "IDLE_TERMINATION",
      deadlineMs: 0,
      why: `idle for ${Math.round(node.idleMs / 1000)} s (idle timeout ${Math.round(settings.idleTimeoutMs / 1000)} s)`,
    });
  }

  // ---- queued jobs whose demand is gone: deleted after cancelAfterMs of being unneeded (hysteresis)
  for (const j of [...onTheWay].reverse()) {
    const bin = jobBins.get(j.instanceId);
    if (!bin || bin.used || j.phase !== "pending") continue;
    const t = types.get(j.type) as PlannerNodeType;
    if ((remaining.get(t.name) ?? 0) <= t.minWorkers) continue;
    const since = input.memory.unneededSince[j.instanceId] ?? now;
    memory.unneededSince[j.instanceId] = since;
    if (now - since >= settings.cancelAfterMs) {
      remaining.set(t.name, (remaining.get(t.name) ?? 0) - 1);
      out.cancel.push({ ...ids(j), why: `queued and not needed for ${Math.round((now - since) / 1000)} s` });
      delete memory.unneededSince[j.instanceId];
    }
  }

  // ---- what Ray shows as pending: one instance per job on its way
  const cancelled = new Set(out.cancel.map((c) => c.instanceId));
  for (const j of onTheWay) {
    if (cancelled.has(j.instanceId)) continue;
    out.pendingInstances.push({
      nodeType: j.type,
      instanceId: j.instanceId,
      ip: "",
      details:
        j.phase === "pending"
          ? `qw in ${j.queue ?? "Grid Engine"}${j.reason ? `: ${j.reason}` : ""}`
          : `running on ${j.host ?? "?"}, Ray starting`,
    });
  }
  out.failed = memory.failures;
  return out;
}

function ids(j: WorkerJob): { instanceId: string; jobId: number; taskId: number } {
  return { instanceId: j.instanceId, jobId: j.jobId, taskId: j.taskId };
}

function sameShape(a: ResourceRequest, b: ResourceRequest): boolean {
  const ka = Object.keys(a.resources);
  return ka.length === Object.keys(b.resources).length && ka.every((k) => a.resources[k] === b.resources[k]);
}

/** STRICT_SPREAD needs as many distinct nodes as bundles: can the types' max_workers ever give that? */
function spreadFeasible(g: GangRequest, p: Placement): boolean {
  if (!g.requests.some((r) => r.antiAffinity)) return true;
  const slotsPossible =
    p.bins.length + [...new Set(g.requests.flatMap((r) => p.candidates(r)))].reduce((n, t) => n + t.maxWorkers, 0);
  return slotsPossible >= g.requests.length;
}

function markUsed(key: string, p: Placement): void {
  const b = p.bins.find((x) => x.key === key || x.key === `node:${key}`);
  if (b) b.used = true;
}
