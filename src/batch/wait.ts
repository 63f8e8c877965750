/**
 * `batch --wait`: follow a batch job from the queue to its end. While it waits, Grid Engine's reason;
 * while it runs, its output files as they grow (stdout to stdout, the rest to stderr); at its end,
 * the driver's exit code from JOB_DIR/exit_code, or accounting's words when the job never wrote it.
 * A failed qstat is "unknown", never "ended": it is retried.
 */
import { readFile } from "node:fs/promises";
import { sleep } from "../base/sleep.js";
import { FileTail } from "../base/tail.js";
import { lastScriptError } from "../cluster/script-parts.js";
import type { SgeClient } from "../sge/client.js";
import { type ExitRecord, parseExitFile } from "./exit.js";
import { BatchError, batchJobName } from "./request.js";
import type { BatchPaths } from "./submit.js";

export interface BatchOutcome {
  jobId: number;
  /** What `batch --wait` exits with: the driver's own code (99 and 100 included). */
  exitCode: number;
  record?: ExitRecord;
  why: string;
}

export interface WaitOptions {
  cluster: string;
  log: (line: string) => void;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  signal?: AbortSignal;
  pollMs?: number;
}

export async function waitBatch(
  sge: SgeClient,
  jobId: number,
  paths: BatchPaths,
  opts: WaitOptions,
): Promise<BatchOutcome> {
  const poll = opts.pollMs ?? 1000;
  const tails: [FileTail, (text: string) => void][] = [
    [await FileTail.of(paths.stdout), opts.stdout],
    [await FileTail.of(paths.stderr), opts.stderr],
  ];
  const pump = async () => {
    for (const [tail, write] of tails) {
      const text = await tail.read();
      if (text) write(text);
    }
  };
  let said = "";
  let reasonAt = 0;
  let reason = "";
  let qstatFailing = false;
  const say = (s: string) => {
    if (s !== said) opts.log(s);
    said = s;
  };
  for (;;) {
    await pump();
    let row: Awaited<ReturnType<SgeClient["listJobs"]>>[number] | undefined;
    try {
      [row] = await sge.listJobs({ jobIds: [jobId] });
      if (qstatFailing) opts.log("qstat answers again");
      qstatFailing = false;
    } catch (e) {
      if (!qstatFailing)
        opts.log(`qstat failed (${(e as Error).message.split("\n")[0]}): the job's state is unknown, asking again`);
      qstatFailing = true;
      await sleep(poll * 3, opts.signal).catch(() => undefined);
      continue;
    }
    if (!row) break;
    if (row.status === "error") {
      const d = await sge.jobDetail(jobId).catch(() => undefined);
      const msgs = d?.tasks.flatMap((t) => t.messages) ?? [];
      throw new BatchError(
        `batch job ${jobId} is in error state (${row.state}): ${msgs.join("; ") || "see qstat -j"}; it stays queued: fix the cause and \`qmod -cj ${jobId}\`, or \`qdel ${jobId}\``,
      );
    }
    if (row.status === "pending") {
      if (Date.now() - reasonAt > 5000) {
        reasonAt = Date.now();
        const msgs = (await sge.jobDetail(jobId).catch(() => undefined))?.schedulingMessages ?? [];
        reason = msgs[0]
          ? `: ${msgs[0]}${msgs.length > 1 ? ` (and ${msgs.length - 1} more: qstat -j ${jobId})` : ""}`
          : "";
      }
      say(`batch job ${jobId} waits in the queue (${row.state})${reason}`);
    } else {
      say(
        `batch job ${jobId} ${row.status === "running" ? "runs" : `is ${row.status}`}${row.host ? ` (master ${row.host})` : ""}`,
      );
    }
    await sleep(poll, opts.signal).catch(() => undefined);
  }
  return ended(sge, jobId, paths, opts.cluster, pump);
}

/** The job is gone from qstat: its exit record (a shared filesystem may show it a moment late), else accounting. */
async function ended(
  sge: SgeClient,
  jobId: number,
  paths: BatchPaths,
  cluster: string,
  pump: () => Promise<unknown>,
): Promise<BatchOutcome> {
  let record: ExitRecord | undefined;
  for (let k = 0; k < 10 && !record; k++) {
    record = parseExitFile(await readFile(paths.exitFile, "utf8").catch(() => ""));
    if (!record) await sleep(500);
  }
  await pump();
  if (record) return { jobId, exitCode: record.driverExitCode, record, why: record.why };
  const acct = await sge
    .accounting(jobId, { name: batchJobName(cluster) })
    // a record per host (each qrsh -inherit task's too): the master's is the job's, written last
    .then((a) => a.reduce((m, x) => ((x.endedAt?.getTime() ?? 0) >= (m.endedAt?.getTime() ?? 0) ? x : m)))
    .catch(() => undefined);
  if (!acct)
    return { jobId, exitCode: 1, why: `batch job ${jobId} ended without running a driver (deleted while queued?)` };
  // the job script's own words for why it stopped (a setup command failed, no Ray on PATH ...)
  const said = lastScriptError(await readFile(paths.stderr, "utf8").catch(() => ""));
  const failed = acct.failed ? `, failed ${acct.failed}${acct.failedReason ? ` (${acct.failedReason})` : ""}` : "";
  return {
    jobId,
    exitCode: acct.exitStatus === 0 ? 1 : acct.exitStatus,
    why: `batch job ${jobId} ended before its driver's exit code was written (${said ?? "a setup command exited, or killed: qdel, h_rt or its host?"}): Grid Engine says exit status ${acct.exitStatus}${failed}; its log: ${paths.stderr}`,
  };
}
