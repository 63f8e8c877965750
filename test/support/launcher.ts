/** Ray's own launcher (`ray up` & co.) as the testbed user, with ray_sge_provider installed in Ray's venv. */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { PKG_BIN } from "./cluster.js";
import { conf, HOME, USER } from "./testbed.js";

const ROOT = new URL("../../", import.meta.url).pathname;
export const RAY_VENV = conf.RAY_VENV as string;

/** `pip install ./python` into the testbed's Ray venv, as a site's admin (or a user in their venv) would. */
export function installProvider(): void {
  execFileSync(join(RAY_VENV, "bin/pip"), ["install", "-q", "--disable-pip-version-check", join(ROOT, "python")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** The user's login environment for `ray`: the venv first on PATH, ray-sge named by RAY_SGE_CLI. */
function userEnv(): string[] {
  return [
    `PATH=${RAY_VENV}/bin:/usr/local/bin:/usr/bin:/bin`,
    `HOME=${HOME}`,
    `USER=${USER}`,
    `LOGNAME=${USER}`,
    `RAY_SGE_CLI=${process.execPath} ${PKG_BIN}`,
    "RAY_USAGE_STATS_ENABLED=0",
  ];
}

/** `ray ARGS` as the test user; its exit code and its output (stdout and stderr together, as a terminal shows). */
export function ray(args: string[], cwd: string, timeoutMs = 300_000): { status: number; out: string } {
  const r = spawnSync(
    "runuser",
    ["-u", USER, "--", "env", "-i", ...userEnv(), "bash", "-c", 'exec ray "$@" 2>&1', "ray", ...args],
    {
      cwd,
      encoding: "utf8",
      timeout: timeoutMs,
    },
  );
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** `ray ARGS` in the background; its output gathers in `out`. */
export function rayInBackground(
  args: string[],
  cwd: string,
): { child: ChildProcess; out: () => string; done: Promise<number> } {
  const child = spawn(
    "runuser",
    ["-u", USER, "--", "env", "-i", ...userEnv(), "bash", "-c", 'exec ray "$@" 2>&1', "ray", ...args],
    {
      cwd,
    },
  );
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const done = new Promise<number>((resolve) => child.once("close", (code) => resolve(code ?? -1)));
  return { child, out: () => out, done };
}

/** The test user's Ray processes anywhere on this machine (every emulated host shares its process table). */
export function rayProcessesOfUser(): string {
  return spawnSync("pgrep", ["-a", "-u", USER, "-f", "raylet|gcs_server|ray start|default_worker|dashboard.py"], {
    encoding: "utf8",
  }).stdout.trim();
}
