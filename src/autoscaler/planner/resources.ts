/** Resources, bins and request shapes: the arithmetic of placement. Pure. */
import {
  type LabelConstraint,
  type RayNodeState,
  type RequestByCount,
  type ResourceRequest,
  type Resources,
  takesWork,
} from "../../ray/messages.js";

export interface Bin {
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

export function fits(free: Resources, need: Resources, optimistic: ReadonlySet<string> = EMPTY): boolean {
  for (const [k, v] of Object.entries(need)) {
    if (v <= 0) continue;
    const have = free[k];
    if (have === undefined) {
      if (!optimistic.has(k)) return false;
    } else if (have + EPS < v) return false;
  }
  return true;
}
export const EMPTY: ReadonlySet<string> = new Set();
/** Ray sets these itself when the config does not: unknown until a node of the type has registered. */
export const AUTO_DETECTED: ReadonlySet<string> = new Set(["memory", "object_store_memory"]);

export function take(free: Resources, need: Resources): void {
  for (const [k, v] of Object.entries(need)) if (free[k] !== undefined) free[k] = (free[k] as number) - v;
}

export function labelsMatch(labels: Record<string, string>, selectors: readonly LabelConstraint[][]): boolean {
  if (selectors.length === 0) return true;
  return selectors.some((all) =>
    all.every((c) => {
      const v = labels[c.key];
      return c.operator === "in" ? v !== undefined && c.values.includes(v) : v === undefined || !c.values.includes(v);
    }),
  );
}

export function size(r: Resources): number {
  // order requests for first-fit decreasing: GPUs weigh most, then CPUs, then memory (per GiB)
  return (r.GPU ?? 0) * 1000 + (r.CPU ?? 0) + (r.memory ?? 0) / 2 ** 30 / 4;
}

export function shapeText(r: ResourceRequest): string {
  return Object.entries(r.resources)
    .map(([k, v]) => `${k}: ${k.includes("memory") ? `${(v / 2 ** 30).toFixed(1)}GiB` : v}`)
    .join(", ");
}

const shapeKeys = new WeakMap<ResourceRequest, string>();

/** Requests of the same shape share a key (expand() repeats the same object `count` times). */
export function shapeKey(r: ResourceRequest): string {
  let k = shapeKeys.get(r);
  if (k === undefined) {
    k = JSON.stringify([r.resources, r.labelSelectors]);
    shapeKeys.set(r, k);
  }
  return k;
}

export function merge(requests: readonly ResourceRequest[]): ResourceRequest {
  const resources: Resources = {};
  for (const r of requests) for (const [k, v] of Object.entries(r.resources)) resources[k] = (resources[k] ?? 0) + v;
  return { resources, labelSelectors: requests[0]?.labelSelectors ?? [] };
}

export function expand(list: readonly RequestByCount[]): ResourceRequest[] {
  const out: ResourceRequest[] = [];
  for (const r of list) for (let i = 0; i < r.count; i++) out.push(r.request);
  return out.sort((a, b) => size(b.resources) - size(a.resources));
}

export function placeable(r: ResourceRequest): boolean {
  return Object.keys(r.resources).every(placeableKey);
}

export function alive(n: RayNodeState): boolean {
  return takesWork(n.status);
}

export function sameShape(a: ResourceRequest, b: ResourceRequest): boolean {
  const ka = Object.keys(a.resources);
  return ka.length === Object.keys(b.resources).length && ka.every((k) => a.resources[k] === b.resources[k]);
}
