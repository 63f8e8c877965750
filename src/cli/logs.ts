/** `ray-sge logs NAME [--node ID] [--follow]`: the nodes' job logs (and `--ray`: Ray's own, kept). */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { RayClusterManager } from "../cluster/manager.js";
import { nodeLogName } from "../cluster/state-dir.js";
import { specFrom, UsageError } from "./common.js";
import { follow } from "./follow.js";

export async function logsCommand(
  target: string,
  opts: { node?: string; follow?: boolean; lines?: string; json?: boolean; ray?: boolean; file?: string },
): Promise<void> {
  if (opts.ray) {
    if (opts.follow) throw new UsageError("--ray shows the logs nodes kept when their job ended: no --follow");
    const { rayLogsCommand } = await import("./ray-logs.js");
    return rayLogsCommand(target, opts);
  }
  if (opts.file) throw new UsageError("--file goes with --ray (Ray's own logs of a node)");
  const { spec } = await specFrom(target);
  const manager = new RayClusterManager(spec);
  const [status, files] = await Promise.all([
    manager.status(),
    readdir(manager.state.logDir).catch(() => [] as string[]),
  ]);
  let targets: { id: string; file: string }[];
  if (opts.node) {
    const n = status.nodes.find((x) => x.instanceId === opts.node || String(x.jobId) === opts.node);
    const m = /^(\d+)\.(\d+)$/.exec(opts.node);
    const file = n
      ? manager.state.log(nodeLogName(n.role, n.nodeType, n.jobId, n.taskId))
      : files
          .map((f) => join(manager.state.logDir, f))
          .find((f) => m && (f.endsWith(`.${m[1]}.${m[2]}.out`) || (m[2] === "0" && f.endsWith(`head.${m[1]}.out`))));
    if (!file) throw new UsageError(`no node ${opts.node} in cluster ${spec.name} (see ray-sge status ${spec.name})`);
    targets = [{ id: opts.node, file }];
  } else {
    targets = status.nodes.map((n) => ({
      id: n.instanceId,
      file: manager.state.log(nodeLogName(n.role, n.nodeType, n.jobId, n.taskId)),
    }));
    if (targets.length === 0) {
      process.stdout.write(
        `cluster ${spec.name} has no jobs; earlier logs are in ${manager.state.logDir}:\n${files.map((f) => `  ${f}`).join("\n")}\n`,
      );
      return;
    }
  }
  const lines = Number(opts.lines ?? 40);
  if (opts.json) {
    const logs = await Promise.all(
      targets.map(async (t) => ({
        node: t.id,
        file: t.file,
        tail: (await readFile(t.file, "utf8").catch(() => ""))
          .split("\n")
          .slice(-lines - 1)
          .join("\n"),
      })),
    );
    const rayLogs = { kept: manager.state.rayLogDir, live: "ray logs (after ray-sge env)" };
    process.stdout.write(`${JSON.stringify({ cluster: spec.name, logs, rayLogs }, null, 2)}\n`);
    return;
  }
  for (const t of targets) {
    const text = await readFile(t.file, "utf8").catch(() => "");
    process.stdout.write(
      `==> ${t.id} (${t.file}) <==\n${text
        .split("\n")
        .slice(-lines - 1)
        .join("\n")}${text.endsWith("\n") || !text ? "" : "\n"}`,
    );
  }
  process.stdout.write(
    `Ray's own logs: ray-sge logs ${spec.name} --ray (kept in ${manager.state.rayLogDir} when each node's job ends); while nodes run, \`ray logs\` after eval "$(ray-sge env ${spec.name})"\n`,
  );
  if (!opts.follow) return;
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());
  await follow(targets, ac.signal);
}
