/**
 * `ray-sge logs CLUSTER --ray [--node ID] [--file GLOB]`: Ray's own logs (raylet, GCS, workers'
 * stdout, Tune's errors) as each node's job kept them in the cluster's log dir when it ended. While a
 * node runs they are in its private temp dir; Ray's `ray logs` reads them there (after ray-sge env).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { StateDir } from "../cluster/state-dir.js";
import { progress, specFrom, UsageError } from "./common.js";

export interface KeptFile {
  path: string;
  bytes: number;
}

async function filesUnder(dir: string): Promise<KeptFile[]> {
  const out: KeptFile[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push({ path: relative(dir, p), bytes: (await stat(p)).size });
    }
  };
  await walk(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Pure: does a file name match a glob of `*` and `?` (on the name or the path under the node's dir)? */
export function globMatch(glob: string, path: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(path) || re.test(path.split("/").at(-1) ?? path);
}

function size(b: number): string {
  return b >= 1024 ** 2 ? `${(b / 1024 ** 2).toFixed(1)}M` : b >= 1024 ? `${(b / 1024).toFixed(0)}K` : `${b}B`;
}

export async function rayLogsCommand(
  target: string,
  opts: { node?: string; file?: string; lines?: string; json?: boolean },
): Promise<void> {
  const { spec } = await specFrom(target);
  const state = new StateDir(spec.stateDir);
  const root = state.rayLogDir;
  const nodes = (await readdir(root).catch(() => [] as string[])).sort();
  if (!opts.node) {
    if (opts.file) throw new UsageError("--file needs --node ID (see ray-sge logs CLUSTER --ray)");
    const list = await Promise.all(
      nodes.map(async (n) => ({ node: n, dir: join(root, n), files: await filesUnder(join(root, n)) })),
    );
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ cluster: spec.name, dir: root, nodes: list }, null, 2)}\n`);
      return;
    }
    if (list.length === 0) {
      process.stdout.write(
        `no Ray logs kept yet in ${root}: each node keeps them there when its job ends; while it runs, \`ray logs\` reads them (after eval "$(ray-sge env ${spec.name})")\n`,
      );
      return;
    }
    process.stdout.write(`Ray's logs kept in ${root} (per node, when its job ended):\n`);
    for (const n of list)
      process.stdout.write(
        `  ${n.node.padEnd(22)} ${String(n.files.length).padStart(4)} files ${size(n.files.reduce((s, f) => s + f.bytes, 0)).padStart(7)}\n`,
      );
    process.stdout.write(`one node's files: ray-sge logs ${spec.name} --ray --node ID [--file 'worker-*.out']\n`);
    return;
  }
  if (!nodes.includes(opts.node))
    throw new UsageError(
      `no Ray logs kept for node ${opts.node} in ${root}${nodes.length ? ` (kept: ${nodes.join(", ")})` : ""}`,
    );
  const dir = join(root, opts.node);
  const files = await filesUnder(dir);
  const chosen = opts.file ? files.filter((f) => globMatch(opts.file as string, f.path)) : [];
  if (opts.json) {
    const tails = await Promise.all(
      chosen.map(async (f) => ({ ...f, text: await readFile(join(dir, f.path), "utf8") })),
    );
    process.stdout.write(`${JSON.stringify({ node: opts.node, dir, files, chosen: tails }, null, 2)}\n`);
    return;
  }
  if (!opts.file) {
    process.stdout.write(`${dir}:\n${files.map((f) => `  ${size(f.bytes).padStart(7)}  ${f.path}`).join("\n")}\n`);
    return;
  }
  if (chosen.length === 0) throw new UsageError(`no file matching ${opts.file} in ${dir}`);
  const lines = Number(opts.lines ?? 40);
  for (const f of chosen) {
    const text = await readFile(join(dir, f.path), "utf8");
    process.stdout.write(
      `==> ${opts.node}/${f.path} <==\n${text
        .split("\n")
        .slice(-lines - 1)
        .join("\n")}\n`,
    );
  }
  if (chosen.length > 1) progress(`${chosen.length} files matched ${opts.file}`);
}
