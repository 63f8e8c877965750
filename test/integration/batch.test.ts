// Batch mode end to end, as the unprivileged user, with real Grid Engine and real Ray: one parallel
// job over the testbed's three hosts, Ray started on the others with qrsh -inherit, the driver on it.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchConfig, jobIdOf, rayProcesses, withSetup, writeAsUser } from "../support/batch.js";
import { cli, installForUser, runCli } from "../support/cluster.js";
import { clientAs, HOME, NODES, OTHER_USER, USER, userDir, waitFor } from "../support/testbed.js";

const sge = clientAs();
const OCS = process.env.RSGE_TESTBED_SCHEDULER === "ocs";
let dir: string;
let config: string;
let logs: string;

/** A driver that keeps every CPU busy for 10 minutes, after a first line. */
function writeBusy(): void {
  writeAsUser(
    join(dir, "busy.py"),
    `import time, ray
ray.init()
@ray.remote
def busy(): time.sleep(600)
refs = [busy.remote() for _ in range(6)]
print("busy", flush=True)
time.sleep(600)
`,
  );
}

beforeAll(() => {
  installForUser();
  dir = userDir("it-batch");
  logs = join(dir, "logs");
  config = batchConfig(dir, "itbatch");
  writeAsUser(
    join(dir, "nodes.py"),
    `import json, socket, sys, ray
ray.init()
nodes = [n for n in ray.nodes() if n["Alive"]]
@ray.remote(num_cpus=1)
def host(i):
    import time; time.sleep(0.5); return socket.gethostname()
hosts = sorted(set(ray.get([host.remote(i) for i in range(12)])))
print(json.dumps({"nodes": sorted(n["NodeManagerHostname"] for n in nodes), "cpus": ray.cluster_resources()["CPU"], "task_hosts": hosts}))
print("a line on stderr", file=sys.stderr)
`,
  );
});
afterAll(async () => {
  const left = (await sge.listJobs()).filter((j) => j.name.startsWith("rsge_batch-")).map((j) => j.id);
  if (left.length > 0) await sge.deleteJobs(left);
});

