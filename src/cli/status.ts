/** `ray-sge status NAME|CONFIG [--watch]`: the cluster's jobs and Ray nodes side by side. */
import { recentEvents } from "../autoscaler/events.js";
import { RayClusterManager } from "../cluster/manager.js";
import { clusterFrom, UsageError } from "./common.js";
import { renderStatus, type StatusView } from "./render-status.js";

export async function statusCommand(target: string, opts: { json?: boolean; watch?: string | boolean }): Promise<void> {
  const { spec, lost } = await clusterFrom(target);
  const manager = new RayClusterManager(spec);
  const view = async (): Promise<StatusView> => {
    const [s, autoscaler, events] = await Promise.all([
      manager.status(),
      manager.autoscalerInfo(),
      recentEvents(manager.state, 8),
    ]);
    // this incarnation's events only: the log is kept across `down` and `up`
    const since = (s.head?.started_at ?? 0) * 1000;
    return {
      ...s,
      stateDir: spec.stateDir,
      autoscaler,
      events: events.filter((e) => Date.parse(e.time) >= since),
      ...(lost ? { lost } : {}),
    };
  };
  if (!opts.watch) {
    const s = await view();
    process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
    return;
  }
  const every = typeof opts.watch === "string" ? Number(opts.watch) : 2;
  if (!(every > 0)) throw new UsageError(`--watch wants seconds, not ${opts.watch}`);
  let stop = false;
  process.once("SIGINT", () => {
    stop = true;
  });
  while (!stop) {
    const s = await view();
    // JSON: one document per line; text: redraw the screen
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(s)}\n`
        : `\x1b[H\x1b[2J${new Date().toLocaleTimeString()}  (every ${every} s, Ctrl-C ends)\n${renderStatus(s)}`,
    );
    for (let waited = 0; waited < every * 1000 && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
  }
}
