/**
 * `qstat -xml` (job lists) -> typed values, streamed. Pure functions over text or streams; the
 * client (client.ts) runs the commands. `qstat -j` is read by qstat-detail.ts.
 *
 * Facts (gridengine 8.1.9): running jobs are under <queue_info>, pending ones under <job_info>; each
 * running array task is its own <job_list> with <tasks>3</tasks>, pending tasks are collapsed
 * (<tasks>3-20:1</tasks>, possibly a comma list); with `-g t` a parallel job has one row per
 * queue instance with <master>MASTER|SLAVE</master>. An unknown id in `qstat -j` gives rc 0 and an
 * <unknown_jobs> document.
 */

import type { TaskRange } from "./qsub.js";
import { localTime } from "./times.js";
import { type ChunkSource, type XmlRecord, xmlRecordBatches } from "./xml.js";

export type JobStatus =
  | "pending"
  | "held"
  | "running"
  | "suspended"
  | "error"
  | "deleting"
  | "transferring"
  | "restarted"
  | "unknown";

export interface JobEntry {
  id: number;
  name: string;
  owner: string;
  /** Grid Engine's state letters as qstat prints them, e.g. "r", "qw", "hqw", "Eqw", "dr". */
  state: string;
  status: JobStatus;
  priority: number;
  /** Submission time of a pending job, milliseconds since the epoch (numbers keep 100k rows small). */
  submittedAtMs?: number;
  /** Start time of a running job or task, milliseconds since the epoch. */
  startedAtMs?: number;
  /** Queue instance of a running job (its master queue), e.g. "all.q@node1". */
  queue?: string;
  /** Host of a running job or task. */
  host?: string;
  slots: number;
  /** The task of an array job this row is about (running tasks, or pending ones when expanded). */
  taskId?: number;
  /** Pending tasks collapsed into ranges, as qstat prints them (only when not expanded). */
  taskRanges?: TaskRange[];
  /** With `qstat -g t`: whether this row is the job's MASTER task or a SLAVE slot of a parallel job. */
  role?: "MASTER" | "SLAVE";
}

/** Map state letters to one status; an error or deletion outranks everything else. */
export function jobStatus(state: string): JobStatus {
  if (state.includes("E")) return "error";
  if (state.includes("d")) return "deleting";
  if (state.includes("h")) return "held";
  if (/[sST]/.test(state)) return "suspended";
  if (state.includes("t")) return "transferring";
  if (state.includes("R")) return "restarted";
  if (state.includes("r")) return "running";
  if (state.includes("qw") || state === "w") return "pending";
  return "unknown";
}

/** Parse "3-20:1", "7" or "1-3:1,5-9:2". */
export function parseTaskRanges(text: string): TaskRange[] {
  return text
    .split(",")
    .filter(Boolean)
    .map((part) => {
      const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
      if (!m) throw new Error(`not a task range: ${JSON.stringify(part)}`);
      const first = Number(m[1]);
      return {
        first,
        last: m[2] ? Number(m[2]) : first,
        step: m[3] ? Number(m[3]) : 1,
      };
    });
}

export function* expandRanges(ranges: readonly TaskRange[]): Generator<number> {
  for (const r of ranges) for (let t = r.first; t <= r.last; t += r.step) yield t;
}

export function countTasks(ranges: readonly TaskRange[]): number {
  return ranges.reduce((n, r) => n + Math.floor((r.last - r.first) / r.step) + 1, 0);
}

function hostOf(queue: string | undefined): string | undefined {
  if (!queue) return undefined;
  const at = queue.indexOf("@");
  return at >= 0 ? queue.slice(at + 1) : undefined;
}

function required(fields: Record<string, string>, key: string): string {
  const v = fields[key];
  if (v === undefined) throw new Error(`a <job_list> has no <${key}>`);
  return v;
}

/**
 * `qstat -f` nests running jobs in their queue instance's `<Queue-List>` with no `<queue_name>` of
 * their own: the Queue-List is a record too, so that a job_list's parent gives its queue (fixtures
 * sge-8.1.9/qstat-f.xml, ocs-9.1/qstat-f.xml).
 */
const QSTAT_LIST = {
  records: new Set(["job_list", "Queue-List"]),
  roots: new Set(["job_info"]),
};

export interface ParseJobListOptions {
  /** "rows": as qstat prints them (pending array tasks collapsed); "expand": one entry per task. */
  tasks?: "rows" | "expand";
}

const statusCache = new Map<string, JobStatus>();
function cachedStatus(state: string): JobStatus {
  let s = statusCache.get(state);
  if (s === undefined) {
    s = jobStatus(state);
    if (statusCache.size < 256) statusCache.set(state, s);
  }
  return s;
}

/**
 * Owners, queues, hosts and states repeat across thousands of rows: one string each instead of one
 * per row. Every string kept from a listing is also detached from the input (see detach).
 */
class Interner {
  private readonly seen = new Map<string, string>();
  get(s: string): string {
    const hit = this.seen.get(s);
    if (hit !== undefined) return hit;
    const own = detach(s);
    if (this.seen.size < 200_000) this.seen.set(own, own);
    return own;
  }
}

