// The autoscaler on the 3-host testbed with real Ray, as the unprivileged user: Ray's demand becomes
// Grid Engine jobs (and goes away again), seen in plain `ray status`. One cluster, scenarios in turn.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GcsClient } from "../../src/ray/gcs.js";
import { cli, clusterEvents, installForUser } from "../support/cluster.js";
import { asRoot, clientAs, conf, USER, userDir, waitFor } from "../support/testbed.js";

const RAY_VENV = conf.RAY_VENV as string;
const NAME = "itauto";
const sge = clientAs();
let dir: string;
let config: string;
let up: { address: string; tokenPath: string; head: { job_id: string }; autoscaler: string };

/**
 * This file tests placement, replacement, drains and walltime, so its cluster launches at once
 * (`wait_for_bursts: false`, Ray's own policy); the burst gate has its own tests (faults.test.ts,
 * planner.test.ts). Measured: a task retried after its node was killed showed in the GCS's demand
 * for only ~4 s of its ~20 s wait, so the gate's 2 s grace made its replacement a matter of timing.
 */
function writeAutoscalerConfig(d: string): string {
  const file = join(d, `${NAME}.yaml`);
  writeFileSync(
    file,
    `cluster_name: ${NAME}
max_workers: 4
idle_timeout_minutes: 0.25
state_dir: ${d}/state
autoscaler:
  interval_seconds: 1
  wait_for_bursts: false
  queued_grace_seconds: 10
  failure_backoff_seconds: 5
  walltime_margin_seconds: 45
sge:
  queue: all.q
  parallel_environment: smp
head_node:
  resources: { slots: 1 }
available_node_types:
  cpu1:
    # memory makes workers' submission need to know how the memory complex counts (qconf -sc, an admin
    # host's command): up finds out and tells the autoscaler in the head job
    resources: { slots: 1, memory: 1G }
    min_workers: 0
    max_workers: 4
  queued:
    resources: { slots: 1 }
    max_workers: 1
    labels: { pool: queued }
    # never eligible to start: a worker that waits in the queue for as long as it is wanted
    sge: { qsub_options: "-a 209901010000" }
  short:
    resources: { slots: 1 }
    max_workers: 2
    labels: { pool: short }
    sge: { h_rt: 100 }
  broken:
    resources: { slots: 1 }
    max_workers: 1
    labels: { pool: broken }
setup_commands:
  - source ${RAY_VENV}/bin/activate
`,
  );
  asRoot(["chown", USER, file]);
  return file;
}

/** A Python driver run as the test user against the cluster; output collected. */
function driver(name: string, code: string): { done: Promise<number>; out: () => string; proc: ChildProcess } {
  const file = join(dir, `${name}.py`);
  writeFileSync(file, `import ray, time, socket, sys\nray.init(address="auto")\n${code}`);
  asRoot(["chown", USER, file]);
  // RAY_DEDUP_LOGS=0: Ray folds task lines that differ only in words with digits ("START 1 <node>",
  // "START 2 <node>") arriving within 5 s into one "[repeated 2x across cluster]" line, printed later
  // (a CI run's workers came 3 s after qsub: the test saw 2 of 3 STARTs)
  const env = [
    `RAY_ADDRESS=${up.address}`,
    "RAY_AUTH_MODE=token",
    `RAY_AUTH_TOKEN_PATH=${up.tokenPath}`,
    "RAY_DEDUP_LOGS=0",
  ];
  const proc = spawn("runuser", ["-u", USER, "--", "env", ...env, `${RAY_VENV}/bin/python`, "-u", file], { cwd: dir });
  let out = "";
  proc.stdout?.on("data", (d) => {
    out += d;
  });
  proc.stderr?.on("data", (d) => {
    out += d;
  });
  return { done: new Promise((res) => proc.on("close", (c) => res(c ?? -1))), out: () => out, proc };
}

function rayStatus(): string {
  const r = asRoot([
    "runuser",
    "-u",
    USER,
    "--",
    "env",
    `RAY_ADDRESS=${up.address}`,
    "RAY_AUTH_MODE=token",
    `RAY_AUTH_TOKEN_PATH=${up.tokenPath}`,
    `${RAY_VENV}/bin/ray`,
    "status",
  ]);
  return r.stdout + r.stderr;
}

const events = () => clusterEvents(join(dir, "state", NAME));

async function workerJobs(type?: string) {
  const rows = await sge.listJobs({ name: `rsge-${NAME}-w-${type ?? "*"}` }, { tasks: "expand" });
  return rows.filter((r) => r.status !== "deleting");
}

