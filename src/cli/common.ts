/** What the commands share: usage errors, progress lines, and finding a cluster by name or config file. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  clusterJobPattern,
  clusterOfHeadJob,
  HEAD_JOB_PATTERN,
  isClusterName,
  parseJobName,
} from "../cluster/identity.js";
import { STATE_FILES } from "../cluster/state-dir.js";
import { loadClusterSpec, normaliseConfig } from "../config/index.js";
import type { ClusterSpec } from "../config/normalise.js";
import { expandHome } from "../config/normalise.js";
import { DEFAULT_STATE_ROOT } from "../config/schema.js";
import { SgeClient } from "../sge/client.js";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Progress and warnings: stderr, so that stdout stays the result. */
export const progress = (line: string): void => {
  process.stderr.write(`ray-sge: ${line}\n`);
};

/** A `--timeout`-like option in seconds: a positive number, else a usage error naming the option. */
export function seconds(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${option} wants a number of seconds above 0, not "${value}"`);
  return n;
}

export function defaultStateRoot(): string {
  return expandHome(DEFAULT_STATE_ROOT);
}

/** A config file, or the name of a cluster brought up before (its config snapshot is in its state dir). */
export async function specFrom(target: string): Promise<{ spec: ClusterSpec; file: string; warnings: string[] }> {
  const isName = isClusterName(target);
  const file = isName ? join(defaultStateRoot(), target, STATE_FILES.config) : target;
  if (isName) {
    try {
      await readFile(file);
    } catch {
      throw new UsageError(`no cluster named "${target}" here (no ${file}); give the config file instead`);
    }
  }
  const { spec, warnings } = await loadClusterSpec(file);
  return { spec, file, warnings };
}

/** Print a result: JSON for scripts, else text. */
export function output(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : text());
}

/**
 * Like specFrom, and when a cluster name has no config here (its state directory was lost), the
 * cluster as Grid Engine alone knows it: its jobs by name and `-ac ray_sge_cluster` context, with
 * default settings, and `lost` saying what is missing. Only for commands that can work from that
 * (down, status): the rest need the config.
 */
export async function clusterFrom(
  target: string,
): Promise<{ spec: ClusterSpec; file?: string; warnings: string[]; lost?: string }> {
  try {
    return await specFrom(target);
  } catch (e) {
    if (!(e instanceof UsageError) || !isClusterName(target)) throw e;
    let details: Awaited<ReturnType<SgeClient["jobDetails"]>>;
    try {
      details = await new SgeClient().jobDetails(clusterJobPattern(target));
    } catch (ge) {
      // the name is still the thing to fix; say too why Grid Engine could not tell whether it runs
      throw new UsageError(
        `${e.message}; nor could Grid Engine be asked for its jobs: ${ge instanceof Error ? ge.message : String(ge)}`,
      );
    }
    const ours = details.filter((d) => d.context.ray_sge_cluster === target && parseJobName(target, d.name));
    if (ours.length === 0) throw e;
    const { spec } = normaliseConfig({ cluster_name: target, head_node: { resources: { slots: 1 } } });
    return {
      spec,
      warnings: [],
      lost: `cluster ${target}'s state directory is gone (no ${join(defaultStateRoot(), target, STATE_FILES.config)}: config, token, address and logs): working from its ${ours.length} job(s) in Grid Engine (name ${clusterJobPattern(target)}, context ray_sge_cluster=${target})`,
    };
  }
}

/** The clusters Grid Engine knows of for this user: names of head jobs carrying ray-sge's context. */
export async function clustersInGridEngine(): Promise<string[]> {
  const details = await new SgeClient().jobDetails(HEAD_JOB_PATTERN);
  return [...new Set(details.map(clusterOfHeadJob).filter((n): n is string => n !== undefined))].sort();
}