/**
 * A copy of `s` that does not keep the string it was sliced from alive: V8 makes substrings of 13+
 * characters views into the 64 KB chunk they came from, so 100k job names such as
 * "ray-sge-mycluster-worker-cpu-7" kept every chunk alive (58 MB retained for 100k jobs; 28 MB with
 * the copy, measured). Names are copied, not interned: a map of 100k unique names costs more.
 */
function detach(s: string): string {
  return s.length < 13 ? s : ` ${s}`.slice(1);
}

function toEntries(rec: XmlRecord, options: ParseJobListOptions, out: JobEntry[], strings: Interner): void {
  const f = rec.fields;
  const state = strings.get(required(f, "state"));
  const queue = f.queue_name || (rec.parent?.fields.name ?? "");
  const entry: JobEntry = {
    id: Number(required(f, "JB_job_number")),
    name: detach(f.JB_name ?? ""),
    owner: strings.get(f.JB_owner ?? ""),
    state,
    status: cachedStatus(state),
    priority: Number(f.JAT_prio ?? 0),
    slots: Number(f.slots ?? 1),
  };
  if (!Number.isInteger(entry.id)) throw new Error(`bad job number ${JSON.stringify(f.JB_job_number)}`);
  // 9.1 writes a pending job's submission time as JAT_submission_time (fixture ocs-9.1/qstat.xml)
  const submitted = f.JB_submission_time ?? f.JAT_submission_time;
  if (submitted) entry.submittedAtMs = localTime(submitted);
  if (f.JAT_start_time) entry.startedAtMs = localTime(f.JAT_start_time);
  if (queue) {
    entry.queue = strings.get(queue);
    entry.host = strings.get(hostOf(queue) as string);
  }
  if (f.master === "MASTER" || f.master === "SLAVE") entry.role = f.master;
  if (f.tasks) {
    const ranges = parseTaskRanges(f.tasks);
    if (ranges.length === 1 && ranges[0]?.first === ranges[0]?.last) entry.taskId = (ranges[0] as TaskRange).first;
    else if (options.tasks === "expand") {
      for (const t of expandRanges(ranges)) out.push({ ...entry, taskId: t });
      return;
    } else entry.taskRanges = ranges;
  }
  out.push(entry);
}

/** Stream the jobs of a `qstat -xml` (also `-g t`, `-f`) document, a batch per chunk of input. */
export async function* parseJobListBatches(
  source: ChunkSource,
  options: ParseJobListOptions = {},
): AsyncGenerator<JobEntry[]> {
  const strings = new Interner();
  for await (const records of xmlRecordBatches(source, QSTAT_LIST)) {
    const out: JobEntry[] = [];
    for (const rec of records) if (rec.tag === "job_list") toEntries(rec, options, out, strings);
    yield out;
  }
}

/** Stream the jobs of a `qstat -xml` (also `-g t`, `-f`) document. */
export async function* parseJobList(source: ChunkSource, options: ParseJobListOptions = {}): AsyncGenerator<JobEntry> {
  for await (const batch of parseJobListBatches(source, options)) yield* batch;
}

export interface JobSummary {
  id: number;
  name: string;
  owner: string;
  /** The most advanced status among the job's tasks (running > transferring > ... > pending). */
  status: JobStatus;
  /** Number of tasks per status (1 task for a non-array job). */
  tasksByStatus: Partial<Record<JobStatus, number>>;
  taskCount: number;
  isArray: boolean;
  hosts: string[];
  slots: number;
  submittedAtMs?: number;
  startedAtMs?: number;
}

const STATUS_RANK: JobStatus[] = [
  "error",
  "deleting",
  "running",
  "restarted",
  "transferring",
  "suspended",
  "held",
  "pending",
  "unknown",
];

/** One summary per job out of qstat rows (array tasks counted, not listed). */
export function summariseJobs(entries: Iterable<JobEntry>): JobSummary[] {
  const byId = new Map<number, JobSummary>();
  for (const e of entries) {
    let s = byId.get(e.id);
    if (!s) {
      s = {
        id: e.id,
        name: e.name,
        owner: e.owner,
        status: e.status,
        tasksByStatus: {},
        taskCount: 0,
        isArray: false,
        hosts: [],
        slots: 0,
      };
      byId.set(e.id, s);
    }
    if (e.role === "SLAVE") {
      if (e.host && !s.hosts.includes(e.host)) s.hosts.push(e.host);
      continue;
    }
    const n = e.taskRanges ? countTasks(e.taskRanges) : 1;
    if (e.taskRanges || e.taskId !== undefined) s.isArray = true;
    s.taskCount += n;
    s.tasksByStatus[e.status] = (s.tasksByStatus[e.status] ?? 0) + n;
    s.slots += e.slots * n;
    if (STATUS_RANK.indexOf(e.status) < STATUS_RANK.indexOf(s.status)) s.status = e.status;
    if (e.host && !s.hosts.includes(e.host)) s.hosts.push(e.host);
    if (e.submittedAtMs !== undefined && s.submittedAtMs === undefined) s.submittedAtMs = e.submittedAtMs;
    if (e.startedAtMs !== undefined && (s.startedAtMs === undefined || e.startedAtMs < s.startedAtMs)) {
      s.startedAtMs = e.startedAtMs;
    }
  }
  return [...byId.values()];
}
