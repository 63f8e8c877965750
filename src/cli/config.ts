/**
 * `ray-sge config CONFIG`: read a cluster config and say what it asks for, per node type, with its
 * warnings; nothing is submitted and Grid Engine is not asked. Errors come as file:line:col (exit 2).
 * `--json` gives the normalised spec: what Ray's launcher front door (python/ray_sge_provider) reads.
 */
import type { ClusterSpec, NodeTypeSpec } from "../config/normalise.js";
import { formatRuntime } from "../sge/qsub.js";
import { specFrom } from "./common.js";
import { formatTable } from "./table.js";

export interface ConfigView {
  file: string;
  cluster: string;
  stateDir: string;
  spec: ClusterSpec;
  warnings: string[];
}

const GiB = 1024 ** 3;

function requests(t: NodeTypeSpec): string {
  const s = t.sge;
  const parts = [`-pe ${s.parallelEnvironment} ${t.slots}`];
  if (s.queue) parts.push(`-q ${s.queue}`);
  if (s.project) parts.push(`-P ${s.project}`);
  if (s.hardRuntime !== undefined) parts.push(`-l h_rt=${formatRuntime("h_rt", s.hardRuntime)}`);
  if (s.softRuntime !== undefined) parts.push(`-l s_rt=${formatRuntime("s_rt", s.softRuntime)}`);
  for (const [k, v] of Object.entries(s.resources)) parts.push(`-l ${k}=${String(v)}`);
  parts.push(...s.nativeArgs);
  return parts.join(" ");
}

function rayResources(t: NodeTypeSpec): string {
  const r: string[] = [`CPU ${t.cpus ?? t.slots}`];
  if (t.gpus > 0) r.push(`GPU ${t.gpus}`);
  if (t.memoryBytes !== undefined) r.push(`memory ${(t.memoryBytes / GiB).toFixed(1)} GiB`);
  for (const [k, v] of Object.entries(t.customResources)) r.push(`${k} ${v}`);
  return r.join(", ");
}

/** Pure: the text of `ray-sge config`. */
export function renderConfig(v: ConfigView): string {
  const { spec } = v;
  const rows = [spec.head, ...spec.workerTypes].map((t) => [
    t.role === "head" ? "head" : t.name,
    t.role === "head" ? "1" : `${t.minWorkers}-${t.maxWorkers}`,
    rayResources(t),
    requests(t),
  ]);
  const out = [
    `Cluster ${spec.name} (${v.file}): state in ${v.stateDir}`,
    ...formatTable([["TYPE", "NODES", "RAY RESOURCES", "GRID ENGINE REQUEST (besides memory and GPUs)"], ...rows]),
    `workers at most ${spec.maxWorkers}; idle timeout ${spec.idleTimeoutMinutes} min; autoscaler ${spec.autoscaler.mode}`,
  ];
  if (v.warnings.length > 0) out.push("", `${v.warnings.length} warning(s):`, ...v.warnings.map((w) => `  - ${w}`));
  return `${out.join("\n")}\n`;
}

export async function configCommand(target: string, opts: { json?: boolean }): Promise<void> {
  const { spec, file, warnings } = await specFrom(target);
  const view: ConfigView = { file, cluster: spec.name, stateDir: spec.stateDir, spec, warnings };
  process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : renderConfig(view));
}
