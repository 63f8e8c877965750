/**
 * A batch job whole: its qsub options and its script, the same for `ray-sge batch` (which submits
 * it with the options in argv) and `ray-sge script` (which prints it with the options as `#$`
 * lines). Pure.
 */
import type { ClusterSpec } from "../config/normalise.js";
import type { JobOptions } from "../sge/qsub.js";
import { buildSubmission } from "../sge/qsub.js";
import { VERSION } from "../version.js";
import { type BatchInput, batchRequest, batchSge, directiveLines } from "./request.js";
import { renderBatchScript } from "./script.js";

/** Seconds the driver has to end after SIGTERM (qdel -notify, s_rt, a failed node) before SIGKILL. */
export const DRIVER_GRACE_SECONDS = 10;

export interface BatchJob {
  options: JobOptions;
  script: string;
}

export function batchJob(spec: ClusterSpec, input: BatchInput): BatchJob {
  const request = batchRequest(spec, input);
  // the directives carry the same options; the argv of `batch` passes them with parsing off (-C '')
  const directives = directiveLines(buildSubmission({ ...request, scriptText: "" }).argv);
  const worker = spec.workerTypes[0];
  const gpus = Number(batchSge(spec).resources[spec.gpuComplex] ?? 0);
  const script = renderBatchScript({
    cluster: spec.name,
    version: VERSION,
    directives,
    logRoot: input.logRoot,
    command: input.command,
    joinTimeoutSeconds: input.joinTimeoutSeconds,
    dashboard: input.dashboard ?? false,
    driverGraceSeconds: DRIVER_GRACE_SECONDS,
    head: { setupCommands: spec.head.setupCommands, extraArgs: spec.head.rayStartArgs },
    node: {
      rayExecutable: spec.rayExecutable,
      setupCommands: worker?.setupCommands ?? spec.setupCommands,
      extraArgs: worker?.rayStartArgs ?? [],
      gpusPerSlot: Number.isFinite(gpus) ? gpus : 0,
      ...(gpus > 0 ? { gpuComplex: spec.gpuComplex } : {}),
    },
  });
  return { options: { ...request, scriptText: script }, script };
}
