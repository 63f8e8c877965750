// Ordinary faults injected into real clusters (issue 9): each finding of the issue as a test that
// failed before its fix. Real Grid Engine, real Ray, as the testbed user.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, clusterEvents, installForUser, runCli, smallConfig, spawnCli } from "../support/cluster.js";
import {
  asRoot,
  clientAs,
  conf,
  HOME,
  qmasterProcessAlive,
  qmasterUp,
  startQmaster,
  userDir,
  waitFor,
} from "../support/testbed.js";

const sge = clientAs();
let dir: string;
const names = ["itqm", "itint", "itkill", "itdown", "itrep", "itlost", "ittwo", "itburst", "itexecd", "itbusy"];
const TESTBED = new URL("../../scripts/testbed", import.meta.url).pathname;

beforeAll(() => {
  installForUser();
  dir = userDir("it-faults");
});
afterAll(async () => {
  await startQmaster();
  asRoot(["qmod", "-e", "all.q@node1"]);
  for (const n of names) {
    const f = join(dir, `${n}.yaml`);
    if (existsSync(f)) cli(["down", f], dir);
  }
});

/** kill -9 of the raylet of a worker's job (its temp dir is under the job's $TMP: <job>.<task>.<queue>); when. */
function killRaylet(w: { jobId: number; taskId?: number }): number {
  const raylet = asRoot(["pgrep", "-f", `raylet.*/${w.jobId}\\.${w.taskId}\\.all\\.q/p/ray/`]).stdout.trim();
  expect(raylet).toMatch(/^\d+$/);
  const at = Date.now();
  asRoot(["kill", "-9", raylet]);
  return at;
}

