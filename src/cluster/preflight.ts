/**
 * Before `up` submits anything: the checks `doctor` runs (cluster/checks.ts), stopping at the first
 * failure, then each node type's request judged by Grid Engine itself (`qsub -w v`). On 8.1.9, `-w v`
 * (and `-w e`) refuses every request of a load-value complex such as mem_free, even 1G (measured):
 * those are left out of it; the checks hold memory against what qhost reports instead.
 */
import { checkCluster, checkText, gatherFacts } from "./checks.js";
import { ClusterError } from "./errors.js";
import type { ClusterHandle } from "./handle.js";
import { headJobName } from "./identity.js";
import { asksForMemory, jobRequest, perSlotFor } from "./requests.js";

export async function preflight(h: ClusterHandle): Promise<void> {
  const { spec } = h;
  const facts = await gatherFacts(h.sge);
  const failed = checkCluster(facts, spec).find((c) => c.status === "fail");
  if (failed) throw new ClusterError(checkText(failed));
  const perSlot = asksForMemory(spec) ? perSlotFor(spec, facts.complexes) : false;
  h.knowMemoryPerSlot(perSlot);
  const loadValues = new Set(facts.complexes.filter((c) => c.consumable === "NO").map((c) => c.name));
  for (const type of [spec.head, ...spec.workerTypes]) {
    const request = jobRequest(spec, type, perSlot, h.state);
    const hard = Object.fromEntries(Object.entries(request.hardResources ?? {}).filter(([k]) => !loadValues.has(k)));
    const v = await h.sge.verify({
      ...request,
      hardResources: hard,
      name: headJobName(spec.name),
      scriptText: "true\n",
    });
    if (!v.suitable)
      throw new ClusterError(`node type ${type.name} can never run as requested: ${v.messages.join("; ")}`);
  }
}
