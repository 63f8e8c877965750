/**
 * What a batch job asks of Grid Engine: one parallel job of `slots` slots in a PE whose other hosts
 * it reaches with `qrsh -inherit` (tight integration), with the config's queue, project, run times
 * and `-l` requests (its `sge` section; head_node and worker overrides are for `up`). Pure.
 *
 * Where its output goes: LOG_ROOT/JOB_ID.out (the driver's stdout), LOG_ROOT/JOB_ID.err (ray-sge's
 * lines, Ray's and the driver's stderr), LOG_ROOT/JOB_ID/ (exit code, Ray's logs per host, token).
 * Grid Engine opens the .out/.err files before the job starts, so LOG_ROOT must exist then.
 */
import type { ClusterSpec, SgeRequest } from "../config/normalise.js";
import type { JobOptions } from "../sge/qsub.js";

/** Where batch jobs' output and logs go unless --log-dir says (the `script` form writes $HOME). */
export const DEFAULT_BATCH_ROOT = "~/.ray-sge/batch";

/** Paths that survive qrsh -inherit (it joins its arguments and runs them through a shell). */
const SAFE_PATH = /^[A-Za-z0-9_./+@%=-]+$/;

export class BatchError extends Error {
  override readonly name: string = "BatchError";
}

/** A usage mistake in a batch request (exit code 2). */
export class BatchUsageError extends BatchError {
  override readonly name = "UsageError";
}

export interface BatchInput {
  slots: number;
  /** Default: the config's parallel_environment. */
  pe?: string;
  command: readonly string[];
  /** The driver's working directory: a path (`batch`), or true for qsub's own (`-cwd`, the `script` form). */
  cwd: string | true;
  /** Where the output and logs go: an absolute path, or one starting with $HOME (Grid Engine expands it). */
  logRoot: string;
  /** How long every granted host's Ray node may take to join (seconds). */
  joinTimeoutSeconds: number;
  /** Start Ray's dashboard on the head (off by default: the head starts sooner). */
  dashboard?: boolean;
}

/** The batch job's name: never matched by a cluster's patterns (rsge-NAME-*), so `down` leaves it alone. */
export function batchJobName(cluster: string): string {
  return `rsge_batch-${cluster}`;
}

export const BATCH_JOB_PATTERN = "rsge_batch-*";

export function batchContext(cluster: string): Record<string, string> {
  return { ray_sge_cluster: cluster, ray_sge_role: "batch" };
}

/** The PE a batch job uses. */
export function batchPe(spec: ClusterSpec, input: Pick<BatchInput, "pe">): string {
  return input.pe ?? batchSge(spec).parallelEnvironment;
}

/** The config's sge section (a spec written before it was kept: the head's, which extends it). */
export function batchSge(spec: ClusterSpec): SgeRequest {
  return spec.sge ?? spec.head.sge;
}

export function checkBatchInput(input: BatchInput): void {
  if (!Number.isInteger(input.slots) || input.slots < 1)
    throw new BatchUsageError(`--slots wants a whole number of slots above 0, not ${input.slots}`);
  if (input.command.length === 0)
    throw new BatchUsageError(
      "no driver command: give it after --, e.g. ray-sge batch CONFIG --slots 6 -- python app.py",
    );
  if (!SAFE_PATH.test(input.logRoot.replace(/^\$HOME(?=\/|$)/, "")))
    throw new BatchUsageError(
      `the log dir ${JSON.stringify(input.logRoot)} has characters that qrsh -inherit cannot carry (it joins its arguments into a shell command): use letters, digits and _ . / + @ % = - only`,
    );
  if (!input.logRoot.startsWith("/") && !input.logRoot.startsWith("$HOME"))
    throw new BatchUsageError(`the log dir must be an absolute path, not ${JSON.stringify(input.logRoot)}`);
  if (!(input.joinTimeoutSeconds > 0)) throw new BatchUsageError("--join-timeout wants seconds above 0");
}

/** The job's qsub options (the script text is added by the caller). */
export function batchRequest(spec: ClusterSpec, input: BatchInput): Omit<JobOptions, "scriptText"> {
  checkBatchInput(input);
  const sge = batchSge(spec);
  const o: Omit<JobOptions, "scriptText"> = {
    name: batchJobName(spec.name),
    shell: "/bin/bash",
    cwd: input.cwd,
    stdoutPath: `${input.logRoot}/$JOB_ID.out`,
    stderrPath: `${input.logRoot}/$JOB_ID.err`,
    parallelEnvironment: { name: batchPe(spec, input), slots: input.slots },
    hardResources: { ...sge.resources },
    context: batchContext(spec.name),
    notify: true,
    nativeArgs: sge.nativeArgs,
  };
  if (sge.queue) o.queue = sge.queue;
  if (sge.project) o.project = sge.project;
  if (sge.hardRuntime !== undefined) o.hardRuntime = sge.hardRuntime;
  if (sge.softRuntime !== undefined) o.softRuntime = sge.softRuntime;
  return o;
}

/**
 * qsub's argv as `#$` lines, for a script its user submits with plain `qsub`. Grid Engine splits a
 * directive line at whitespace, so a value with whitespace cannot be written: that is an error.
 */
export function directiveLines(qsubArgv: readonly string[]): string {
  // drop "qsub -terse" and the trailing "-C ''" (directive parsing stays on for a hand-submitted file)
  const args = qsubArgv.slice(2);
  const c = args.indexOf("-C");
  if (c >= 0) args.splice(c, 2);
  const lines: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const opt = args[k] as string;
    const words = [opt];
    while (k + 1 < args.length && !(args[k + 1] as string).startsWith("-")) words.push(args[++k] as string);
    for (const w of words.slice(1))
      if (/\s/.test(w) || w === "")
        throw new BatchUsageError(
          `${opt} ${JSON.stringify(w)}: a #$ directive cannot carry an empty value or whitespace`,
        );
    lines.push(`#$ ${words.join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}
