/**
 * The schema of spec.json: the normalised config (ClusterSpec) that `up` writes into the state
 * directory for the autoscaler, which reads it back on another host and in another process. A file
 * that does not match (hand-edited, truncated, written by another version) is refused with the field
 * that is wrong, never half-used. The `satisfies` below keeps the schema and the type in step.
 */
import { z } from "zod";
import type { AutoscalerSpec, ClusterSpec, NodeTypeSpec, SgeRequest } from "./normalise.js";

const resourceValue = z.union([z.string(), z.number(), z.boolean()]);
const runtime = z.union([z.number(), z.string()]);

const sgeRequest = z.strictObject({
  queue: z.string().optional(),
  parallelEnvironment: z.string(),
  project: z.string().optional(),
  hardRuntime: runtime.optional(),
  softRuntime: runtime.optional(),
  resources: z.record(z.string(), resourceValue),
  nativeArgs: z.array(z.string()),
}) satisfies z.ZodType<SgeRequest>;

const nodeType = z.strictObject({
  name: z.string().min(1),
  role: z.enum(["head", "worker"]),
  slots: z.number().int().positive(),
  cpus: z.number().int().nonnegative().optional(),
  memoryBytes: z.number().positive().optional(),
  gpus: z.number().int().nonnegative(),
  customResources: z.record(z.string(), z.number()),
  labels: z.record(z.string(), z.string()),
  minWorkers: z.number().int().nonnegative(),
  maxWorkers: z.number().int().nonnegative(),
  sge: sgeRequest,
  rayStartArgs: z.array(z.string()),
  setupCommands: z.array(z.string()),
}) satisfies z.ZodType<NodeTypeSpec>;

const autoscaler = z.strictObject({
  mode: z.enum(["head", "local", "off"]),
  intervalMs: z.number().positive(),
  walltimeMarginMs: z.number().nonnegative().optional(),
  queuedGraceMs: z.number().nonnegative(),
  failureBackoffMs: z.number().nonnegative(),
  waitForBursts: z.boolean(),
  upscalingSpeed: z.number().positive(),
}) satisfies z.ZodType<AutoscalerSpec>;

const clusterSpec = z.strictObject({
  name: z.string().min(1),
  setupCommands: z.array(z.string()),
  driverObjectStoreBytes: z.number().positive(),
  stateDir: z.string().min(1),
  rayExecutable: z.string().min(1),
  gcsPort: z.number().int().positive().optional(),
  dashboardPort: z.number().int().positive().optional(),
  maxWorkers: z.number().int().nonnegative(),
  idleTimeoutMinutes: z.number().nonnegative(),
  autoscaler,
  memoryComplex: z.string(),
  memoryPerSlot: z.boolean().optional(),
  gpuComplex: z.string(),
  sge: sgeRequest.optional(),
  head: nodeType,
  workerTypes: z.array(nodeType),
}) satisfies z.ZodType<ClusterSpec>;

export class SpecFileError extends Error {
  override readonly name = "SpecFileError";
}

/** Parse spec.json's text; throws SpecFileError naming the file and the first wrong field. */
export function parseSpecJson(text: string, file: string): ClusterSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SpecFileError(`${file}: not JSON (${(e as Error).message}); \`ray-sge up\` writes it anew`);
  }
  const r = clusterSpec.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("") ?? "";
  throw new SpecFileError(
    `${file}: not a cluster spec written by this ray-sge (${where.replace(/^\./, "") || "top level"}: ${issue?.message ?? "invalid"}); \`ray-sge up\` writes it anew`,
  );
}
