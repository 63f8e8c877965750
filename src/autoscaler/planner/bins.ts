/** The round's capacity as bins: live nodes (their available resources), then jobs on their way. */
import { pendingLimit } from "../burst.js";
import type { JobsView } from "./jobs.js";
import { Placement } from "./placement.js";
import { alive, type Bin } from "./resources.js";
import type { Round } from "./round.js";
import type { PlannerNodeType } from "./types.js";
import type { WalltimeView } from "./walltime.js";

export interface Capacity {
  placement: Placement;
  /** Bins of live nodes and of jobs on their way, by instance id: whether the round used them. */
  liveBins: Map<string, Bin>;
  jobBins: Map<string, Bin>;
}

export function capacity(r: Round, jobs: JobsView, wall: WalltimeView): Capacity {
  const { input, settings } = r;
  const placement = new Placement(input.types, input.maxWorkers, jobs.counts, r.memory.backoff, r.now, r.observed);
  placement.launchCap = Math.max(
    0,
    pendingLimit(settings.upscalingSpeed, input.ray.nodes.filter(alive).length) - jobs.onTheWay.length,
  );
  const liveBins = new Map<string, Bin>();
  // live nodes of this cluster, the head included (it takes work too); draining nodes take none
  for (const n of input.ray.nodes) {
    if (!alive(n) || wall.replaced.has(n.instanceId)) continue;
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
  for (const j of jobs.onTheWay) {
    const t = r.types.get(j.type) as PlannerNodeType;
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
  for (const type of jobs.reserved) {
    const bin = placement.bins.find((b) => b.key.startsWith("job:") && b.type === type && !b.used);
    if (bin) bin.used = true;
  }
  return { placement, liveBins, jobBins };
}
