/** Running the CLI as the testbed user, from a copy of the package that user can read. */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { asRoot, conf, HOME, USER } from "./testbed.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const RAY_VENV = conf.RAY_VENV as string;
const PKG = join(HOME, ".ray-sge-it-pkg");
/** The installed CLI, for commands run through a shell as the test user. */
export const PKG_BIN = join(PKG, "bin/ray-sge.js");

/** Install the built package where the test user can read it (a checkout may be under a 0700 /root). */
export function installForUser(): void {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT });
  execFileSync(join(ROOT, "scripts/install-cli"), [PKG, USER]);
}

export function cli(args: string[], cwd: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync("runuser", ["-u", USER, "--", process.execPath, join(PKG, "bin/ray-sge.js"), ...args], {
    cwd,
    encoding: "utf8",
    timeout: 300_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function writeConfig(dir: string, name: string): string {
  const text = readFileSync(join(ROOT, "examples/ray-sge-cluster.yaml"), "utf8")
    .replace("cluster_name: ray-sge-cluster", `cluster_name: ${name}`)
    .replace("setup_commands:\n", `state_dir: ${dir}/state\nsetup_commands:\n`)
    .replace(
      "  # Minimum number of workers to maintain",
      "  labels: { tier: it-test }\n  # Minimum number of workers to maintain",
    );
  // the example activates the testbed's Ray: keep it in step with scripts/testbed.conf
  expect(text).toContain(`source ${RAY_VENV}/bin/activate`);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  asRoot(["chown", USER, file]);
  return file;
}

/** A cluster of 1-slot head and one 1-slot worker with 1G, so several fit on the testbed at once. */
export function smallConfig(dir: string, name: string): string {
  const file = writeConfig(dir, name);
  const text = readFileSync(file, "utf8")
    .replace(/slots: \d+/g, "slots: 1")
    .replace(/memory: "\d+G"/g, 'memory: "1G"')
    .replace("min_workers: 2", "min_workers: 1");
  writeFileSync(file, text);
  return file;
}

/**
 * A login shell of the test user on the submit host, as on a real login node: in a PID namespace of
 * its own, so that only its own processes are listed (Ray finds the raylet a driver attaches to by
 * listing processes; on this one-kernel testbed it would otherwise see every emulated host's). What it
 * starts ends with it.
 */
export function loginShell(
  script: string,
  cwd: string,
  timeoutMs = 300_000,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(
    "unshare",
    ["--pid", "--fork", "--mount-proc", "runuser", "-u", USER, "--", "bash", "-c", script],
    { cwd, encoding: "utf8", timeout: timeoutMs },
  );
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** An autoscaler event as the tests read it (src/autoscaler/events.ts writes them). */
export type ClusterEvent = {
  event: string;
  time: string;
  type?: string;
  count?: number;
  instance?: string;
  why?: string;
  [k: string]: unknown;
};

/** Every event in a cluster's events.jsonl (none while the file is not there). */
export function clusterEvents(stateDir: string): ClusterEvent[] {
  const f = join(stateDir, "events.jsonl");
  return existsSync(f)
    ? readFileSync(f, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as ClusterEvent)
    : [];
}

/** The CLI as the test user, without blocking the test (several at once): its exit code and output. */
export function runCli(args: string[], cwd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  const child = spawnCli(args, cwd);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.once("close", (code) => resolve({ status: code ?? -1, stdout, stderr })));
}

/** The CLI as the test user in a child process of ours (no runuser between), so signals reach it. */
export function spawnCli(args: string[], cwd: string): ChildProcess {
  const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", USER], { encoding: "utf8" }).trim());
  return spawn(process.execPath, [PKG_BIN, ...args], {
    cwd,
    uid,
    gid,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME,
      USER,
      LOGNAME: USER,
      // the cell's settings (OCS's settings.sh sets them; 8.1.9 needs none)
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => k.startsWith("SGE_") || k === "LD_LIBRARY_PATH"),
      ),
    },
  });
}
