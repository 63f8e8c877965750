/**
 * What Ray waits for, placed on the round's bins (opening new nodes where nothing fits): walltime
 * replacements, placement groups (all or nothing), tasks and actors (through the burst gate),
 * request_resources() constraints on the cluster's totals, then min_workers per type.
 */
import type { ResourceRequest } from "../../ray/messages.js";
import { burstGate } from "../burst.js";
import type { Capacity } from "./bins.js";
import type { JobsView } from "./jobs.js";
import { markUsed, type Placement, spreadFeasible } from "./placement.js";
import {
  AUTO_DETECTED,
  alive,
  type Bin,
  expand,
  fits,
  labelsMatch,
  placeable,
  sameShape,
  shapeText,
  take,
} from "./resources.js";
import type { Round } from "./round.js";
import type { PlannerNodeType } from "./types.js";
import type { WalltimeView } from "./walltime.js";

/** A request for one node of a type, whatever it holds (min_workers, replacements). */
function nodeOf(t: PlannerNodeType): ResourceRequest {
  return { resources: {}, labelSelectors: [[{ key: "ray.io/node-group", operator: "in", values: [t.name] }]] };
}

export function placeDemand(r: Round, cap: Capacity, jobs: JobsView, wall: WalltimeView): void {
  const { placement } = cap;
  for (const t of wall.replacements)
    placement.open(nodeOf(t), `replaces a node of type ${t.name} ahead of its h_rt`, true);
  for (const d of jobs.diedBusy) {
    const t = r.types.get(d.type);
    if (t) placement.open(nodeOf(t), `replaces ${d.instanceId}, which died at work`, true);
  }
  placeGangs(r, placement);
  placeTasks(r, placement, jobs);
  placeConstraints(r, placement, wall);
  for (const t of r.input.types) {
    while (placement.countOf(t.name) < t.minWorkers) {
      const bin = placement.open(nodeOf(t), `min_workers ${t.minWorkers}`, true);
      if (!bin) break;
      bin.used = true;
    }
  }
  r.out.launch = [...placement.launches].map(([type, l]) => ({ type, count: l.count, why: [...l.why].join("; ") }));
  r.out.held = [...placement.held];
}

function placeGangs(r: Round, placement: Placement): void {
  for (const g of r.input.ray.gangs) {
    const requests = g.requests.filter(placeable);
    if (requests.length < g.requests.length) continue;
    const gang = { ...g, requests };
    const feasible = requests.every((x) => placement.feasible(x)) && spreadFeasible(gang, placement);
    if (!feasible) {
      r.out.infeasibleGangs.push(g);
      continue;
    }
    placement.placeGang(gang, `placement group ${g.details.split("|")[0]}`);
  }
}

/** Tasks and actors pass the burst gate: no worker for work the cluster drains before one arrives. */
function placeTasks(r: Round, placement: Placement, jobs: JobsView): void {
  const { input, settings } = r;
  const waitingCount = input.ray.pending.filter((p) => placeable(p.request)).reduce((n, p) => n + p.count, 0);
  if (settings.burst) {
    const verdict = burstGate(
      {
        now: r.now,
        waitingCount,
        onTheWay: jobs.onTheWay.map((j) => ({ instanceId: j.instanceId, submittedMs: j.submittedMs })),
        live: new Set(jobs.live.map((l) => l.job.instanceId)),
      },
      input.memory.burst,
      settings.burst,
    );
    r.memory.burst = verdict.memory;
    placement.blockWhy = verdict.hold;
    if (verdict.recheckInMs !== undefined) r.out.recheckInMs = verdict.recheckInMs;
  }
  for (const x of expand(input.ray.pending)) {
    if (!placeable(x)) continue;
    if (!placement.feasible(x)) {
      if (!r.out.infeasible.some((y) => sameShape(y, x))) r.out.infeasible.push(x);
      continue;
    }
    placement.place(x, `waiting task/actor {${shapeText(x)}}`);
  }
  placement.blockWhy = undefined;
}

/** request_resources(): the cluster's total must hold the bundles at once. */
function placeConstraints(r: Round, placement: Placement, wall: WalltimeView): void {
  for (const c of r.input.ray.constraints) {
    const bundles = expand(c).filter(placeable);
    if (bundles.some((x) => !placement.feasible(x))) {
      r.out.infeasibleConstraints.push(c);
      continue;
    }
    const totals: Bin[] = [];
    for (const n of r.input.ray.nodes)
      if (alive(n) && !wall.replaced.has(n.instanceId))
        totals.push({ key: n.instanceId, type: n.nodeType, free: { ...n.total }, labels: n.labels, used: false });
    for (const b of placement.bins)
      if (!b.key.startsWith("node:")) {
        const t = r.types.get(b.type) as PlannerNodeType;
        totals.push({ key: b.key, type: b.type, free: placement.typeResources(t), labels: b.labels, used: false });
      }
    for (const x of bundles) {
      const bin = totals.find(
        (b) => fits(b.free, x.resources, AUTO_DETECTED) && labelsMatch(b.labels, x.labelSelectors),
      );
      if (bin) {
        take(bin.free, x.resources);
        markUsed(bin.key, placement);
        continue;
      }
      const opened = placement.open(x, `request_resources {${shapeText(x)}}`);
      if (opened) {
        const t = r.types.get(opened.type) as PlannerNodeType;
        const fresh: Bin = {
          key: opened.key,
          type: opened.type,
          free: placement.typeResources(t),
          labels: opened.labels,
          used: true,
        };
        take(fresh.free, x.resources);
        opened.used = true;
        totals.push(fresh);
      }
    }
  }
}
