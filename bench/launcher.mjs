// Launcher benchmarks on the testbed (as its user, real Grid Engine and Ray), in the same run:
//  - `ray-sge up` (head + 2 workers, 1 slot each, 3 hosts) until the workers registered, against
//    bench/baseline-up.sh (head, wait, then workers: the sequence the guide suggests);
//  - `ray-sge status` against raw `qstat -xml` + `ray status` on the same live cluster.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { asUser, benchSetup, HOME, root, USER, VENV, writeSmallConfig } from "./testbed.mjs";

const TRIALS = Number(process.env.BENCH_LAUNCH_TRIALS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function launcherBench() {
  const pkg = benchSetup("launcher");
  if (!pkg) return true;
  const work = join(HOME, ".ray-sge-bench");
  // a run that was interrupted may have left its cluster and baseline jobs: remove them first
  spawnSync(
    "runuser",
    ["-u", USER, "--", process.execPath, join(pkg, "bin/ray-sge.js"), "down", join(work, "bench.yaml")],
    { cwd: HOME },
  );
  spawnSync("runuser", ["-u", USER, "--", "qdel", "bl-head", "bl-worker"], { cwd: HOME });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const config = join(work, "bench.yaml");
  writeSmallConfig(config, "rsgebench", work);
  cpSync(join(root, "bench/baseline-up.sh"), join(work, "baseline-up.sh"));
  spawnSync("chown", ["-R", USER, work]);
  const cli = (...args) => asUser([process.execPath, join(pkg, "bin/ray-sge.js"), ...args]);

  const ours = [];
  const base = [];
  const statusOurs = [];
  const statusRaw = [];
  for (let i = 0; i < TRIALS; i++) {
    const up = cli("up", config, "--json");
    ours.push(up.ms);
    const { address, tokenPath } = JSON.parse(up.out);
    for (let k = 0; k < 5; k++) {
      statusOurs.push(cli("status", "rsgebench").ms);
      const q = asUser(["qstat", "-xml"]).ms;
      const r = asUser([
        "env",
        "RAY_AUTH_MODE=token",
        `RAY_AUTH_TOKEN_PATH=${tokenPath}`,
        `${VENV}/bin/ray`,
        "status",
        "--address",
        address,
      ]).ms;
      statusRaw.push(q + r);
    }
    cli("down", "rsgebench");
    const bl = asUser([join(work, "baseline-up.sh"), join(work, `bl${i}`), VENV]);
    base.push(bl.ms);
    const [h, w] = bl.out.trim().split(" ");
    asUser(["qdel", h, w]);
    spawnSync("sleep", ["3"]);
  }
  const o = median(ours);
  const b = median(base);
  console.log(`\n## launcher on the testbed (head + 2 workers, 1 slot each, 3 hosts; median of ${TRIALS})`);
  console.log(
    `ray-sge up until the workers registered: ${(o / 1000).toFixed(1)} s; hand-written qsub/qstat/ray script: ${(b / 1000).toFixed(1)} s; ratio ${(o / b).toFixed(2)} (target <= 1.15: ${o / b <= 1.15 ? "met" : "MISSED"})`,
  );
  console.log(
    `  (each run: ${ours.map((x) => (x / 1000).toFixed(1)).join(", ")} s vs ${base.map((x) => (x / 1000).toFixed(1)).join(", ")} s)`,
  );
  console.log(
    `ray-sge status (SGE + Ray, matched): ${median(statusOurs).toFixed(0)} ms; raw qstat -xml + ray status: ${median(statusRaw).toFixed(0)} ms (median of ${statusOurs.length})`,
  );
  rmSync(pkg, { recursive: true, force: true });
  return o / b <= 1.15;
}
