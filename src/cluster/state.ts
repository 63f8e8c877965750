/**
 * A cluster's identity in Grid Engine (job names and -ac context) and its state directory on the
 * shared filesystem (0700: token 0600, head.json, logs/, scripts/).
 */
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GcsClient } from "../ray/gcs.js";

/** `down` writes it in the state dir; the autoscaler stops while it is there (its supervisor waits). */
export const AUTOSCALER_STOP_FILE = "autoscaler.stop";

/** "ip:port" of a head's GCS. */
export function gcsAddress(info: HeadInfo): string {
  return `${info.ip}:${info.gcs_port}`;
}

/** Ask a running autoscaler to stop before it acts again (used by `down`): it checks before each round and submission. */
export async function askAutoscalerToStop(stateDir: string): Promise<void> {
  await writeFile(join(stateDir, AUTOSCALER_STOP_FILE), `${Date.now()}\n`, { mode: 0o600 }).catch(() => undefined);
}

/** Withdraw a stop request (a `down` that could not delete anything). */
export async function clearAutoscalerStop(stateDir: string): Promise<void> {
  await rm(join(stateDir, AUTOSCALER_STOP_FILE), { force: true });
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

export function jobContext(cluster: string, role: "head" | "worker", type: string): Record<string, string> {
  return { ray_sge_cluster: cluster, ray_sge_role: role, ray_sge_type: type };
}

/** What a job name says about the cluster's node: role and type, or undefined if not ours. */
export function parseJobName(cluster: string, name: string): { role: "head" | "worker"; type: string } | undefined {
  if (name === headJobName(cluster)) return { role: "head", type: "head" };
  const prefix = `rsge-${cluster}-w-`;
  return name.startsWith(prefix) ? { role: "worker", type: name.slice(prefix.length) } : undefined;
}

export interface HeadInfo {
  cluster: string;
  job_id: string;
  host: string;
  ip: string;
  gcs_port: number;
  dashboard_port: number;
  client_port: number;
  /** The head's dashboard agent (job agent) HTTP port and Ray's metrics port (open: Ray's default). */
  agent_port?: number;
  metrics_port?: number;
  temp_dir: string;
  ray_python?: string;
  started_at: number;
  /** "head" when ray-sge's autoscaler runs in the head job, "off", or "unavailable: why". */
  autoscaler?: string;
}

/** A driver node `ray-sge env` started on its own host (drivers/<host>.json). */
export interface DriverNodeRecord {
  host: string;
  pid: number;
  /** The head job whose cluster it joined: a record of an earlier incarnation is stale. */
  head_job: string;
  instance_id: string;
  started_at: number;
  script: string;
  log: string;
}

export class StateDir {
  constructor(readonly path: string) {}

  get tokenPath(): string {
    return join(this.path, "token");
  }

  /** The one way to a cluster's GCS: the head's address (head.json) and the cluster's token. */
  async gcsClient(info: HeadInfo, timeoutMs?: number): Promise<GcsClient> {
    const token = (await readFile(this.tokenPath, "utf8")).trim();
    return new GcsClient({ address: gcsAddress(info), token, ...(timeoutMs ? { timeoutMs } : {}) });
  }
  get headInfoPath(): string {
    return join(this.path, "head.json");
  }
  /** The normalised config the autoscaler in the head job reads. */
  get specPath(): string {
    return join(this.path, "spec.json");
  }
  get logDir(): string {
    return join(this.path, "logs");
  }
  /** Where each node's Ray logs are kept when its job ends: logs/ray/<instance id>/. */
  get rayLogDir(): string {
    return join(this.logDir, "ray");
  }
  /** The driver node `ray-sge env` started on a host: its pid and the head job it joined. */
  driverNodePath(host: string): string {
    return join(this.path, "drivers", `${host}.json`);
  }

  /** Create the directory (0700) and the token (0600) if missing; returns whether the token is new. */
  async ensure(): Promise<boolean> {
    await mkdir(this.logDir, { recursive: true, mode: 0o700 });
    await chmod(this.path, 0o700);
    try {
      const s = await stat(this.tokenPath);
      if ((s.mode & 0o077) !== 0) await chmod(this.tokenPath, 0o600);
      return false;
    } catch {
      // written whole, then linked into place: two `up` at once get one token, and no reader ever
      // sees a half-written one (link fails if the name exists; measured: wx alone raced, EEXIST)
      const tmp = `${this.tokenPath}.${process.pid}.${randomBytes(4).toString("hex")}`;
      await writeFile(tmp, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
      try {
        await link(tmp, this.tokenPath);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw e;
      } finally {
        await rm(tmp, { force: true });
      }
    }
  }

  async readHeadInfo(): Promise<HeadInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.headInfoPath, "utf8")) as HeadInfo;
    } catch {
      return undefined;
    }
  }

  async clearHeadInfo(): Promise<void> {
    await rm(this.headInfoPath, { force: true });
  }
}
