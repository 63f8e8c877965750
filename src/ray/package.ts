/**
 * A `runtime_env` working_dir as Ray packages it: the directory's files in a zip (paths relative to
 * it), `.gitignore` and `.rayignore` honoured in every directory as Ray does, and a content-addressed
 * name `_ray_pkg_<hash>.zip` (same files, same name: a second submit of unchanged code uploads nothing).
 */
import { createHash } from "node:crypto";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { zipSync } from "fflate";
import ignore, { type Ignore } from "ignore";

/** Ray's limit: the GCS stores a package in one gRPC message (max_grpc_message_size, 512 MiB). */
export const MAX_PACKAGE_BYTES = 512 * 1024 * 1024;

export interface WorkingDirPackage {
  /** gcs://_ray_pkg_<hash>.zip name, without the scheme. */
  name: string;
  zip: Uint8Array;
  files: number;
  /** Bytes of the files before compression. */
  bytes: number;
}

export class PackageError extends Error {
  override readonly name = "PackageError";
}

interface Rules {
  base: string;
  ig: Ignore;
}

async function rulesIn(dir: string): Promise<Rules[]> {
  const out: Rules[] = [];
  for (const f of [".gitignore", ".rayignore"]) {
    const text = await readFile(join(dir, f), "utf8").catch(() => undefined);
    if (text !== undefined) out.push({ base: dir, ig: ignore().add(text) });
  }
  return out;
}

function ignored(rules: readonly Rules[], path: string, isDir: boolean): boolean {
  return rules.some((r) => {
    const rel = relative(r.base, path);
    return rel !== "" && r.ig.ignores(isDir ? `${rel}/` : rel);
  });
}

/** Zip a working directory for Ray (in memory; Ray's own limit is 512 MiB). */
export async function packageWorkingDir(dir: string): Promise<WorkingDirPackage> {
  const root = await realpath(dir).catch(() => {
    throw new PackageError(`working directory ${dir} does not exist`);
  });
  if (!(await stat(root)).isDirectory()) throw new PackageError(`${dir} is not a directory`);
  const entries: Record<string, Uint8Array> = {};
  const hash = createHash("sha256");
  let bytes = 0;
  let files = 0;
  const seen = new Set<string>();
  const walk = async (d: string, inherited: Rules[]): Promise<void> => {
    const real = await realpath(d);
    if (seen.has(real)) return; // a symlink loop
    seen.add(real);
    const rules = [...inherited, ...(await rulesIn(d))];
    const names = (await readdir(d)).sort();
    if (names.length === 0 && d !== root) entries[`${relative(root, d)}/`] = new Uint8Array();
    for (const n of names) {
      const p = join(d, n);
      const s = await stat(p).catch(() => undefined); // follows symlinks, as Ray does
      if (!s) continue;
      if (ignored(rules, p, s.isDirectory())) continue;
      if (s.isDirectory()) await walk(p, rules);
      else if (s.isFile()) {
        const data = await readFile(p);
        bytes += data.length;
        if (bytes >= MAX_PACKAGE_BYTES)
          throw new PackageError(
            `working directory ${dir} holds more than ${MAX_PACKAGE_BYTES / 1024 ** 2} MiB, Ray's limit for a package: leave big files out with .rayignore (or .gitignore), or read them from the shared filesystem`,
          );
        const rel = relative(root, p);
        hash.update(`${rel}\0${data.length}\0`).update(data);
        entries[rel] = data;
        files++;
      }
    }
  };
  await walk(root, []);
  const zip = zipSync(entries, { level: 6, mtime: new Date("2000-01-01T00:00:00Z") });
  return { name: `_ray_pkg_${hash.digest("hex").slice(0, 32)}.zip`, zip, files, bytes };
}