describe("ray-sge batch", () => {
  it("runs the driver on a 3-host cluster inside one job: 3 nodes, tasks on all, its output apart, files private", async () => {
    const r = cli(
      ["batch", config, "--slots", "6", "--pe", "mpi", "--log-dir", logs, "--wait", "--", "python", "nodes.py"],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    // stdout is the driver's alone: one JSON line
    const out = JSON.parse(r.stdout.trim());
    expect(out.nodes).toEqual([...NODES].sort());
    expect(out.task_hosts).toEqual([...NODES].sort());
    expect(out.cpus).toBe(6);
    expect(r.stderr).toContain("a line on stderr");
    expect(r.stderr).toMatch(/the Ray node on node\d joined \(3\/3\)/);
    const job = jobIdOf(r.stderr);
    const jobDir = join(logs, String(job));
    expect(JSON.parse(readFileSync(join(jobDir, "exit_code"), "utf8"))).toMatchObject({
      driver_exit_code: 0,
      job_exit_code: 0,
    });
    // Ray's logs of every host kept; the job's files private to the user
    expect(readdirSync(join(jobDir, "ray")).sort()).toEqual([...NODES].sort());
    expect(existsSync(join(jobDir, "ray", NODES[0] as string, "raylet.out"))).toBe(true);
    expect(statSync(logs).mode & 0o777).toBe(0o700);
    expect(statSync(jobDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(jobDir, "token")).mode & 0o777).toBe(0o600);
    // the token is in no job's argv or environment list
    const token = readFileSync(join(jobDir, "token"), "utf8").trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(join(logs, `${job}.err`), "utf8")).not.toContain(token);
    // the second user can read none of it: not the token, not the driver's output, not the job dir
    for (const f of [join(jobDir, "token"), join(logs, `${job}.out`), join(logs, `${job}.err`)])
      expect(spawnSync("runuser", ["-u", OTHER_USER, "--", "cat", f]).status).not.toBe(0);
    expect(spawnSync("runuser", ["-u", OTHER_USER, "--", "ls", jobDir]).status).not.toBe(0);
    const [acct] = await sge.accounting(job);
    expect(acct?.exitStatus).toBe(0);
    expect(rayProcesses()).toBe("");
  }, 240_000);

  it("two jobs at once on the same hosts: exit codes 7 and 99 come back; 99 is not passed to Grid Engine raw", async () => {
    const driver = (code: number, other: number) =>
      `import os, time, ray
ray.init()
open("ran.${code}", "w").close()
# both clusters up at once, on the same three hosts
for _ in range(900):
    if os.path.exists("ran.${other}"): break
    time.sleep(0.1)
print("both" if os.path.exists("ran.${other}") else "alone", len([n for n in ray.nodes() if n["Alive"]]))
raise SystemExit(${code})
`;
    writeAsUser(join(dir, "exit7.py"), driver(7, 99));
    writeAsUser(join(dir, "exit99.py"), driver(99, 7));
    const common = ["--slots", "3", "--pe", "mpi", "--log-dir", logs, "--wait", "--"];
    const [a, b] = await Promise.all([
      runCli(["batch", config, ...common, "python", "exit7.py"], dir),
      runCli(["batch", config, ...common, "python", "exit99.py"], dir),
    ]);
    expect(a.stdout.trim(), a.stderr).toBe("both 3");
    expect(b.stdout.trim(), b.stderr).toBe("both 3");
    expect(a.status).toBe(7);
    expect(b.status).toBe(99);
    expect(b.stderr).toMatch(/exit code 99 would make Grid Engine reschedule it: the job exits 1 instead/);
    const ja = jobIdOf(a.stderr);
    const jb = jobIdOf(b.stderr);
    // accounting has a record per host (the master's, and each qrsh -inherit task's, which exit 0)
    const codes = async (job: number) => (await sge.accounting(job)).map((x) => x.exitStatus).sort((x, y) => x - y);
    // OCS 9.1.4 accounts 0 for the master of a PE job with job_is_first_task FALSE, whatever its script
    // exits with (measured with a plain `exit 7` script): the exit code file is what tells there
    const master = (code: number) => (OCS ? 0 : code);
    expect(await codes(ja)).toEqual([0, 0, master(7)].sort((x, y) => x - y));
    // one run only (99 raw would have rescheduled it: a second set of records), its master exited 1
    expect(await codes(jb)).toEqual([0, 0, master(1)].sort((x, y) => x - y));
    expect(JSON.parse(readFileSync(join(logs, String(jb), "exit_code"), "utf8"))).toMatchObject({
      driver_exit_code: 99,
      job_exit_code: 1,
    });
  }, 300_000);

  it("qdel mid-run ends the cluster on every host at once and leaves no process", async () => {
    writeBusy();
    const r = cli(
      ["batch", config, "--slots", "3", "--pe", "mpi", "--log-dir", logs, "--json", "--", "python", "busy.py"],
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    const { job_id: job, stdout } = JSON.parse(r.stdout);
    await waitFor(
      "the driver to run",
      async () => existsSync(stdout) && readFileSync(stdout, "utf8").includes("busy"),
      180_000,
    );
    expect(rayProcesses()).toMatch(/raylet/);
    const t0 = Date.now();
    await sge.deleteJobs([job]);
    await waitFor(
      "the job to leave qstat",
      async () => (await sge.listJobs({ jobIds: [job] })).length === 0,
      90_000,
      250,
    );
    await waitFor("no Ray process of the user on any host", async () => rayProcesses() === "", 10_000, 250);
    const seconds = (Date.now() - t0) / 1000;
    // the notify signal ends it in order (far sooner than Ray's 60 s reconnect timeout)
    expect(seconds).toBeLessThan(30);
    expect(readFileSync(join(logs, `${job}.err`), "utf8")).toMatch(/ending the cluster: signal USR2/);
  }, 300_000);

  it("s_rt's signal ends the cluster in order: the driver is stopped, every node ends, the logs are kept", async () => {
    const soft = join(dir, "soft.yaml");
    writeAsUser(soft, readFileSync(config, "utf8").replace("sge:\n", "sge:\n  s_rt: 25\n"));
    writeBusy();
    const t0 = Date.now();
    const r = cli(
      ["batch", soft, "--slots", "3", "--pe", "mpi", "--log-dir", logs, "--wait", "--", "python", "busy.py"],
      dir,
    );
    expect(r.stdout).toContain("busy");
    // 8.1.9 with -notify sends the notify signal (USR2) at s_rt, then kills the job: it ends in order first
    expect(r.stderr).toMatch(/ending the cluster: signal USR[12]/);
    const job = jobIdOf(r.stderr);
    // --wait exits with the driver's code (stopped by SIGTERM, long before its 600 s: Ray's driver exits 15)
    const exit = JSON.parse(readFileSync(join(logs, String(job), "exit_code"), "utf8"));
    expect(r.status).toBe(exit.driver_exit_code);
    expect([15, 143]).toContain(r.status);
    expect((Date.now() - t0) / 1000).toBeLessThan(90);
    expect(readdirSync(join(logs, String(job), "ray")).sort()).toEqual([...NODES].sort());
    expect(rayProcesses()).toBe("");
  }, 240_000);

  it("a host whose Ray node cannot start is named, and the job ends at once", async () => {
    const broken = withSetup(
      config,
      join(dir, "broken.yaml"),
      '[ "$(hostname)" != node3 ] || { echo "no Ray here"; exit 3; }',
    );
    const t0 = Date.now();
    const r = cli(
      ["batch", broken, "--slots", "3", "--pe", "mpi", "--log-dir", logs, "--wait", "--", "python", "nodes.py"],
      dir,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the Ray node on node3 exited \(code 3\) before it joined/);
    expect(r.stdout).toBe("");
    // every node stopped when the master said so (none left for the job's end to kill)
    expect((Date.now() - t0) / 1000).toBeLessThan(60);
    expect(readFileSync(join(logs, `${jobIdOf(r.stderr)}.err`), "utf8")).toMatch(
      /done in ([0-9]|[12][0-9]) s: exit code 1/,
    );
    expect(rayProcesses()).toBe("");
  }, 240_000);

  it("the printed script, submitted by hand with qsub, runs the same cluster", async () => {
    const s = cli(["script", config, "--slots", "4", "--pe", "mpi", "--", "python", "nodes.py"], dir);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^#\$ -pe mpi 4$/m);
    expect(s.stdout).toMatch(/^#\$ -o \$HOME\/\.ray-sge\/batch\/\$JOB_ID\.out$/m);
    expect(spawnSync("bash", ["-n"], { input: s.stdout }).status).toBe(0);
    const file = join(dir, "job.sh");
    writeAsUser(file, s.stdout);
    const q = spawnSync("runuser", ["-u", USER, "--", "qsub", "-terse", file], { cwd: dir, encoding: "utf8" });
    expect(q.status, q.stderr).toBe(0);
    const job = Number(q.stdout.trim());
    await waitFor("the job to end", async () => (await sge.listJobs({ jobIds: [job] })).length === 0, 180_000, 1000);
    const root = join(HOME, ".ray-sge/batch");
    const out = JSON.parse(readFileSync(join(root, `${job}.out`), "utf8").trim());
    expect(out.nodes.length).toBeGreaterThanOrEqual(2);
    expect(out.cpus).toBe(4);
    expect(JSON.parse(readFileSync(join(root, String(job), "exit_code"), "utf8")).driver_exit_code).toBe(0);
  }, 240_000);

  it("refuses a PE without control_slaves, naming one that would do, and submits nothing", async () => {
    const r = cli(["batch", config, "--slots", "2", "--log-dir", logs, "--", "python", "nodes.py"], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /parallel environment smp has control_slaves FALSE.*use --pe with one of ([a-z]+, )*mpi\b/,
    );
    expect((await sge.listJobs()).filter((j) => j.name.startsWith("rsge_batch-"))).toEqual([]);
  });
});
