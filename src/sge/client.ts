/**
 * The typed Grid Engine client: a thin imperative shell over the pure builders and parsers.
 * Every method runs one or two commands through the CommandRunner and turns failures into
 * SgeCommandError with a kind. A failed qstat is an error ("unknown"), never an empty list.
 */
import { classifyFailure, SgeCommandError } from "./errors.js";
import { type AccountingRecord, parseAccounting } from "./qacct.js";
import {
  type Complex,
  type ParallelEnvironment,
  parseComplexes,
  parseNameList,
  parseParallelEnvironment,
  parseQueueInstances,
  type QueueInstance,
} from "./qconf.js";
import { type DeleteResult, parseQdelOutput } from "./qdel.js";
import { type ExecHost, parseHosts } from "./qhost.js";
import { type JobEntry, type JobStatus, type JobSummary, parseJobListBatches, summariseJobs } from "./qstat.js";
import { communicationError, type JobDetail, parseJobDetail } from "./qstat-detail.js";
import { buildSubmission, type JobOptions, parseSubmitOutput, type SubmitResult } from "./qsub.js";
import { CommandRunner, type RunnerConfig, type RunOptions, type RunResult } from "./run.js";
import { parseSchedulerBanner, type SchedulerInfo } from "./scheduler.js";
import { checkJobRef, checkObjectName } from "./validate.js";

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface JobFilter {
  /** Whose jobs: user names, or "all" (default: the calling user's, as qstat does). */
  users?: readonly string[] | "all";
  /** Only jobs whose name matches this shell-style pattern (`*`, `?`). */
  name?: string;
  /** Only jobs with these ids. */
  jobIds?: readonly number[];
  /** Only these statuses (pending/held are asked of qstat with -s p, running with -s r, ...). */
  statuses?: readonly JobStatus[];
}

export interface ListOptions extends CallOptions {
  /** "rows" as qstat prints them (pending array tasks collapsed, default); "expand": one per task. */
  tasks?: "rows" | "expand";
  /** One row per queue instance of parallel jobs (MASTER and SLAVE rows; `qstat -g t`). */
  perSlot?: boolean;
}

export interface DeleteOptions extends CallOptions {
  /** `qdel -f`: remove the job from qmaster even if its execd does not answer (managers only). */
  force?: boolean;
}

export interface RunningTask {
  taskId?: number;
  queue: string;
  host: string;
  role: "MASTER" | "SLAVE";
  slots: number;
}

export interface JobDetailWithHosts extends JobDetail {
  /** The job's rows in the job list: task states, pending ranges. */
  rows: JobEntry[];
  /** Where the running tasks are, one entry per queue instance (MASTER and SLAVE slots). */
  runningTasks: RunningTask[];
}

export interface AccountingOptions extends CallOptions {
  /** Only records of jobs submitted at or after this time (ids are reused over time). */
  since?: Date | number;
  /** Only records of jobs with this name. */
  name?: string;
}

export interface Queue {
  name: string;
  instances: QueueInstance[];
}

export interface VerifyResult {
  /** True when at least one queue could run the job as requested. */
  suitable: boolean;
  /** qsub's own lines (why each queue was rejected, or that suitable queues were found). */
  messages: string[];
}

