/**
 * `qstat -xml` (job lists) and `qstat -j ID -xml` (job detail) -> typed values. Pure functions over
 * text or streams; the client (client.ts) runs the commands.
 *
 * Facts (gridengine 8.1.9): running jobs are under <queue_info>, pending ones under <job_info>; each
 * running array task is its own <job_list> with <tasks>3</tasks>, pending tasks are collapsed
 * (<tasks>3-20:1</tasks>, possibly a comma list); with `-g t` a parallel job has one row per
 * queue instance with <master>MASTER|SLAVE</master>. An unknown id in `qstat -j` gives rc 0 and an
 * <unknown_jobs> document.
 */
import type { TaskRange } from "./qsub.js";
import {
  type ChunkSource,
  child,
  childrenOf,
  descendants,
  parseXmlTree,
  textOf,
  type XmlNode,
  type XmlRecord,
  xmlRecordBatches,
} from "./xml.js";

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

const QSTAT_LIST = {
  records: new Set(["job_list"]),
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
  if (f.JB_submission_time) entry.submittedAtMs = localTime(f.JB_submission_time);
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

/** qstat prints times without a zone, in the qmaster's local time, e.g. "2026-11-25T17:12:03". */
function localTime(text: string): number {
  const ms = new Date(text).getTime();
  if (Number.isNaN(ms)) throw new Error(`not a time: ${JSON.stringify(text)}`);
  return ms;
}

/** Stream the jobs of a `qstat -xml` (also `-g t`, `-f`) document, a batch per chunk of input. */
export async function* parseJobListBatches(
  source: ChunkSource,
  options: ParseJobListOptions = {},
): AsyncGenerator<JobEntry[]> {
  const strings = new Interner();
  for await (const records of xmlRecordBatches(source, QSTAT_LIST)) {
    const out: JobEntry[] = [];
    for (const rec of records) toEntries(rec, options, out, strings);
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

// ------------------------------------------------------------------------------------ qstat -j

export interface TaskDetail {
  taskId: number;
  /** Grid Engine's internal status code of the task (JAT_status). */
  statusCode: number;
  startedAt?: Date;
  /** Per-task messages, e.g. why a task went into error state. */
  messages: string[];
}

export interface JobDetail {
  id: number;
  name: string;
  owner: string;
  group?: string;
  project?: string;
  account?: string;
  submittedAt?: Date;
  /** The script (or binary) and its arguments; "STDIN" when the script came on stdin. */
  scriptFile?: string;
  args: string[];
  cwd?: string;
  shell?: string;
  stdoutPaths: string[];
  stderrPaths: string[];
  joinOutput: boolean;
  notify: boolean;
  /** -p as given at submission (-1023..1024). */
  priority: number;
  queueRequests: string[];
  parallelEnvironment?: { name: string; min: number; max: number };
  hardResources: Record<string, string>;
  softResources: Record<string, string>;
  context: Record<string, string>;
  /** -v variables (SGE's own __SGE_PREFIX__ entries left out). */
  environment: Record<string, string>;
  array?: TaskRange;
  maxConcurrentTasks?: number;
  holdJobs: number[];
  /** Tasks that have started (or failed to); pending tasks are in the job list's ranges. */
  tasks: TaskDetail[];
  /** Why the job waits: the scheduler's messages about this job (needs schedd_job_info true). */
  schedulingMessages: string[];
}

function epoch(s: string | undefined): Date | undefined {
  const n = Number(s);
  return s && Number.isFinite(n) && n > 0 ? new Date(n * 1000) : undefined;
}

function variables(list: XmlNode | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const el of list?.children ?? []) {
    const name = textOf(el, "VA_variable");
    if (name !== undefined) out[name] = textOf(el, "VA_value") ?? "";
  }
  return out;
}

function requests(list: XmlNode | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const el of list?.children ?? []) {
    const name = textOf(el, "CE_name");
    if (name !== undefined) out[name] = textOf(el, "CE_stringval") ?? "";
  }
  return out;
}

function paths(list: XmlNode | undefined): string[] {
  return descendants(list, "PN_path").map((n) => n.text.trim());
}

export type JobDetailResult = { found: JobDetail[]; unknown: string[] };

/**
 * `qstat -j ID -xml` with qmaster down exits 0 and prints a <comunication_error> document (SGE's
 * spelling). Returns its text, or undefined for any other document.
 */
export function communicationError(xml: string): string | undefined {
  const head = xml.slice(0, 200);
  if (!/<comm?unication_error\b/.test(head)) return undefined;
  const root = parseXmlTree(xml);
  return textOf(root, "AN_text") ?? "communication error";
}

/** Parse `qstat -j ... -xml`: the jobs found and the ids qstat did not know. */
export function parseJobDetail(xml: string): JobDetailResult {
  const root = parseXmlTree(xml);
  if (root.name === "unknown_jobs") {
    return {
      found: [],
      unknown: childrenOf(root, "ST_name").map((n) => n.text.trim()),
    };
  }
  if (root.name !== "detailed_job_info") throw new Error(`expected <detailed_job_info>, got <${root.name}>`);
  const messagesByJob = new Map<number, string[]>();
  for (const m of descendants(child(root, "messages"), "SME_message_list").flatMap((l) => l.children)) {
    const text = textOf(m, "MES_message");
    if (text === undefined) continue;
    for (const id of descendants(child(m, "MES_job_number_list"), "ULNG_value")) {
      const n = Number(id.text.trim());
      messagesByJob.set(n, [...(messagesByJob.get(n) ?? []), text]);
    }
  }
  const found = childrenOf(child(root, "djob_info"), "element").map((el): JobDetail => {
    const id = Number(textOf(el, "JB_job_number"));
    if (!Number.isInteger(id)) throw new Error("a job in qstat -j output has no JB_job_number");
    const env = variables(child(el, "JB_env_list"));
    for (const k of Object.keys(env)) if (k.startsWith("__SGE_PREFIX__")) delete env[k];
    const pe = textOf(el, "JB_pe");
    const peRange = descendants(child(el, "JB_pe_range"), "RN_min")[0];
    const arrayRange = child(child(el, "JB_ja_structure"), "task_id_range");
    const isArray = (Number(textOf(el, "JB_type") ?? 0) & 128) !== 0; // JB_type bit: array job
    const detail: JobDetail = {
      id,
      name: textOf(el, "JB_job_name") ?? "",
      owner: textOf(el, "JB_owner") ?? "",
      args: descendants(child(el, "JB_job_args"), "ST_name").map((n) => n.text),
      stdoutPaths: paths(child(el, "JB_stdout_path_list")),
      stderrPaths: paths(child(el, "JB_stderr_path_list")),
      joinOutput: textOf(el, "JB_merge_stderr") === "true",
      notify: textOf(el, "JB_notify") === "true",
      priority: Number(textOf(el, "JB_priority") ?? 1024) - 1024,
      queueRequests: descendants(child(el, "JB_hard_queue_list"), "QR_name").map((n) => n.text.trim()),
      hardResources: requests(child(el, "JB_hard_resource_list")),
      softResources: requests(child(el, "JB_soft_resource_list")),
      context: variables(child(el, "JB_context")),
      environment: env,
      holdJobs: descendants(child(el, "JB_jid_predecessor_list"), "JRE_job_number").map((n) => Number(n.text)),
      // JATASK: what 8.1.9 writes for these after a qmaster restart (see xml-scan.ts)
      tasks: childrenOf(child(el, "JB_ja_tasks"), "ulong_sublist")
        .concat(childrenOf(child(el, "JB_ja_tasks"), "element"))
        .concat(childrenOf(child(el, "JB_ja_tasks"), "JATASK"))
        .map((t) => {
          const td: TaskDetail = {
            taskId: Number(textOf(t, "JAT_task_number")),
            statusCode: Number(textOf(t, "JAT_status") ?? 0),
            messages: descendants(child(t, "JAT_message_list"), "QIM_message").map((n) => n.text.trim()),
          };
          const started = epoch(textOf(t, "JAT_start_time"));
          if (started) td.startedAt = started;
          return td;
        })
        .sort((a, b) => a.taskId - b.taskId),
      schedulingMessages: messagesByJob.get(id) ?? [],
    };
    const opt = <K extends keyof JobDetail>(k: K, v: JobDetail[K] | undefined) => {
      if (v !== undefined && v !== "") detail[k] = v;
    };
    opt("group", textOf(el, "JB_group"));
    opt("project", textOf(el, "JB_project"));
    opt("account", textOf(el, "JB_account"));
    opt("submittedAt", epoch(textOf(el, "JB_submission_time")));
    opt("scriptFile", textOf(el, "JB_script_file"));
    opt("cwd", textOf(el, "JB_cwd"));
    opt("shell", descendants(child(el, "JB_shell_list"), "PN_path")[0]?.text.trim());
    if (pe && peRange) {
      const ranges = peRange && child(child(el, "JB_pe_range"), "ranges");
      detail.parallelEnvironment = {
        name: pe,
        min: Number(textOf(ranges, "RN_min")),
        max: Number(textOf(ranges, "RN_max")),
      };
    }
    if (isArray && arrayRange) {
      detail.array = {
        first: Number(textOf(arrayRange, "RN_min")),
        last: Number(textOf(arrayRange, "RN_max")),
        step: Number(textOf(arrayRange, "RN_step")),
      };
    }
    const tc = Number(textOf(el, "JB_ja_task_concurrency") ?? 0);
    if (tc > 0) detail.maxConcurrentTasks = tc;
    return detail;
  });
  return { found, unknown: [] };
}
