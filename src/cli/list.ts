/** `ray-sge list`: this user's clusters, from the state root and from Grid Engine. */
import { readdir } from "node:fs/promises";
import { parseJobName } from "../cluster/identity.js";
import { RayClusterManager } from "../cluster/manager.js";
import type { ClusterSpec } from "../config/normalise.js";
import { clusterFrom, clustersInGridEngine, defaultStateRoot } from "./common.js";

export async function listCommand(opts: { json?: boolean }): Promise<void> {
  const root = defaultStateRoot();
  const names = (await readdir(root).catch(() => [] as string[])).sort();
  const rows: { name: string; jobs: number; head?: string; address?: string; lost?: string }[] = [];
  // clusters Grid Engine knows whose state directory is gone are listed too, and said to be
  const inGridEngine = await clustersInGridEngine();
  for (const name of [...new Set([...names, ...inGridEngine])].sort()) {
    let spec: ClusterSpec;
    let lost: string | undefined;
    try {
      ({ spec, lost } = await clusterFrom(name));
    } catch {
      continue;
    }
    const m = new RayClusterManager(spec);
    const [jobs, head] = await Promise.all([m.jobs(), m.state.readHeadInfo()]);
    // the head job: the one head.json names, else (its state dir lost) the one named as the head
    const headRow = jobs.find((j) =>
      head ? String(j.id) === head.job_id : parseJobName(spec.name, j.name)?.role === "head",
    );
    const row: (typeof rows)[number] = { name, jobs: jobs.length };
    if (lost) row.lost = "state directory missing";
    if (headRow) row.head = `${headRow.state}${headRow.host ? ` on ${headRow.host}` : ""}`;
    if (head && headRow?.status === "running") row.address = `${head.ip}:${head.gcs_port}`;
    rows.push(row);
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no clusters in ${root}\n`);
    return;
  }
  for (const r of rows)
    process.stdout.write(
      `${r.name.padEnd(20)} ${String(r.jobs).padStart(3)} node(s)  head ${r.head ?? "-"}  ${r.address ?? ""}${r.lost ? `  (${r.lost}: ray-sge down ${r.name} removes it)` : ""}\n`,
    );
}
