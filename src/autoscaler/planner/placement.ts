/**
 * One round's placement: bins (live nodes' available resources, jobs on their way, nodes opened this
 * round), counts per type against max_workers, backoff and the burst gate, launches and their reasons.
 */
import type { GangRequest, ResourceRequest, Resources } from "../../ray/messages.js";
import {
  AUTO_DETECTED,
  type Bin,
  EMPTY,
  fits,
  labelsMatch,
  merge,
  shapeKey,
  shapeText,
  size,
  take,
} from "./resources.js";
import type { PlannerNodeType, TypeBackoff } from "./types.js";

/** The state of one round's placement: bins, counts per type, launches. */
export class Placement {
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

/** STRICT_SPREAD needs as many distinct nodes as bundles: can the types' max_workers ever give that? */
export function spreadFeasible(g: GangRequest, p: Placement): boolean {
  if (!g.requests.some((r) => r.antiAffinity)) return true;
  const slotsPossible =
    p.bins.length + [...new Set(g.requests.flatMap((r) => p.candidates(r)))].reduce((n, t) => n + t.maxWorkers, 0);
  return slotsPossible >= g.requests.length;
}

export function markUsed(key: string, p: Placement): void {
  const b = p.bins.find((x) => x.key === key || x.key === `node:${key}`);
  if (b) b.used = true;
}
