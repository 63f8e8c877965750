/** Failures and backoff: what counts against a node type, and for how long. */
import type { PlannerMemory, PlannerSettings } from "./types.js";

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
