// npm run bench: figures and ratios against baselines measured in the same run.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { plannerBench, reactionBench } from "./autoscaler.mjs";
import { batchBench } from "./batch.mjs";
import { burstsBench } from "./bursts.mjs";
import { driversBench } from "./drivers.mjs";
import { launcherBench } from "./launcher.mjs";
import { rayUpBench } from "./ray-launcher.mjs";
import { writeSyntheticQstat } from "./synthetic-qstat.mjs";

const here = new URL(".", import.meta.url).pathname;
const root = join(here, "..");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function measureList(mode, env) {
  const r = spawnSync(process.execPath, [join(here, "list-worker.mjs"), mode], {
    env,
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${mode} worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function qstatBench() {
  const dir = mkdtempSync(join(tmpdir(), "rsge-bench-"));
  const bin = join(dir, "bin");
  spawnSync("mkdir", ["-p", bin]);
  writeFileSync(join(bin, "qstat"), '#!/bin/sh\nexec cat "$RSGE_BENCH_QSTAT_FILE"\n');
  chmodSync(join(bin, "qstat"), 0o755);
  const idle = median(
    Array.from({ length: 3 }, () =>
      Number(
        spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.resourceUsage().maxRSS/1024))"], {
          encoding: "utf8",
        }).stdout,
      ),
    ),
  );
  console.log(`\n## qstat -xml -> typed jobs through SgeClient.listJobs (stand-in qstat printing a synthetic file)`);
  console.log(
    `baseline: whole output buffered, fast-xml-parser, same typed entries. median of ${REPEAT} runs, each in a fresh process; an idle node process peaks at ${idle.toFixed(0)} MiB`,
  );
  console.log(
    "| jobs | file | ours ms | baseline ms | speed-up | ours peak MiB | baseline peak MiB | memory ratio | ratio above idle node |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const results = [];
  for (const [n, longNames, shape] of [
    [1_000, false, "sge"],
    [10_000, false, "sge"],
    [100_000, false, "sge"],
    [100_000, true, "sge"],
    [100_000, false, "ocs"],
  ]) {
    const file = join(dir, `qstat-${n}${longNames ? "-long" : ""}-${shape}.xml`);
    await writeSyntheticQstat(file, n, { longNames, shape });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, RSGE_BENCH_QSTAT_FILE: file };
    const ours = [];
    const base = [];
    for (let i = 0; i < REPEAT; i++) {
      ours.push(measureList("ours", env));
      base.push(measureList("baseline", env));
    }
    const o = { ms: median(ours.map((x) => x.ms)), mem: median(ours.map((x) => x.maxRssMiB)), jobs: ours[0].jobs };
    const b = { ms: median(base.map((x) => x.ms)), mem: median(base.map((x) => x.maxRssMiB)), jobs: base[0].jobs };
    if (o.jobs !== b.jobs) throw new Error(`ours read ${o.jobs} rows, baseline ${b.jobs}`);
    const mb = (statSync(file).size / 1024 / 1024).toFixed(1);
    console.log(
      `| ${n}${longNames ? " (names of 30+ chars)" : ""}${shape === "ocs" ? " (OCS 9.1-shaped)" : ""} | ${mb} MiB | ${o.ms.toFixed(0)} | ${b.ms.toFixed(0)} | ${(b.ms / o.ms).toFixed(1)}x | ${o.mem.toFixed(0)} | ${b.mem.toFixed(0)} | ${(o.mem / b.mem).toFixed(2)} | ${((o.mem - idle) / (b.mem - idle)).toFixed(2)} |`,
    );
    if (n === 100_000 && !longNames) results.push({ shape, speedup: b.ms / o.ms, memRatio: o.mem / b.mem });
  }
  rmSync(dir, { recursive: true, force: true });
  // 100k jobs, short names: the target's case, on each scheduler's shape
  let met = true;
  for (const r of results) {
    const ok = r.speedup >= 4 && r.memRatio <= 0.25;
    met &&= ok;
    console.log(
      `target at 100k jobs (${r.shape === "ocs" ? "OCS 9.1" : "SGE 8.1.9"} shape): >= 4x faster (${r.speedup.toFixed(1)}x: ${r.speedup >= 4 ? "met" : "MISSED"}), <= 0.25 of the memory (${r.memRatio.toFixed(2)}: ${r.memRatio <= 0.25 ? "met" : "MISSED"})`,
    );
  }
  return met;
}

function coldStart() {
  const N = Number(process.env.BENCH_COLD_RUNS ?? 15);
  const time = (argv) => {
    const xs = [];
    for (let i = 0; i < N; i++) {
      const t = performance.now();
      const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
      xs.push(performance.now() - t);
      if (r.status !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr}`);
    }
    return median(xs);
  };
  time([process.execPath, "-e", "0"]); // warm the file cache
  const node = time([process.execPath, "-e", "0"]);
  const cli = time([process.execPath, join(root, "bin/ray-sge.js"), "--version"]);
  console.log(`\n## cold start, median of ${N}`);
  console.log(
    `node -e 0: ${node.toFixed(0)} ms; ray-sge --version: ${cli.toFixed(0)} ms; ratio ${(cli / node).toFixed(2)} (target <= 2: ${cli / node <= 2 ? "met" : "MISSED"})`,
  );
  return cli / node <= 2;
}

console.log(
  `# ray-sge benchmarks (${new Date().toISOString()}, node ${process.version}, ${(await import("node:os")).cpus().length} cpus)`,
);
const only = process.env.BENCH_ONLY;
const benches = {
  qstat: qstatBench,
  cold: coldStart,
  launcher: launcherBench,
  rayup: rayUpBench,
  planner: plannerBench,
  reaction: reactionBench,
  drivers: driversBench,
  bursts: burstsBench,
  batch: batchBench,
};
const ok = [];
for (const [name, run] of Object.entries(benches)) if (!only || only.split(",").includes(name)) ok.push(await run());
process.exitCode = ok.every(Boolean) ? 0 : 1;
