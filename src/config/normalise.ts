/**
 * RawConfig -> ClusterSpec: everything the launcher needs, with defaults filled in, and a warning for
 * each naive part of the guide's config that is kept in intent but done right. Pure.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import type { ResourceValue, Runtime } from "../sge/qsub.js";
import { parseMemory } from "../sge/units.js";
import type { RawConfig } from "./schema.js";
import { DEFAULT_STATE_ROOT, IGNORED_RAY_KEYS } from "./schema.js";
import { shellWords } from "./shell-words.js";

/** A config field that is wrong: its path ("worker_nodes.sge.qsub_options") and what is wrong with it. */
export class FieldError extends Error {
  override readonly name = "FieldError";
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export interface SgeRequest {
  queue?: string;
  parallelEnvironment: string;
  project?: string;
  hardRuntime?: Runtime;
  softRuntime?: Runtime;
  /** `-l` requests from qsub_options, merged global -> node type. */
  resources: Record<string, ResourceValue>;
  /** qsub_options words that are not `-l` requests, passed to qsub as they are (argv, no shell). */
  nativeArgs: string[];
}

export interface NodeTypeSpec {
  name: string;
  role: "head" | "worker";
  slots: number;
  memoryBytes?: number;
  gpus: number;
  customResources: Record<string, number>;
  labels: Record<string, string>;
  minWorkers: number;
  maxWorkers: number;
  sge: SgeRequest;
  /** Extra `ray start` arguments kept from the config's start commands (e.g. --object-store-memory). */
  rayStartArgs: string[];
  /** Commands run in the job before Ray starts: setup commands, then non-`ray start` start commands. */
  setupCommands: string[];
}

export interface AutoscalerSpec {
  mode: "head" | "local" | "off";
  intervalMs: number;
  /** undefined: per type, a tenth of its h_rt, at most 300 s. */
  walltimeMarginMs?: number;
  queuedGraceMs: number;
  failureBackoffMs: number;
  /** Launch for tasks/actors only when they will not drain first (burst gate). */
  waitForBursts: boolean;
  /** Ray's upscaling_speed. */
  upscalingSpeed: number;
}

export interface ClusterSpec {
  name: string;
  /** The config's setup_commands: what finds Ray where `ray-sge env` starts a driver node too. */
  setupCommands: string[];
  /** Object store of a driver node (ray-sge env), bytes. */
  driverObjectStoreBytes: number;
  /** The cluster's directory on the shared filesystem (mode 0700). */
  stateDir: string;
  rayExecutable: string;
  gcsPort?: number;
  dashboardPort?: number;
  maxWorkers: number;
  idleTimeoutMinutes: number;
  autoscaler: AutoscalerSpec;
  memoryComplex: string;
  /** undefined: decided at preflight from the complex (consumable per slot or not). */
  memoryPerSlot?: boolean;
  gpuComplex: string;
  /** The config's own sge section (qsub_options, queue, project, run times, PE): what a batch job asks. */
  sge?: SgeRequest;
  head: NodeTypeSpec;
  workerTypes: NodeTypeSpec[];
}

export interface Normalised {
  spec: ClusterSpec;
  warnings: string[];
}

export interface NormaliseOptions {
  home?: string;
}

const OURS = new Set([
  "--head",
  "--block",
  "--address",
  "--temp-dir",
  "--node-ip-address",
  "--num-cpus",
  "--memory",
  "--num-gpus",
  "--resources",
  "--labels",
]);
const PORT_FLAGS = new Set([
  "--port",
  "--dashboard-port",
  "--ray-client-server-port",
  "--node-manager-port",
  "--object-manager-port",
  "--dashboard-agent-listen-port",
  "--dashboard-agent-grpc-port",
  "--runtime-env-agent-port",
  "--metrics-export-port",
]);

function splitFlag(word: string, next: string | undefined): { flag: string; value?: string; consumed: number } {
  const eq = word.indexOf("=");
  if (eq > 0) return { flag: word.slice(0, eq), value: word.slice(eq + 1), consumed: 1 };
  if (next !== undefined && !next.startsWith("--")) return { flag: word, value: next, consumed: 2 };
  return { flag: word, consumed: 1 };
}

function driverObjectStore(v: number | string | undefined): number {
  if (v === undefined) return 1024 ** 3;
  if (typeof v === "number") return v;
  const bytes = parseMemory(v.replace(/i?[bB]$/, ""));
  if (bytes === undefined) throw new FieldError("ray.driver_object_store_memory", `not a size: "${v}" (e.g. 2G)`);
  if (bytes < 75 * 1024 ** 2) throw new FieldError("ray.driver_object_store_memory", "Ray needs at least 75M");
  return Math.floor(bytes);
}

/** Keep the intent of `*_start_ray_commands`, drop what ray-sge does itself or does better. */
function startCommands(
  field: string,
  commands: readonly string[],
  warnings: string[],
): { rayStartArgs: string[]; setupCommands: string[] } {
  const rayStartArgs: string[] = [];
  const setupCommands: string[] = [];
  commands.forEach((command, i) => {
    const where = `${field}[${i}]`;
    const trimmed = command.trim();
    if (/^ray\s+stop\b/.test(trimmed)) {
      warnings.push(
        `${where}: "ray stop" is dropped: it stops every Ray on the host, other users' and other clusters' too. ray-sge stops only this job's Ray when the job ends.`,
      );
      return;
    }
    if (/^sleep\s+\d+/.test(trimmed)) {
      warnings.push(
        `${where}: "${trimmed}" is dropped: workers wait for the head's published address instead of a fixed delay.`,
      );
      return;
    }
    if (!/^ray\s+start\b/.test(trimmed)) {
      setupCommands.push(command);
      return;
    }
    let words: string[];
    try {
      words = shellWords(trimmed, { keepDollar: true }).slice(2);
    } catch (e) {
      warnings.push(`${where}: cannot read this ray start line (${(e as Error).message}); its options are ignored.`);
      return;
    }
    for (let k = 0; k < words.length; ) {
      const { flag, value, consumed } = splitFlag(words[k] as string, words[k + 1]);
      k += consumed;
      if (flag === "--dashboard-host") {
        if (value !== "127.0.0.1" && value !== "localhost") {
          warnings.push(
            `${where}: --dashboard-host=${value} is not used: the dashboard listens on the head's own address, never on every interface, and answers only with the cluster's token (anyone on the network could otherwise run code on the cluster); \`ray-sge dashboard NAME\` says how to open it.`,
          );
        }
      } else if (PORT_FLAGS.has(flag)) {
        warnings.push(
          `${where}: ${flag}=${value} is not used: fixed ports collide when several users or clusters share a host, so ray-sge picks free ports on the host and publishes them${flag === "--port" ? " (pin the GCS port with ray.gcs_port if you must)" : ""}.`,
        );
      } else if (flag === "--autoscaling-config") {
        warnings.push(`${where}: --autoscaling-config is not used: ray-sge runs its own autoscaler from this config.`);
      } else if (flag === "--address") {
        warnings.push(
          `${where}: --address is not used: workers read the head's address from the cluster's state directory.`,
        );
      } else if (flag === "--head" || flag === "--block") {
        // what these ask for is what ray-sge does anyway: nothing to say
      } else if (OURS.has(flag)) {
        warnings.push(
          `${where}: ${flag} is set by ray-sge (from the node type's resources, or per job) and is ignored here.`,
        );
      } else {
        rayStartArgs.push(value === undefined ? flag : `${flag}=${value}`);
      }
    }
  });
  return { rayStartArgs, setupCommands };
}

/** -l requests out of qsub_options (name=value, comma lists), and the rest as native arguments. */
function qsubOptions(
  field: string,
  text: string | undefined,
): { resources: Record<string, string>; nativeArgs: string[] } {
  const resources: Record<string, string> = {};
  const nativeArgs: string[] = [];
  if (!text) return { resources, nativeArgs };
  let words: string[];
  try {
    words = shellWords(text);
  } catch (e) {
    throw new FieldError(field, (e as Error).message);
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === "-l" || w === "-hard") {
      if (w === "-hard") continue;
      const list = words[++i];
      if (list === undefined) throw new FieldError(field, "-l needs name=value");
      for (const pair of list.split(",")) {
        const eq = pair.indexOf("=");
        if (eq <= 0) throw new FieldError(field, `"-l ${list}": expected name=value`);
        resources[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    } else if (["-N", "-o", "-e", "-j", "-S", "-t", "-terse", "-C", "-b", "-sync", "-cwd", "-wd"].includes(w)) {
      throw new FieldError(field, `${w} is set by ray-sge for its jobs and cannot be given in qsub_options`);
    } else nativeArgs.push(w);
  }
  return { resources, nativeArgs };
}

/** "~" and "~/x" in a path, expanded. */
export function expandHome(path: string, home: string = homedir()): string {
  return path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path;
}

export function normaliseConfig(raw: RawConfig, options: NormaliseOptions = {}): Normalised {
  const warnings: string[] = [];
  const home = options.home ?? homedir();
  if (raw.auth) {
    warnings.push(
      "auth: not needed: ray-sge starts every node as a Grid Engine job, no SSH is involved; the section is ignored.",
    );
  }
  for (const k of IGNORED_RAY_KEYS) {
    if (raw[k] !== undefined)
      warnings.push(`${k}: has no meaning under Grid Engine (nodes share your filesystem) and is ignored.`);
  }
  const global = raw.sge ?? {};
  const globalOpts = qsubOptions("sge.qsub_options", global.qsub_options);
  const memoryComplex = global.memory_complex ?? "mem_free";

  const request = (field: string, o: NonNullable<RawConfig["head_node"]["sge"]> | undefined): SgeRequest => {
    const own = qsubOptions(`${field}.qsub_options`, o?.qsub_options);
    const resources: Record<string, ResourceValue> = { ...globalOpts.resources, ...own.resources };
    const req: SgeRequest = {
      parallelEnvironment: o?.parallel_environment ?? global.parallel_environment ?? "smp",
      resources,
      nativeArgs: [...globalOpts.nativeArgs, ...own.nativeArgs],
    };
    const queue = o?.queue ?? global.queue;
    if (queue) req.queue = queue;
    const project = o?.project ?? global.project;
    if (project) req.project = project;
    // h_rt / s_rt given as -l in qsub_options become the typed fields
    const hrt = o?.h_rt ?? global.h_rt ?? (resources.h_rt as string | undefined);
    const srt = o?.s_rt ?? global.s_rt ?? (resources.s_rt as string | undefined);
    delete resources.h_rt;
    delete resources.s_rt;
    if (hrt !== undefined) req.hardRuntime = hrt;
    if (srt !== undefined) req.softRuntime = srt;
    return req;
  };

  const nodeType = (
    name: string,
    role: "head" | "worker",
    field: string,
    t: {
      resources: RawConfig["head_node"]["resources"];
      sge?: NonNullable<RawConfig["head_node"]["sge"]>;
      labels?: Record<string, string>;
      min_workers?: number;
      max_workers?: number;
    },
    start: { rayStartArgs: string[]; setupCommands: string[] },
    setup: string[],
  ): NodeTypeSpec => {
    const sge = request(`${field}.sge`, t.sge);
    const spec: NodeTypeSpec = {
      name,
      role,
      slots: t.resources.slots,
      gpus: t.resources.gpus ?? 0,
      customResources: { ...(t.resources.custom ?? {}) },
      labels: { ...(t.labels ?? {}) },
      minWorkers: role === "head" ? 1 : (t.min_workers ?? 0),
      maxWorkers: role === "head" ? 1 : (t.max_workers ?? raw.max_workers ?? Math.max(t.min_workers ?? 0, 1)),
      sge,
      rayStartArgs: start.rayStartArgs,
      setupCommands: [...setup, ...start.setupCommands],
    };
    if (t.resources.memory !== undefined) {
      const bytes =
        typeof t.resources.memory === "number"
          ? t.resources.memory
          : parseMemory(t.resources.memory.replace(/i?[bB]$/, ""));
      if (bytes !== undefined) spec.memoryBytes = bytes;
      const fromOptions = sge.resources[memoryComplex];
      if (fromOptions !== undefined) {
        warnings.push(
          `${field}.resources.memory (${t.resources.memory}) replaces -l ${memoryComplex}=${fromOptions} from qsub_options for the ${name} node type.`,
        );
        delete sge.resources[memoryComplex];
      }
    }
    if (spec.minWorkers > spec.maxWorkers) {
      throw new FieldError(field, `min_workers (${spec.minWorkers}) is more than max_workers (${spec.maxWorkers})`);
    }
    return spec;
  };

  const setup = raw.setup_commands ?? [];
  const headStart = startCommands("head_start_ray_commands", raw.head_start_ray_commands ?? [], warnings);
  const workerStart = startCommands("worker_start_ray_commands", raw.worker_start_ray_commands ?? [], warnings);
  for (const [field, list] of [
    ["setup_commands", raw.setup_commands],
    ["head_setup_commands", raw.head_setup_commands],
    ["worker_setup_commands", raw.worker_setup_commands],
  ] as const) {
    list?.forEach((c, i) => {
      if (/^\s*ray\s+stop\b/.test(c)) {
        throw new FieldError(
          `${field}[${i}]`,
          `"ray stop" stops every Ray on the host, other users' too: remove it (ray-sge stops only its own)`,
        );
      }
    });
  }

  const head = nodeType("head", "head", "head_node", raw.head_node, headStart, [
    ...setup,
    ...(raw.head_setup_commands ?? []),
  ]);
  const workerSetup = [...setup, ...(raw.worker_setup_commands ?? [])];
  const workerTypes: NodeTypeSpec[] = [];
  if (raw.worker_nodes)
    workerTypes.push(nodeType("worker", "worker", "worker_nodes", raw.worker_nodes, workerStart, workerSetup));
  for (const [name, t] of Object.entries(raw.available_node_types ?? {})) {
    if (name === "head" || workerTypes.some((w) => w.name === name)) {
      throw new FieldError(
        `available_node_types.${name}`,
        `the name "${name}" is taken (head, and worker for worker_nodes)`,
      );
    }
    workerTypes.push(nodeType(name, "worker", `available_node_types.${name}`, t, workerStart, workerSetup));
  }

  const minSum = workerTypes.reduce((n, t) => n + t.minWorkers, 0);
  const maxWorkers = raw.max_workers ?? workerTypes.reduce((n, t) => n + t.maxWorkers, 0);
  if (minSum > maxWorkers)
    throw new FieldError("max_workers", `${maxWorkers} is less than the sum of min_workers (${minSum})`);

  const spec: ClusterSpec = {
    name: raw.cluster_name,
    stateDir: join(expandHome(raw.state_dir ?? DEFAULT_STATE_ROOT, home), raw.cluster_name),
    rayExecutable: raw.ray?.ray_executable ?? "ray",
    setupCommands: [...setup],
    driverObjectStoreBytes: driverObjectStore(raw.ray?.driver_object_store_memory),
    maxWorkers,
    idleTimeoutMinutes: raw.idle_timeout_minutes ?? 5,
    autoscaler: {
      mode: raw.autoscaler?.mode ?? "head",
      intervalMs: (raw.autoscaler?.interval_seconds ?? 1) * 1000,
      queuedGraceMs: (raw.autoscaler?.queued_grace_seconds ?? 30) * 1000,
      failureBackoffMs: (raw.autoscaler?.failure_backoff_seconds ?? 30) * 1000,
      waitForBursts: raw.autoscaler?.wait_for_bursts ?? true,
      upscalingSpeed: raw.upscaling_speed ?? 1,
    },
    memoryComplex,
    gpuComplex: global.gpu_complex ?? "gpu",
    sge: request("sge", undefined),
    head,
    workerTypes,
  };
  if (raw.ray?.gcs_port !== undefined) spec.gcsPort = raw.ray.gcs_port;
  if (raw.ray?.dashboard_port !== undefined) spec.dashboardPort = raw.ray.dashboard_port;
  if (raw.autoscaler?.walltime_margin_seconds !== undefined)
    spec.autoscaler.walltimeMarginMs = raw.autoscaler.walltime_margin_seconds * 1000;
  if (global.memory_per_slot !== undefined) spec.memoryPerSlot = global.memory_per_slot;
  return { spec, warnings };
}
