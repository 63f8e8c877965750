export { shellQuote } from "../base/shell.js";
export * from "./client.js";
export * from "./errors.js";
export type { AccountingRecord } from "./qacct.js";
export { parseAccounting } from "./qacct.js";
export type { Complex, ParallelEnvironment, QueueInstance } from "./qconf.js";
export {
  parseComplexes,
  parseParallelEnvironment,
  parseQueueInstances,
} from "./qconf.js";
export type { DeleteOutcome, DeleteResult } from "./qdel.js";
export { parseQdelOutput } from "./qdel.js";
export type { ExecHost } from "./qhost.js";
export { parseHosts } from "./qhost.js";
export type { JobEntry, JobStatus, JobSummary } from "./qstat.js";
export { parseJobList, summariseJobs } from "./qstat.js";
export type { JobDetail, TaskDetail } from "./qstat-detail.js";
export { parseJobDetail } from "./qstat-detail.js";
export type {
  JobOptions,
  ResourceValue,
  Runtime,
  SubmitResult,
  TaskRange,
} from "./qsub.js";
export {
  buildSubmission,
  parseSubmitOutput,
  renderCommandScript,
} from "./qsub.js";
export type { RunnerConfig, RunOptions, RunResult } from "./run.js";
export { CommandRunner } from "./run.js";
