/**
 * `ray-sge submit CLUSTER [--working-dir DIR] [--no-wait] -- CMD...`: the driver runs in the cluster
 * (Ray's Jobs API: the head runs it, with the head's address, so every callback reaches it), its
 * output streams here, and this command exits with the driver's exit code. Without --working-dir the
 * driver starts in this directory (the shared filesystem); with it, DIR is uploaded as Ray's
 * runtime_env working_dir. It keeps running if this command is interrupted twice or the terminal goes:
 * `ray-sge job` follows it.
 */
import { hostname, userInfo } from "node:os";
import { shellWord } from "../base/shell.js";
import { RayClusterManager } from "../cluster/manager.js";
import { isTerminal, JobsClient, type RayJob } from "../ray/jobs.js";
import { packageWorkingDir } from "../ray/package.js";
import { progress, specFrom, UsageError } from "./common.js";

export interface SubmitOptions {
  workingDir?: string;
  /** commander's --no-wait */
  wait?: boolean;
  json?: boolean;
}

/** Pure: the shell command Ray runs on the head (it prints it in the driver's log: kept readable). */
export function entrypointFor(command: readonly string[], cwd: string | undefined): string {
  const cmd = command.map(shellWord).join(" ");
  return cwd === undefined ? cmd : `cd ${shellWord(cwd)} && exec ${cmd}`;
}

/** Pure: the exit code of `submit` for an ended driver (Ray reports a signal as a negative code). */
export function exitCodeOf(job: RayJob, stoppedByUs: boolean): number {
  if (job.status === "STOPPED") return stoppedByUs ? 130 : 143;
  const c = job.driverExitCode;
  if (c !== undefined) return c < 0 ? 128 - c : c & 255;
  return job.status === "SUCCEEDED" ? 0 : 1;
}

export function jobsClient(url: string, token: string): JobsClient {
  return new JobsClient({ url, token });
}

/**
 * Stream a job's output until it ends, then print what the stream missed (Ray's full log is the
 * reference). Ctrl-C stops the driver (a second one leaves it running). Returns the ended job, or
 * undefined when left running.
 */
export async function follow(
  jobs: JobsClient,
  id: string,
  opts: { stopOnInterrupt: boolean; write?: (s: string) => void },
): Promise<{ job?: RayJob; stoppedByUs: boolean }> {
  const write = opts.write ?? ((s: string) => process.stdout.write(s));
  let printed = 0;
  let stoppedByUs = false;
  let detached = false;
  const ac = new AbortController();
  const onInt = () => {
    if (!opts.stopOnInterrupt || stoppedByUs) {
      detached = true;
      progress(`left ${id} running: \`ray-sge job logs ... ${id} -f\` follows it`);
      ac.abort();
      return;
    }
    stoppedByUs = true;
    progress(`stopping the driver ${id} (Ctrl-C again leaves it running)`);
    jobs.stop(id).catch((e) => progress(`could not stop ${id}: ${(e as Error).message}`));
  };
  const onHup = () => {
    detached = true;
    ac.abort();
  };
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onInt);
  process.on("SIGHUP", onHup);
  try {
    await jobs
      .tail(
        id,
        (t) => {
          printed += t.length;
          write(t);
        },
        ac.signal,
      )
      .catch((e) => progress(`the log stream broke (${(e as Error).message}): reading the log instead`));
    for (;;) {
      if (detached) return { stoppedByUs };
      const job = await jobs.get(id);
      const all = await jobs.logs(id).catch(() => "");
      if (all.length > printed) {
        write(all.slice(printed));
        printed = all.length;
      }
      if (isTerminal(job.status)) return { job, stoppedByUs };
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    process.removeListener("SIGINT", onInt);
    process.removeListener("SIGTERM", onInt);
    process.removeListener("SIGHUP", onHup);
  }
}

export async function submitCommand(target: string, command: string[], opts: SubmitOptions): Promise<number> {
  if (command.length === 0)
    throw new UsageError("nothing to run: ray-sge submit CLUSTER [--working-dir DIR] [--no-wait] -- COMMAND [ARGS...]");
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec, { log: progress });
  const conn = await manager.connection();
  const jobs = jobsClient(conn.dashboardUrl, await manager.token());
  let runtimeEnv: Record<string, unknown> | undefined;
  if (opts.workingDir !== undefined) {
    const pkg = await packageWorkingDir(opts.workingDir);
    const uri = `gcs://${pkg.name}`;
    if (await jobs.packageExists(pkg.name))
      progress(`working dir ${opts.workingDir}: unchanged, already in the cluster`);
    else {
      progress(
        `uploading ${opts.workingDir} (${pkg.files} files, ${(pkg.zip.length / 1024 ** 2).toFixed(1)} MiB zipped)`,
      );
      await jobs.uploadPackage(pkg.name, pkg.zip);
    }
    runtimeEnv = { working_dir: uri };
  }
  const id = await jobs.submit({
    entrypoint: entrypointFor(command, opts.workingDir === undefined ? process.cwd() : undefined),
    ...(runtimeEnv ? { runtimeEnv } : {}),
    metadata: {
      submitted_by: "ray-sge",
      user: userInfo().username,
      host: hostname(),
      cwd: process.cwd(),
    },
  });
  if (opts.wait === false) {
    if (opts.json) process.stdout.write(`${JSON.stringify({ cluster: spec.name, submissionId: id })}\n`);
    else
      process.stdout.write(
        `${id}\n  follow: ray-sge job logs ${spec.name} ${id} -f\n  status: ray-sge job status ${spec.name} ${id}\n  stop:   ray-sge job stop ${spec.name} ${id}\n`,
      );
    return 0;
  }
  progress(`driver ${id} submitted to ${spec.name} (the head on ${conn.head.host} runs it); Ctrl-C stops it`);
  // with --json the driver's output goes to stderr, so that stdout is one JSON document
  const { job, stoppedByUs } = await follow(jobs, id, {
    stopOnInterrupt: true,
    ...(opts.json ? { write: (s: string) => process.stderr.write(s) } : {}),
  });
  if (!job) return 130;
  const code = exitCodeOf(job, stoppedByUs);
  if (job.status === "FAILED" && job.driverExitCode === undefined)
    progress(`the driver ${id} did not run: ${job.message ?? "see ray-sge job status"}`);
  else if (
    opts.workingDir === undefined &&
    (job.driverExitCode === 1 || job.driverExitCode === 2) &&
    /\bcd: /.test(await jobs.logs(id).catch(() => ""))
  )
    progress(
      `the driver could not start in ${process.cwd()} on the head's host ${conn.head.host}: is it on a shared filesystem? --working-dir DIR uploads it instead`,
    );
  else if (job.status === "STOPPED") progress(`the driver ${id} was stopped`);
  if (opts.json)
    process.stdout.write(
      `${JSON.stringify({ cluster: spec.name, submissionId: id, status: job.status, exitCode: code })}\n`,
    );
  return code;
}
