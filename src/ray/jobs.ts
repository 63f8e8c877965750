/**
 * Ray's Jobs API (the dashboard's HTTP API on the head): submit a driver that the head runs, follow
 * its output, read its status and exit code, stop it, upload a working_dir package. The token goes in
 * `Authorization: Bearer` (with token auth on, Ray answers 401 without it and 403 with a wrong one).
 * Wire shapes (snake_case, Ray's) are turned into domain types by pure functions.
 */
import { request as httpRequest } from "node:http";
import WebSocket from "ws";

export type RayJobStatus = "PENDING" | "RUNNING" | "STOPPED" | "SUCCEEDED" | "FAILED";

export interface RayJob {
  submissionId: string;
  /** Ray's job id of the driver, once it started. */
  jobId?: string;
  status: RayJobStatus;
  entrypoint: string;
  message?: string;
  /** The driver's exit code, once it ended (Ray leaves it out when the driver never ran). */
  driverExitCode?: number;
  errorType?: string;
  startTimeMs?: number;
  endTimeMs?: number;
  metadata: Record<string, string>;
}

export interface SubmitRequest {
  entrypoint: string;
  runtimeEnv?: Record<string, unknown>;
  metadata?: Record<string, string>;
  submissionId?: string;
}

export type JobsErrorKind = "unauthorized" | "not-found" | "unreachable" | "bad-request" | "server";

