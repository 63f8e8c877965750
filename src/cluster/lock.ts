/**
 * One change to a cluster at a time (up, down, scale), across processes and hosts: a lock file in
 * the cluster's state directory on the shared filesystem. Taken by an exclusive create (atomic on
 * local filesystems and NFS); it names its owner (host, pid, what it does) and the owner refreshes its
 * mtime every few seconds while it works. A lock not refreshed for STALE_MS, or one whose owner pid
 * is gone on this very host, is stale: taken over. Grid Engine stays the arbiter of what exists: the
 * owner of the lock looks at the cluster's jobs before it changes anything.
 */
import { readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { pidAlive } from "./pid.js";
import type { StateDir } from "./state-dir.js";

/** A lock older than this without a refresh belongs to a process that died (anywhere). */
export const STALE_MS = 30_000;
const REFRESH_MS = 5_000;

export interface LockOwner {
  host: string;
  pid: number;
  op: string;
  since: number;
}

export class LockTimeoutError extends Error {
  override readonly name = "LockTimeoutError";
}

/** Pure: is a lock with this owner and age stale, seen from host/pid? */
export function isStale(
  owner: LockOwner | undefined,
  ageMs: number,
  here: { host: string },
  alive: (pid: number) => boolean,
): boolean {
  if (ageMs > STALE_MS) return true;
  // unreadable (half written by a dying process): judged by age alone
  if (!owner) return false;
  return owner.host === here.host && !alive(owner.pid);
}

async function readOwner(path: string): Promise<{ owner?: LockOwner; ageMs: number } | undefined> {
  try {
    const s = await stat(path);
    const text = await readFile(path, "utf8").catch(() => "");
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(text) as LockOwner;
    } catch {
      owner = undefined;
    }
    return { ...(owner ? { owner } : {}), ageMs: Date.now() - s.mtimeMs };
  } catch {
    return undefined;
  }
}

/**
 * Run fn holding the cluster's lock; wait for another holder (saying who, once) until timeoutMs.
 * The lock is released when fn settles, and refreshed while it runs.
 */
export async function withClusterLock<T>(
  state: Pick<StateDir, "lockPath">,
  op: string,
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; log?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<T> {
  const path = state.lockPath;
  const me: LockOwner = { host: hostname(), pid: process.pid, op, since: Date.now() };
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  let said = "";
  for (;;) {
    try {
      await writeFile(path, JSON.stringify(me), { flag: "wx", mode: 0o600 });
      break;
    } catch (e) {
      // no state directory (lost): nothing to coordinate through; Grid Engine alone decides
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return fn();
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const held = await readOwner(path);
    if (!held) continue; // released meanwhile
    if (isStale(held.owner, held.ageMs, me, pidAlive)) {
      opts.log?.(
        `taking over a stale lock of ${held.owner ? `${held.owner.op} (pid ${held.owner.pid} on ${held.owner.host})` : "an unknown process"} on ${path}`,
      );
      await rm(path, { force: true });
      continue;
    }
    const who = held.owner
      ? `ray-sge ${held.owner.op} (pid ${held.owner.pid} on ${held.owner.host}, since ${new Date(held.owner.since).toLocaleTimeString()})`
      : "another ray-sge";
    if (Date.now() > deadline)
      throw new LockTimeoutError(`${who} is still changing this cluster (${path}): try again when it is done`);
    if (who !== said) opts.log?.(`${who} is changing this cluster: waiting for it to finish`);
    said = who;
    if (opts.signal?.aborted) throw new LockTimeoutError("interrupted while waiting for the cluster's lock");
    await new Promise((r) => setTimeout(r, 500));
  }
  const refresh = setInterval(() => {
    const t = new Date();
    utimes(path, t, t).catch(() => undefined);
  }, REFRESH_MS);
  refresh.unref();
  try {
    return await fn();
  } finally {
    clearInterval(refresh);
    // only our own lock: if it was taken over (we stalled past STALE_MS), it is not ours to remove
    const held = await readOwner(path);
    if (held?.owner?.pid === me.pid && held.owner.host === me.host && held.owner.since === me.since)
      await rm(path, { force: true });
  }
}
