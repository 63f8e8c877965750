/**
 * What a node type's job asks of Grid Engine (qsub options) and runs (its job script). Pure.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClusterSpec, NodeTypeSpec } from "../config/normalise.js";
import type { Complex } from "../sge/qconf.js";
import type { JobOptions, ResourceValue } from "../sge/qsub.js";
import { VERSION } from "../version.js";
import { ClusterError } from "./errors.js";
import { jobContext } from "./identity.js";
import { rayResourceArgs, renderHeadScript, renderWorkerScript } from "./jobscript.js";
import { LOG_NAMES } from "./state-dir.js";

export type AutoscalerMode = "head" | "local" | "off";

/** The CLI this library belongs to: what the head job (or a local process) runs as the autoscaler. */
export const CLI_PATH = fileURLToPath(new URL("../../bin/ray-sge.js", import.meta.url));

export type JobRequest = Omit<JobOptions, "name" | "scriptText">;

/**
 * Is memory requested per slot? The config says, else the complex does: a YES consumable is
 * counted per slot, JOB consumables and load values (NO) per job and host.
 */
export function perSlotFor(spec: ClusterSpec, complexes: readonly Complex[]): boolean {
  if (spec.memoryPerSlot !== undefined) return spec.memoryPerSlot;
  const cx = complexes.find((c) => c.name === spec.memoryComplex);
  if (!cx)
    throw new ClusterError(
      `the memory complex "${spec.memoryComplex}" does not exist (qconf -sc); set sge.memory_complex`,
    );
  return cx.consumable === "YES";
}

/** Does any node type ask for memory (else no memory complex is needed)? */
export function asksForMemory(spec: ClusterSpec): boolean {
  return [spec.head, ...spec.workerTypes].some((t) => t.memoryBytes !== undefined);
}

/**
 * A node type's resources -> qsub options. slots -> `-pe PE slots`; memory -> the memory complex (per
 * slot when it is a per-slot consumable); gpus -> the GPU complex; h_rt/s_rt; queue, project,
 * qsub_options' other words; name-independent tags (-ac) and graceful signals (-notify).
 */
export function jobRequest(
  spec: ClusterSpec,
  type: NodeTypeSpec,
  memoryPerSlot: boolean,
  state: { path: string; logDir: string },
): JobRequest {
  const hard: Record<string, ResourceValue> = { ...type.sge.resources };
  if (type.memoryBytes !== undefined) {
    const bytes = memoryPerSlot ? Math.ceil(type.memoryBytes / type.slots) : type.memoryBytes;
    hard[spec.memoryComplex] = `${Math.ceil(bytes / 1024 ** 2)}M`;
  }
  if (type.gpus > 0) hard[spec.gpuComplex] = type.gpus;
  const o: JobRequest = {
    shell: "/bin/bash",
    cwd: state.path,
    stdoutPath: join(
      state.logDir,
      type.role === "head" ? LOG_NAMES.head("$JOB_ID") : LOG_NAMES.worker(type.name, "$JOB_ID", "$TASK_ID"),
    ),
    joinOutput: true,
    parallelEnvironment: { name: type.sge.parallelEnvironment, slots: type.slots },
    hardResources: hard,
    context: jobContext(spec.name, type.role, type.name),
    notify: true,
    nativeArgs: type.sge.nativeArgs,
  };
  if (type.sge.queue) o.queue = type.sge.queue;
  if (type.sge.project) o.project = type.sge.project;
  if (type.sge.hardRuntime !== undefined) o.hardRuntime = type.sge.hardRuntime;
  if (type.sge.softRuntime !== undefined) o.softRuntime = type.sge.softRuntime;
  return o;
}

/** The job script of a node type (the head's runs the autoscaler when it is to run in the head job). */
export function jobScript(
  spec: ClusterSpec,
  type: NodeTypeSpec,
  state: { path: string; specPath: string },
  autoscalerMode: AutoscalerMode,
): string {
  const input = {
    cluster: spec.name,
    stateDir: state.path,
    rayExecutable: spec.rayExecutable,
    nodeType: type.name,
    role: type.role,
    resourceArgs: rayResourceArgs(type),
    extraArgs: type.rayStartArgs,
    setupCommands: type.setupCommands,
    ...(type.gpus > 0 ? { gpuComplex: spec.gpuComplex } : {}),
    version: VERSION,
  };
  if (type.role === "worker") return renderWorkerScript(input);
  return renderHeadScript({
    ...input,
    ...(autoscalerMode === "head"
      ? { autoscaler: { node: process.execPath, cli: CLI_PATH, spec: state.specPath } }
      : {}),
    ...(spec.gcsPort ? { gcsPort: spec.gcsPort } : {}),
    ...(spec.dashboardPort ? { dashboardPort: spec.dashboardPort } : {}),
  });
}
