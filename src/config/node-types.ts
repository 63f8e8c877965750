/**
 * The config's node types, from either form it may take: the guide's (`head_node`, `worker_nodes`,
 * ray-sge's `available_node_types` with `sge:` and `slots`) or Ray's own (`head_node_type` naming one
 * of `available_node_types`, `resources: {CPU, GPU, memory, ...}`, Grid Engine settings in
 * `node_config`), and the Grid Engine settings of `sge:` or `provider:`. Each comes out with the path
 * of its field, so that errors point at it. Pure.
 */
import { FieldError } from "./field-error.js";
import { IGNORED_TYPE_KEYS, type RawConfig } from "./schema.js";

type RawNodeType = NonNullable<RawConfig["worker_nodes"]>;
type RawResources = RawNodeType["resources"];
export type SgeOverrides = NonNullable<RawNodeType["sge"]>;
export type GlobalSge = NonNullable<RawConfig["sge"]>;

/** A node type as the config gives it, in one shape whichever form it came in. */
export interface RawType {
  name: string;
  role: "head" | "worker";
  /** The field it came from: "head_node", "worker_nodes", "available_node_types.NAME". */
  field: string;
  resources: Resources;
  /** Its Grid Engine settings (from `sge` or `node_config`) and the field they came from. */
  sge?: SgeOverrides;
  sgeField: string;
  labels?: Record<string, string>;
  minWorkers?: number;
  maxWorkers?: number;
  /** Ray's per-type worker_setup_commands: instead of setup_commands + worker_setup_commands. */
  setupCommands?: string[];
}

export interface Resources {
  /** Grid Engine slots. */
  slots: number;
  /** Ray's CPUs when they differ from the slots (Ray's form with CPU: 0). */
  cpus?: number;
  memory?: string | number;
  gpus: number;
  custom: Record<string, number>;
}

const RESOURCE_KEYS = new Set(["slots", "memory", "gpus", "custom", "CPU", "GPU"]);

/** Either form of resources (schema.ts has checked that exactly one of slots and CPU is given). */
export function resourcesOf(r: RawResources): Resources {
  const custom: Record<string, number> = { ...(r.custom ?? {}) };
  for (const [k, v] of Object.entries(r)) if (!RESOURCE_KEYS.has(k) && typeof v === "number") custom[k] = v;
  const cpu = r.CPU;
  const out: Resources = { slots: r.slots ?? Math.max(1, cpu ?? 1), gpus: r.gpus ?? r.GPU ?? 0, custom };
  // a job asks at least one slot; Ray may still be told the node has no CPUs to keep work off it
  if (cpu !== undefined && cpu !== out.slots) out.cpus = cpu;
  if (r.memory !== undefined) out.memory = r.memory;
  return out;
}

/** The sge section and the same keys under provider (Ray keeps provider settings there), merged. */
export function globalSgeOf(raw: RawConfig): GlobalSge {
  const { type: _type, module: _module, ...fromProvider } = raw.provider ?? { type: "external", module: "" };
  const merged: Record<string, unknown> = { ...(raw.sge ?? {}) };
  for (const [k, v] of Object.entries(fromProvider)) {
    if (v === undefined) continue;
    if (merged[k] !== undefined)
      throw new FieldError(`provider.${k}`, `also given as sge.${k}: give each Grid Engine setting once`);
    merged[k] = v;
  }
  return merged as GlobalSge;
}

function fromNodeType(name: string, role: "head" | "worker", field: string, t: RawNodeType, warnings: string[]) {
  if (t.sge && t.node_config)
    throw new FieldError(`${field}.node_config`, `also given as ${field}.sge: give the Grid Engine settings once`);
  for (const k of IGNORED_TYPE_KEYS)
    if (t[k] !== undefined) warnings.push(`${field}.${k}: has no meaning under ray-sge and is ignored.`);
  const out: RawType = {
    name,
    role,
    field,
    resources: resourcesOf(t.resources),
    sgeField: `${field}.${t.node_config ? "node_config" : "sge"}`,
    minWorkers: t.min_workers,
  };
  const sge = t.sge ?? t.node_config;
  if (sge) out.sge = sge;
  if (t.labels) out.labels = t.labels;
  if (t.max_workers !== undefined) out.maxWorkers = t.max_workers;
  if (t.worker_setup_commands) out.setupCommands = t.worker_setup_commands;
  return out;
}

/** The head and the worker types, whichever form the config uses. */
export function rawNodeTypes(raw: RawConfig, warnings: string[]): { head: RawType; workers: RawType[] } {
  const types = raw.available_node_types ?? {};
  let head: RawType;
  if (raw.head_node_type !== undefined) {
    if (raw.head_node) throw new FieldError("head_node", "give the head as head_node or as head_node_type, not both");
    const t = types[raw.head_node_type];
    if (!t)
      throw new FieldError(
        "head_node_type",
        `"${raw.head_node_type}" is not one of available_node_types (${Object.keys(types).join(", ") || "none"})`,
      );
    const field = `available_node_types.${raw.head_node_type}`;
    if ((t.max_workers ?? 0) > 0 || t.min_workers > 0)
      warnings.push(`${field}: min_workers/max_workers of the head type are not used: a cluster has one head.`);
    if (t.worker_setup_commands)
      throw new FieldError(`${field}.worker_setup_commands`, "the head's setup is head_setup_commands");
    head = fromNodeType("head", "head", field, t, warnings);
  } else if (raw.head_node) {
    const h = raw.head_node;
    head = {
      name: "head",
      role: "head",
      field: "head_node",
      resources: resourcesOf(h.resources),
      sgeField: "head_node.sge",
    };
    if (h.sge) head.sge = h.sge;
    if (h.labels) head.labels = h.labels;
  } else {
    throw new FieldError(
      "head_node",
      "is required: the head's resources (head_node, or Ray's head_node_type naming one of available_node_types)",
    );
  }
  const workers: RawType[] = [];
  if (raw.worker_nodes) workers.push(fromNodeType("worker", "worker", "worker_nodes", raw.worker_nodes, warnings));
  for (const [name, t] of Object.entries(types)) {
    if (name === raw.head_node_type) continue;
    if (name === "head" || workers.some((w) => w.name === name)) {
      throw new FieldError(
        `available_node_types.${name}`,
        `the name "${name}" is taken (head, and worker for worker_nodes)`,
      );
    }
    workers.push(fromNodeType(name, "worker", `available_node_types.${name}`, t, warnings));
  }
  return { head, workers };
}
