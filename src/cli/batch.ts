/**
 * `ray-sge batch CONFIG --slots N [--pe PE] [--wait] [--json] -- CMD...`: a whole Ray cluster inside
 * one parallel Grid Engine job, CMD its driver. `ray-sge script ...` prints the same job as a file
 * with `#$` lines for plain qsub.
 */
import { homedir } from "node:os";
import { batchJob } from "../batch/job.js";
import { BatchUsageError, DEFAULT_BATCH_ROOT } from "../batch/request.js";
import { checkPe, prepareLogRoot, submitBatch } from "../batch/submit.js";
import { waitBatch } from "../batch/wait.js";
import { expandHome } from "../config/normalise.js";
import { SgeClient } from "../sge/client.js";
import { progress, seconds, specFrom, UsageError } from "./common.js";

export interface BatchCliOptions {
  slots: string;
  pe?: string;
  wait?: boolean;
  json?: boolean;
  logDir?: string;
  joinTimeout?: string;
  dashboard?: boolean;
}

function slotsOf(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--slots wants a whole number above 0, not "${v}"`);
  return n;
}

async function inputs(config: string, command: string[], o: BatchCliOptions, cwd: string | true, logRoot: string) {
  const { spec, warnings } = await specFrom(config);
  for (const w of warnings) progress(`warning: ${w}`);
  return {
    spec,
    input: {
      slots: slotsOf(o.slots),
      ...(o.pe ? { pe: o.pe } : {}),
      command,
      cwd,
      logRoot,
      joinTimeoutSeconds: seconds(o.joinTimeout, "--join-timeout", 120),
      dashboard: o.dashboard === true,
    },
  };
}

/** Returns the exit code: with --wait the driver's, else 0 once submitted. */
export async function batchCommand(config: string, command: string[], o: BatchCliOptions): Promise<number> {
  const logRoot = expandHome(o.logDir ?? DEFAULT_BATCH_ROOT);
  const { spec, input } = await inputs(config, command, o, process.cwd(), logRoot);
  const sge = new SgeClient();
  const s = await submitBatch(sge, spec, input);
  for (const w of s.warnings) progress(`warning: ${w}`);
  const where = { job_id: s.jobId, stdout: s.paths.stdout, stderr: s.paths.stderr, job_dir: s.paths.jobDir };
  if (!o.wait) {
    process.stdout.write(
      o.json
        ? `${JSON.stringify(where, null, 2)}\n`
        : `batch job ${s.jobId} submitted (${input.slots} slots)\n  driver's output: ${s.paths.stdout}\n  log:             ${s.paths.stderr}\n  exit code, Ray's logs: ${s.paths.jobDir}/\n`,
    );
    return 0;
  }
  progress(`batch job ${s.jobId} submitted (${input.slots} slots); output: ${s.paths.stdout}, log: ${s.paths.stderr}`);
  let interrupted = false;
  const onInt = () => {
    if (interrupted) return;
    interrupted = true;
    progress(`interrupted: deleting batch job ${s.jobId} (its cluster ends, its logs are kept)`);
    void sge.deleteJobs([s.jobId]).catch((e: Error) => progress(`qdel ${s.jobId} failed: ${e.message}`));
  };
  process.on("SIGINT", onInt);
  try {
    const out = await waitBatch(sge, s.jobId, s.paths, {
      cluster: spec.name,
      log: progress,
      // with --json the driver's output goes to stderr, so stdout is the one JSON document
      stdout: (t) => (o.json ? process.stderr : process.stdout).write(t),
      stderr: (t) => process.stderr.write(t),
    });
    if (o.json)
      process.stdout.write(`${JSON.stringify({ ...where, exit_code: out.exitCode, why: out.why }, null, 2)}\n`);
    else progress(out.why ? `batch job ${s.jobId}: ${out.why}` : `batch job ${s.jobId} ended`);
    return interrupted ? 130 : out.exitCode;
  } finally {
    process.removeListener("SIGINT", onInt);
  }
}

/** Prints the job script; makes the default log root (Grid Engine needs it before the job starts). */
export async function scriptCommand(config: string, command: string[], o: BatchCliOptions): Promise<void> {
  if (o.wait || o.json) throw new UsageError("script prints a job script: --wait and --json belong to batch");
  const logRoot = (o.logDir ?? DEFAULT_BATCH_ROOT).replace(/^~(?=\/|$)/, "$HOME");
  const { spec, input } = await inputs(config, command, o, true, logRoot);
  const job = batchJob(spec, input);
  const made = logRoot.replace(/^\$HOME(?=\/|$)/, homedir());
  for (const w of await prepareLogRoot(made)) progress(`warning: ${w}`);
  for (const w of await checkPe(new SgeClient(), spec, input).catch((e: Error) => {
    if (e instanceof BatchUsageError) return [`${e.message} (the script would fail)`];
    throw e;
  }))
    progress(`warning: ${w}`);
  process.stdout.write(job.script);
}
