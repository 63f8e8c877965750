/** The waits of `up`: for the head to publish its address, and for workers to join Ray. */
import { open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { sleep } from "../base/sleep.js";
import { ClusterError } from "./errors.js";
import type { ClusterHandle } from "./handle.js";
import { headJobName } from "./identity.js";
import { explainRayFailure } from "./ray-failures.js";
import { lastScriptError } from "./script-parts.js";
import { type HeadInfo, LOG_NAMES } from "./state-dir.js";

/**
 * Until the head job publishes head.json; shows Grid Engine's reason while it waits, and fails with
 * the job's own words when it ended, went to error, or ran without publishing.
 */
export async function waitForHead(
  h: ClusterHandle,
  headJob: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<HeadInfo> {
  let lastSaid = "";
  let lastAsked = 0;
  let reason: string | undefined;
  let state = "";
  while (Date.now() < deadline) {
    const info = await h.state.readHeadInfo();
    if (info && info.job_id === String(headJob)) return info;
    const [row] = await h.sge.listJobs({ jobIds: [headJob] });
    if (!row) {
      const why = await whyHeadEnded(h, headJob);
      throw new ClusterError(`the head job ${headJob} ended before Ray came up${why}`);
    }
    state = row.state;
    if (row.status === "error") {
      const d = await h.sge.jobDetail(headJob).catch(() => undefined);
      throw new ClusterError(
        `the head job ${headJob} is in error state: ${d?.tasks[0]?.messages.join("; ") ?? "see qstat -j"}`,
      );
    }
    if (row.status === "running" && row.startedAtMs !== undefined && Date.now() - row.startedAtMs > 120_000) {
      throw new ClusterError(
        `the head job ${headJob} has run for ${Math.round((Date.now() - row.startedAtMs) / 1000)} s without publishing ${h.state.headInfoPath} (state directory lost or not shared with ${row.host}?): \`ray-sge down ${h.spec.name}\`, then up again`,
      );
    }
    if (row.status !== "pending") reason = undefined;
    else if (Date.now() - lastAsked > 5000) {
      // Grid Engine's own words for why the job waits, asked every few seconds
      lastAsked = Date.now();
      const msgs = (await h.sge.jobDetail(headJob).catch(() => undefined))?.schedulingMessages ?? [];
      reason =
        msgs.length === 0
          ? undefined
          : `${msgs[0]}${msgs.length > 1 ? ` (and ${msgs.length - 1} more: qstat -j ${headJob})` : ""}`;
    }
    const say = `head job ${headJob}: ${row.state}${row.host ? ` on ${row.host}` : ""}${reason ? `, waiting: ${reason}` : ""}`;
    if (say !== lastSaid) h.log(say);
    lastSaid = say;
    await sleep(500, signal);
  }
  throw new ClusterError(
    state.includes("qw")
      ? `the head job ${headJob} was still waiting in the queue when the time ran out${reason ? `: ${reason}` : ""} (raise --timeout, or change the request)`
      : `the head did not publish its address in time (head job ${headJob}, ${state}); see ${h.state.logDir}`,
  );
}

/** A log's text, its last MiB when it is longer (what Ray says last is what killed it). */
async function tailOf(file: string): Promise<string> {
  const f = await open(file, "r").catch(() => undefined);
  if (!f) return "";
  try {
    const { size } = await f.stat();
    const length = Math.min(size, 1024 * 1024);
    const buf = Buffer.alloc(length);
    await f.read(buf, 0, length, size - length);
    return buf.toString("utf8");
  } finally {
    await f.close();
  }
}

/** Why a node's Ray died, from the logs its job kept (logs/ray/<instance>/), in plain words. */
async function rayFailure(h: ClusterHandle, instance: string): Promise<string | undefined> {
  const dir = join(h.state.rayLogDir, instance);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^(raylet|gcs_server)\./.test(n));
  return explainRayFailure(
    await Promise.all(names.map(async (name) => ({ name, text: await tailOf(join(dir, name)) }))),
  );
}

/** Accounting, what Ray's logs say and the job script's last ERROR line: why a head job ended. */
async function whyHeadEnded(h: ClusterHandle, jobId: number): Promise<string> {
  try {
    const [a] = await h.sge.accounting(jobId, { name: headJobName(h.spec.name) });
    const log = h.state.log(LOG_NAMES.head(jobId));
    // Ray's own cause, when its logs name one; else the job script's own words for why it stopped
    // (setup failed, no ray[default], ...)
    const said = (await rayFailure(h, `${jobId}.0`)) ?? lastScriptError(await readFile(log, "utf8").catch(() => ""));
    return a
      ? `: exit status ${a.exitStatus}${a.failed ? `, failed ${a.failed} (${a.failedReason ?? ""})` : ""} on ${a.host}${said ? `: ${said}` : ""}; its log: ${log}`
      : said
        ? `: ${said}; its log: ${log}`
        : "";
  } catch {
    return "";
  }
}

/** Until `want` workers and the head are ALIVE in Ray (the GCS lists a node once its raylet has reported). */
export async function waitForWorkers(
  h: ClusterHandle,
  info: HeadInfo,
  want: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<number> {
  let last = -1;
  let looked = 0;
  while (Date.now() < deadline) {
    // a head whose Ray died after it published its address ends its job: say so now, not at the deadline
    if (Date.now() - looked >= 3000) {
      looked = Date.now();
      const headJob = Number(info.job_id);
      const rows = await h.sge.listJobs({ jobIds: [headJob] }).catch(() => undefined);
      // (a failed qstat is no news; a suspended head may resume: only an end, an error or a deletion count)
      const over = rows?.find((r) => r.status === "error" || r.status === "deleting");
      if (rows && (rows.length === 0 || over))
        throw new ClusterError(
          `the head job ${headJob} ${over ? `is ${over.state}` : "ended"} after its Ray came up${over ? "" : await whyHeadEnded(h, headJob)}`,
        );
    }
    const nodes = await h.rayNodes(info).catch(() => undefined);
    const alive = nodes?.filter((n) => n.state === "ALIVE" && !n.isHead).length ?? 0;
    if (alive !== last) h.log(`Ray: head up at ${info.ip}:${info.gcs_port}, ${alive}/${want} worker(s) joined`);
    last = alive;
    if (nodes && alive >= want && nodes.some((n) => n.isHead && n.state === "ALIVE")) return alive;
    await sleep(1000, signal);
  }
  throw new ClusterError(
    `only ${last} of ${want} workers joined in time; see ${h.state.logDir} and \`ray-sge status ${h.spec.name}\``,
  );
}
