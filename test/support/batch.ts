/** What the batch mode integration tests share. */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { expect } from "vitest";
import { writeConfig } from "./cluster.js";
import { asRoot, USER } from "./testbed.js";

/** Ray processes of the test user on any host (one kernel: every emulated host's show here). */
export function rayProcesses(): string {
  return spawnSync("pgrep", ["-a", "-u", USER, "-f", "raylet|gcs_server|default_worker|ray start|node\\.sh"], {
    encoding: "utf8",
  }).stdout.trim();
}

export function writeAsUser(path: string, text: string): void {
  writeFileSync(path, text);
  asRoot(["chown", USER, path]);
}

/** The example config for batch jobs, without its `ray --version` setup command (a second or two per host). */
export function batchConfig(dir: string, name: string): string {
  const config = writeConfig(dir, name);
  writeAsUser(config, readFileSync(config, "utf8").replace(/\n {2}- echo "ray .*\n/, "\n"));
  expect(readFileSync(config, "utf8")).not.toContain("ray --version");
  return config;
}

/** The same config with its master host pinned to node1 and a setup command added first. */
export function withSetup(config: string, file: string, command: string): string {
  writeAsUser(
    file,
    readFileSync(config, "utf8")
      .replace('qsub_options: "', 'qsub_options: "-masterq all.q@node1 ')
      .replace("setup_commands:\n", `setup_commands:\n  - '${command}'\n`),
  );
  return file;
}

export const jobIdOf = (stderr: string): number => Number(/batch job (\d+) submitted/.exec(stderr)?.[1]);
