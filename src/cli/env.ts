/**
 * `ray-sge env CLUSTER`: the exports that make this shell's drivers and Ray's own CLI use the
 * cluster. By default drivers here join through a driver node on this host (started if needed), so
 * `ray.init()` is a full Ray driver (tasks, actors, Ray Data, Tune) with this host's own address, and
 * RAY_ADDRESS is the GCS (what `ray status`, `ray logs`, `ray job`, `ray list` need). `--client`
 * uses Ray Client instead (nothing started here; no Ray Data on Ray 2.58).
 */

import { shellQuote } from "../base/shell.js";
import { RayClusterManager } from "../cluster/manager.js";
import { progress, specFrom, UsageError } from "./common.js";

export interface EnvOptions {
  json?: boolean;
  client?: boolean;
  /** commander's --no-driver-node */
  driverNode?: boolean;
}

/** Pure: the lines `eval` runs (values single-quoted; comments say what each is for). */
export function renderEnv(vars: Record<string, string>, comment: string): string {
  const lines = [`# ${comment}`];
  for (const [k, v] of Object.entries(vars)) lines.push(`export ${k}=${shellQuote(v)}`);
  return `${lines.join("\n")}\n`;
}

export async function envCommand(target: string, opts: EnvOptions): Promise<void> {
  if (opts.client && opts.driverNode === false)
    throw new UsageError("--client and --no-driver-node: give one (Ray Client starts nothing on this host anyway)");
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec, { log: progress });
  try {
    const conn = await manager.connection();
    const vars: Record<string, string> = {
      RAY_ADDRESS: opts.client ? conn.clientAddress : conn.gcsAddress,
      RAY_API_SERVER_ADDRESS: conn.dashboardUrl,
      RAY_AUTH_MODE: "token",
      RAY_AUTH_TOKEN_PATH: conn.tokenPath,
    };
    let how: string;
    if (opts.client) {
      how = `drivers connect through Ray Client (${conn.clientAddress}): tasks, actors and Tune; Ray Data needs the default (no --client); \`ray status\` and \`ray logs\` want --address=${conn.gcsAddress}`;
    } else if (opts.driverNode === false) {
      how = "no driver node: run drivers only on a host where a node of the cluster runs";
    } else {
      const d = await manager.ensureDriverNode(conn);
      how = `drivers on this host join the cluster through ${d.why}`;
    }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ cluster: spec.name, env: vars, gcsAddress: conn.gcsAddress, how })}\n`);
      return;
    }
    process.stdout.write(renderEnv(vars, `ray-sge env ${spec.name}: ${how}`));
  } finally {
    manager.close();
  }
}