export class RayJobsError extends Error {
  override readonly name = "RayJobsError";
  constructor(
    message: string,
    readonly kind: JobsErrorKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

export function isTerminal(s: RayJobStatus): boolean {
  return s === "STOPPED" || s === "SUCCEEDED" || s === "FAILED";
}

interface WireJob {
  submission_id?: string | null;
  job_id?: string | null;
  status: RayJobStatus;
  entrypoint: string;
  message?: string | null;
  driver_exit_code?: number | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  type?: string;
}

/** Pure: Ray's job JSON -> RayJob. */
export function jobFromWire(w: WireJob): RayJob {
  const j: RayJob = {
    submissionId: w.submission_id ?? w.job_id ?? "",
    status: w.status,
    entrypoint: w.entrypoint,
    metadata: w.metadata ?? {},
  };
  if (w.job_id) j.jobId = w.job_id;
  if (w.message) j.message = w.message;
  if (typeof w.driver_exit_code === "number") j.driverExitCode = w.driver_exit_code;
  if (w.error_type) j.errorType = w.error_type;
  if (w.start_time) j.startTimeMs = w.start_time;
  if (w.end_time) j.endTimeMs = w.end_time;
  return j;
}

/** Pure: the submission body Ray's POST /api/jobs/ takes. */
export function submitBody(r: SubmitRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { entrypoint: r.entrypoint };
  if (r.runtimeEnv) body.runtime_env = r.runtimeEnv;
  if (r.metadata) body.metadata = r.metadata;
  if (r.submissionId) body.submission_id = r.submissionId;
  return body;
}

export interface JobsClientOptions {
  /** The dashboard's URL, e.g. http://10.0.0.5:8265. */
  url: string;
  token: string;
  /** Per request (not for the log stream); default 30 s; an upload of a big working_dir may need more. */
  timeoutMs?: number;
}

export class JobsClient {
  private readonly url: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: JobsClientOptions) {
    this.url = options.url.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * One HTTP request (node:http, not fetch: fetch sends Sec-Fetch-* headers, and Ray's dashboard
   * refuses POSTs that look like a browser's). Errors become RayJobsError with a kind.
   */
  private async request(method: string, path: string, body?: Uint8Array | string, type?: string): Promise<string> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}` };
    if (type) headers["content-type"] = type;
    if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest(`${this.url}${path}`, { method, headers, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)));
      req.on("error", (e: NodeJS.ErrnoException) =>
        reject(new RayJobsError(`cannot reach Ray's dashboard at ${this.url} (${e.code ?? e.message})`, "unreachable")),
      );
      req.end(body);
    });
    if (status >= 200 && status < 300) return text;
    const short = text.trim().split("\n").slice(-3).join(" | ").slice(0, 600);
    if (status === 401 || status === 403)
      throw new RayJobsError(
        `Ray's dashboard refused the token (${status}): is ${this.url} this cluster's?`,
        "unauthorized",
        status,
      );
    if (status === 404) throw new RayJobsError(short || `not found: ${path}`, "not-found", 404);
    throw new RayJobsError(
      `Ray's Jobs API answered ${status} to ${method} ${path}: ${short}`,
      status < 500 ? "bad-request" : "server",
      status,
    );
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const text = await this.request(
      method,
      path,
      body === undefined ? undefined : JSON.stringify(body),
      body === undefined ? undefined : "application/json",
    );
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new RayJobsError(`Ray's Jobs API answered ${method} ${path} with no JSON: ${text.slice(0, 200)}`, "server");
    }
  }

  /** Submit a driver; returns its submission id. */
  async submit(r: SubmitRequest): Promise<string> {
    const res = await this.json<{ submission_id: string }>("POST", "/api/jobs/", submitBody(r));
    return res.submission_id;
  }

  async get(id: string): Promise<RayJob> {
    return jobFromWire(await this.json<WireJob>("GET", `/api/jobs/${encodeURIComponent(id)}`));
  }

  /** Jobs submitted through the Jobs API (drivers started by hand have no submission id: left out). */
  async list(): Promise<RayJob[]> {
    const all = await this.json<WireJob[]>("GET", "/api/jobs/");
    return all.filter((w) => w.type === undefined || w.type === "SUBMISSION").map(jobFromWire);
  }

  async logs(id: string): Promise<string> {
    return (await this.json<{ logs: string }>("GET", `/api/jobs/${encodeURIComponent(id)}/logs`)).logs;
  }

  /** Ask Ray to stop the driver; false if it had already ended. */
  async stop(id: string): Promise<boolean> {
    return (await this.json<{ stopped: boolean }>("POST", `/api/jobs/${encodeURIComponent(id)}/stop`)).stopped;
  }

  /** Does the GCS hold this working_dir package already (gcs://NAME)? */
  async packageExists(name: string): Promise<boolean> {
    try {
      await this.request("GET", `/api/packages/gcs/${encodeURIComponent(name)}`);
      return true;
    } catch (e) {
      if (e instanceof RayJobsError && e.kind === "not-found") return false;
      throw e;
    }
  }

  async uploadPackage(name: string, zip: Uint8Array): Promise<void> {
    await this.request(
      "PUT",
      `/api/packages/gcs/${encodeURIComponent(name)}`,
      Buffer.from(zip),
      "application/octet-stream",
    );
  }

  /**
   * Follow the driver's output until it ends: Ray streams it over a websocket from the start of the
   * log; `onText` gets each chunk. Resolves when Ray closes the stream (the job ended), or on abort.
   */
  tail(id: string, onText: (text: string) => void, signal?: AbortSignal): Promise<void> {
    const url = `${this.url.replace(/^http/, "ws")}/api/jobs/${encodeURIComponent(id)}/logs/tail`;
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.options.token}` } });
      const onAbort = () => {
        ws.terminate();
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = (f: () => void) => {
        signal?.removeEventListener("abort", onAbort);
        f();
      };
      ws.on("message", (data) => onText(data.toString()));
      ws.on("unexpected-response", (_req, res) => {
        const status = res.statusCode ?? 0;
        ws.terminate();
        done(() =>
          reject(
            new RayJobsError(
              status === 401 || status === 403
                ? `Ray's dashboard refused the token (${status})`
                : `Ray's log stream for ${id} answered ${status}`,
              status === 401 || status === 403 ? "unauthorized" : status === 404 ? "not-found" : "server",
              status,
            ),
          ),
        );
      });
      ws.on("error", (e) =>
        done(() => reject(new RayJobsError(`Ray's log stream for ${id} failed: ${e.message}`, "unreachable"))),
      );
      ws.on("close", () => done(resolve));
    });
  }
}
