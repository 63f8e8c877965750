// Autoscaler policy on the testbed (real Grid Engine and Ray), in the same run:
//  - worker-job-seconds spent on short bursts (the guide's app: 100 instant tasks; 30 tasks of 0.5 s)
//    on a 4-CPU head with 0..4 two-slot workers, with the burst gate (ours) and without it (the
//    earlier policy, `autoscaler.wait_for_bursts: false`); a worker job counts from qsub until it left
//    Grid Engine (idle timeout 15 s here);
//  - reaction to sustained demand (8 one-CPU tasks of 60 s on a 1-CPU head, max 4): tasks submitted ->
//    the first worker's qsub;
//  - at rest (no work, nothing queued): qstat calls and CPU of the autoscaler.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asUser, benchSetup, HOME, root, USER, VENV } from "./testbed.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function events(file) {
  try {
    return readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

export async function burstsBench() {
  const pkg = benchSetup("bursts");
  if (!pkg) return true;
  const work = join(HOME, ".ray-sge-bench-bursts");
  const bin = join(pkg, "bin/ray-sge.js");
  const cliArgv = (...args) => ["runuser", "-u", USER, "--", process.execPath, bin, ...args];
  const cli = (...args) => asUser([process.execPath, bin, ...args], { cwd: work });
  const quiet = (...args) => spawnSync(cliArgv(...args)[0], cliArgv(...args).slice(1), { cwd: HOME });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  cpSync(join(root, "examples/guide_app.py"), join(work, "guide_app.py"));
  writeFileSync(
    join(work, "half_second.py"),
    "import time, ray\nray.init()\nprint(len(ray.get([ray.remote(lambda: time.sleep(0.5)).remote() for _ in range(30)])))\n",
  );
  const config = (name, headSlots, workerSlots, waitForBursts) => {
    const file = join(work, `${name}.yaml`);
    writeFileSync(
      file,
      `cluster_name: ${name}
max_workers: 4
idle_timeout_minutes: 0.25
state_dir: ${work}/state
autoscaler: { wait_for_bursts: ${waitForBursts} }
sge: { queue: all.q, parallel_environment: smp }
head_node: { resources: { slots: ${headSlots} } }
worker_nodes: { resources: { slots: ${workerSlots} }, min_workers: 0, max_workers: 4 }
setup_commands: [ "source ${VENV}/bin/activate" ]
`,
    );
    return file;
  };
  const py = `${VENV}/bin/python`;
  let ok = true;
  try {
    // ---- worker-job-seconds on short bursts, both policies
    const rows = [];
    for (const [label, wait] of [
      ["ours (burst gate)", true],
      ["earlier policy (launch at once)", false],
    ]) {
      const name = wait ? "rsgeb1" : "rsgeb0";
      const file = config(name, 4, 2, wait);
      spawnSync("chown", ["-R", USER, work]);
      quiet("down", file);
      cli("up", file);
      const row = { label };
      for (const [app, script] of [
        ["guide", "guide_app.py"],
        ["half", "half_second.py"],
      ]) {
        cli("submit", name, "--", py, script);
        // sample the worker jobs once a second until none is left (or 120 s)
        let jobSeconds = 0;
        let jobs = 0;
        const seen = new Set();
        for (let i = 0; i < 120; i++) {
          const st = JSON.parse(cli("status", name, "--json").out);
          const workers = st.nodes.filter((n) => n.role === "worker");
          for (const w of workers) seen.add(w.instanceId);
          jobSeconds += workers.length;
          if (workers.length === 0 && i >= 5) break;
          await sleep(1000);
        }
        jobs = seen.size;
        row[app] = { jobSeconds, jobs };
      }
      rows.push(row);
      quiet("down", file);
    }
    console.log("\n## autoscaler on short bursts (4-CPU head, 0..4 two-slot workers, idle timeout 15 s)");
    console.log("| policy | guide's app (100 instant tasks) | 30 tasks of 0.5 s |");
    console.log("|---|---:|---:|");
    for (const r of rows)
      console.log(
        `| ${r.label} | ${r.guide.jobs} worker job(s), ${r.guide.jobSeconds} job-seconds | ${r.half.jobs} worker job(s), ${r.half.jobSeconds} job-seconds |`,
      );
    const ours = rows[0];
    console.log(
      `target: no worker job beyond min_workers (0) for the guide's app: ${ours.guide.jobs === 0 ? "met" : "MISSED"}`,
    );
    ok &&= ours.guide.jobs === 0;

    // ---- reaction to sustained demand, and quiet at rest, with the default policy
    const name = "rsgebr";
    const file = config(name, 1, 1, true);
    spawnSync("chown", ["-R", USER, work]);
    quiet("down", file);
    cli("up", file);
    const state = join(work, "state", name);
    const sustained = join(work, "sustained.py");
    writeFileSync(
      sustained,
      "import time, ray\nray.init()\nprint('SUBMIT', time.time(), flush=True)\nray.get([ray.remote(lambda: time.sleep(60)).remote() for _ in range(8)])\n",
    );
    spawnSync("chown", [USER, sustained]);
    const reaction = [];
    const TRIALS = Number(process.env.BENCH_BURST_TRIALS ?? 5);
    for (let k = 0; k < TRIALS; k++) {
      const before = events(join(state, "events.jsonl")).filter((e) => e.event === "scale-up").length;
      const id = JSON.parse(
        cli("submit", name, "--no-wait", "--json", "--", py, "-u", "sustained.py").out,
      ).submissionId;
      let t;
      for (let i = 0; i < 120 && t === undefined; i++) {
        const m = /SUBMIT (\d+\.\d+)/.exec(cli("job", "logs", name, id).out);
        if (m) t = Number(m[1]) * 1000;
        else await sleep(250);
      }
      let ev;
      for (let i = 0; i < 240 && !ev; i++) {
        ev = events(join(state, "events.jsonl")).filter((e) => e.event === "scale-up")[before];
        if (!ev) await sleep(250);
      }
      reaction.push(Date.parse(ev.qsub_issued) - t);
      cli("job", "stop", name, id);
      cli("scale", name, "--workers", "0", "--force");
      for (let i = 0; i < 60; i++) {
        const st = JSON.parse(cli("status", name, "--json").out);
        if (!st.nodes.some((n) => n.role === "worker")) break;
        await sleep(1000);
      }
      await sleep(3000);
    }
    const p50 = median(reaction);
    console.log("\n## autoscaler reaction to sustained demand (8 one-CPU tasks of 60 s on a 1-CPU head, max 4)");
    console.log(
      `tasks submitted -> first worker's qsub: p50 ${(p50 / 1000).toFixed(2)} s (${reaction.map((x) => (x / 1000).toFixed(2)).join(", ")}); target p50 <= 3 s: ${p50 <= 3000 ? "met" : "MISSED"}`,
    );
    ok &&= p50 <= 3000;

    // at rest: nothing to do, nothing on its way
    await sleep(5000);
    const beat = () => JSON.parse(readFileSync(join(state, "autoscaler.json"), "utf8"));
    const a = beat();
    const ticks = () => {
      const f = readFileSync(`/proc/${a.pid}/stat`, "utf8").split(") ")[1].split(" ");
      return [11, 12, 13, 14].reduce((n, i) => n + Number(f[i]), 0); // utime stime cutime cstime
    };
    const c0 = ticks();
    await sleep(60_000);
    const b = beat();
    const cpu = (ticks() - c0) / 100;
    const perTen = ((b.qstat_calls - a.qstat_calls) / 60) * 10;
    console.log(
      `\n## autoscaler at rest (idle cluster, nothing queued, 60 s): ${b.qstat_calls - a.qstat_calls} qstat calls (${perTen.toFixed(1)} per 10 s; target <= 1), ${b.rounds - a.rounds} rounds asking the GCS; ${((cpu / 60) * 100).toFixed(2)}% of one core, its own and its qstat's (target <= 1%): ${perTen <= 1 && cpu / 60 <= 0.01 ? "met" : "MISSED"}`,
    );
    ok &&= perTen <= 1 && cpu / 60 <= 0.01;
    quiet("down", file);
  } finally {
    for (const n of ["rsgeb1", "rsgeb0", "rsgebr"]) quiet("down", join(work, `${n}.yaml`));
  }
  return ok;
}
