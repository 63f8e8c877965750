/**
 * Submitting a batch job: the PE is checked first (its other hosts are reached with qrsh -inherit,
 * which needs control_slaves TRUE), the log root made private, then one qsub. Nothing is submitted
 * when a check fails.
 */
import { chmod, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ClusterSpec } from "../config/normalise.js";
import type { SgeClient } from "../sge/client.js";
import { EXIT_FILE } from "./exit.js";
import { type BatchJob, batchJob } from "./job.js";
import { type BatchInput, BatchUsageError, batchPe } from "./request.js";

export interface BatchPaths {
  /** The driver's stdout. */
  stdout: string;
  /** ray-sge's lines, Ray's start output and the driver's stderr. */
  stderr: string;
  /** exit_code, ray/HOST/ (Ray's logs), nodes/HOST.log, head.json, token. */
  jobDir: string;
  exitFile: string;
}

export function batchPaths(logRoot: string, jobId: number): BatchPaths {
  const jobDir = join(logRoot, String(jobId));
  return {
    stdout: join(logRoot, `${jobId}.out`),
    stderr: join(logRoot, `${jobId}.err`),
    jobDir,
    exitFile: join(jobDir, EXIT_FILE),
  };
}

/**
 * Can the PE carry a batch job? An unknown PE, or one without control_slaves (qrsh -inherit is refused
 * there), is a usage error naming the PEs that would do. Warnings (a PE qconf could not show) are
 * returned, not thrown.
 */
export async function checkPe(
  sge: SgeClient,
  spec: ClusterSpec,
  input: Pick<BatchInput, "pe" | "slots">,
): Promise<string[]> {
  const name = batchPe(spec, input);
  let pes: Awaited<ReturnType<SgeClient["parallelEnvironments"]>>;
  try {
    pes = await sge.parallelEnvironments();
  } catch (e) {
    return [`could not check parallel environment ${name} (qconf: ${(e as Error).message}): submitting anyway`];
  }
  const pe = pes.find((p) => p.name === name);
  const good = pes.filter((p) => p.controlSlaves).map((p) => p.name);
  const others = good.length > 0 ? `: use --pe with one of ${good.join(", ")}` : ": ask your admin for one";
  if (!pe) throw new BatchUsageError(`parallel environment ${name} does not exist (qconf -spl)${others}`);
  if (!pe.controlSlaves)
    throw new BatchUsageError(
      `parallel environment ${name} has control_slaves FALSE: a batch job starts Ray on its other hosts with qrsh -inherit, which Grid Engine allows only in a PE with control_slaves TRUE (qconf -sp ${name})${others}`,
    );
  if (pe.slots < input.slots)
    throw new BatchUsageError(
      `parallel environment ${name} has ${pe.slots} slots in all, fewer than --slots ${input.slots}`,
    );
  return [];
}

/** The log root: made 0700 when new; an existing one that others can enter gets a warning. */
export async function prepareLogRoot(logRoot: string): Promise<string[]> {
  const existed = await stat(logRoot).then(
    (s) => s,
    () => undefined,
  );
  if (!existed) {
    await mkdir(logRoot, { recursive: true, mode: 0o700 });
    await chmod(logRoot, 0o700);
    return [];
  }
  if (!existed.isDirectory()) throw new BatchUsageError(`the log dir ${logRoot} is not a directory`);
  return (existed.mode & 0o077) === 0
    ? []
    : [
        `the log dir ${logRoot} is open to other users (mode ${(existed.mode & 0o777).toString(8)}): the drivers' output there is readable to them (chmod 700 ${logRoot})`,
      ];
}

export interface Submitted {
  jobId: number;
  job: BatchJob;
  paths: BatchPaths;
  warnings: string[];
}

export async function submitBatch(sge: SgeClient, spec: ClusterSpec, input: BatchInput): Promise<Submitted> {
  const job = batchJob(spec, input);
  const warnings = [...(await checkPe(sge, spec, input)), ...(await prepareLogRoot(input.logRoot))];
  const r = await sge.submit(job.options);
  return { jobId: r.jobId, job, paths: batchPaths(input.logRoot, r.jobId), warnings };
}