function token(): string {
  return readFileSync(up.tokenPath, "utf8").trim();
}

beforeAll(() => {
  installForUser();
  dir = userDir("it-autoscaler");
  config = writeAutoscalerConfig(dir);
});
afterAll(() => {
  if (existsSync(config)) cli(["down", config], dir);
});

describe("autoscaler", () => {
  it("comes up with the cluster, inside the head job, with no workers", () => {
    const r = cli(["up", config, "--json"], dir);
    expect(r.status, r.stderr).toBe(0);
    up = JSON.parse(r.stdout);
    // judged by its heartbeat: it answers from the head job
    expect(up.autoscaler).toMatch(new RegExp(`^head job ${up.head.job_id} \\(pid \\d+ on node\\d\\)$`));
  });

  it("6 one-CPU tasks, max 4 workers: 4 appear, the tasks finish, idle workers are drained and gone", async () => {
    const d = driver(
      "six",
      `@ray.remote(num_cpus=1)
def work(i):
    time.sleep(25)
    return ray.get_runtime_context().get_node_id()
nodes = ray.get([work.remote(i) for i in range(6)])
print("nodes used:", len(set(nodes)))
`,
    );
    let peak = 0;
    let exit: number | undefined;
    void d.done.then((c) => {
      exit = c;
    });
    while (exit === undefined) {
      peak = Math.max(peak, (await workerJobs("cpu1")).length);
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(exit, d.out()).toBe(0);
    expect(peak).toBe(4);
    const ups = events().filter((e) => e.event === "scale-up" && e.type === "cpu1");
    expect(ups.reduce((n, e) => n + (e.count ?? 0), 0)).toBe(4);
    expect(events().some((e) => e.event === "held" && /max_workers \(4\)/.test(e.why ?? ""))).toBe(true);
    // idle timeout 15 s, then DrainNode(IDLE_TERMINATION) and qdel of each
    await waitFor(
      "the idle workers' jobs to be gone",
      async () => (await workerJobs("cpu1")).length === 0,
      120_000,
      1000,
    );
    const downs = events().filter((e) => e.event === "scale-down");
    expect(downs).toHaveLength(4);
    expect(downs.every((e) => /^idle for \d+ s/.test(e.why ?? ""))).toBe(true);
    expect(events().filter((e) => e.event === "drain-refused")).toEqual([]);
  }, 300_000);

  it("a STRICT_SPREAD placement group of 3 bundles gets 3 distinct nodes", async () => {
    const d = driver(
      "spread",
      `from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy
pg = placement_group([{"CPU": 1}] * 3, strategy="STRICT_SPREAD")
ray.get(pg.ready(), timeout=150)
@ray.remote(num_cpus=1)
def where():
    return socket.gethostname(), ray.get_runtime_context().get_node_id()
got = ray.get([where.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=i)).remote() for i in range(3)])
print("HOSTS", ",".join(h for h, _ in got))
print("NODES", len(set(n for _, n in got)))
remove_placement_group(pg)
`,
    );
    expect(await d.done, d.out()).toBe(0);
    expect(d.out()).toMatch(/NODES 3/);
    const hosts = /HOSTS (\S+)/.exec(d.out())?.[1]?.split(",") ?? [];
    process.stdout.write(`STRICT_SPREAD bundles on hosts: ${hosts.join(", ")}\n`);
    expect(hosts).toHaveLength(3);
  }, 240_000);

  it("a request no node type can hold is reported infeasible and never submitted", async () => {
    const before = (await workerJobs()).length;
    const d = driver(
      "gpu",
      `@ray.remote(num_gpus=1)
def g():
    return 1
ref = g.remote()
time.sleep(60)
`,
    );
    const gcs = new GcsClient({ address: up.address, token: token() });
    try {
      const infeasible = await waitFor(
        "the autoscaler to report the GPU request infeasible",
        async () => {
          const s = await gcs.getClusterStatus();
          return s.autoscaling.infeasible.find((r) => r.resources.GPU === 1);
        },
        30_000,
      );
      expect(infeasible.resources).toMatchObject({ GPU: 1 });
    } finally {
      gcs.close();
    }
    const st = JSON.parse(cli(["status", config, "--json"], dir).stdout);
    expect(st.infeasible).toContainEqual(expect.objectContaining({ GPU: 1 }));
    expect(cli(["status", config], dir).stdout).toMatch(/infeasible: \{.*GPU=1.*\}: no node type can hold it/);
    // Ray 2.58's `ray status` lists infeasible work with the pending demands (it does not print
    // the autoscaler's infeasible list yet): there it is, and no job was submitted for it
    expect(rayStatus()).toMatch(/\{'CPU': 1\.0, 'GPU': 1\.0\}: 1\+ pending tasks/);
    await new Promise((r) => setTimeout(r, 3000));
    expect((await workerJobs()).length).toBeLessThanOrEqual(before);
    expect(events().some((e) => e.event === "infeasible")).toBe(true);
    d.proc.kill("SIGTERM");
    await d.done;
  }, 120_000);

  it("a worker waiting in the Grid Engine queue shows in plain `ray status`; a killed and restarted autoscaler submits no duplicate; the job goes when its demand does", async () => {
    const d = driver(
      "queued",
      `@ray.remote(num_cpus=1, label_selector={"pool": "queued"})
def q():
    return 1
ref = q.remote()
time.sleep(600)
`,
    );
    const [job] = await waitFor("a queued worker job", async () => {
      const j = await workerJobs("queued");
      return j.length > 0 ? j : undefined;
    });
    expect(job?.state).toBe("qw");
    const instance = `${job?.id}.${job?.taskId}`;
    const status = await waitFor(
      "ray status to list the pending worker",
      async () => {
        const s = rayStatus();
        return s.includes(`${instance}: queued, qw in all.q`) ? s : undefined;
      },
      30_000,
      1000,
    );
    expect(status).toMatch(/Pending:\n(.*\n)* \d+\.1: queued, qw in all\.q/);

    // kill -9 the autoscaler in the head job: the job restarts it, and it submits no second job
    const info = JSON.parse(readFileSync(join(dir, "state", NAME, "autoscaler.json"), "utf8"));
    const killedAt = new Date().toISOString();
    expect(process.kill(info.pid, "SIGKILL")).toBe(true);
    await waitFor(
      "the autoscaler to be restarted in the head job",
      async () => events().some((e) => e.event === "autoscaler-started" && e.time > killedAt),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 5000));
    expect((await workerJobs("queued")).map((j) => j.id)).toEqual([job?.id]);
    expect(events().filter((e) => e.event === "scale-up" && e.type === "queued" && e.time > killedAt)).toEqual([]);
    const restarted = JSON.parse(readFileSync(join(dir, "state", NAME, "autoscaler.json"), "utf8"));
    expect(restarted.pid).not.toBe(info.pid);
    expect(restarted.mode).toBe(`head job ${up.head.job_id}`);

    d.proc.kill("SIGTERM");
    await d.done;
    await waitFor(
      "the unneeded queued job to be deleted",
      async () => (await workerJobs("queued")).length === 0,
      60_000,
    );
    const del = events().find((e) => e.event === "worker-deleted" && e.instance === instance);
    expect(del?.why).toMatch(/queued and not needed for \d+ s/);
  }, 240_000);

  it("a worker job in error state (Eqw) is deleted, reported with Grid Engine's reason, and its type backs off", async () => {
    // the cluster's log directory unwritable (a full or read-only filesystem): Grid Engine cannot open
    // a new job's output file and puts the job in error state (Eqw)
    const logs = join(dir, "state", NAME, "logs");
    const since = new Date().toISOString();
    asRoot(["chmod", "0500", logs]);
    const d = driver(
      "broken",
      `@ray.remote(num_cpus=1, label_selector={"pool": "broken"})
def b():
    return 1
ref = b.remote()
time.sleep(600)
`,
    );
    try {
      const failures = await waitFor(
        "two failed submissions of the broken type",
        async () => {
          const f = events().filter((e) => e.event === "worker-failed" && e.type === "broken" && e.time > since);
          return f.length >= 2 ? f : undefined;
        },
        90_000,
        1000,
      );
      expect(failures[0]?.why).toMatch(/Grid Engine error state: .*can't open output file .*Permission denied/);
      // the second try came only after the backoff (5 s), not in the next round
      const ups = events().filter((e) => e.event === "scale-up" && e.type === "broken" && e.time > since);
      expect(Date.parse(ups[1]?.time ?? "") - Date.parse(failures[0]?.time ?? "")).toBeGreaterThanOrEqual(4500);
      expect(rayStatus()).toMatch(/Recent failures:\n(.*\n)* broken: LaunchFailed/);
    } finally {
      asRoot(["chmod", "0700", logs]);
      d.proc.kill("SIGTERM");
      await d.done;
    }
    await waitFor("no broken job left", async () => (await workerJobs("broken")).length === 0, 60_000);
  }, 180_000);

  it("a worker job killed mid-task is replaced and every task finishes", async () => {
    const d = driver(
      "killed",
      `@ray.remote(num_cpus=1, max_retries=3)
def work(i):
    print("START", i, ray.get_runtime_context().get_node_id(), flush=True)
    time.sleep(30)
    return i
print("RESULTS", sorted(ray.get([work.remote(i) for i in range(3)])))
`,
    );
    const victim = await waitFor(
      "a worker running a task",
      async () => {
        const jobs = (await workerJobs("cpu1")).filter((j) => j.status === "running");
        return d.out().match(/START/g)?.length === 3 && jobs.length > 0 ? jobs[0] : undefined;
      },
      150_000,
      1000,
    );
    await new Promise((r) => setTimeout(r, 3000));
    const killedAt = new Date().toISOString();
    await sge.deleteJobs([`${victim.id}.${victim.taskId}`]);
    expect(await d.done, d.out()).toBe(0);
    expect(d.out()).toContain("RESULTS [0, 1, 2]");
    expect(events().some((e) => e.event === "worker-ended" && e.instance === `${victim.id}.${victim.taskId}`)).toBe(
      true,
    );
    expect(events().some((e) => e.event === "scale-up" && e.time > killedAt)).toBe(true);
  }, 300_000);

  it("a worker type with a short h_rt is drained and replaced before its walltime, no task lost", async () => {
    const d = driver(
      "walltime",
      `@ray.remote(num_cpus=1, max_retries=0, label_selector={"pool": "short"})
def step(i):
    time.sleep(10)
    return ray.get_runtime_context().get_node_id()
nodes = [ray.get(step.remote(i)) for i in range(13)]
print("STEPS", len(nodes), "NODES", len(set(nodes)))
`,
    );
    expect(await d.done, d.out()).toBe(0);
    expect(d.out()).toMatch(/STEPS 13 NODES [2-9]/);
    const drain = events().find((e) => e.event === "walltime-drain");
    expect(drain?.why).toMatch(/h_rt ends in \d+ s/);
    expect(
      events().some((e) => e.event === "scale-up" && e.type === "short" && /ahead of its h_rt/.test(e.why ?? "")),
    ).toBe(true);
  }, 360_000);

  it("down removes everything, the autoscaler included", async () => {
    const r = cli(["down", config], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(await sge.listJobs({ name: `rsge-${NAME}-*` })).toEqual([]);
    // it stops either on down's request or on its job's signal, whichever it sees first
    await waitFor(
      "no autoscaler process of the cluster",
      async () => asRoot(["pgrep", "-f", `ray-sge.js autoscaler .*/${NAME}/spec.json`]).status === 1,
      30_000,
    );
  }, 120_000);
});

describe("autoscaler on the submit host (up --autoscaler local)", () => {
  it("runs here, acts on demand, and ends with the cluster", async () => {
    const local = join(dir, "local.yaml");
    writeFileSync(
      local,
      readFileSync(config, "utf8")
        .replace(`cluster_name: ${NAME}`, "cluster_name: itlocal")
        .replace("max_workers: 4\n", "max_workers: 1\n"),
    );
    asRoot(["chown", USER, local]);
    const r = cli(["up", local, "--json", "--autoscaler", "local"], dir);
    expect(r.status, r.stderr).toBe(0);
    const u = JSON.parse(r.stdout);
    expect(u.autoscaler).toMatch(/^locally \(pid \d+;/);
    const pid = Number(/pid (\d+)/.exec(u.autoscaler)?.[1]);
    const gcs = new GcsClient({ address: u.address, token: readFileSync(u.tokenPath, "utf8").trim() });
    try {
      await gcs.requestClusterResourceConstraint([
        { request: { resources: { CPU: 1 }, labelSelectors: [] }, count: 2 },
      ]);
    } finally {
      gcs.close();
    }
    const ev = join(dir, "state", "itlocal", "events.jsonl");
    await waitFor(
      "the local autoscaler's scale-up",
      async () => existsSync(ev) && readFileSync(ev, "utf8").includes('"event":"scale-up"'),
      30_000,
    );
    const started =
      readFileSync(ev, "utf8")
        .split("\n")
        .find((l) => l.includes("autoscaler-started")) ?? "";
    expect(JSON.parse(started)).toMatchObject({ mode: "local", pid });
    expect(cli(["down", local], dir).status).toBe(0);
    await waitFor(
      "the local autoscaler to exit",
      async () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      30_000,
    );
  }, 180_000);
});
