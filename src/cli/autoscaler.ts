/** `ray-sge autoscaler TARGET`: the autoscaler in the foreground (what the head job runs). */
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { Autoscaler } from "../autoscaler/autoscaler.js";
import { ClusterHandle } from "../cluster/handle.js";
import { pidAlive } from "../cluster/pid.js";
import type { ClusterSpec } from "../config/normalise.js";
import { parseSpecJson } from "../config/spec-schema.js";
import { specFrom, UsageError } from "./common.js";

/**
 * Run the autoscaler in the foreground until the head job ends (what the head job runs; also
 * `--autoscaler=local`). TARGET: a cluster name, its config, or the spec.json in its state dir.
 */
export async function autoscalerCommand(target: string, opts: { mode?: string; once?: boolean }): Promise<void> {
  let spec: ClusterSpec;
  if (target.endsWith(".json")) {
    const text = await readFile(target, "utf8").catch((e: Error) => {
      throw new UsageError(`cannot read the cluster spec ${target}: ${e.message}`);
    });
    try {
      spec = parseSpecJson(text, target);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  } else spec = (await specFrom(target)).spec;
  const say = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const cluster = new ClusterHandle(spec, { log: say });
  const other = await cluster.autoscalerInfo();
  if (other && other.pid !== process.pid && !(other.host === hostname() && !pidAlive(other.pid))) {
    throw new UsageError(
      `an autoscaler already runs for cluster ${spec.name}: ${other.mode}, pid ${other.pid} on ${other.host}`,
    );
  }
  const autoscaler = new Autoscaler(cluster, { mode: opts.mode ?? "local", log: say });
  if (opts.once) {
    const r = await autoscaler.round();
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const outcome = await autoscaler.run(ac.signal);
  say(`autoscaler of ${spec.name} ends: ${outcome}`);
}
