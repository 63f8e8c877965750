// What the testbed benchmarks share: scripts/testbed.conf's settings, and running a command as its user.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const root = join(new URL(".", import.meta.url).pathname, "..");
export const conf = Object.fromEntries(
  readFileSync(join(root, "scripts/testbed.conf"), "utf8")
    .split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l))
    .map((l) => l.split("=")),
);
export const USER = conf.TESTBED_USER;
export const HOME = conf.TESTBED_HOME;
export const VENV = conf.RAY_VENV;

/** Run argv as the testbed user; its time and output, or an Error with its stderr. */
export function asUser(argv, opts = {}) {
  const t = performance.now();
  const r = spawnSync("runuser", ["-u", USER, "--", ...argv], {
    encoding: "utf8",
    cwd: HOME,
    timeout: 300_000,
    ...opts,
  });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  return { ms: performance.now() - t, out: r.stdout };
}

/**
 * A testbed benchmark's start: false (and a line saying why) when the testbed is not up; else the CLI
 * installed where the testbed user can read it, and its path.
 */
export function benchSetup(name) {
  if (spawnSync(join(root, "scripts/testbed"), ["status"]).status !== 0) {
    console.log(`\n## ${name}: skipped (the testbed is not up: scripts/testbed up)`);
    return undefined;
  }
  const pkg = join(HOME, ".ray-sge-bench-pkg");
  spawnSync(join(root, "scripts/install-cli"), [pkg, USER], { stdio: "inherit" });
  return pkg;
}

/** The guide's example as a small cluster (1 slot and 1G per node) named NAME, its state in WORK/state. */
export function writeSmallConfig(file, name, work) {
  writeFileSync(
    file,
    readFileSync(join(root, "examples/ray-sge-cluster.yaml"), "utf8")
      .replace("cluster_name: ray-sge-cluster", `cluster_name: ${name}`)
      .replace("setup_commands:\n", `state_dir: ${work}/state\nsetup_commands:\n`)
      .replace(/slots: \d+/g, "slots: 1")
      .replace(/memory: "\d+G"/g, 'memory: "1G"'),
  );
}
