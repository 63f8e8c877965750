/**
 * The driver node: what `ray-sge env` starts on its own host (a login node, say) so that drivers run
 * there are real Ray drivers. A driver needs a raylet and object store on its host: one that finds
 * none registers under another node's address (measured: Ray Data hung, Tune lost trials), and Ray
 * Client cannot run Ray Data's executor (Ray 2.58). The node offers no CPUs, GPUs or memory, so the
 * cluster's work never lands there; it is private to its user like every node, ends 10 s after the
 * cluster, and `down` stops it. One per cluster and host, reused by later `env` calls.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import type { ClusterSpec } from "../config/normalise.js";
import type { RayNode } from "../ray/nodes.js";
import { VERSION } from "../version.js";
import type { Connection } from "./connection.js";
import { renderDriverNodeScript } from "./jobscript.js";
import { pidAlive } from "./pid.js";
import { type DriverNodeRecord, LOG_NAMES, type StateDir } from "./state-dir.js";

export const DRIVER_TYPE = "driver";

/**
 * The Ray instance id of a driver node: driver-<host>-<random>, new at each start, so that a node of an
 * earlier start that the GCS still lists as alive (for its health-check timeout) is never taken for it.
 */
export function driverInstanceId(host: string): string {
  return `driver-${host}-${randomBytes(3).toString("hex")}`;
}

export function isDriverInstance(instanceId: string): boolean {
  return instanceId.startsWith("driver-");
}

export interface DriverNodeDeps {
  spec: ClusterSpec;
  state: StateDir;
  /** The cluster's Ray nodes as the GCS lists them. */
  rayNodes(): Promise<RayNode[]>;
  log(line: string): void;
}

export interface DriverNodeOutcome {
  kind: "started" | "running" | "not-needed";
  /** What drivers here connect through, in words. */
  why: string;
  instanceId?: string;
  ip: string;
}

/** This host's address towards the head: the one Ray picks for nodes and drivers here. */
export function localAddressTowards(ip: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", (e) => {
      s.close();
      reject(e);
    });
    s.connect(port, ip, () => {
      const a = s.address().address;
      s.close();
      resolve(a);
    });
  });
}

/** Is pid still the driver node's process (a recycled pid is someone else's: never signal it)? */
async function isDriverProcess(rec: DriverNodeRecord): Promise<boolean> {
  if (!rec.pid || !pidAlive(rec.pid)) return false;
  const cmd = await readFile(`/proc/${rec.pid}/cmdline`, "utf8").catch(() => "");
  return cmd.split("\0").includes(rec.script);
}

async function readRecord(path: string): Promise<DriverNodeRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as DriverNodeRecord;
  } catch {
    return undefined;
  }
}

/** One `env` at a time starts this host's driver node: mkdir is atomic, a lock older than 2 min is stale. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await mkdir(lock, { mode: 0o700 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 120_000) await rm(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${lock} is held by another ray-sge env`);
      else await new Promise((r) => setTimeout(r, 300));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Make sure drivers on this host can join the cluster: a Ray node of the cluster already here (a job
 * of it runs on this host) will do; else this host's driver node, started if it is not running.
 */
export async function ensureDriverNode(
  deps: DriverNodeDeps,
  conn: Connection,
  opts: { timeoutMs?: number } = {},
): Promise<DriverNodeOutcome> {
  const host = hostname();
  const ip = await localAddressTowards(conn.head.ip, conn.head.gcs_port);
  const nodes = await deps.rayNodes();
  const here = nodes.find((n) => n.state === "ALIVE" && n.ip === ip && !isDriverInstance(n.instanceId));
  if (here) return { kind: "not-needed", why: `a node of the cluster runs on this host (${here.instanceId})`, ip };
  const recordPath = deps.state.driverNodePath(host);
  await mkdir(dirname(recordPath), { recursive: true, mode: 0o700 });
  return withLock(recordPath, async () => {
    const rec = await readRecord(recordPath);
    const alive =
      rec !== undefined && (await deps.rayNodes()).some((n) => n.instanceId === rec.instance_id && n.state === "ALIVE");
    const running = rec !== undefined && (await isDriverProcess(rec));
    if (rec && running && rec.head_job === conn.head.job_id && alive)
      return {
        kind: "running",
        why: `the driver node ${rec.instance_id} (pid ${rec.pid})`,
        instanceId: rec.instance_id,
        ip,
      };
    const instanceId = driverInstanceId(host);
    // a driver node of an earlier incarnation of the cluster, or one that lost its GCS: replace it
    if (rec && running) process.kill(rec.pid, "SIGTERM");
    const script = join(dirname(recordPath), `${host}.sh`);
    const log = deps.state.log(LOG_NAMES.driverNode(host));
    await writeFile(
      script,
      renderDriverNodeScript({
        cluster: deps.spec.name,
        stateDir: deps.state.path,
        rayExecutable: deps.spec.rayExecutable,
        nodeType: DRIVER_TYPE,
        role: "driver",
        resourceArgs: [],
        extraArgs: [],
        setupCommands: deps.spec.setupCommands,
        version: VERSION,
        driver: {
          headIp: conn.head.ip,
          gcsPort: conn.head.gcs_port,
          objectStoreBytes: deps.spec.driverObjectStoreBytes,
          instanceId,
        },
      }),
      { mode: 0o700 },
    );
    deps.log(
      `starting the driver node ${instanceId} on this host (no CPUs: it runs no work; drivers here join the cluster through it); log: ${log}`,
    );
    const out = await open(log, "a", 0o600);
    let pid: number;
    try {
      // its own session: it outlives this command and the terminal; `down` (or the cluster's end) stops it
      const child = spawn("/bin/bash", [script], { detached: true, stdio: ["ignore", out.fd, out.fd] });
      child.unref();
      pid = child.pid ?? 0;
    } finally {
      await out.close();
    }
    const record: DriverNodeRecord = {
      host,
      pid,
      head_job: conn.head.job_id,
      instance_id: instanceId,
      started_at: Date.now() / 1000,
      script,
      log,
    };
    await writeFile(recordPath, JSON.stringify(record), { mode: 0o600 });
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      if ((await deps.rayNodes().catch(() => [])).some((n) => n.instanceId === instanceId && n.state === "ALIVE"))
        return { kind: "started", why: `the driver node ${instanceId} (pid ${pid})`, instanceId, ip };
      if (!pidAlive(pid)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (pidAlive(pid)) process.kill(pid, "SIGTERM");
    await rm(recordPath, { force: true });
    const tail = (await readFile(log, "utf8").catch(() => "")).trim().split("\n").slice(-4).join("\n  ");
    throw new Error(`the driver node on ${host} did not join the cluster; the end of ${log}:\n  ${tail}`);
  });
}

/** Stop this host's driver node of the cluster and wait for it (the others end 10 s after the cluster does). */
export async function stopDriverNode(state: StateDir): Promise<number | undefined> {
  const path = state.driverNodePath(hostname());
  const rec = await readRecord(path);
  await rm(path, { force: true });
  if (!rec || !(await isDriverProcess(rec))) return undefined;
  process.kill(rec.pid, "SIGTERM");
  // it stops Ray, then keeps Ray's logs: wait for that (bounded)
  for (let i = 0; i < 120 && pidAlive(rec.pid); i++) await new Promise((r) => setTimeout(r, 250));
  return rec.pid;
}
