/** `ray-sge scale NAME --workers N [--type T] [--force]`. */
import { RayClusterManager } from "../cluster/manager.js";
import { progress, specFrom, UsageError } from "./common.js";

export async function scaleCommand(
  target: string,
  opts: { workers: string; type?: string; force?: boolean; json?: boolean },
): Promise<void> {
  const workers = Number(opts.workers);
  if (!Number.isInteger(workers) || workers < 0)
    throw new UsageError(`--workers wants a whole number, not ${opts.workers}`);
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec, { log: progress });
  const r = await manager.scale(opts.type, workers, opts.force ? { force: true } : {});
  const auto = await manager.autoscalerInfo();
  if (auto)
    progress(
      `note: the autoscaler (${auto.mode}) keeps following Ray's demand: it removes idle workers above min_workers after idle_timeout_minutes (${spec.idleTimeoutMinutes}) and adds workers for waiting work`,
    );
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const now = r.before + (r.added.length ? workers - r.before : 0) - r.removed.length;
  process.stdout.write(
    `${r.type} workers: ${r.before} -> ${now}${r.kept.length ? ` (kept ${r.kept.length} busy: ${r.kept.map((k) => k.node).join(", ")}; --force removes them)` : ""}\n`,
  );
}
