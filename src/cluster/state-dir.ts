/**
 * A cluster's state directory on the shared filesystem, and the one owner of every file in it
 * (mode 0700; files 0600). Launcher, autoscaler, job scripts and CLI all go through here:
 *
 *   token            the cluster's Ray auth token (0600)
 *   config.yaml      the user's config as `up` read it (so `ray-sge CMD NAME` finds it)
 *   spec.json        the normalised config for the autoscaler (schema: config/spec-schema.ts)
 *   head.json        the running head's address and ports (written by the head job)
 *   autoscaler.json  the autoscaler's heartbeat (every 2 s)
 *   autoscaler.stop  `down` asks the autoscaler to stop while it is there
 *   events.jsonl     the autoscaler's events
 *   cluster.lock     one change (up, down, scale) at a time (cluster/lock.ts)
 *   drivers/HOST.*   the driver node `ray-sge env` started on a host
 *   logs/            each job's output (LOG_NAMES), logs/ray/INSTANCE/ Ray's own logs when a node ends
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, link, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ClusterSpec } from "../config/normalise.js";
import { parseSpecJson } from "../config/spec-schema.js";
import type { GcsClient } from "../ray/gcs.js";

export const STATE_FILES = {
  token: "token",
  config: "config.yaml",
  spec: "spec.json",
  head: "head.json",
  heartbeat: "autoscaler.json",
  stop: "autoscaler.stop",
  events: "events.jsonl",
  lock: "cluster.lock",
  drivers: "drivers",
  logs: "logs",
} as const;

/** The names of the logs under logs/ (the job scripts' "$JOB_ID" forms are filled in by Grid Engine). */
export const LOG_NAMES = {
  head: (job: number | string) => `head.${job}.out`,
  worker: (type: string, job: number | string, task: number | string) => `${type}.${job}.${task}.out`,
  /** The autoscaler in the head job. */
  headAutoscaler: (job: number | string) => `autoscaler.${job}.out`,
  /** The autoscaler run on the submit host. */
  localAutoscaler: "autoscaler.local.out",
  driverNode: (host: string) => `driver.${host}.out`,
  /** Ray's own logs of a node, kept when its job ends. */
  ray: "ray",
} as const;

/** The log of a node's job: head.JOB.out or TYPE.JOB.TASK.out. */
export function nodeLogName(role: "head" | "worker", type: string, job: number, task?: number): string {
  return role === "head" ? LOG_NAMES.head(job) : LOG_NAMES.worker(type, job, task ?? 1);
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

/** "ip:port" of a head's GCS. */
export function gcsAddress(info: HeadInfo): string {
  return `${info.ip}:${info.gcs_port}`;
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

/** What the autoscaler writes to autoscaler.json (skipped rounds too). */
export interface AutoscalerHeartbeat {
  pid: number;
  host: string;
  mode: string;
  started_at?: number;
  last_round_at: number;
  rounds?: number;
  qstat_calls?: number;
  pending_instances?: number;
  infeasible?: number;
  /** Why its rounds are being skipped (qstat failed, GCS not answering), when they are. */
  skipping?: string;
}

/** A heartbeat older than this: the autoscaler is gone (it writes one every 2 s). */
export const HEARTBEAT_STALE_S = 10;

async function writeWhole(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export class StateDir {
  constructor(readonly path: string) {}

  private file(name: string): string {
    return join(this.path, name);
  }

  get tokenPath(): string {
    return this.file(STATE_FILES.token);
  }
  get configPath(): string {
    return this.file(STATE_FILES.config);
  }
  get headInfoPath(): string {
    return this.file(STATE_FILES.head);
  }
  /** The normalised config the autoscaler in the head job reads. */
  get specPath(): string {
    return this.file(STATE_FILES.spec);
  }
  get heartbeatPath(): string {
    return this.file(STATE_FILES.heartbeat);
  }
  get stopPath(): string {
    return this.file(STATE_FILES.stop);
  }
  get eventsPath(): string {
    return this.file(STATE_FILES.events);
  }
  get lockPath(): string {
    return this.file(STATE_FILES.lock);
  }
  get logDir(): string {
    return this.file(STATE_FILES.logs);
  }
  /** Where each node's Ray logs are kept when its job ends: logs/ray/<instance id>/. */
  get rayLogDir(): string {
    return join(this.logDir, LOG_NAMES.ray);
  }
  /** A log under logs/. */
  log(name: string): string {
    return join(this.logDir, name);
  }
  /** The driver node `ray-sge env` started on a host: its pid and the head job it joined. */
  driverNodePath(host: string): string {
    return join(this.path, STATE_FILES.drivers, `${host}.json`);
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

  async token(): Promise<string> {
    return (await readFile(this.tokenPath, "utf8")).trim();
  }

  /** The one way to a cluster's GCS: the head's address (head.json) and the cluster's token. */
  async gcsClient(info: HeadInfo, timeoutMs?: number): Promise<GcsClient> {
    // loaded on use: gRPC costs a command ~0.2 s to load, and most commands of a cluster that is
    // down (status, config, down) never reach the GCS
    const { GcsClient } = await import("../ray/gcs.js");
    return new GcsClient({ address: gcsAddress(info), token: await this.token(), ...(timeoutMs ? { timeoutMs } : {}) });
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

  async writeSpec(spec: ClusterSpec): Promise<void> {
    await writeWhole(this.specPath, JSON.stringify(spec, null, 2));
  }

  /** spec.json as written by `up`; a SpecFileError naming the wrong field if it is not. */
  async readSpec(): Promise<ClusterSpec> {
    return parseSpecJson(await readFile(this.specPath, "utf8"), this.specPath);
  }

  /** The autoscaler's last heartbeat, however old. */
  async readHeartbeat(): Promise<AutoscalerHeartbeat | undefined> {
    try {
      return JSON.parse(await readFile(this.heartbeatPath, "utf8")) as AutoscalerHeartbeat;
    } catch {
      return undefined;
    }
  }

  async writeHeartbeat(beat: AutoscalerHeartbeat): Promise<void> {
    await writeWhole(this.heartbeatPath, JSON.stringify(beat));
  }

  async clearHeartbeat(): Promise<void> {
    await rm(this.heartbeatPath, { force: true });
  }

  /** Ask a running autoscaler to stop before it acts again (`down`): it checks before each round and submission. */
  async askAutoscalerToStop(): Promise<void> {
    await writeFile(this.stopPath, `${Date.now()}\n`, { mode: 0o600 }).catch(() => undefined);
  }

  /** Withdraw a stop request (a `down` that could not delete anything, or an `up`). */
  async clearAutoscalerStop(): Promise<void> {
    await rm(this.stopPath, { force: true });
  }

  /** Is a stop asked for? One stat, synchronous: the autoscaler asks before every action. */
  stopAsked(): boolean {
    return existsSync(this.stopPath);
  }

  /** Append one line to the events log. */
  async appendEvent(line: string): Promise<void> {
    await writeFile(this.eventsPath, line, { flag: "a", mode: 0o600 });
  }

  /** The end of the events log (at most `bytes`): it grows with the cluster's life. */
  async eventsTail(bytes = 64 * 1024): Promise<string> {
    try {
      const f = await open(this.eventsPath, "r");
      try {
        const { size } = await f.stat();
        const length = Math.min(size, bytes);
        const buf = Buffer.alloc(length);
        await f.read(buf, 0, length, size - length);
        return buf.toString("utf8");
      } finally {
        await f.close();
      }
    } catch {
      return "";
    }
  }
}
