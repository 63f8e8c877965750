/** What the commands share: usage errors, progress lines, and finding a cluster by name or config file. */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { loadClusterSpec } from "../config/index.js";
import type { ClusterSpec } from "../config/normalise.js";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Progress and warnings: stderr, so that stdout stays the result. */
export const progress = (line: string): void => {
  process.stderr.write(`ray-sge: ${line}\n`);
};

export function defaultStateRoot(): string {
  return join(homedir(), ".ray-sge", "clusters");
}

/** A config file, or the name of a cluster brought up before (its config snapshot is in its state dir). */
export async function specFrom(target: string): Promise<{ spec: ClusterSpec; file: string; warnings: string[] }> {
  const isName = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(target) && !/\.ya?ml$/.test(target);
  const file = isName ? join(defaultStateRoot(), target, "config.yaml") : target;
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
