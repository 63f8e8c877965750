/** `ray-sge down NAME|CONFIG`: delete the cluster's jobs, wait until they are gone; logs are kept. */
import { stat } from "node:fs/promises";
import { RayClusterManager } from "../cluster/manager.js";
import { clusterFrom, progress, seconds } from "./common.js";

export async function downCommand(target: string, opts: { json?: boolean; timeout?: string }): Promise<void> {
  const timeoutMs = seconds(opts.timeout, "--timeout", 120) * 1000;
  const { spec, lost } = await clusterFrom(target);
  if (lost) progress(lost);
  const manager = new RayClusterManager(spec, { log: progress });
  const r = await manager.shutdown({ timeoutMs });
  const kept = await stat(manager.state.logDir).then(
    () => `logs kept in ${manager.state.logDir}`,
    () => `its state directory ${manager.state.path} is gone, and its logs with it`,
  );
  if (opts.json) process.stdout.write(`${JSON.stringify({ cluster: spec.name, ...r, ...(lost ? { lost } : {}) })}\n`);
  else
    process.stdout.write(
      r.deleted.length
        ? `Cluster ${spec.name}: deleted job(s) ${r.deleted.join(", ")}; ${kept}\n`
        : `Cluster ${spec.name}: no jobs (already down)\n`,
    );
}
