/**
 * The autoscaler's memory of its worker jobs across rounds: Grid Engine's rows turned into the
 * planner's WorkerJobs (with the reasons of waiting and failed jobs, asked every 10 s at most), and
 * the jobs that left Grid Engine since last round without our deleting them, with qacct's account.
 */
import type { ClusterHandle } from "../cluster/handle.js";
import { clusterJobPattern, parseJobName, workerJobName } from "../cluster/identity.js";
import { LOG_NAMES } from "../cluster/state-dir.js";
import type { ClusterResourceState } from "../ray/messages.js";
import type { JobEntry } from "../sge/qstat.js";
import type { EndedJob, JobPhase, WorkerJob } from "./planner/index.js";

function phaseOf(status: JobEntry["status"]): JobPhase | undefined {
  switch (status) {
    case "pending":
      return "pending";
    case "running":
    case "transferring":
      return "running";
    case "error":
      return "error";
    case "deleting":
      return undefined;
    default:
      return "other";
  }
}

/** A worker seen in an earlier round: what we know when it disappears. */
interface KnownWorker {
  type: string;
  jobId: number;
  startedMs?: number;
  /** Whether its Ray node was ever seen alive. */
  registered: boolean;
}

export class WorkerWatch {
  /** Worker instances seen last round: type, start, whether Ray registered them. */
  private known = new Map<string, KnownWorker>();
  /** Instances we deleted: their disappearance is no failure. */
  private deleted = new Set<string>();
  private reasons = new Map<number, { text?: string }>();
  private reasonsAt = 0;

  constructor(private readonly cluster: ClusterHandle) {}

  /** An instance we deleted: its end is no failure. */
  deletedByUs(instanceId: string): void {
    this.deleted.add(instanceId);
  }

  /** The cluster's worker jobs as the planner sees them, with Grid Engine's reasons for those waiting or in error. */
  async jobs(jobs: readonly JobEntry[], now: number): Promise<WorkerJob[]> {
    const out: WorkerJob[] = [];
    const typeQueue = new Map(this.cluster.spec.workerTypes.map((t) => [t.name, t.sge.queue]));
    for (const j of jobs) {
      const who = parseJobName(this.cluster.spec.name, j.name);
      if (who?.role !== "worker") continue;
      const phase = phaseOf(j.status);
      if (!phase) continue;
      const w: WorkerJob = {
        instanceId: `${j.id}.${j.taskId ?? 0}`,
        jobId: j.id,
        taskId: j.taskId ?? 0,
        type: who.type,
        phase,
        submittedMs: j.submittedAtMs ?? j.startedAtMs ?? now,
      };
      if (j.startedAtMs !== undefined) w.startedMs = j.startedAtMs;
      if (j.host) w.host = j.host;
      const q = phase === "running" ? j.queue : typeQueue.get(who.type);
      if (q) w.queue = q;
      out.push(w);
    }
    // Grid Engine's reason for jobs waiting or in error: one `qstat -j` for all of them, every 10 s at most
    const ask = [...new Set(out.filter((w) => w.phase === "pending" || w.phase === "error").map((w) => w.jobId))];
    if (ask.some((id) => !this.reasons.has(id)) || now - this.reasonsAt >= 10_000) {
      if (ask.length > 0) {
        const details = await this.cluster.sge
          .jobDetails(clusterJobPattern(this.cluster.spec.name))
          .catch(() => undefined);
        if (details) {
          this.reasonsAt = now;
          for (const d of details) {
            const text = [...d.tasks.flatMap((t) => t.messages), ...d.schedulingMessages][0];
            this.reasons.set(d.id, text === undefined ? {} : { text });
          }
        }
      }
    }
    for (const w of out) {
      const r = this.reasons.get(w.jobId)?.text;
      if (r && (w.phase === "pending" || w.phase === "error")) w.reason = r;
    }
    const live = new Set(out.map((w) => w.jobId));
    for (const id of this.reasons.keys()) if (!live.has(id)) this.reasons.delete(id);
    return out;
  }

  /** Worker jobs gone from Grid Engine since last round that we did not delete, with qacct's account of them. */
  async ended(
    workers: readonly WorkerJob[],
    present: ReadonlySet<string>,
    ray: ClusterResourceState,
    now: number,
    onEnded: (e: EndedJob) => Promise<void>,
  ): Promise<EndedJob[]> {
    const registered = new Set(ray.nodes.filter((n) => n.status !== "DEAD").map((n) => n.instanceId));
    const ended: EndedJob[] = [];
    const stillKnown = new Map<string, KnownWorker>();
    for (const [id, k] of this.known) {
      if (present.has(id)) {
        stillKnown.set(id, k);
        continue;
      }
      if (this.deleted.has(id)) {
        this.deleted.delete(id);
        continue;
      }
      const [rec] = await this.cluster.sge
        .accounting(id, { name: workerJobName(this.cluster.spec.name, k.type) })
        .catch(() => [undefined]);
      const reason = rec
        ? `ended with exit status ${rec.exitStatus}${rec.exitSignal ? ` (${rec.exitSignal})` : ""}${rec.failed ? `, failed ${rec.failed}${rec.failedReason ? ` (${rec.failedReason})` : ""}` : ""} on ${rec.host}; log: ${this.cluster.state.log(LOG_NAMES.worker(k.type, k.jobId, id.split(".")[1] as string))}`
        : "ended (no accounting record yet)";
      const e: EndedJob = { instanceId: id, type: k.type, endedMs: now, registered: k.registered, reason };
      // exit 140: SIGUSR2, which only qdel (with -notify) sends our jobs: deleted (by scale, by hand)
      if (rec && (rec.exitStatus === 140 || /SIGUSR2|User defined signal 2/.test(rec.exitSignal ?? "")))
        e.deleted = true;
      if (k.startedMs !== undefined) e.startedMs = k.startedMs;
      ended.push(e);
      await onEnded(e);
    }
    const known = stillKnown;
    for (const w of workers) {
      const prev = this.known.get(w.instanceId);
      const k: KnownWorker = {
        type: w.type,
        jobId: w.jobId,
        registered: (prev?.registered ?? false) || registered.has(w.instanceId),
      };
      if (w.startedMs !== undefined) k.startedMs = w.startedMs;
      known.set(w.instanceId, k);
    }
    this.known = known;
    return ended;
  }
}
