/**
 * `ray-sge dashboard CLUSTER`: where Ray's dashboard is and how to log in. It listens on the head's
 * address (never on every interface) and asks for the cluster's token; from a laptop outside the
 * cluster's network, an ssh tunnel through the submit host reaches it.
 */
import { hostname, userInfo } from "node:os";
import { RayClusterManager } from "../cluster/manager.js";
import { progress, specFrom } from "./common.js";

export interface DashboardView {
  cluster: string;
  url: string;
  tokenPath: string;
  tunnel: string;
  tunnelUrl: string;
  token?: string;
}

/** Pure: the text of `ray-sge dashboard`. */
export function renderDashboard(v: DashboardView): string {
  return [
    `Ray dashboard of ${v.cluster}: ${v.url}`,
    "  log in: paste the cluster's token when the page asks (it is the content of",
    `          ${v.tokenPath}; \`ray-sge dashboard ${v.cluster} --token\` prints it)`,
    "  from a browser outside the cluster's network:",
    `          ${v.tunnel}`,
    `          then open ${v.tunnelUrl}`,
    "",
  ].join("\n");
}

export async function dashboardCommand(target: string, opts: { json?: boolean; token?: boolean }): Promise<void> {
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec, { log: progress });
  const conn = await manager.connection();
  if (opts.token && !opts.json) {
    process.stdout.write(`${await manager.token()}\n`);
    return;
  }
  const local = 8265;
  const view: DashboardView = {
    cluster: spec.name,
    url: `${conn.dashboardUrl}/`,
    tokenPath: conn.tokenPath,
    tunnel: `ssh -N -L ${local}:${conn.head.ip}:${conn.head.dashboard_port} ${userInfo().username}@${hostname()}`,
    tunnelUrl: `http://localhost:${local}/`,
  };
  if (opts.token) view.token = await manager.token();
  process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : renderDashboard(view));
}
