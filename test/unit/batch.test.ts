import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jobExitCode, mappedExitCode, parseExitFile } from "../../src/batch/exit.js";
import { batchJob } from "../../src/batch/job.js";
import { renderNodeScript } from "../../src/batch/node-script.js";
import { batchJobName, batchRequest, checkBatchInput, directiveLines } from "../../src/batch/request.js";
import { batchPaths, checkPe, prepareLogRoot } from "../../src/batch/submit.js";
import { waitBatch } from "../../src/batch/wait.js";
import { clusterJobPattern, HEAD_JOB_PATTERN, parseJobName } from "../../src/cluster/identity.js";
import { renderHeadScript, renderWorkerScript } from "../../src/cluster/jobscript.js";
import { parseConfig } from "../../src/config/load.js";
import { normaliseConfig } from "../../src/config/normalise.js";
import type { SgeClient } from "../../src/sge/client.js";
import { parseParallelEnvironment } from "../../src/sge/qconf.js";
import { buildSubmission } from "../../src/sge/qsub.js";
import { fixture } from "../support/fixtures.js";

const EXAMPLE = readFileSync(new URL("../../examples/ray-sge-cluster.yaml", import.meta.url), "utf8");
const { spec } = normaliseConfig(parseConfig(EXAMPLE, "c.yaml"), { home: "/home/u" });
const input = {
  slots: 6,
  pe: "mpi",
  command: ["python", "my app.py", "--name=it's $HOME", "a\\b"],
  cwd: "/home/u/work",
  logRoot: "/home/u/.ray-sge/batch",
  joinTimeoutSeconds: 120,
};
const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+]/g, "\\$&").replace(/\*/g, ".*")}$`);

/** The text between a heredoc's opening line and its terminator. */
function heredoc(script: string, tag: string): string {
  const start = script.indexOf(`<<'${tag}'\n`);
  expect(start).toBeGreaterThan(0);
  const body = script.slice(script.indexOf("\n", start) + 1);
  return body.slice(0, body.indexOf(`\n${tag}\n`) + 1);
}

describe("batch request", () => {
  it("asks for one PE job with the config's sge section: queue, project, h_rt, its -l requests", () => {
    const r = batchRequest(spec, input);
    expect(r).toMatchObject({
      name: "rsge_batch-ray-sge-cluster",
      parallelEnvironment: { name: "mpi", slots: 6 },
      queue: "all.q",
      project: "raysge_demo",
      hardRuntime: "24:00:00",
      // the config's own mem_free=4G (per slot), not the head node type's 16G
      hardResources: { mem_free: "4G" },
      stdoutPath: "/home/u/.ray-sge/batch/$JOB_ID.out",
      stderrPath: "/home/u/.ray-sge/batch/$JOB_ID.err",
      context: { ray_sge_cluster: "ray-sge-cluster", ray_sge_role: "batch" },
      notify: true,
      cwd: "/home/u/work",
    });
    // default PE: the config's
    expect(batchRequest(spec, { ...input, pe: undefined }).parallelEnvironment?.name).toBe("smp");
  });

  it("is never taken for a cluster's job (down and status leave it alone)", () => {
    const name = batchJobName("c");
    expect(parseJobName("c", name)).toBeUndefined();
    expect(glob(clusterJobPattern("c")).test(name)).toBe(false);
    expect(glob(HEAD_JOB_PATTERN).test(`rsge_batch-x-head`)).toBe(false);
  });

  it("refuses bad input with what to change", () => {
    expect(() => checkBatchInput({ ...input, slots: 0 })).toThrow(/--slots wants a whole number/);
    expect(() => checkBatchInput({ ...input, command: [] })).toThrow(/no driver command: give it after --/);
    expect(() => checkBatchInput({ ...input, logRoot: "/home/u/my logs" })).toThrow(/qrsh -inherit cannot carry/);
    expect(() => checkBatchInput({ ...input, logRoot: "logs" })).toThrow(/must be an absolute path/);
    expect(() => checkBatchInput({ ...input, logRoot: "$HOME/.ray-sge/batch" })).not.toThrow();
  });

  it("writes qsub's options as #$ lines that say the same as its argv", () => {
    const job = batchJob(spec, { ...input, cwd: true, logRoot: "$HOME/.ray-sge/batch" });
    const lines = job.script.split("\n").filter((l) => l.startsWith("#$ "));
    const fromLines = lines.flatMap((l) => l.slice(3).split(" "));
    const argv = buildSubmission(job.options).argv;
    expect(["qsub", "-terse", ...fromLines, "-C", ""]).toEqual(argv);
    expect(lines).toContain("#$ -o $HOME/.ray-sge/batch/$JOB_ID.out");
    expect(lines).toContain("#$ -pe mpi 6");
    expect(() => directiveLines(["qsub", "-terse", "-N", "a", "-l", "x=a b"])).toThrow(/cannot carry/);
  });
});

describe("batch job script", () => {
  const job = batchJob(spec, input);

  it("is valid bash, and so is the node script it writes for the other hosts", () => {
    execFileSync("bash", ["-n"], { input: job.script });
    execFileSync("bash", ["-n"], { input: heredoc(job.script, "RSGE_NODE_SCRIPT") });
  });

  it("starts Ray's dashboard only when asked (--dashboard)", () => {
    expect(job.script).toContain("if false && \"$RAY_PY\" -c 'import aiohttp, grpc'");
    const on = batchJob(spec, { ...input, dashboard: true }).script;
    expect(on).toContain("if \"$RAY_PY\" -c 'import aiohttp, grpc'");
    execFileSync("bash", ["-n"], { input: on });
  });

  it("passes the driver's words exactly", () => {
    const line = job.script.split("\n").find((l) => l.startsWith("DRIVER=(")) as string;
    const r = spawnSync("bash", ["-c", `${line}\nprintf '%s\\n' "\${DRIVER[@]}"`], { encoding: "utf8" });
    expect(r.stdout).toBe(`${input.command.join("\n")}\n`);
  });

  it("lets the OS pick Ray's worker ports on every node (Ray's fixed range collides between clusters on a host)", () => {
    const node = heredoc(job.script, "RSGE_NODE_SCRIPT");
    const heads = job.script.slice(0, job.script.indexOf("<<'RSGE_NODE_SCRIPT'"));
    for (const s of [heads, node]) expect(s).toContain("--min-worker-port=0 --max-worker-port=0");
    const cluster = {
      cluster: "c",
      stateDir: "/s",
      rayExecutable: "ray",
      nodeType: "t",
      resourceArgs: [],
      extraArgs: [],
      setupCommands: [],
      version: "0",
    };
    expect(renderHeadScript({ ...cluster, role: "head" })).toContain("--min-worker-port=0 --max-worker-port=0");
    expect(renderWorkerScript({ ...cluster, role: "worker" })).toContain("--min-worker-port=0 --max-worker-port=0");
  });

  it("picks its ports below the kernel's ephemeral range (the OS gives those to Ray's workers and clients)", () => {
    const a = job.script.indexOf("free_ports() {");
    const b = job.script.indexOf('"$1"; }', a) + '"$1"; }'.length;
    const r = spawnSync("bash", ["-c", `RAY_PY=python3\n${job.script.slice(a, b)}\nfree_ports 9`], {
      encoding: "utf8",
    });
    const ports = r.stdout.trim().split(" ").map(Number);
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);
    expect(ports, r.stderr).toHaveLength(9);
    expect(new Set(ports).size).toBe(9);
    for (const p of ports) expect(p >= 20000 && p < low, String(p)).toBe(true);
    // the head's Ray Client server gets one of them, not its fixed 10001
    expect(job.script).toContain('DASH+=(--ray-client-server-port="$PORT_client")');
  });

  it("looks up this host's address over IPv4 only (getent hosts waits for an IPv6 DNS answer first)", () => {
    for (const s of [
      job.script,
      renderNodeScript({ rayExecutable: "ray", setupCommands: [], extraArgs: [], gpusPerSlot: 0 }),
    ]) {
      expect(s).toContain('getent ahostsv4 "$(hostname)"');
      expect(s).not.toMatch(/getent hosts /);
    }
  });

  it("reads $PE_HOSTFILE: slots summed per host over its queues, the master first by name, short or long", () => {
    const a = job.script.indexOf("declare -A SLOTS_OF");
    const b = job.script.indexOf('log "granted:', a);
    const dir = mkdtempSync(join(tmpdir(), "pe-"));
    const hostfile = join(dir, "hostfile");
    writeFileSync(
      hostfile,
      "n2.example.org 2 all.q@n2 UNDEFINED\nn1 1 all.q@n1 UNDEFINED\nn2.example.org 1 gpu.q@n2 UNDEFINED\n",
    );
    const part = `PE_HOSTFILE=${hostfile}; HOST=n1\n${job.script.slice(a, b)}echo "$MASTER|\${HOSTS[*]}|\${OTHERS[*]}|\${SLOTS_OF[n2.example.org]}|$TOTAL_SLOTS"`;
    const r = spawnSync("bash", ["-c", part], { encoding: "utf8" });
    expect(r.stdout.trim(), r.stderr).toBe("n1|n2.example.org n1|n2.example.org|3|4");
  });

  it("never exits 99 or 100 (Grid Engine would reschedule or error the job): those become 1", () => {
    for (const [code, want] of [
      [0, 0],
      [7, 7],
      [99, 1],
      [100, 1],
      [143, 143],
    ] as const) {
      expect(jobExitCode(code)).toBe(want);
      expect(spawnSync("bash", ["-c", `code=${code}; ${mappedExitCode()}`], { encoding: "utf8" }).stdout.trim()).toBe(
        String(want),
      );
    }
    expect(job.script).toContain(mappedExitCode());
    expect(parseExitFile('{"driver_exit_code": 99, "job_exit_code": 1, "why": "w", "seconds": 3}\n')).toEqual({
      driverExitCode: 99,
      jobExitCode: 1,
      why: "w",
      seconds: 3,
    });
    expect(parseExitFile('{"driver_exit_code": 9')).toBeUndefined();
  });
});

/** A batch job's files (batchPaths) in a fresh directory, its job dir made. */
function jobPaths() {
  const paths = batchPaths(mkdtempSync(join(tmpdir(), "bw-")), 1);
  mkdirSync(paths.jobDir);
  return paths;
}

describe("batch PE check and wait (Grid Engine stood in for, error paths)", () => {
  const pes = [
    parseParallelEnvironment(fixture("qconf-sp-smp.txt")),
    parseParallelEnvironment(fixture("qconf-sp-mpi.txt")),
  ];
  const sge = (more: Partial<SgeClient> = {}) =>
    ({ parallelEnvironments: async () => pes, ...more }) as unknown as SgeClient;

  it("refuses a PE without control_slaves, an unknown PE and too many slots, naming one that would do", async () => {
    await expect(checkPe(sge(), spec, { pe: "smp", slots: 2 })).rejects.toThrow(
      /smp has control_slaves FALSE.*qrsh -inherit.*use --pe with one of mpi/,
    );
    await expect(checkPe(sge(), spec, { pe: "nope", slots: 2 })).rejects.toThrow(/nope does not exist.*one of mpi/);
    await expect(checkPe(sge(), spec, { pe: "mpi", slots: 100_000 })).rejects.toThrow(/fewer than --slots 100000/);
    await expect(checkPe(sge(), spec, { pe: "mpi", slots: 6 })).resolves.toEqual([]);
  });

  it("--wait exits with the driver's own code (99 too) once the job is gone, with its output streamed", async () => {
    const paths = jobPaths();
    writeFileSync(paths.stdout, "the driver's line\n");
    writeFileSync(paths.stderr, "[ray-sge] a log line\n");
    writeFileSync(
      paths.exitFile,
      '{"driver_exit_code": 99, "job_exit_code": 1, "why": "the driver exited with code 99", "seconds": 1}\n',
    );
    let asked = 0;
    const out: string[] = [];
    const err: string[] = [];
    const r = await waitBatch(
      sge({
        listJobs: async () => (asked++ === 0 ? [{ id: 1, state: "r", status: "running", host: "n1" }] : []),
      } as never),
      1,
      paths,
      {
        cluster: "c",
        log: () => {},
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        pollMs: 10,
      },
    );
    expect(r.exitCode).toBe(99);
    expect(out.join("")).toBe("the driver's line\n");
    expect(err.join("")).toBe("[ray-sge] a log line\n");
  });

  it("--wait says why the job waits, in Grid Engine's words, and an error state ends the wait with them", async () => {
    const paths = jobPaths();
    const said: string[] = [];
    let asked = 0;
    const fake = sge({
      listJobs: async () => [
        asked++ < 2 ? { id: 1, state: "qw", status: "pending" } : { id: 1, state: "Eqw", status: "error" },
      ],
      jobDetail: async () => ({
        schedulingMessages: ['cannot run in PE "mpi" because it only offers 4 slots'],
        tasks: [{ messages: ["can't open output file"] }],
      }),
    } as never);
    await expect(
      waitBatch(fake, 1, paths, {
        cluster: "c",
        log: (l) => said.push(l),
        stdout: () => {},
        stderr: () => {},
        pollMs: 5,
      }),
    ).rejects.toThrow(/batch job 1 is in error state \(Eqw\): can't open output file; .*qmod -cj 1/);
    expect(said[0]).toBe('batch job 1 waits in the queue (qw): cannot run in PE "mpi" because it only offers 4 slots');
  });

  it("a failed qstat is not an ended job: --wait asks again", async () => {
    const paths = jobPaths();
    let asked = 0;
    const said: string[] = [];
    const listJobs = async () => {
      asked++;
      if (asked <= 2) throw new Error("commlib error: can't connect");
      if (asked === 3) return [{ id: 1, state: "r", status: "running" }];
      writeFileSync(paths.exitFile, '{"driver_exit_code": 0, "job_exit_code": 0, "why": "ok", "seconds": 1}\n');
      return [];
    };
    const r = await waitBatch(sge({ listJobs } as never), 1, paths, {
      cluster: "c",
      log: (l) => said.push(l),
      stdout: () => {},
      stderr: () => {},
      pollMs: 5,
    });
    expect(r.exitCode).toBe(0);
    expect(asked).toBe(4);
    expect(said.join("\n")).toMatch(/qstat failed .*asking again[\s\S]*qstat answers again/);
  });
  it("--wait without an exit record says what accounting and the script's last ERROR line say", async () => {
    const paths = jobPaths();
    writeFileSync(paths.stderr, "[ray-sge 07:00:00 n1 1] ERROR: setup command 1/1 failed: false (exit 1)\n");
    const fake = sge({
      listJobs: async () => [],
      accounting: async () => [
        { exitStatus: 0, failed: 0, endedAt: new Date(1000) },
        { exitStatus: 3, failed: 0, endedAt: new Date(2000) },
      ],
    } as never);
    const r = await waitBatch(fake, 1, paths, {
      cluster: "c",
      log: () => {},
      stdout: () => {},
      stderr: () => {},
      pollMs: 5,
    });
    // the master's record (written last) is the job's, not a qrsh -inherit task's
    expect(r.exitCode).toBe(3);
    expect(r.why).toMatch(/\(setup command 1\/1 failed: false \(exit 1\)\): Grid Engine says exit status 3/);
  }, 20_000);

  it("makes a new log dir 0700 and warns about an existing one others can enter", async () => {
    const root = mkdtempSync(join(tmpdir(), "lr-"));
    expect(await prepareLogRoot(join(root, "new/logs"))).toEqual([]);
    expect(statSync(join(root, "new/logs")).mode & 0o777).toBe(0o700);
    chmodSync(root, 0o755);
    expect((await prepareLogRoot(root)).join()).toMatch(/open to other users \(mode 755\).*chmod 700/);
  });
});
