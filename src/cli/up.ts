/** `ray-sge up CONFIG`: start the cluster (or reconcile it) and say how to use it. */
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { RayClusterManager } from "../cluster/manager.js";
import type { AutoscalerMode } from "../cluster/requests.js";
import { StateDir } from "../cluster/state-dir.js";
import { defaultStateRoot, progress, seconds, specFrom, UsageError } from "./common.js";

const AUTOSCALER_MODES = ["head", "local", "off"] as const;

export async function upCommand(
  config: string,
  opts: { json?: boolean; timeout?: string; autoscaler?: string },
): Promise<void> {
  const timeoutMs = seconds(opts.timeout, "--timeout", 600) * 1000;
  const { spec, file, warnings } = await specFrom(config);
  for (const w of warnings) process.stderr.write(`ray-sge: warning: ${w}\n`);
  const mode = opts.autoscaler as AutoscalerMode | undefined;
  if (mode !== undefined && !AUTOSCALER_MODES.includes(mode))
    throw new UsageError(`--autoscaler wants one of ${AUTOSCALER_MODES.join(", ")}, not "${opts.autoscaler}"`);
  const manager = new RayClusterManager(spec, { log: progress, ...(mode ? { autoscaler: mode } : {}) });
  const ac = new AbortController();
  const onInt = () => ac.abort();
  process.once("SIGINT", onInt);
  try {
    const r = await manager.up({ timeoutMs, signal: ac.signal });
    // the config is kept with the state, and under the default root too, so that `ray-sge status NAME`
    // finds the cluster whatever its state_dir
    for (const dir of new Set([spec.stateDir, join(defaultStateRoot(), spec.name)])) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await copyFile(file, new StateDir(dir).configPath);
    }
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ cluster: spec.name, ...r, stateDir: spec.stateDir, tokenPath: manager.state.tokenPath }, null, 2)}\n`,
      );
      return;
    }
    process.stdout.write(
      [
        `Ray cluster ${spec.name} is up: head on ${r.head.host} (job ${r.head.job_id}), ${r.workersAlive} worker(s).`,
        `  address:   ${r.address}`,
        `  autoscaler: ${r.autoscaler}${r.autoscaler === "off" ? "" : `; events: ${manager.state.eventsPath}`}`,
        `  dashboard: http://${r.head.ip}:${r.head.dashboard_port}/ (asks for the token: ray-sge dashboard ${spec.name})`,
        `  drivers:   ray-sge submit ${spec.name} -- python app.py     (the head runs it; output streams here)`,
        `             eval "$(ray-sge env ${spec.name})"   then ray.init(), ray status, ray job list, ray list nodes ...`,
        `  status:    ray-sge status ${spec.name}     stop: ray-sge down ${spec.name}`,
        "",
      ].join("\n"),
    );
  } finally {
    process.removeListener("SIGINT", onInt);
  }
}
