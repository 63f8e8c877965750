// Batch mode on the testbed (as its user, real Grid Engine and Ray), in the same run:
//  - `ray-sge batch CONFIG --slots 6 --pe mpi --wait -- python first.py`: from just before qsub to
//    the driver's first line (the driver prints the time it started; same clock, shared filesystem);
//  - baseline: a hand-written PE job script that starts Ray the way Ray's SLURM recipe does (head,
//    sleep 10, then one `qrsh -inherit ... ray start --block &` per other host with sleep 5 after
//    each, then the driver), without token auth or private directories.
// Both drivers check that they see all 3 nodes, so a baseline that raced ahead would show.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asUser, benchSetup, HOME, root, USER, VENV } from "./testbed.mjs";

const TRIALS = Number(process.env.BENCH_BATCH_TRIALS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const DRIVER = `import time
print("FIRST", time.time(), flush=True)
import ray
ray.init()
print("NODES", len([n for n in ray.nodes() if n["Alive"]]), flush=True)
`;

function baselineScript(work) {
  return `#!/bin/bash
#$ -N bl-batch
#$ -S /bin/bash
#$ -pe mpi 6
#$ -o ${work}/bl.$JOB_ID.out
#$ -j y
#$ -cwd
V=${VENV}
head=$(hostname)
ip=$(getent ahostsv4 "$head" | awk '{print $1; exit}')
port=$($V/bin/python -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
$V/bin/ray start --head --node-ip-address="$ip" --port="$port" --num-cpus=2 --temp-dir="$TMP/ray" --block --disable-usage-stats &
sleep 10
for h in $(awk '{print $1}' "$PE_HOSTFILE"); do
  [ "$h" = "$head" ] && continue
  qrsh -inherit "$h" "$V/bin/ray start --address=$ip:$port --num-cpus=2 --temp-dir=\\$TMP/ray --block --disable-usage-stats" &
  sleep 5
done
$V/bin/python first.py
`;
}

/** Seconds from t0 to the FIRST line of a file, and the node count the driver saw. */
function firstLine(file, t0) {
  const text = readFileSync(file, "utf8");
  const first = Number(/^FIRST (\S+)/m.exec(text)?.[1]);
  const nodes = Number(/^NODES (\d+)/m.exec(text)?.[1]);
  return { s: first - t0 / 1000, nodes };
}

function waitGone(jobId) {
  for (let i = 0; i < 600; i++) {
    if (spawnSync("runuser", ["-u", USER, "--", "qstat", "-j", String(jobId)], { cwd: HOME }).status !== 0) return;
    spawnSync("sleep", ["0.5"]);
  }
  throw new Error(`job ${jobId} did not end`);
}

export function batchBench() {
  const pkg = benchSetup("batch");
  if (!pkg) return true;
  const work = join(HOME, ".ray-sge-bench-batch");
  spawnSync("runuser", ["-u", USER, "--", "qdel", "bl-batch", "rsge_batch-rsgebatch"], { cwd: HOME });
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const config = join(work, "bench.yaml");
  // the example config, its setup reduced to what the baseline does too (activate the venv)
  writeFileSync(
    config,
    readFileSync(join(root, "examples/ray-sge-cluster.yaml"), "utf8")
      .replace("cluster_name: ray-sge-cluster", "cluster_name: rsgebatch")
      .replace(/\n {2}- echo "ray.*\n/, "\n")
      .replace(/qsub_options: ".*"/, 'qsub_options: "-l h_rt=1:00:00"'),
  );
  writeFileSync(join(work, "first.py"), DRIVER);
  writeFileSync(join(work, "baseline.sh"), baselineScript(work));
  spawnSync("chown", ["-R", USER, work]);
  const ours = [];
  const base = [];
  for (let i = 0; i < TRIALS; i++) {
    let t0 = Date.now();
    const r = asUser(
      [
        process.execPath,
        join(pkg, "bin/ray-sge.js"),
        "batch",
        config,
        "--slots",
        "6",
        "--pe",
        "mpi",
        "--log-dir",
        join(work, "logs"),
        "--json",
        "--",
        "python",
        "first.py",
      ],
      { cwd: work },
    );
    const job = JSON.parse(r.out);
    waitGone(job.job_id);
    ours.push(firstLine(job.stdout, t0));
    t0 = Date.now();
    const b = asUser(["qsub", "-terse", join(work, "baseline.sh")], { cwd: work });
    const id = Number(b.out.trim());
    waitGone(id);
    base.push(firstLine(join(work, `bl.${id}.out`), t0));
  }
  const o = median(ours.map((x) => x.s));
  const b = median(base.map((x) => x.s));
  const ratio = o / b;
  console.log("\n## batch: qsub to the driver's first line, 6 slots over 3 hosts (PE mpi)");
  console.log(
    `baseline: a hand-written PE job script starting Ray like Ray's SLURM recipe (sleep 10, then qrsh -inherit + sleep 5 per host); median of ${TRIALS}`,
  );
  console.log("| | seconds (each trial) | median | nodes the driver saw |");
  console.log("|---|---|---:|---|");
  console.log(
    `| ray-sge batch | ${ours.map((x) => x.s.toFixed(1)).join(", ")} | ${o.toFixed(1)} | ${ours.map((x) => x.nodes).join(", ")} |`,
  );
  console.log(
    `| baseline | ${base.map((x) => x.s.toFixed(1)).join(", ")} | ${b.toFixed(1)} | ${base.map((x) => x.nodes).join(", ")} |`,
  );
  const met = ratio <= 0.9 && ours.every((x) => x.nodes === 3);
  console.log(`ratio ${ratio.toFixed(2)} (target <= 0.9, every driver seeing 3 nodes: ${met ? "met" : "MISSED"})`);
  return met;
}