describe("faults", () => {
  it("after a qmaster restart (8.1.9 then writes <JATASK:  N.> into qstat -j -xml), status and down work", async () => {
    const config = smallConfig(dir, "itqm");
    const up = cli(["up", config, "--json"], dir);
    expect(up.status, up.stderr).toBe(0);
    asRoot(["qconf", "-km"]);
    await waitFor("the qmaster to stop", async () => !qmasterProcessAlive(), 60_000);
    await startQmaster();
    // the malformed output is really there (the array task of the worker job)
    const worker = JSON.parse(cli(["status", config, "--json"], dir).stdout).nodes.find(
      (n: { role: string }) => n.role === "worker",
    );
    const raw = asRoot(["qstat", "-j", String(worker.jobId), "-xml"]).stdout;
    expect(raw).toMatch(/<JATASK:\s+\d+\.>/);
    const st = cli(["status", config, "--json"], dir);
    expect(st.status, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout).nodes.map((n: { ray: string }) => n.ray)).toEqual(["ALIVE", "ALIVE"]);
    const down = cli(["down", config], dir);
    expect(down.status, down.stderr).toBe(0);
    expect(await sge.listJobs({ name: "rsge-itqm-*" })).toEqual([]);
    expect(qmasterUp()).toBe(true);
  }, 240_000);

  it("kill -9 of a worker's raylet: the node is replaced at once, its type does not back off", async () => {
    const config = smallConfig(dir, "itkill");
    const up = cli(["up", config, "--json"], dir);
    expect(up.status, up.stderr).toBe(0);
    const state = join(dir, "state", "itkill");
    const st = JSON.parse(cli(["status", config, "--json"], dir).stdout);
    const w = st.nodes.find((n: { role: string }) => n.role === "worker");
    const killedAt = killRaylet(w);
    // min_workers 1: a replacement job within seconds, not after a 30 s backoff
    const replacement = await waitFor(
      "a replacement worker job",
      async () =>
        (await sge.listJobs({ name: "rsge-itkill-w-*" })).find((j) => j.id !== w.jobId && j.status !== "deleting"),
      60_000,
      500,
    );
    expect(Date.now() - killedAt).toBeLessThan(25_000);
    const events = readFileSync(join(state, "events.jsonl"), "utf8");
    expect(events).toMatch(new RegExp(`"event":"worker-ended","instance":"${w.jobId}\\.${w.taskId}"`));
    expect(events).not.toMatch(/"event":"worker-failed"/);
    expect(events).not.toMatch(/backs off/);
    expect(replacement.id).toBeGreaterThan(w.jobId);
    expect(cli(["down", config], dir).status).toBe(0);
  }, 240_000);

  it("kill -9 of an execd on a worker's host: the work finishes; down says why its job stays and what to do, which works", async () => {
    const config = smallConfig(dir, "itexecd");
    expect(cli(["up", config], dir).status).toBe(0);
    const st = JSON.parse(cli(["status", config, "--json"], dir).stdout);
    const w = st.nodes.find((n: { role: string }) => n.role === "worker");
    const py = `${conf.RAY_VENV}/bin/python`;
    const driver = spawnCli(
      [
        "submit",
        "itexecd",
        "--",
        py,
        "-c",
        "import ray, time; ray.init(); print('DONE', len(ray.get([ray.remote(lambda: time.sleep(3) or 1).remote() for _ in range(12)])))",
      ],
      dir,
    );
    let out = "";
    driver.stdout?.on("data", (d) => {
      out += d;
    });
    const done = new Promise<number | null>((r) => driver.once("close", r));
    await new Promise((r) => setTimeout(r, 6000));
    asRoot(["sh", "-c", `kill -9 "$(cat /var/run/gridengine/execd-${w.host}.pid)"`]);
    let restored = false;
    try {
      expect(await done, out).toBe(0);
      expect(out).toContain("DONE 12");
      const d = cli(["down", config, "--timeout", "15"], dir);
      expect(d.status, d.stderr).toBe(1);
      expect(d.stderr).toMatch(
        new RegExp(
          `job ${w.jobId}\\.${w.taskId} \\(dr on ${w.host}\\).* still in Grid Engine \\d+ s after qdel: the execution daemon of ${w.host} has not confirmed the end .* Have sge_execd started on ${w.host}, then run ray-sge down again`,
        ),
      );
      // the way out it gives (not qdel -f: 8.1.9's qmaster crashed on it, 2 of the last 3 tries): the execd
      // back, then down again, which waits until Grid Engine has let the jobs go
      expect(asRoot([TESTBED, "up"]).status).toBe(0);
      restored = true;
      const again = cli(["down", config, "--timeout", "300"], dir);
      expect(again.status, again.stderr).toBe(0);
      expect(await sge.listJobs({ name: "rsge-itexecd-*" })).toEqual([]);
    } finally {
      if (!restored) asRoot([TESTBED, "up"]);
    }
    const last = cli(["down", config], dir);
    expect(last.status, last.stderr).toBe(0);
    expect(last.stdout).toContain("no jobs (already down)");
  }, 600_000);

  it("a down that fails (qmaster gone) changes nothing: the autoscaler carries on; the next down works", async () => {
    const config = smallConfig(dir, "itdown");
    expect(cli(["up", config], dir).status).toBe(0);
    const state = join(dir, "state", "itdown");
    const before = JSON.parse(cli(["status", config, "--json"], dir).stdout);
    expect(before.autoscaler?.mode).toMatch(/^head job \d+$/);
    asRoot(["qconf", "-km"]);
    await waitFor("the qmaster to stop", async () => !qmasterProcessAlive(), 60_000);
    try {
      const down = cli(["down", config], dir);
      expect(down.status, down.stderr).toBe(3);
      expect(existsSync(join(state, "autoscaler.stop"))).toBe(false);
      // alive though its rounds are skipped: its heartbeat says so
      await waitFor(
        "the autoscaler's heartbeat to say it skips rounds",
        async () => /qstat failed/.test(readFileSync(join(state, "autoscaler.json"), "utf8")),
        30_000,
      );
    } finally {
      await startQmaster();
    }
    const after = await waitFor(
      "the autoscaler to act again",
      async () => {
        const st = JSON.parse(cli(["status", config, "--json"], dir).stdout);
        return st.autoscaler && !st.autoscaler.skipping ? st : undefined;
      },
      60_000,
      1000,
    );
    expect(after.autoscaler.pid).toBe(before.autoscaler.pid);
    expect(after.nodes.map((n: { ray: string }) => n.ray)).toEqual(["ALIVE", "ALIVE"]);
    expect(cli(["down", config], dir).status).toBe(0);
    expect(await sge.listJobs({ name: "rsge-itdown-*" })).toEqual([]);
  }, 300_000);

  it("an autoscaler that stopped (as a failed down used to leave it) is started again by up; status tells from its heartbeat", async () => {
    const config = smallConfig(dir, "itrep");
    expect(cli(["up", config], dir).status).toBe(0);
    const state = join(dir, "state", "itrep");
    // what a down that failed halfway used to leave: the autoscaler asked to stop, the cluster up
    writeFileSync(join(state, "autoscaler.stop"), "1\n");
    await waitFor(
      "status to say the autoscaler is not running",
      async () => /autoscaler: not running/.test(cli(["status", config], dir).stdout),
      30_000,
      1000,
    );
    const up = cli(["up", config], dir);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/exists \(head job \d+, r\): reconciling/);
    // the head job's supervisor starts it again once up withdrew the stop: judged by a fresh heartbeat
    expect(up.stdout).toMatch(/autoscaler: head job \d+ \(pid \d+ on node\d\)/);
    expect(cli(["status", config], dir).stdout).toMatch(/autoscaler: head job \d+, pid \d+ on node\d/);
    expect(
      readFileSync(
        join(state, "logs", readdirSync(join(state, "logs")).find((f) => f.startsWith("head.")) ?? "head.?"),
        "utf8",
      ),
    ).toMatch(/the stop was withdrawn, starting it again/);
    expect(cli(["down", config], dir).status).toBe(0);
  }, 300_000);

  it("state directory lost: status, list and down work from Grid Engine alone and say what is missing", async () => {
    const config = smallConfig(dir, "itlost");
    expect(cli(["up", config], dir).status).toBe(0);
    // both copies of the cluster's state: its state_dir and the config kept under ~/.ray-sge/clusters
    asRoot(["rm", "-rf", join(dir, "state", "itlost"), join(HOME, ".ray-sge", "clusters", "itlost")]);
    const byName = cli(["status", "itlost", "--json"], dir);
    expect(byName.status, byName.stderr).toBe(0);
    const st = JSON.parse(byName.stdout);
    expect(st.lost).toMatch(/state directory is gone .* working from its 2 job\(s\) in Grid Engine/);
    expect(st.nodes.map((n: { role: string }) => n.role).sort()).toEqual(["head", "worker"]);
    // with the config: the head runs, its address is what is missing (it used to say "not running")
    const withConfig = cli(["status", config], dir).stdout;
    expect(withConfig).toMatch(/head: the head job \d+ runs on node\d, but its address .* is missing/);
    expect(cli(["list"], dir).stdout).toMatch(
      /itlost\s+2 node\(s\)\s+head r on node\d.*\(state directory missing: ray-sge down itlost removes it\)/,
    );
    const down = cli(["down", "itlost"], dir);
    expect(down.status, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/deleted job\(s\) \d+, \d+; its state directory .* is gone, and its logs with it/);
    expect(await sge.listJobs({ name: "rsge-itlost-*" })).toEqual([]);
    // and once nothing is left, the name is unknown again
    expect(cli(["down", "itlost"], dir).status).toBe(2);
  }, 240_000);

  it("two up of one config at once make one cluster; a down racing an up waits for it, then removes everything", async () => {
    const config = smallConfig(dir, "ittwo");
    const [a, b] = await Promise.all([runCli(["up", config, "--json"], dir), runCli(["up", config, "--json"], dir)]);
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    // the same cluster for both; the second waited for the first and reconciled
    expect(JSON.parse(a.stdout).head.job_id).toBe(JSON.parse(b.stdout).head.job_id);
    expect(`${a.stderr}\n${b.stderr}`).toMatch(
      /ray-sge up \(pid \d+ on \S+, since .*\) is changing this cluster: waiting for it to finish/,
    );
    expect(`${a.stderr}\n${b.stderr}`).toMatch(/cluster ittwo exists \(head job \d+, r\): reconciling/);
    const heads = (await sge.listJobs({ name: "rsge-ittwo-head" })).filter((j) => j.status !== "deleting");
    expect(heads).toHaveLength(1);
    const workers = (await sge.listJobs({ name: "rsge-ittwo-w-*" })).filter((j) => j.status !== "deleting");
    expect(workers).toHaveLength(1);

    // a down while an up is at work (it holds the lock once it submitted): down waits, then removes it all
    cli(["down", config], dir);
    const upProc = spawnCli(["up", config, "--json"], dir);
    let upErr = "";
    upProc.stderr?.on("data", (x) => {
      upErr += x;
    });
    const upDone = new Promise<number | null>((r) => upProc.once("close", r));
    await waitFor("the up to submit its head", async () => /head job \d+ submitted/.test(upErr), 60_000, 100);
    const d = await runCli(["down", config], dir);
    expect(await upDone, upErr).toBe(0);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/ray-sge up .* is changing this cluster: waiting for it to finish/);
    expect(d.stdout).toMatch(/deleted job\(s\) \d+, \d+/);
    expect(await sge.listJobs({ name: "rsge-ittwo-*" })).toEqual([]);
  }, 300_000);

  it("quiet at rest, no worker for short bursts, prompt workers for sustained demand", async () => {
    const config = smallConfig(dir, "itburst");
    writeFileSync(
      config,
      readFileSync(config, "utf8")
        .replace(/head_node:\n {2}# Resources allocated to head node\n {2}resources:\n {4}slots: 1/, (m) =>
          m.replace("slots: 1", "slots: 4"),
        )
        .replace("min_workers: 1", "min_workers: 0")
        .replace(/^max_workers: 10$/m, "max_workers: 4\nidle_timeout_minutes: 0.2"),
    );
    expect(cli(["up", config], dir).status).toBe(0);
    const state = join(dir, "state", "itburst");
    const beat = () => JSON.parse(readFileSync(join(state, "autoscaler.json"), "utf8"));
    const scaleUps = () => clusterEvents(state).filter((e) => e.event === "scale-up");
    await waitFor("the autoscaler's heartbeat", async () => existsSync(join(state, "autoscaler.json")), 30_000);
    // at rest: at most one qstat per 10 s (the GCS is still asked every second)
    const a = beat();
    await new Promise((r) => setTimeout(r, 30_000));
    const b = beat();
    expect(b.rounds - a.rounds).toBeGreaterThanOrEqual(20);
    expect(b.qstat_calls - a.qstat_calls).toBeLessThanOrEqual(4);
    // the guide's app (100 instant tasks), then 30 tasks of 0.5 s: the 4-CPU head drains them first.
    // One driver whose 4 workers have started (quarter-CPU tasks: no demand shows): how fast a fresh
    // job's workers start depends on the host's load (the gate's known limit, README; a CI run's
    // back-to-back fresh jobs got 4 workers), and the bench measures fresh jobs.
    const py = `${conf.RAY_VENV}/bin/python`;
    const app = cli(
      [
        "submit",
        "itburst",
        "--",
        py,
        "-c",
        [
          "import ray, time",
          "ray.init()",
          "ray.get([ray.remote(num_cpus=0.25)(lambda: time.sleep(1)).remote() for _ in range(4)])",
          "time.sleep(3)",
          "print('APP', sum(ray.get([ray.remote(lambda x: x * x).remote(i) for i in range(100)])))",
          "time.sleep(3)",
          "print('SHORT', len(ray.get([ray.remote(lambda: time.sleep(0.5)).remote() for _ in range(30)])))",
        ].join("\n"),
      ],
      dir,
    );
    expect(app.status, app.stderr).toBe(0);
    expect(app.stdout).toContain("APP 328350");
    expect(app.stdout).toContain("SHORT 30");
    await new Promise((r) => setTimeout(r, 5000));
    expect(scaleUps()).toEqual([]);
    // held for its drain rate, not merely for its age
    expect(readFileSync(join(state, "events.jsonl"), "utf8")).toMatch(/"held".*task\(s\) waiting drain in about/);
    // sustained: 8 one-CPU tasks of 20 s on 4 CPUs: workers go out within seconds
    const t0 = Date.now();
    const p = spawnCli(
      [
        "submit",
        "itburst",
        "--no-wait",
        "--",
        py,
        "-c",
        "import ray, time; ray.init(); ray.get([ray.remote(lambda: time.sleep(20)).remote() for _ in range(8)])",
      ],
      dir,
    );
    await new Promise((r) => p.once("close", r));
    const up = await waitFor("a scale-up for the sustained demand", async () => scaleUps()[0], 60_000, 500);
    expect(Date.parse(up.time) - t0).toBeLessThan(12_000);
    expect(cli(["down", config], dir).status).toBe(0);
  }, 300_000);

  it("a worker that dies at work is replaced at once, with the burst gate on (the default)", async () => {
    const config = smallConfig(dir, "itbusy");
    writeFileSync(config, readFileSync(config, "utf8").replace("min_workers: 1", "min_workers: 0"));
    expect(cli(["up", config], dir).status).toBe(0);
    const state = join(dir, "state", "itbusy");
    const events = () => clusterEvents(state);
    const py = `${conf.RAY_VENV}/bin/python`;
    // two long tasks on a 1-CPU head: one runs there, the other gets a worker after the gate's grace
    const p = spawnCli(
      [
        "submit",
        "itbusy",
        "--no-wait",
        "--",
        py,
        "-c",
        "import ray, time; ray.init(); ray.get([ray.remote(max_retries=3)(lambda: time.sleep(90)).remote() for _ in range(2)])",
      ],
      dir,
    );
    await new Promise((r) => p.once("close", r));
    type Node = {
      role: string;
      ray: string;
      jobId: number;
      taskId: number;
      resources?: { CPU?: number };
      available?: { CPU?: number };
    };
    const w = await waitFor(
      "a worker at work",
      async () =>
        (JSON.parse(cli(["status", config, "--json"], dir).stdout).nodes as Node[]).find(
          (n) => n.role === "worker" && n.ray === "ALIVE" && n.resources?.CPU === 1 && (n.available?.CPU ?? 0) === 0,
        ),
      90_000,
      1000,
    );
    // let the autoscaler see it busy for a round, then kill its raylet
    await new Promise((r) => setTimeout(r, 2500));
    const killedAt = killRaylet(w);
    const replaced = await waitFor(
      "a scale-up replacing it",
      async () => events().find((e) => e.event === "scale-up" && /which died at work/.test(e.why ?? "")),
      60_000,
      500,
    );
    expect(replaced.why).toContain(`replaces ${w.jobId}.${w.taskId}, which died at work`);
    expect(Date.parse(replaced.time) - killedAt).toBeLessThan(15_000);
    expect(events().some((e) => e.event === "worker-failed")).toBe(false);
    expect(cli(["down", config], dir).status).toBe(0);
  }, 300_000);

  it("Ctrl-C during up exits 130 and deletes what it submitted", async () => {
    const config = smallConfig(dir, "itint");
    // the head waits in the queue: pinned to a host whose queue instance is disabled
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(
        'qsub_options: "-l h_rt=24:00:00',
        'qsub_options: "-l hostname=node1 -l h_rt=24:00:00',
      ),
    );
    asRoot(["qmod", "-d", "all.q@node1"]);
    try {
      const p = spawnCli(["up", config], dir);
      let err = "";
      p.stderr?.on("data", (d) => {
        err += d;
      });
      await waitFor("the head to wait in the queue", async () => /head job \d+: qw/.test(err), 60_000);
      p.kill("SIGINT");
      const code = await new Promise<number | null>((r) => p.once("close", r));
      expect(code, err).toBe(130);
      expect(err).toMatch(/up failed: deleting the 2 job\(s\) it submitted/);
      expect(await sge.listJobs({ name: "rsge-itint-*" })).toEqual([]);
    } finally {
      asRoot(["qmod", "-e", "all.q@node1"]);
    }
  }, 120_000);
});
