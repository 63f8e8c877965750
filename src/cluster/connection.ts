/**
 * How to reach a running cluster: the GCS (Ray's own tools, drivers on a Ray node), the dashboard
 * (Jobs API, state API, the web UI), Ray Client, and the token. Pure: from the head's published
 * address (head.json) and Grid Engine's view of the head job.
 */
import type { JobEntry } from "../sge/qstat.js";
import type { HeadInfo } from "./state-dir.js";

export interface Connection {
  cluster: string;
  head: HeadInfo;
  /** ip:port of the GCS: RAY_ADDRESS for Ray's CLI and drivers on a node of the cluster. */
  gcsAddress: string;
  /** http://ip:port of the dashboard: Jobs API, state API, web UI (token required). */
  dashboardUrl: string;
  /** ray://ip:port of Ray Client (tasks, actors, Tune; not Ray Data on Ray 2.58). */
  clientAddress: string;
  tokenPath: string;
}

export type ConnectionResult = { ok: true; connection: Connection } | { ok: false; why: string };

export function connectionFrom(
  cluster: string,
  head: HeadInfo | undefined,
  jobs: readonly JobEntry[],
  tokenPath: string,
): ConnectionResult {
  if (!head) return { ok: false, why: `cluster ${cluster} has no published head address (is it up?)` };
  const job = jobs.find((j) => String(j.id) === head.job_id);
  if (!job) return { ok: false, why: `the head job ${head.job_id} of cluster ${cluster} is gone` };
  if (job.status !== "running")
    return { ok: false, why: `the head job ${head.job_id} of cluster ${cluster} is ${job.state}, not running` };
  return {
    ok: true,
    connection: {
      cluster,
      head,
      gcsAddress: `${head.ip}:${head.gcs_port}`,
      dashboardUrl: `http://${head.ip}:${head.dashboard_port}`,
      clientAddress: `ray://${head.ip}:${head.client_port}`,
      tokenPath,
    },
  };
}
