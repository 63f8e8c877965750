/**
 * `qstat -j ID -xml` (job detail) -> typed values. Pure. An unknown id gives rc 0 and an
 * <unknown_jobs> document; with qmaster down it exits 0 with a <comunication_error> document.
 */
import type { TaskRange } from "./qsub.js";
import { detailTime } from "./times.js";
import { child, childrenOf, descendants, parseXmlTree, textOf, type XmlNode } from "./xml.js";

export interface TaskDetail {
  taskId: number;
  /** Grid Engine's internal status code of the task (JAT_status). */
  statusCode: number;
  startedAt?: Date;
  /** Per-task messages, e.g. why a task went into error state. */
  messages: string[];
  /**
   * 9.x: consumables granted to the task, with the ids of resource maps (RSMAP), e.g. gpu 2 on node1
   * ids ["0", "1"] (JAT_granted_resources_list; fixture ocs-9.1/qstat-j-gpu-worker.xml).
   */
  granted: GrantedResource[];
}

export interface GrantedResource {
  name: string;
  amount: number;
  host: string;
  /** The granted ids of a resource map (empty for other consumables). */
  ids: string[];
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
  /** -q (hard), of the job as a whole (9.x: the global request set). */
  queueRequests: string[];
  parallelEnvironment?: { name: string; min: number; max: number };
  /** -l (hard), of the job as a whole (9.x: the global request set). */
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
  /**
   * Why the job waits: the scheduler's messages about this job, else those about every pending job
   * (the cluster is full: "All queues dropped because of overload or full" first). Needs
   * schedd_job_info true.
   */
  schedulingMessages: string[];
}

/** A list of name/value elements (variables VA_*, requests CE_*) as a record. */
function pairs(list: XmlNode | undefined, nameTag: string, valueTag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const el of list?.children ?? []) {
    const name = textOf(el, nameTag);
    if (name !== undefined) out[name] = textOf(el, valueTag) ?? "";
  }
  return out;
}
const variables = (list: XmlNode | undefined) => pairs(list, "VA_variable", "VA_value");
const requests = (list: XmlNode | undefined) => pairs(list, "CE_name", "CE_stringval");

const queues = (list: XmlNode | undefined) => descendants(list, "QR_name").map((n) => n.text.trim());

type Requests = Pick<JobDetail, "hardResources" | "softResources" | "queueRequests">;

/** One set of requests: 8.1.9's are JB_hard_resource_list and so on, 9.x's JRS_hard_resource_list. */
function requestsOf(node: XmlNode | undefined, prefix: "JB" | "JRS"): Requests {
  return {
    hardResources: requests(child(node, `${prefix}_hard_resource_list`)),
    softResources: requests(child(node, `${prefix}_soft_resource_list`)),
    queueRequests: queues(child(node, `${prefix}_hard_queue_list`)),
  };
}

/**
 * The job's requests. 9.x moved them into JB_request_set_list, one set per scope (JRS_scope 0
 * global, 1 master, 2 slave; fixture ocs-9.1/qstat-j.xml): the global set is read. Master/slave
 * scoped requests (`qsub -scope`) are not read yet: no recorded job has them.
 */
function jobRequests(el: XmlNode): Requests {
  const sets = child(el, "JB_request_set_list");
  if (!sets) return requestsOf(el, "JB");
  return requestsOf(
    sets.children.find((s) => Number(textOf(s, "JRS_scope") ?? 0) === 0),
    "JRS",
  );
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
      // 8.1.9: ST_name right under the root; 9.1: each inside an element (see xml-scan.ts)
      unknown: descendants(root, "ST_name").map((n) => n.text.trim()),
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
  // reasons that hold for every pending job (the cluster is full) come as global messages: one per
  // queue instance, then a summary ("All queues dropped because of overload or full"); a job with no
  // reasons of its own waits for those, summary first (fixture sge-8.1.9/qstat-j-queues-full.xml)
  const global = descendants(child(root, "messages"), "SME_global_message_list")
    .flatMap((l) => l.children)
    .map((m) => textOf(m, "MES_message"))
    .filter((t): t is string => t !== undefined);
  const globalFirst = [...global.filter((t) => /^All queues/.test(t)), ...global.filter((t) => !/^All queues/.test(t))];
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
      ...jobRequests(el),
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
            granted: (child(t, "JAT_granted_resources_list")?.children ?? []).map((g) => ({
              name: textOf(g, "GRU_name") ?? "",
              amount: Number(textOf(g, "GRU_amount") ?? 0),
              host: textOf(g, "GRU_host") ?? "",
              ids: descendants(child(g, "GRU_resource_map_list"), "RESL_value").map((n) => n.text.trim()),
            })),
          };
          const started = detailTime(textOf(t, "JAT_start_time"));
          if (started) td.startedAt = started;
          return td;
        })
        .sort((a, b) => a.taskId - b.taskId),
      schedulingMessages: messagesByJob.get(id) ?? globalFirst,
    };
    const opt = <K extends keyof JobDetail>(k: K, v: JobDetail[K] | undefined) => {
      if (v !== undefined && v !== "") detail[k] = v;
    };
    opt("group", textOf(el, "JB_group"));
    opt("project", textOf(el, "JB_project"));
    opt("account", textOf(el, "JB_account"));
    opt("submittedAt", detailTime(textOf(el, "JB_submission_time")));
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
