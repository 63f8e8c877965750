/** The text of `ray-sge status`. Pure. */
import type { AutoscalerEvent } from "../autoscaler/events.js";
import { isDriverInstance } from "../cluster/driver-node.js";
import type { ClusterStatus } from "../cluster/manager.js";
import type { AutoscalerHeartbeat } from "../cluster/state-dir.js";
import { formatTable } from "./table.js";

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
      ? `${m}m${String(seconds % 60).padStart(2, "0")}s`
      : `${seconds}s`;
}

export interface StatusView extends ClusterStatus {
  /** The cluster's state directory (where its token, logs and events are). */
  stateDir: string;
  /** When the cluster is known from Grid Engine alone: what is missing. */
  lost?: string;
  autoscaler?: AutoscalerHeartbeat | undefined;
  events?: AutoscalerEvent[];
}

function eventText(e: AutoscalerEvent): string {
  const { time, event, ...rest } = e;
  const why = rest.why;
  delete rest.why;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${time.slice(11, 19)} ${event}${fields ? ` ${fields}` : ""}${why ? `: ${why}` : ""}`;
}

function shape(r: Record<string, number>): string {
  return Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

export function renderStatus(s: StatusView): string {
  const lines = [`Cluster ${s.name}`];
  if (s.headGone) lines.push(`  head: gone: ${s.headGone}; \`ray-sge down ${s.name}\` removes what is left`);
  if (s.headUnpublished) lines.push(`  head: ${s.headUnpublished}`);
  if (s.lost) lines.push(`  ${s.lost}`);
  if (s.head) {
    lines.push(
      `  head: ${s.head.host} (job ${s.head.job_id}), GCS ${s.head.ip}:${s.head.gcs_port}, dashboard http://${s.head.ip}:${s.head.dashboard_port}/`,
    );
  }
  if (s.rayError) lines.push(`  Ray: unknown (${s.rayError})`);
  if (s.nodes.length === 0) lines.push("  no jobs in Grid Engine");
  const rows = [["NODE", "TYPE", "SGE", "HOST", "RAY", "CPU USED/TOTAL", "IDLE", "H_RT LEFT"]];
  for (const n of s.nodes) {
    const total = n.resources?.CPU;
    // Ray leaves a resource out of `available` when none of it is free
    const used = total === undefined || n.available === undefined ? undefined : total - (n.available.CPU ?? 0);
    rows.push([
      n.instanceId,
      n.nodeType,
      n.sgeState,
      n.host ?? "-",
      n.ray,
      total === undefined ? "-" : `${used ?? "?"}/${total}`,
      n.idleMs ? duration(Math.round(n.idleMs / 1000)) : "-",
      n.secondsLeft === undefined ? "-" : duration(n.secondsLeft),
    ]);
  }
  if (s.nodes.length > 0) lines.push(...formatTable(rows));
  for (const n of s.nodes) if (n.waitingBecause) lines.push(`  ${n.instanceId} waits: ${n.waitingBecause}`);
  for (const d of s.pendingDemand) {
    lines.push(
      `  pending demand: ${d.count} x ${Object.entries(d.resources)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ")}`,
    );
  }
  for (const r of s.infeasible) lines.push(`  infeasible: {${shape(r)}}: no node type can hold it (never submitted)`);
  for (const f of s.failures) lines.push(`  failed worker (${f.nodeType}, ${f.at.slice(11, 19)}): ${f.reason}`);
  for (const n of s.strayRayNodes)
    lines.push(
      isDriverInstance(n.instanceId)
        ? `  driver node ${n.instanceId} on ${n.ip} (ray-sge env: drivers there join through it; no CPUs)`
        : `  Ray node ${n.instanceId || n.nodeId} on ${n.ip} has no job of this cluster`,
    );
  if (s.autoscaler)
    lines.push(
      `  autoscaler: ${s.autoscaler.mode}, pid ${s.autoscaler.pid} on ${s.autoscaler.host}${s.autoscaler.skipping ? ` (skipping rounds: ${s.autoscaler.skipping})` : ""}`,
    );
  else if (s.head)
    lines.push(
      `  autoscaler: not running${s.head.autoscaler && s.head.autoscaler !== "head" ? ` (${s.head.autoscaler})` : ""}`,
    );
  if (s.events && s.events.length > 0) {
    lines.push("  recent autoscaler events:");
    for (const e of s.events) lines.push(`    ${eventText(e)}`);
  }
  return `${lines.join("\n")}\n`;
}
