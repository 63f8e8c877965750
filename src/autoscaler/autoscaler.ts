/**
 * The autoscaler's loop, the imperative shell around planner/ (plan()). Each round: one qstat of the
 * cluster's jobs and one GetClusterResourceState from the GCS; the planner decides; we submit (one
 * array job per node type), drain through the GCS and qdel only what was drained, delete what is no
 * longer wanted, and report to Ray (ReportAutoscalingState) so that `ray status` shows the workers
 * waiting in Grid Engine. Every decision goes to the cluster's events log with its reason.
 *
 * All state that matters lives in Grid Engine and the GCS, so a restarted autoscaler (even after
 * kill -9) picks up with no duplicate submissions; what the planner remembers (backoff, grace times)
 * only makes it gentler. A failed qstat or an unreachable GCS means no action that round, never
 * "the nodes are gone".
 */

import { hostname } from "node:os";
import { sleep } from "../base/sleep.js";
import type { ClusterHandle } from "../cluster/handle.js";
import { parseJobName } from "../cluster/identity.js";
import { gcsAddress } from "../cluster/state-dir.js";
import type { ClusterSpec } from "../config/normalise.js";
import type { GcsClient } from "../ray/gcs.js";
import type { ClusterResourceState } from "../ray/messages.js";
import type { JobEntry } from "../sge/qstat.js";
import type { AutoscalerEvent } from "./events.js";
import {
  emptyMemory,
  type Plan,
  type PlannerMemory,
  type PlannerNodeType,
  type PlannerSettings,
  plan,
  type RefusedSubmission,
} from "./planner/index.js";
import { plannerSettings, plannerTypes } from "./settings.js";
import { WorkerWatch } from "./workers.js";

export interface RoundResult {
  /** "ok": planned and acted; "skipped": Grid Engine or the GCS did not answer; "head-gone": stop. */
  outcome: "ok" | "skipped" | "head-gone" | "stopped";
  plan?: Plan;
  error?: string;
  ms: number;
}

export interface AutoscalerOptions {
  /** Where the process runs, for autoscaler.json ("head job 123" or "local"). */
  mode?: string;
  log?: (line: string) => void;
  now?: () => number;
}

/**
 * At rest (nothing on its way, nothing to do, Ray's nodes unchanged), Grid Engine is asked this often:
 * a qstat costs its host 70-90 ms of CPU (measured on the testbed), more than a second of our rounds.
 */
const QUIET_QSTAT_MS = 30_000;

export class Autoscaler {
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private memory: PlannerMemory = emptyMemory();
  private readonly workers: WorkerWatch;
  /** Submissions refused since the last plan: the next plan's input. */
  private refused: RefusedSubmission[] = [];
  /** The planner's view of the config: the spec does not change while the loop runs. */
  private readonly types: PlannerNodeType[];
  private readonly settings: PlannerSettings;
  private gcs: GcsClient | undefined;
  private gcsFor = "";
  private gcsCheckedAt = 0;
  private gcsFailed = false;
  private headJob: number | undefined;
  private version: number;
  private failuresInRow = 0;
  private lastHeartbeat = 0;
  private rounds = 0;
  private lastError: string | undefined;
  private readonly startedAt = Date.now();
  /** The last qstat's answer, reused by quiet rounds (mayReuseJobs). */
  private jobsCache: { jobs: JobEntry[]; at: number } | undefined;
  private actedLastRound = false;
  private lastReport = "";
  private lastReportAt = 0;
  private lastNodes = "";
  /** qstat calls so far (the heartbeat shows it: the benchmark counts them). */
  private qstatCalls = 0;

  constructor(
    readonly cluster: ClusterHandle,
    private readonly options: AutoscalerOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.now = options.now ?? Date.now;
    // increasing across restarts, as Ray wants of autoscaler_state_version
    this.version = Date.now();
    this.workers = new WorkerWatch(cluster);
    this.types = plannerTypes(cluster.spec);
    this.settings = plannerSettings(cluster.spec);
  }

  get spec(): ClusterSpec {
    return this.cluster.spec;
  }

