/**
 * `up`: bring the cluster up, or reconcile a live one: head job, min_workers per type (submitted at
 * once; they wait for the head's address), wait until the GCS answers and the workers have joined.
 * A failed `up` deletes what it submitted and waits until Grid Engine has let it go.
 */
import { sleep } from "../base/sleep.js";
import type { SubmitResult } from "../sge/qsub.js";
import { ensureAutoscaler } from "./autoscaler-process.js";
import { ClusterError } from "./errors.js";
import type { ClusterHandle } from "./handle.js";
import { parseJobName } from "./identity.js";
import type { HeadInfo } from "./state-dir.js";
import { waitForHead, waitForWorkers } from "./waits.js";

export interface UpResult {
  head: HeadInfo;
  /** Where the autoscaler runs, in words ("head job 12 (pid 345 on node1)", "locally (pid 345; ...)", "off"). */
  autoscaler: string;
  address: string;
  submitted: SubmitResult[];
  reused: boolean;
  workersAlive: number;
}

/** Call it holding the cluster's lock, after preflight. */
export async function bringUp(
  h: ClusterHandle,
  deadline: number,
  tokenIsNew: boolean,
  signal: AbortSignal | undefined,
): Promise<UpResult> {
  const { spec } = h;
  // decided here, on the submit host: `qconf -sc` needs an admin host, which the head's host rarely is
  await h.state.writeSpec({ ...spec, memoryPerSlot: await h.memoryPerSlot() });
  await h.state.clearAutoscalerStop();
  const roleOf = (name: string) => parseJobName(spec.name, name);
  const existing = (await h.jobs()).filter((j) => j.status !== "deleting");
  const head = existing.find((j) => roleOf(j.name)?.role === "head" && j.status !== "error");
  const submitted: SubmitResult[] = [];
  try {
    if (!head) {
      if (existing.length > 0) {
        h.log(`removing ${existing.length} job(s) left from an earlier run without a head`);
        await h.sge.deleteJobs([...new Set(existing.map((j) => j.id))]);
      }
      await h.state.clearHeadInfo();
      if (tokenIsNew) h.log(`token: ${h.state.tokenPath} (0600)`);
      const started = await h.startHead();
      submitted.push(started);
      h.log(`head job ${started.jobId} submitted`);
      // Grid Engine arbitrates too: should another head of this cluster be live (an up whose lock
      // could not hold, e.g. a state dir not shared), the older one stays and this up gives way
      const heads = (await h.jobs()).filter(
        (j) => roleOf(j.name)?.role === "head" && j.status !== "deleting" && j.status !== "error",
      );
      const older = heads.find((j) => j.id < started.jobId);
      if (older)
        throw new ClusterError(
          `another head job (${older.id}) of cluster ${spec.name} appeared while this up ran: this one gives way; \`ray-sge up\` again reconciles with it`,
        );
    } else {
      h.log(`cluster ${spec.name} exists (head job ${head.id}, ${head.state}): reconciling`);
    }
    for (const type of spec.workerTypes) {
      const have = existing.filter((j) => roleOf(j.name)?.type === type.name && j.status !== "error").length;
      const need = type.minWorkers - have;
      if (need > 0) {
        const w = await h.addWorkers(type.name, need);
        submitted.push(w);
        h.log(`${need} worker(s) of type ${type.name} submitted as array job ${w.jobId}`);
      }
    }
    const info = await waitForHead(h, head?.id ?? (submitted[0] as SubmitResult).jobId, deadline, signal);
    const autoscaler = await ensureAutoscaler(h, info);
    const want = spec.workerTypes.reduce((n, t) => n + t.minWorkers, 0);
    const alive = await waitForWorkers(h, info, want, deadline, signal);
    return {
      head: info,
      autoscaler,
      address: `${info.ip}:${info.gcs_port}`,
      submitted,
      reused: head !== undefined,
      workersAlive: alive,
    };
  } catch (e) {
    if (submitted.length > 0) await removeSubmitted(h, submitted);
    throw e;
  }
}

async function removeSubmitted(h: ClusterHandle, submitted: readonly SubmitResult[]): Promise<void> {
  h.log(
    `up failed: deleting the ${submitted.length} job(s) it submitted (${submitted.map((s) => s.jobId).join(", ")})`,
  );
  await h.sge.deleteJobs(submitted.map((s) => s.jobId)).catch(() => undefined);
  // and wait (bounded) until Grid Engine has let them go: a failed up leaves nothing behind
  const ids = new Set(submitted.map((s) => s.jobId));
  for (let i = 0; i < 60; i++) {
    const left = await h.jobs().catch(() => []);
    if (!left.some((j) => ids.has(j.id))) break;
    await sleep(500).catch(() => undefined);
  }
}
