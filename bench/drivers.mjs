// Driver benchmarks on the testbed (as its user, real Grid Engine and Ray 2.58 with Data and Tune), in
// the same run, on one fixed cluster (2-slot head + 2 one-slot workers, autoscaler off):
//  - a Ray Data + Tune driver through `ray-sge submit` (the head runs it, output streamed back) against
//    the same driver started by hand on the head's host (the baseline);
//  - `ray-sge submit` until the driver's first output line against `ray job submit` by hand on the
//    head's host;
//  - `ray-sge env` starting the driver node on the submit host, and reusing it.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asUser, benchSetup, HOME, root, USER, VENV } from "./testbed.mjs";

const TRIALS = Number(process.env.BENCH_DRIVER_TRIALS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Run argv; resolve with the ms until a stdout line matches `line`, and until exit. */
function timed(argv, line, opts = {}) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn(argv[0], argv.slice(1), { cwd: HOME, ...opts });
    let out = "";
    let first;
    p.stdout.on("data", (d) => {
      out += d;
      if (first === undefined && line.test(out)) first = performance.now() - t;
    });
    let err = "";
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.on("close", (code) =>
      code === 0 && first !== undefined
        ? resolve({ first, total: performance.now() - t, out })
        : reject(new Error(`${argv.join(" ")} failed (${code}): ${err.slice(-800)}${out.slice(-400)}`)),
    );
  });
}

/** As the testbed user on an emulated host (its network namespace): "logged in on that host". */
const onHost = (host, argv) => ["ip", "netns", "exec", `rsge-${host}`, "runuser", "-u", USER, "--", ...argv];

export async function driversBench() {
  const pkg = benchSetup("drivers");
  if (!pkg) return true;
  const work = join(HOME, ".ray-sge-bench-drivers");
  const cliArgv = (...args) => ["runuser", "-u", USER, "--", process.execPath, join(pkg, "bin/ray-sge.js"), ...args];
  const config = join(work, "drv.yaml");
  spawnSync(cliArgv("down", config)[0], cliArgv("down", config).slice(1), { cwd: HOME });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  writeFileSync(
    config,
    `cluster_name: rsgebenchdrv
state_dir: ${work}/state
autoscaler: { mode: "off" }
sge: { queue: all.q, parallel_environment: smp, project: raysge_demo }
head_node: { resources: { slots: 2, memory: "2G" } }
worker_nodes: { resources: { slots: 1, memory: "1G" }, min_workers: 2, max_workers: 2 }
setup_commands: [ "source ${VENV}/bin/activate" ]
`,
  );
  cpSync(join(root, "bench/drivers/data_tune.py"), join(work, "data_tune.py"));
  spawnSync("chown", ["-R", USER, work]);
  const cli = (...args) => asUser(cliArgv(...args).slice(4), { cwd: work });
  try {
    const up = JSON.parse(cli("up", config, "--json").out);
    const { head, tokenPath } = up;
    const rayEnv = [
      "env",
      `RAY_ADDRESS=${head.ip}:${head.gcs_port}`,
      "RAY_AUTH_MODE=token",
      `RAY_AUTH_TOKEN_PATH=${tokenPath}`,
    ];
    const py = `${VENV}/bin/python`;
    const ok = /BENCH OK/;
    const ours = [];
    const base = [];
    // one warm-up of each (Ray's first runtime env on the head, imports in the page cache)
    await timed(cliArgv("submit", "rsgebenchdrv", "--", py, "data_tune.py"), ok, { cwd: work });
    await timed(onHost(head.host, [...rayEnv, py, join(work, "data_tune.py")]), ok, { cwd: work });
    for (let i = 0; i < TRIALS; i++) {
      ours.push((await timed(cliArgv("submit", "rsgebenchdrv", "--", py, "data_tune.py"), ok, { cwd: work })).total);
      base.push((await timed(onHost(head.host, [...rayEnv, py, join(work, "data_tune.py")]), ok, { cwd: work })).total);
    }
    const o = median(ours);
    const b = median(base);
    console.log(`\n## drivers on the testbed (2-slot head + 2 one-slot workers, autoscaler off; median of ${TRIALS})`);
    console.log(
      `Ray Data + Tune driver through ray-sge submit: ${(o / 1000).toFixed(1)} s; the same driver started by hand on the head's host: ${(b / 1000).toFixed(1)} s; ratio ${(o / b).toFixed(2)} (target <= 1.1: ${o / b <= 1.1 ? "met" : "MISSED"})`,
    );
    console.log(
      `  (each run: ${ours.map((x) => (x / 1000).toFixed(1)).join(", ")} s vs ${base.map((x) => (x / 1000).toFixed(1)).join(", ")} s)`,
    );
    // until the driver's first line
    const firstOurs = [];
    const firstBase = [];
    const hello = ["-u", "-c", "print('first line', flush=True)"];
    for (let i = 0; i < 5; i++) {
      firstOurs.push(
        (await timed(cliArgv("submit", "rsgebenchdrv", "--", py, ...hello), /first line/, { cwd: work })).first,
      );
      firstBase.push(
        (
          await timed(
            onHost(head.host, [
              "env",
              "RAY_AUTH_MODE=token",
              `RAY_AUTH_TOKEN_PATH=${tokenPath}`,
              `RAY_API_SERVER_ADDRESS=http://${head.ip}:${head.dashboard_port}`,
              `${VENV}/bin/ray`,
              "job",
              "submit",
              "--",
              py,
              ...hello,
            ]),
            /first line/,
            { cwd: work },
          )
        ).first,
      );
    }
    console.log(
      `submit until the driver's first output line: ray-sge submit ${(median(firstOurs) / 1000).toFixed(2)} s; ray job submit by hand on the head's host ${(median(firstBase) / 1000).toFixed(2)} s (median of 5)`,
    );
    // the driver node: started once, then reused
    const start = cli("env", "rsgebenchdrv").ms;
    const reuse = cli("env", "rsgebenchdrv").ms;
    console.log(
      `ray-sge env: ${(start / 1000).toFixed(1)} s when it starts this host's driver node, ${(reuse / 1000).toFixed(2)} s when it reuses it`,
    );
    return o / b <= 1.1;
  } finally {
    spawnSync(cliArgv("down", config)[0], cliArgv("down", config).slice(1), { cwd: HOME });
    rmSync(pkg, { recursive: true, force: true });
  }
}
