// Ray's launcher as the front door (issue 17), on the testbed in the same run: `ray up -y CONFIG` with
// ray_sge_provider until the workers registered, against `ray-sge up CONFIG` of the same config (the
// guide's example at 1 slot and 1G per node, 3 hosts). Both return when the workers are Ray nodes:
// `ray up`'s extra is Ray's CLI (its Python start, config checks, the updater's calls) around one
// `ray-sge up`. Target: at most 1.1.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { asUser, benchSetup, HOME, root, USER, VENV, writeSmallConfig } from "./testbed.mjs";

const TRIALS = Number(process.env.BENCH_RAYUP_TRIALS ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function rayUpBench() {
  const pkg = benchSetup("ray up");
  if (!pkg) return true;
  const pip = spawnSync(join(VENV, "bin/pip"), ["install", "-q", "--disable-pip-version-check", join(root, "python")], {
    stdio: "inherit",
  });
  if (pip.status !== 0) throw new Error("pip install ./python failed");
  const work = join(HOME, ".ray-sge-bench-rayup");
  const config = join(work, "rayup.yaml");
  const cliWords = [process.execPath, join(pkg, "bin/ray-sge.js")];
  const env = [
    "env",
    `PATH=${VENV}/bin:/usr/bin:/bin`,
    `HOME=${HOME}`,
    `RAY_SGE_CLI=${cliWords.join(" ")}`,
    "RAY_USAGE_STATS_ENABLED=0",
  ];
  spawnSync("runuser", ["-u", USER, "--", ...cliWords, "down", config], { cwd: HOME });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeSmallConfig(config, "rsgerayup", work);
  spawnSync("chown", ["-R", USER, work]);
  const ours = [];
  const viaRay = [];
  for (let i = 0; i < TRIALS; i++) {
    // alternate, so that neither side gets a warmer machine
    ours.push(asUser([...cliWords, "up", config, "--json"], { cwd: work }).ms);
    asUser([...cliWords, "down", config], { cwd: work });
    viaRay.push(asUser([...env, `${VENV}/bin/ray`, "up", "-y", config], { cwd: work }).ms);
    asUser([...env, `${VENV}/bin/ray`, "down", "-y", config], { cwd: work });
  }
  const o = median(ours);
  const r = median(viaRay);
  const met = r / o <= 1.1;
  console.log(`\n## ray up with ray_sge_provider (head + 2 workers, 1 slot each, 3 hosts; median of ${TRIALS})`);
  console.log(
    `ray up -y until the workers registered: ${(r / 1000).toFixed(1)} s; ray-sge up of the same config: ${(o / 1000).toFixed(1)} s; ratio ${(r / o).toFixed(2)} (target <= 1.1: ${met ? "met" : "MISSED"})`,
  );
  console.log(
    `  (each run: ${viaRay.map((x) => (x / 1000).toFixed(1)).join(", ")} s vs ${ours.map((x) => (x / 1000).toFixed(1)).join(", ")} s)`,
  );
  rmSync(work, { recursive: true, force: true });
  rmSync(pkg, { recursive: true, force: true });
  return met;
}