  async event(event: string, fields: Record<string, unknown> = {}): Promise<void> {
    const e: AutoscalerEvent = { time: new Date(this.now()).toISOString(), event, ...fields };
    this.log(
      `${event}${Object.entries(fields)
        .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join("")}`,
    );
    await this.cluster.state.appendEvent(`${JSON.stringify(e)}\n`).catch(() => undefined);
  }

  /** Run rounds until the head goes away, a stop is asked for (`down`), or the signal aborts. */
  async run(signal?: AbortSignal): Promise<RoundResult["outcome"]> {
    await this.event("autoscaler-started", {
      pid: process.pid,
      host: hostname(),
      mode: this.options.mode ?? "local",
      interval_s: this.spec.autoscaler.intervalMs / 1000,
    });
    try {
      while (!signal?.aborted) {
        const r = await this.round();
        if (r.outcome === "head-gone" || r.outcome === "stopped") {
          await this.event("autoscaler-stopped", { why: r.error ?? r.outcome });
          return r.outcome;
        }
        // back off while Grid Engine or the GCS do not answer: 1 s, 2 s, 4 s ... 30 s
        // young demand held by the burst gate: look again when its grace ends, not a whole round later
        const soon = r.plan?.recheckInMs;
        const wait =
          r.outcome === "skipped"
            ? Math.min(30_000, this.spec.autoscaler.intervalMs * 2 ** Math.min(5, this.failuresInRow))
            : Math.min(this.spec.autoscaler.intervalMs, soon === undefined ? Number.POSITIVE_INFINITY : soon + r.ms);
        // an abort ends the wait at once; the loop then sees it
        await sleep(Math.max(0, wait - (r.outcome === "ok" ? r.ms : 0)), signal).catch(() => undefined);
      }
      await this.event("autoscaler-stopped", { why: "signal (its job or process ends)" });
      return "stopped";
    } finally {
      this.gcs?.close();
      await this.cluster.state.clearHeartbeat().catch(() => undefined);
    }
  }

  /** One stat a round (synchronous: cheaper than a promise through the thread pool, and the loop waits anyway). */
  private stopAsked(): boolean {
    return this.cluster.state.stopAsked();
  }

  /** The GCS client; head.json is read again only every 10 s or after a GCS call failed. */
  private async client(): Promise<GcsClient | undefined> {
    if (this.gcs && !this.gcsFailed && this.now() - this.gcsCheckedAt < 10_000) return this.gcs;
    this.gcsCheckedAt = this.now();
    const head = await this.cluster.state.readHeadInfo();
    if (!head) return undefined;
    const addr = gcsAddress(head);
    if (this.gcs && this.gcsFor === addr) return this.gcs;
    this.gcs?.close();
    this.gcs = await this.cluster.state.gcsClient(head, 5000);
    this.gcsFor = addr;
    this.headJob = Number(head.job_id);
    return this.gcs;
  }

  private async skip(what: string, e: unknown, t0: number): Promise<RoundResult> {
    this.failuresInRow++;
    const error = `${what}: ${e instanceof Error ? e.message : String(e)}`;
    if (error !== this.lastError) await this.event("round-skipped", { why: error, action: "none this round" });
    this.lastError = error;
    await this.heartbeat(undefined, error).catch(() => undefined);
    return { outcome: "skipped", error, ms: this.now() - t0 };
  }

  /** Grid Engine's view of the cluster's jobs, fresh (one qstat), kept for the quiet rounds. */
  private async freshJobs(): Promise<JobEntry[]> {
    const jobs = await this.cluster.jobs();
    this.qstatCalls++;
    this.jobsCache = { jobs, at: this.now() };
    return jobs;
  }

  /**
   * Whether this round may reuse the last qstat: only at rest. Grid Engine is asked again when the
   * last answer is 30 s old, when the last round acted, when a worker is on its way (queued, starting,
   * in error), or when Ray's set of nodes changed; the plan decides the rest (see round()).
   */
  private mayReuseJobs(ray: ClusterResourceState): boolean {
    const c = this.jobsCache;
    if (!c || this.now() - c.at >= QUIET_QSTAT_MS || this.actedLastRound) return false;
    const nodes = ray.nodes
      .filter((n) => n.status !== "DEAD")
      .map((n) => n.instanceId)
      .sort()
      .join(",");
    const same = nodes === this.lastNodes;
    this.lastNodes = nodes;
    if (!same) return false;
    const alive = new Set(nodes.split(","));
    return c.jobs.every((j) => {
      const who = parseJobName(this.spec.name, j.name);
      return who?.role === "head" || (j.status === "running" && alive.has(`${j.id}.${j.taskId ?? 0}`));
    });
  }

