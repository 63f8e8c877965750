/** The testbed as tests see it: its settings (scripts/testbed.conf), users, and helpers. */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll } from "vitest";
import { SgeClient } from "../../src/sge/client.js";

const CONF = new URL("../../scripts/testbed.conf", import.meta.url);
export const TESTBED_SCRIPT = new URL("../../scripts/testbed", import.meta.url).pathname;

export function testbedConfig(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(CONF, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

export const conf = testbedConfig();
export const USER = conf.TESTBED_USER as string;
export const OTHER_USER = conf.TESTBED_OTHER_USER as string;
export const HOME = conf.TESTBED_HOME as string;
export const NODES = ["1", "2", "3"].map((i) => `${conf.TESTBED_NODE_PREFIX}${i}`);

/** A Grid Engine client acting as an unprivileged testbed user (runuser, argv only). */
export function clientAs(user: string = USER, cwd = user === USER ? HOME : `/home/${user}`): SgeClient {
  return new SgeClient({ commandPrefix: ["runuser", "-u", user, "--"], cwd, timeoutMs: 60_000 });
}

/** Run a command as root (testbed administration: qmod, qconf -km ...). */
export function asRoot(argv: string[]): { status: number; stdout: string; stderr: string } {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd as string, args, { encoding: "utf8" });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh directory in the test user's home (the testbed's shared filesystem). */
export function userDir(prefix: string, user: string = USER): string {
  return execFileSync(
    "runuser",
    ["-u", user, "--", "mktemp", "-d", `${user === USER ? HOME : `/home/${user}`}/${prefix}.XXXXXX`],
    {
      encoding: "utf8",
    },
  ).trim();
}

export function readAsUser(path: string): string {
  return readFileSync(path, "utf8");
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`,
  );
}

/** Is the qmaster answering? */
export function qmasterUp(): boolean {
  return asRoot(["qconf", "-sss"]).status === 0;
}

/** Is an sge_qmaster process alive (it answers slowly while shutting down)? */
export function qmasterProcessAlive(): boolean {
  return asRoot(["pgrep", "-x", "sge_qmaster"]).status === 0;
}

/** Start the qmaster again after a test stopped it, and wait until it answers. */
export async function startQmaster(): Promise<void> {
  if (qmasterUp()) return;
  asRoot([TESTBED_SCRIPT, "start-qmaster"]); // whichever scheduler runs (8.1.9 or OCS)
  await waitFor("qmaster to answer", async () => qmasterUp(), 60_000);
}

export interface JobScope {
  /** A client acting as the test user. */
  sge: SgeClient;
  /** A fresh directory in the test user's home. */
  dir: string;
  /** Every job id the file submitted: deleted, and waited for, after the file's tests. */
  submitted: number[];
  /** Wait until a job has left qstat (finished or deleted). */
  gone(id: number): Promise<void>;
}

/** Set up a test file's jobs: client, work directory, and cleanup of everything it submitted. */
export function jobScope(prefix: string): JobScope {
  // test files are imported after the global setup brought the testbed (and its user) up
  const scope: JobScope = {
    sge: clientAs(),
    dir: userDir(prefix),
    submitted: [],
    gone: async (id) => {
      await waitFor(
        `job ${id} to leave qstat`,
        async () => (await scope.sge.listJobs({ jobIds: [id] })).length === 0,
        60_000,
        300,
      );
    },
  };
  afterAll(async () => {
    await startQmaster();
    await scope.sge.deleteJobs(scope.submitted);
    await waitFor(
      "the file's jobs to leave qstat",
      async () => (await scope.sge.listJobs({ users: "all", jobIds: scope.submitted })).length === 0,
    );
  });
  return scope;
}
