/** The planner's view of a cluster spec: its worker types and settings. Pure. */
import type { ClusterSpec } from "../config/normalise.js";
import { formatRuntime } from "../sge/qsub.js";
import { parseDuration } from "../sge/units.js";
import { DEFAULT_BURST } from "./burst.js";
import { DEFAULT_SETTINGS, type PlannerNodeType, type PlannerSettings } from "./planner/index.js";

/** Pure: the planner's view of the config's worker types. */
export function plannerTypes(spec: ClusterSpec): PlannerNodeType[] {
  return spec.workerTypes.map((t) => {
    const resources: Record<string, number> = { CPU: t.cpus ?? t.slots, ...t.customResources };
    if (t.gpus > 0) resources.GPU = t.gpus;
    if (t.memoryBytes !== undefined) resources.memory = t.memoryBytes;
    const p: PlannerNodeType = {
      name: t.name,
      resources,
      labels: t.labels,
      minWorkers: t.minWorkers,
      maxWorkers: t.maxWorkers,
    };
    if (t.sge.hardRuntime !== undefined) {
      p.walltimeS = parseDuration(formatRuntime("h_rt", t.sge.hardRuntime)) ?? 0;
      p.walltimeMarginMs = spec.autoscaler.walltimeMarginMs ?? Math.min(300_000, p.walltimeS * 100);
    }
    return p;
  });
}

export function plannerSettings(spec: ClusterSpec): PlannerSettings {
  return {
    ...DEFAULT_SETTINGS,
    idleTimeoutMs: spec.idleTimeoutMinutes * 60_000,
    cancelAfterMs: spec.autoscaler.queuedGraceMs,
    backoffBaseMs: spec.autoscaler.failureBackoffMs,
    upscalingSpeed: spec.autoscaler.upscalingSpeed ?? 1,
    burst: (spec.autoscaler.waitForBursts ?? true) ? DEFAULT_BURST : undefined,
  };
}
