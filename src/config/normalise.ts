/**
 * RawConfig -> ClusterSpec: everything the launcher needs, with defaults filled in, and a warning for
 * each naive part of the guide's config that is kept in intent but done right. Pure.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import type { ResourceValue, Runtime } from "../sge/qsub.js";
import { parseMemory } from "../sge/units.js";
import { qsubOptions, startCommands } from "./commands.js";
import { FieldError } from "./field-error.js";
import { globalSgeOf, type RawType, rawNodeTypes, type SgeOverrides } from "./node-types.js";
import type { RawConfig } from "./schema.js";
import { DEFAULT_STATE_ROOT, IGNORED_RAY_KEYS } from "./schema.js";

export { FieldError };

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
  /** Grid Engine slots of its job (and Ray's CPUs, unless cpus says otherwise). */
  slots: number;
  /** Ray's CPUs when they are not the slots (Ray's form with CPU: 0: work kept off the node). */
  cpus?: number;
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

function driverObjectStore(v: number | string | undefined): number {
  if (v === undefined) return 1024 ** 3;
  if (typeof v === "number") return v;
  const bytes = parseMemory(v.replace(/i?[bB]$/, ""));
  if (bytes === undefined) throw new FieldError("ray.driver_object_store_memory", `not a size: "${v}" (e.g. 2G)`);
  if (bytes < 75 * 1024 ** 2) throw new FieldError("ray.driver_object_store_memory", "Ray needs at least 75M");
  return Math.floor(bytes);
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
  // Ray's boilerplate ({} and [] and false) asks for nothing: only what would be lost is worth a word
  const empty = (v: unknown) =>
    v === undefined || v === null || v === false || (typeof v === "object" && Object.keys(v).length === 0);
  for (const k of IGNORED_RAY_KEYS) {
    if (!empty(raw[k]))
      warnings.push(`${k}: has no meaning under Grid Engine (nodes share your filesystem) and is ignored.`);
  }
  const global = globalSgeOf(raw);
  if (raw.provider?.module === "ray_sge_provider")
    warnings.push(
      "provider.module: Ray's launcher (ray up) needs the class too: module: ray_sge_provider.SGENodeProvider (ray-sge up does not read it).",
    );
  const globalOpts = qsubOptions("sge.qsub_options", global.qsub_options);
  const memoryComplex = global.memory_complex ?? "mem_free";

  const request = (field: string, o: SgeOverrides | undefined): SgeRequest => {
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

  const nodeType = (t: RawType, start: { rayStartArgs: string[]; setupCommands: string[] }, setup: string[]) => {
    const { field, role, name, resources: r } = t;
    const sge = request(t.sgeField, t.sge);
    const spec: NodeTypeSpec = {
      name,
      role,
      slots: r.slots,
      gpus: r.gpus,
      customResources: { ...r.custom },
      labels: { ...(t.labels ?? {}) },
      minWorkers: role === "head" ? 1 : (t.minWorkers ?? 0),
      maxWorkers: role === "head" ? 1 : (t.maxWorkers ?? raw.max_workers ?? Math.max(t.minWorkers ?? 0, 1)),
      sge,
      rayStartArgs: start.rayStartArgs,
      setupCommands: [...(t.setupCommands ?? setup), ...start.setupCommands],
    };
    if (r.cpus !== undefined) spec.cpus = r.cpus;
    if (r.memory !== undefined) {
      const bytes = typeof r.memory === "number" ? r.memory : parseMemory(r.memory.replace(/i?[bB]$/, ""));
      if (bytes !== undefined) spec.memoryBytes = bytes;
      const fromOptions = sge.resources[memoryComplex];
      if (fromOptions !== undefined) {
        warnings.push(
          `${field}.resources.memory (${r.memory}) replaces -l ${memoryComplex}=${fromOptions} from qsub_options for the ${name} node type.`,
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

  const types = rawNodeTypes(raw, warnings);
  const head = nodeType(types.head, headStart, [...setup, ...(raw.head_setup_commands ?? [])]);
  const workerSetup = [...setup, ...(raw.worker_setup_commands ?? [])];
  const workerTypes = types.workers.map((t) => nodeType(t, workerStart, workerSetup));

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
