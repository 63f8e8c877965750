/** `ray-sge job list|status|logs|stop CLUSTER [ID]`: the drivers Ray's Jobs API runs in a cluster. */
import { RayClusterManager } from "../cluster/manager.js";
import { isTerminal, type JobsClient, type RayJob } from "../ray/jobs.js";
import { progress, specFrom, UsageError } from "./common.js";
import { exitCodeOf, follow, jobsClient } from "./submit.js";
import { formatTable } from "./table.js";

async function clientFor(target: string): Promise<{ name: string; jobs: JobsClient }> {
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec, { log: progress });
  const conn = await manager.connection();
  return { name: spec.name, jobs: jobsClient(conn.dashboardUrl, await manager.token()) };
}

function time(ms: number | undefined): string {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "-";
}

/** Pure: the table of `job list`. */
export function renderJobs(jobs: readonly RayJob[]): string {
  if (jobs.length === 0) return "no drivers submitted to this cluster\n";
  const rows = [["SUBMISSION ID", "STATUS", "EXIT", "STARTED", "ENDED", "ENTRYPOINT"]];
  for (const j of [...jobs].sort((a, b) => (a.startTimeMs ?? 0) - (b.startTimeMs ?? 0))) {
    const entry = j.entrypoint.replace(/^cd \S+ && exec /, "");
    rows.push([
      j.submissionId,
      j.status,
      j.driverExitCode === undefined ? "-" : String(j.driverExitCode),
      time(j.startTimeMs),
      time(j.endTimeMs),
      entry.length > 60 ? `${entry.slice(0, 57)}...` : entry,
    ]);
  }
  return `${formatTable(rows).join("\n")}\n`;
}

function need(id: string | undefined, what: string): string {
  if (!id) throw new UsageError(`ray-sge job ${what} CLUSTER SUBMISSION_ID (ids: ray-sge job list CLUSTER)`);
  return id;
}

export async function jobCommand(
  action: string,
  target: string,
  id: string | undefined,
  opts: { json?: boolean; follow?: boolean },
): Promise<number> {
  const actions = ["list", "status", "logs", "stop"];
  if (!actions.includes(action))
    throw new UsageError(`ray-sge job wants one of ${actions.join(", ")}, not "${action}"`);
  const { name, jobs } = await clientFor(target);
  if (action === "list") {
    const all = await jobs.list();
    process.stdout.write(opts.json ? `${JSON.stringify(all, null, 2)}\n` : renderJobs(all));
    return 0;
  }
  const sid = need(id, action);
  if (action === "status") {
    const j = await jobs.get(sid);
    if (opts.json) process.stdout.write(`${JSON.stringify(j, null, 2)}\n`);
    else
      process.stdout.write(
        `${j.submissionId} in ${name}: ${j.status}${j.driverExitCode === undefined ? "" : `, exit code ${j.driverExitCode}`}${j.message ? `\n  ${j.message}` : ""}\n`,
      );
    return 0;
  }
  if (action === "logs") {
    if (opts.follow) {
      const { job } = await follow(jobs, sid, { stopOnInterrupt: false });
      return job ? exitCodeOf(job, false) : 130;
    }
    const text = await jobs.logs(sid);
    process.stdout.write(opts.json ? `${JSON.stringify({ submissionId: sid, logs: text })}\n` : text);
    return 0;
  }
  // stop: ask, then wait (bounded) until Ray says it ended
  const asked = await jobs.stop(sid);
  let j = await jobs.get(sid);
  const deadline = Date.now() + 30_000;
  while (!isTerminal(j.status) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    j = await jobs.get(sid);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ submissionId: sid, stopped: asked, status: j.status })}\n`);
  else process.stdout.write(`${sid}: ${asked ? "stopped" : "had already ended"} (${j.status})\n`);
  return isTerminal(j.status) ? 0 : 1;
}
