// The launcher end to end, as the unprivileged user, with real Grid Engine and real Ray:
// the guide's config -> up -> the guide's app -> status -> down -> nothing left.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, PKG_BIN, writeConfig } from "../support/cluster.js";
import { clientAs, conf, NODES, USER, userDir, waitFor } from "../support/testbed.js";

const RAY_VENV = conf.RAY_VENV as string;
const ROOT_DIR = new URL("../../", import.meta.url).pathname;
const sge = clientAs();

let dir: string;
beforeAll(() => {
  installForUser();
  dir = userDir("it-cluster");
});
afterAll(() => {
  // whatever happened, leave no cluster behind
  for (const name of ["itc1", "itbroken"]) {
    const f = join(dir, `${name}.yaml`);
    if (existsSync(f)) cli(["down", f], dir);
  }
});

describe("ray-sge up / status / down", () => {
  it("brings up the guide's cluster, runs the guide's app on several hosts, and removes it all", async () => {
    const config = writeConfig(dir, "itc1");
    const up = cli(["up", config, "--json", "--timeout", "240"], dir);
    expect(up.status, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/warning: head_start_ray_commands\[0\]: "ray stop" is dropped/);
    const r = JSON.parse(up.stdout);
    expect(r.workersAlive).toBe(2);
    expect(NODES).toContain(r.head.host);
    const token = readFileSync(r.tokenPath, "utf8");

    // SGE and Ray agree, matched by instance id
    const st = cli(["status", config, "--json"], dir);
    expect(st.status, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status.nodes.map((n: { role: string; ray: string }) => `${n.role}:${n.ray}`).sort()).toEqual([
      "head:ALIVE",
      "worker:ALIVE",
      "worker:ALIVE",
    ]);

    // the guide's app, unchanged but for a host report, through the printed connection settings
    const app = join(dir, "app.py");
    writeFileSync(
      app,
      `import ray, socket
ray.init(address="auto")
@ray.remote
def compute_task(x):
    import time; time.sleep(0.25)  # long enough to fill the head's 4 CPUs, so Ray spills over to workers
    return x * x, socket.gethostname()
results = ray.get([compute_task.remote(i) for i in range(100)])
print("Results:", [r for r, _ in results] == [i * i for i in range(100)])
print("hosts:", sorted(set(h for _, h in results)))
`,
    );
    const env = ["env", `RAY_ADDRESS=${r.address}`, "RAY_AUTH_MODE=token", `RAY_AUTH_TOKEN_PATH=${r.tokenPath}`];
    const out = execFileSync("runuser", ["-u", USER, "--", ...env, `${RAY_VENV}/bin/python`, app], {
      encoding: "utf8",
      cwd: dir,
    });
    expect(out).toContain("Results: True");
    const hosts = JSON.parse((/hosts: (.*)/.exec(out)?.[1] ?? "[]").replace(/'/g, '"')) as string[];
    expect(hosts.length).toBeGreaterThanOrEqual(2);

    // eval "$(ray-sge env NAME)" connects plain `ray status` and drivers
    const rayStatus = spawnSync(
      "runuser",
      [
        "-u",
        USER,
        "--",
        "bash",
        "-c",
        `eval "$(${process.execPath} ${PKG_BIN} env itc1)" && ${RAY_VENV}/bin/ray status`,
      ],
      { encoding: "utf8", cwd: dir, timeout: 60_000 },
    );
    expect(rayStatus.status, rayStatus.stderr).toBe(0);
    expect(rayStatus.stdout).toMatch(/Node status/);

    // status: CPU in use, time left under h_rt (24:00:00 in the guide's config), and work Ray cannot place
    const greedy = spawn("runuser", [
      "-u",
      USER,
      "--",
      ...env,
      `${RAY_VENV}/bin/python`,
      "-c",
      "import ray, time; ray.init(address='auto'); ray.remote(num_cpus=64)(lambda: 1).remote(); time.sleep(120)",
    ]);
    try {
      const withDemand = await waitFor(
        "pending demand in status",
        async () => {
          const s2 = JSON.parse(cli(["status", "itc1", "--json"], dir).stdout);
          return s2.pendingDemand.some((d: { resources: { CPU?: number } }) => d.resources.CPU === 64) ? s2 : undefined;
        },
        60_000,
        1000,
      );
      const headNode = withDemand.nodes.find((n: { role: string }) => n.role === "head");
      expect(headNode.resources.CPU).toBe(4);
      expect(headNode.secondsLeft).toBeGreaterThan(86_000);
      expect(headNode.secondsLeft).toBeLessThanOrEqual(86_400);
      expect(cli(["status", "itc1"], dir).stdout).toMatch(/pending demand: 1 x CPU=64/);
    } finally {
      greedy.kill("SIGKILL");
    }

    // the worker type's labels reached Ray
    const labels = execFileSync(
      "runuser",
      [
        "-u",
        USER,
        "--",
        ...env,
        `${RAY_VENV}/bin/python`,
        "-c",
        "import json,os; from ray._raylet import GcsClient; print(json.dumps(sorted(dict(n.labels).get('tier','-') for n in GcsClient(address=os.environ['RAY_ADDRESS']).get_all_node_info().values() if n.state == 0 and 'ray-sge.io/driver-node' not in dict(n.labels))))",
      ],
      { encoding: "utf8" },
    );
    // the head has none; every worker has the type's (the autoscaler may have added workers for the app;
    // the driver node `env` started above for `ray status` is left out)
    const [headLabel, ...workerLabels] = JSON.parse(labels) as string[];
    expect(headLabel).toBe("-");
    expect(workerLabels.length).toBeGreaterThanOrEqual(2);
    expect(new Set(workerLabels)).toEqual(new Set(["it-test"]));

    // ray-sge submit runs the guide's app unchanged, streams its output, passes its exit code on
    const guideApp = join(dir, "guide_app.py");
    writeFileSync(guideApp, readFileSync(join(ROOT_DIR, "examples/guide_app.py"), "utf8"));
    const sub = cli(["submit", "itc1", "--", `${RAY_VENV}/bin/python`, guideApp], dir);
    expect(sub.status, sub.stderr).toBe(0);
    expect(sub.stdout).toContain("Results: [0, 1, 4, 9, 16");
    expect(cli(["submit", "itc1", "--", `${RAY_VENV}/bin/python`, "-c", "raise SystemExit(3)"], dir).status).toBe(3);

    // logs: each node's Grid Engine output, one node's alone, and where Ray's own logs are
    const logs = JSON.parse(cli(["logs", "itc1", "--json"], dir).stdout);
    // head and the 2 min_workers, and any the autoscaler added for the app's 100 tasks
    expect(logs.logs.length).toBeGreaterThanOrEqual(3);
    expect(logs.logs.filter((l: { node: string }) => l.node.endsWith(".0"))).toHaveLength(1);
    expect(logs.logs.find((l: { node: string }) => l.node.endsWith(".0")).tail).toMatch(
      /head up: GCS \S+, dashboard http:\/\/\S+:\d+, Ray Client ray:\/\/\S+:\d+/,
    );
    expect(logs.rayLogs.kept).toBe(join(dir, "state/itc1/logs/ray"));
    const workerId = status.nodes.find((n: { role: string }) => n.role === "worker").instanceId;
    expect(cli(["logs", "itc1", "--node", workerId], dir).stdout).toMatch(/joining the head at \S+:\d+/);

    // a driver without the token is refused
    const noToken = spawnSync(
      "runuser",
      [
        "-u",
        USER,
        "--",
        "env",
        `RAY_ADDRESS=${r.address}`,
        `${RAY_VENV}/bin/python`,
        "-c",
        "import ray; ray.init(address='auto')",
      ],
      {
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    expect(noToken.status).not.toBe(0);
    expect(noToken.stderr).toMatch(/Authentication token is missing or incorrect|Unauthenticated/);

    // the token is in no job's qstat -j output and no process's argv
    const jobIds = [...new Set(status.nodes.map((n: { jobId: number }) => n.jobId))] as number[];
    const qstatJ = execFileSync("runuser", ["-u", USER, "--", "qstat", "-j", jobIds.join(",")], { encoding: "utf8" });
    expect(qstatJ).toContain("ray_sge_cluster=itc1");
    expect(qstatJ).not.toContain(token);
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(token);

    const down = cli(["down", config], dir);
    expect(down.status, down.stderr).toBe(0);
    expect(await sge.listJobs({ name: "rsge-itc1-*" })).toEqual([]);
    // no Ray process of the cluster on any host (they all share this kernel), nothing in its temp dirs
    const rayLeft = () =>
      spawnSync("pgrep", ["-u", USER, "-f", "raylet|gcs_server|ray start"], { encoding: "utf8" }).stdout.trim();
    for (let i = 0; i < 20 && rayLeft(); i++) await new Promise((res) => setTimeout(res, 500));
    expect(rayLeft()).toBe("");
    expect(cli(["down", config], dir).stdout).toMatch(/already down/);
    // up may take its --timeout (240 s) on a slow machine; the app, env and down come after it
  }, 420_000);

  it("refuses a broken config with file:line:col and exit 2, submitting nothing", async () => {
    const config = writeConfig(dir, "itbroken");
    writeFileSync(config, readFileSync(config, "utf8").replace("    slots: 2", "    slots: two"));
    const r = cli(["up", config], dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${config}:\\d+:\\d+: worker_nodes\\.resources\\.slots: expected number`));
    expect(await sge.listJobs({ name: "rsge-itbroken-*" })).toEqual([]);
  });
});