  async round(): Promise<RoundResult> {
    const t0 = this.now();
    if (this.stopAsked()) return { outcome: "stopped", error: "stop asked (ray-sge down)", ms: 0 };
    let gcs: GcsClient | undefined;
    try {
      gcs = await this.client();
    } catch (e) {
      return this.skip("cannot read the cluster's token", e, t0);
    }
    // Ray's demand every round; Grid Engine only when something can have changed there
    let ray: ClusterResourceState | undefined;
    let rayError: unknown;
    if (gcs) {
      try {
        ray = await gcs.getClusterResourceState();
        this.gcsFailed = false;
      } catch (e) {
        rayError = e;
        this.gcsFailed = true;
      }
    }
    let jobs: JobEntry[];
    const reuse = ray !== undefined && this.mayReuseJobs(ray);
    try {
      jobs = reuse && this.jobsCache ? this.jobsCache.jobs : await this.freshJobs();
    } catch (e) {
      return this.skip("qstat failed", e, t0);
    }
    const head = jobs.find((j) => parseJobName(this.spec.name, j.name)?.role === "head");
    if (!head || head.status === "deleting" || (this.headJob !== undefined && head.id !== this.headJob)) {
      return { outcome: "head-gone", error: "the head job is gone", ms: this.now() - t0 };
    }
    if (!gcs) return this.skip("no head address yet", "head.json missing", t0);
    if (!ray) return this.skip("GCS not answering", rayError, t0);
    this.failuresInRow = 0;
    this.lastError = undefined;

    const now = this.now();
    let p = await this.planWith(jobs, ray, now);
    // a quiet round that wants to act asks Grid Engine first, and plans again on its answer
    if (reuse && (p.launch.length > 0 || p.drain.length > 0 || p.cancel.length > 0)) {
      try {
        jobs = await this.freshJobs();
      } catch (e) {
        return this.skip("qstat failed", e, t0);
      }
      p = await this.planWith(jobs, ray, now);
    }
    this.memory = p.memory;
    this.refused = [];
    this.actedLastRound = p.launch.length > 0 || p.drain.length > 0 || p.cancel.length > 0;
    for (const f of p.newFailures)
      await this.event("worker-failed", { type: f.type, instance: f.instanceId, why: f.reason });
    await this.act(p, gcs, now);
    // report to Ray when it changed (or every 10 s): an unchanged report every second is only cost
    const report = {
      pendingInstances: p.pendingInstances,
      infeasible: p.infeasible,
      infeasibleGangs: p.infeasibleGangs,
      infeasibleConstraints: p.infeasibleConstraints,
      failed: this.memory.failures,
    };
    const key = JSON.stringify(report);
    if (key !== this.lastReport || now - this.lastReportAt >= 10_000) {
      try {
        await gcs.reportAutoscalingState({ lastSeenClusterVersion: ray.version, version: ++this.version, ...report });
        this.lastReport = key;
        this.lastReportAt = now;
      } catch (e) {
        await this.skip("ReportAutoscalingState failed", e, t0);
      }
    }
    this.rounds++;
    await this.heartbeat(p);
    return { outcome: "ok", plan: p, ms: this.now() - t0 };
  }

  /** One plan on these jobs and Ray's state (the ended jobs and Grid Engine's reasons found on the way). */
  private async planWith(jobs: JobEntry[], ray: ClusterResourceState, now: number): Promise<Plan> {
    const workers = await this.workers.jobs(jobs, now);
    // a job being deleted (dr) is still there: it has not ended yet, and qacct does not know it yet
    const present = new Set(
      jobs
        .filter((j) => parseJobName(this.spec.name, j.name)?.role === "worker")
        .map((j) => `${j.id}.${j.taskId ?? 0}`),
    );
    const ended = await this.workers.ended(workers, present, ray, now, (e) =>
      this.event("worker-ended", { instance: e.instanceId, type: e.type, why: e.reason }),
    );
    return plan({
      now,
      types: this.types,
      maxWorkers: this.spec.maxWorkers,
      jobs: workers,
      ray,
      ended,
      refused: this.refused,
      settings: this.settings,
      memory: this.memory,
    });
  }

