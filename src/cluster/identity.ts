/**
 * A cluster's identity in Grid Engine: its name, its jobs' names and their `-ac` context. Pure. A job
 * is the cluster's when its name matches and its context says so (a user's own job that happens to
 * match the name is left alone).
 */

import { CLUSTER_NAME } from "../config/schema.js";

/** A cluster's name rather than a config file's path? */
export function isClusterName(s: string): boolean {
  return CLUSTER_NAME.test(s) && !/\.ya?ml$/.test(s);
}

export function headJobName(cluster: string): string {
  return `rsge-${cluster}-head`;
}

export function workerJobName(cluster: string, type: string): string {
  return `rsge-${cluster}-w-${type}`;
}

/** The pattern matching every job of a cluster (qstat name filter). */
export function clusterJobPattern(cluster: string): string {
  return `rsge-${cluster}-*`;
}

/** The pattern matching every cluster's head job (for `list`). */
export const HEAD_JOB_PATTERN = "rsge-*-head";

export function jobContext(cluster: string, role: "head" | "worker", type: string): Record<string, string> {
  return { ray_sge_cluster: cluster, ray_sge_role: role, ray_sge_type: type };
}

/** What a job name says about the cluster's node: role and type, or undefined if not ours. */
export function parseJobName(cluster: string, name: string): { role: "head" | "worker"; type: string } | undefined {
  if (name === headJobName(cluster)) return { role: "head", type: "head" };
  const prefix = `rsge-${cluster}-w-`;
  return name.startsWith(prefix) ? { role: "worker", type: name.slice(prefix.length) } : undefined;
}

/** The cluster a head job belongs to, judged by its name and context together. */
export function clusterOfHeadJob(job: { name: string; context: Record<string, string> }): string | undefined {
  const name = job.context.ray_sge_cluster;
  return name && job.name === headJobName(name) ? name : undefined;
}