function globToRegExp(glob: string): RegExp {
  const esc = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${esc}$`);
}

const STATUS_FLAGS: Partial<Record<JobStatus, string>> = {
  pending: "p",
  held: "h",
  running: "r",
  restarted: "r",
  transferring: "r",
  suspended: "s",
};

export class SgeClient {
  readonly runner: CommandRunner;
  private schedulerInfo: Promise<SchedulerInfo> | undefined;

  constructor(config: RunnerConfig | CommandRunner = {}) {
    this.runner = config instanceof CommandRunner ? config : new CommandRunner(config);
  }

  private opts(o: CallOptions | undefined, extra: RunOptions = {}): RunOptions {
    const r: RunOptions = { ...extra };
    if (o?.signal) r.signal = o.signal;
    if (o?.timeoutMs !== undefined) r.timeoutMs = o.timeoutMs;
    return r;
  }

  /** Which Grid Engine answers and its version (`qstat -help`'s first line), asked once per client. */
  scheduler(call?: CallOptions): Promise<SchedulerInfo> {
    this.schedulerInfo ??= this.runner.run(["qstat", "-help"], this.opts(call)).then((r) => {
      const info = parseSchedulerBanner(r.stdout || r.stderr);
      if (info.family === "unknown" && r.exitCode !== 0) throw classifyFailure(r);
      return info;
    });
    this.schedulerInfo.catch(() => {
      this.schedulerInfo = undefined;
    });
    return this.schedulerInfo;
  }

  /** Submit a job; returns its id (and task range for arrays). */
  async submit(job: JobOptions, call?: CallOptions): Promise<SubmitResult> {
    const { argv, stdin } = buildSubmission(job);
    const result = await this.runner.runChecked(argv, this.opts(call, stdin === undefined ? {} : { stdin }));
    try {
      return { ...parseSubmitOutput(result.stdout), argv: result.argv };
    } catch (e) {
      throw new SgeCommandError({
        ...result,
        kind: "unparseable-output",
        cause: e,
        message: `qsub succeeded but printed no job id we understand: ${JSON.stringify(result.stdout.slice(0, 200))}`,
      });
    }
  }

  /**
   * Ask qsub whether a job could ever run as requested (`-w v`), without submitting it.
   * Note: `-w v` ignores load values, so requests of load complexes such as mem_free are reported
   * as "unknown resource"; those lines are in `messages`.
   */
  async verify(job: JobOptions, call?: CallOptions): Promise<VerifyResult> {
    const { argv, stdin } = buildSubmission({ ...job, verify: "none" });
    const i = argv.indexOf("-w");
    argv.splice(i, 2, "-w", "v");
    const r = await this.runner.run(argv, this.opts(call, stdin === undefined ? {} : { stdin }));
    const text = `${r.stdout}\n${r.stderr}`;
    if (/verification: found suitable queue/.test(text)) return { suitable: true, messages: lines(text) };
    if (/verification: no suitable queues/.test(text)) {
      return {
        suitable: false,
        messages: lines(text).filter((l) => !/^(Unable to run job:?|Exiting\.)$/.test(l)),
      };
    }
    throw classifyFailure(r);
  }

  /** Stream jobs out of `qstat -xml` (memory stays flat for any number of jobs). */
  async *streamJobs(filter: JobFilter = {}, options: ListOptions = {}): AsyncGenerator<JobEntry> {
    for await (const batch of this.streamJobBatches(filter, options)) yield* batch;
  }

  /** All matching jobs (after qstat succeeded). */
  async listJobs(filter: JobFilter = {}, options: ListOptions = {}): Promise<JobEntry[]> {
    const out: JobEntry[] = [];
    for await (const batch of this.streamJobBatches(filter, options)) for (const e of batch) out.push(e);
    return out;
  }

  private async *streamJobBatches(filter: JobFilter, options: ListOptions): AsyncGenerator<JobEntry[]> {
    const argv = ["qstat", "-xml"];
    if (options.perSlot) argv.push("-g", "t");
    if (filter.users === "all") argv.push("-u", "*");
    else if (filter.users && filter.users.length > 0) {
      argv.push("-u", filter.users.map((u) => checkObjectName("user", u)).join(","));
    }
    if (filter.statuses && filter.statuses.length > 0) {
      const flags = new Set(filter.statuses.map((s) => STATUS_FLAGS[s] ?? "prs"));
      argv.push("-s", [...new Set([...flags].join(""))].join(""));
    }
    const nameRe = filter.name === undefined ? undefined : globToRegExp(filter.name);
    const ids = filter.jobIds ? new Set(filter.jobIds) : undefined;
    const statuses = filter.statuses ? new Set(filter.statuses) : undefined;
    const filtered = nameRe !== undefined || ids !== undefined || statuses !== undefined;
    const keep = (e: JobEntry) =>
      (!nameRe || nameRe.test(e.name)) && (!ids || ids.has(e.id)) && (!statuses || statuses.has(e.status));

    // Entries are handed out as they are parsed; the command's exit status is checked at the end,
    // so a failed qstat throws instead of passing for a complete list.
    const proc = this.runner.start(argv, this.opts(options));
    proc.stdout.setEncoding("utf8");
    let settled = false;
    try {
      let readerError: unknown;
      try {
        for await (const batch of parseJobListBatches(proc.stdout, { tasks: options.tasks ?? "rows" })) {
          yield filtered ? batch.filter(keep) : batch;
        }
      } catch (e) {
        readerError = e;
      }
      settled = true;
      const outcome = await proc.finish(readerError);
      if (outcome.exitCode !== 0) throw classifyFailure(outcome);
    } finally {
      // the caller stopped reading early: end and reap the command
      if (!settled) await proc.finish();
    }
  }

  /** One summary per job: tasks counted by status, hosts in use. */
  async jobSummaries(filter: JobFilter = {}, call?: CallOptions): Promise<JobSummary[]> {
    return summariseJobs(await this.listJobs(filter, { ...call, perSlot: true }));
  }

  /**
   * Everything about one job: its request (context, resources, PE, array), why it waits (scheduler
   * messages), task states and messages, and the hosts of its running tasks.
   * Throws SgeCommandError kind "unknown-job" when Grid Engine does not know the job.
   */
  async jobDetail(id: number | string, call?: CallOptions): Promise<JobDetailWithHosts> {
    const ref = checkJobRef(id);
    const jobId = Number(ref.split(".")[0]);
    const { found, outcome: r } = await this.qstatJ(String(jobId), call);
    const detail = found.find((d) => d.id === jobId);
    if (!detail) {
      throw new SgeCommandError({
        ...r,
        kind: "unknown-job",
        message: `job ${jobId} is not known to Grid Engine (finished, deleted or never submitted); see accounting(${jobId}) for finished jobs`,
      });
    }
    const rows = await this.listJobs({ users: "all", jobIds: [jobId] }, { ...call, perSlot: true });
    const runningTasks: RunningTask[] = rows
      .filter((e) => e.queue && e.host && e.role)
      .map((e) => {
        const t: RunningTask = {
          queue: e.queue as string,
          host: e.host as string,
          role: e.role as "MASTER" | "SLAVE",
          slots: e.slots,
        };
        if (e.taskId !== undefined) t.taskId = e.taskId;
        return t;
      });
    return {
      ...detail,
      rows: rows.filter((e) => e.role !== "SLAVE"),
      runningTasks,
    };
  }

  /**
   * Details of every job matching a name pattern (`qstat -j 'name-*' -xml`), in one call; an empty
   * list when none match.
   */
  async jobDetails(pattern: string, call?: CallOptions): Promise<JobDetail[]> {
    if (!/^[A-Za-z0-9_.+*?-]+$/.test(pattern)) {
      throw new SgeCommandError({
        kind: "invalid-input",
        message: `job name pattern ${JSON.stringify(pattern)} is not valid`,
      });
    }
    return (await this.qstatJ(pattern, call)).found;
  }

  /** `qstat -j WHAT -xml`: with qmaster down it exits 0 with a communication error document. */
  private async qstatJ(what: string, call?: CallOptions): Promise<{ found: JobDetail[]; outcome: RunResult }> {
    const r = await this.runner.runChecked(["qstat", "-j", what, "-xml"], this.opts(call));
    const commError = communicationError(r.stdout);
    if (commError !== undefined) throw classifyFailure({ ...r, stderr: `${r.stderr}${commError}\n` });
    return { found: parseOrThrow(r, () => parseJobDetail(r.stdout).found, `qstat -j ${what} -xml`), outcome: r };
  }

  /**
   * Delete jobs or tasks ("12", "12.3", "12.1-5"). Idempotent: a job Grid Engine no longer knows is
   * reported with outcome "gone", not thrown. Throws "permission-denied" if any could not be deleted
   * for lack of rights, and "qmaster-unreachable" when nothing is known.
   */
  async deleteJobs(ids: readonly (number | string)[], options: DeleteOptions = {}): Promise<DeleteResult[]> {
    if (ids.length === 0) return [];
    const refs = ids.map(checkJobRef);
    const argv = ["qdel", ...(options.force ? ["-f"] : []), ...refs];
    const r = await this.runner.run(argv, this.opts(options));
    const results = parseQdelOutput(r.stdout);
    const denied = results.filter((x) => x.outcome === "denied");
    if (denied.length > 0) {
      throw new SgeCommandError({
        ...r,
        kind: "permission-denied",
        reason: denied.map((d) => d.message).join("; "),
        message: `qdel: not allowed to delete ${denied.map((d) => d.job).join(", ")}: ${denied[0]?.message}`,
      });
    }
    // qdel may answer for a job ("493") or for each of its tasks ("492.1"): either answers the job
    const answered = new Set(results.flatMap((x) => [x.job, x.job.split(".")[0] as string]));
    const unanswered = refs.filter((ref) => !answered.has(ref) && !answered.has(ref.split(".")[0] as string));
    // a non-zero exit is a failure unless qdel answered for every job (or only said they are gone)
    const allGone = results.every((x) => x.outcome === "gone");
    if (r.exitCode !== 0 && (results.length === 0 || (unanswered.length > 0 && !allGone))) {
      const f = classifyFailure(r);
      if (results.length === 0 || f.kind !== "command-failed") throw f;
      // some answered: name the ones that did not, with everything qdel said
      const said = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(0, 20).join(" | ");
      throw new SgeCommandError({
        ...r,
        kind: f.kind,
        message: `qdel gave no answer for ${unanswered.join(", ")} (exit code ${r.exitCode}); it said: ${said}`,
      });
    }
    return results;
  }

  /**
   * Accounting records of a finished job (one per task), oldest first. Throws "unknown-job" if there
   * is none yet. Job ids are not unique over time: they wrap, and a qmaster that was killed can hand
   * out ids again (measured), so `qacct -j ID` may return other jobs' records too: pass `since` (a
   * time at or before the submission) and/or `name` to keep only this job's.
   */
  async accounting(id: number | string, options: AccountingOptions = {}): Promise<AccountingRecord[]> {
    const ref = checkJobRef(id);
    const [job, task] = ref.split(".");
    const argv = ["qacct", "-j", job as string, ...(task ? ["-t", task] : [])];
    const r = await this.runner.run(argv, this.opts(options));
    const none = () =>
      new SgeCommandError({
        ...r,
        kind: "unknown-job",
        message: `no accounting record for job ${ref}${options.name ? ` named ${options.name}` : ""} (still running, never run, or the accounting file was rotated)`,
      });
    if (r.exitCode !== 0) {
      if (/not found/i.test(r.stderr)) throw none();
      throw classifyFailure(r);
    }
    const since = options.since === undefined ? undefined : new Date(options.since).getTime();
    const records = parseOrThrow(r, () => parseAccounting(r.stdout), "qacct -j")
      .filter((a) => options.name === undefined || a.name === options.name)
      // qacct prints whole seconds: a record submitted in the same second as `since` still counts
      .filter((a) => since === undefined || (a.submittedAt?.getTime() ?? 0) >= since - 1000)
      .sort(
        (a, b) =>
          (a.submittedAt?.getTime() ?? 0) - (b.submittedAt?.getTime() ?? 0) || (a.taskId ?? 0) - (b.taskId ?? 0),
      );
    if (records.length === 0) throw none();
    return records;
  }

  /** Execution hosts with their CPUs, memory and load (`qhost -xml`). */
  async hosts(call?: CallOptions): Promise<ExecHost[]> {
    const r = await this.runner.runChecked(["qhost", "-xml"], this.opts(call));
    return parseOrThrow(r, () => parseHosts(r.stdout), "qhost -xml");
  }

  /** Cluster queues with their instances: slots, load, state letters and what they mean. */
  async queues(call?: CallOptions): Promise<Queue[]> {
    const names = parseNameList((await this.runner.runChecked(["qconf", "-sql"], this.opts(call))).stdout);
    const { value: instances, outcome } = await this.runner.stream(["qstat", "-f", "-xml"], this.opts(call), (s) => {
      s.setEncoding("utf8");
      return parseQueueInstances(s);
    });
    if (outcome.exitCode !== 0) throw classifyFailure(outcome);
    return names.map((name) => ({
      name,
      instances: instances.filter((i) => i.queue === name),
    }));
  }

  /** Parallel environments (`qconf -spl`, then `qconf -sp` each). */
  async parallelEnvironments(call?: CallOptions): Promise<ParallelEnvironment[]> {
    const r = await this.runner.run(["qconf", "-spl"], this.opts(call));
    if (r.exitCode !== 0 && !/no parallel environment/i.test(r.stderr + r.stdout)) throw classifyFailure(r);
    const names = parseNameList(r.stdout);
    return Promise.all(
      names.map(async (n) => {
        const pe = await this.runner.runChecked(["qconf", "-sp", n], this.opts(call));
        return parseOrThrow(pe, () => parseParallelEnvironment(pe.stdout), `qconf -sp ${n}`);
      }),
    );
  }

  /** The complex attributes (`qconf -sc`): what can be requested with -l and how it is consumed. */
  async complexes(call?: CallOptions): Promise<Complex[]> {
    const r = await this.runner.runChecked(["qconf", "-sc"], this.opts(call));
    return parseOrThrow(r, () => parseComplexes(r.stdout), "qconf -sc");
  }
}

function lines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

function parseOrThrow<T>(
  r: {
    argv: readonly string[];
    stdout: string;
    stderr: string;
    exitCode: number | null;
    durationMs: number;
  },
  f: () => T,
  what: string,
): T {
  try {
    return f();
  } catch (e) {
    throw new SgeCommandError({
      ...r,
      signal: null,
      kind: "unparseable-output",
      cause: e,
      message: `could not read the output of ${what}: ${(e as Error).message}`,
    });
  }
}