  private async act(p: Plan, gcs: GcsClient, now: number): Promise<void> {
    if (p.cancel.length > 0) {
      const refs = p.cancel.map((c) => `${c.jobId}.${c.taskId}`);
      try {
        await this.cluster.sge.deleteJobs(refs);
        for (const c of p.cancel) {
          this.workers.deletedByUs(c.instanceId);
          await this.event("worker-deleted", { instance: c.instanceId, why: c.why });
        }
      } catch (e) {
        await this.event("qdel-failed", { instances: refs, why: (e as Error).message });
      }
    }
    for (const d of p.drain) {
      let r: { accepted: boolean; rejection: string };
      try {
        r = await gcs.drainNode(d.nodeId, d.reason, `ray-sge autoscaler: ${d.why}`, d.deadlineMs);
      } catch (e) {
        await this.event("drain-failed", { instance: d.instanceId, why: (e as Error).message });
        continue;
      }
      if (!r.accepted) {
        await this.event("drain-refused", { instance: d.instanceId, reason: d.reason, why: r.rejection || "refused" });
        continue;
      }
      if (d.reason === "PREEMPTION") {
        await this.event("walltime-drain", {
          instance: d.instanceId,
          why: d.why,
          deadline: new Date(d.deadlineMs).toISOString(),
        });
        continue;
      }
      const [job, task] = d.instanceId.split(".");
      try {
        await this.cluster.sge.deleteJobs([`${job}.${task}`]);
        this.workers.deletedByUs(d.instanceId);
        await this.event("scale-down", { instance: d.instanceId, why: d.why });
      } catch (e) {
        await this.event("qdel-failed", { instances: [d.instanceId], why: (e as Error).message });
      }
    }
    for (const l of p.launch) {
      if (this.stopAsked()) return;
      try {
        const issued = this.now();
        const r = await this.cluster.addWorkers(l.type, l.count);
        await this.event("scale-up", {
          type: l.type,
          count: l.count,
          job: r.jobId,
          qsub_issued: new Date(issued).toISOString(),
          why: l.why,
        });
      } catch (e) {
        const why = (e as Error).message;
        // the next round's plan counts it against its type (backoff, reported to Ray)
        this.refused.push({ type: l.type, reason: why, atMs: now });
        await this.event("submit-failed", { type: l.type, count: l.count, why });
      }
    }
    for (const r of p.infeasible)
      await this.once("infeasible", JSON.stringify(r.resources), {
        request: r.resources,
        why: "no node type can hold it",
      });
    // keyed without numbers: "backs off for 12 s" is the same condition as "backs off for 11 s"
    for (const h of p.held) await this.once("held", h.replace(/\d+/g, "#"), { why: h });
  }

  private said = new Map<string, number>();

  /** Log a standing condition once (again after 10 minutes), not every round. */
  private async once(event: string, key: string, fields: Record<string, unknown>): Promise<void> {
    const k = `${event}:${key}`;
    const last = this.said.get(k);
    if (last !== undefined && this.now() - last < 600_000) return;
    this.said.set(k, this.now());
    await this.event(event, fields);
  }

  /**
   * The heartbeat (autoscaler.json, at most every 2 s): written by every round, skipped ones too, so
   * that its age says whether the process lives (a qmaster outage skips rounds; it is not a death).
   */
  private async heartbeat(p?: Plan, skipping?: string): Promise<void> {
    if (this.now() - this.lastHeartbeat < 2000) return;
    this.lastHeartbeat = this.now();
    const info = {
      pid: process.pid,
      host: hostname(),
      mode: this.options.mode ?? "local",
      started_at: this.startedAt / 1000,
      last_round_at: this.now() / 1000,
      rounds: this.rounds,
      qstat_calls: this.qstatCalls,
      ...(p
        ? {
            pending_instances: p.pendingInstances.length,
            infeasible: p.infeasible.length + p.infeasibleGangs.length + p.infeasibleConstraints.length,
          }
        : {}),
      ...(skipping ? { skipping } : {}),
    };
    await this.cluster.state.writeHeartbeat(info);
  }
}
