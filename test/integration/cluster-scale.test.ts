// ray-sge scale on the real testbed: grow with an array, shrink idle nodes only (drain, then qdel).
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, smallConfig } from "../support/cluster.js";
import { clientAs, conf, USER, userDir, waitFor } from "../support/testbed.js";

const RAY_VENV = conf.RAY_VENV as string;
const sge = clientAs();
let dir: string;
let config: string;

beforeAll(() => {
  installForUser();
  dir = userDir("it-cluster-scale");
  config = smallConfig(dir, "itscale");
});
afterAll(() => {
  if (existsSync(config)) cli(["down", config], dir);
});

type Node = { instanceId: string; role: string; ray: string; sgeStatus: string; jobId: number; taskId?: number };
const workers = (): Node[] =>
  (JSON.parse(cli(["status", config, "--json"], dir).stdout).nodes as Node[]).filter((n) => n.role === "worker");

describe("ray-sge scale", () => {
  it("grows with an array job and shrinks idle workers only, keeping a busy one and its task", async () => {
    const up = JSON.parse(cli(["up", config, "--json"], dir).stdout);
    const grow = cli(["scale", config, "--workers", "3", "--json"], dir);
    expect(grow.status, grow.stderr).toBe(0);
    expect(JSON.parse(grow.stdout).added).toHaveLength(1);
    await waitFor(
      "3 workers alive",
      async () => workers().filter((w) => w.ray === "ALIVE").length === 3,
      120_000,
      1000,
    );

    // keep busy the worker scale would remove first (the newest): a task pinned to it by node id,
    // found through its instance id
    const busy = workers().sort((a, b) => b.jobId - a.jobId || (b.taskId ?? 0) - (a.taskId ?? 0))[0] as Node;
    const driver = join(dir, "busy.py");
    writeFileSync(
      driver,
      `import sys, time, ray
from ray._raylet import GcsClient
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init(address="auto")
nid = [n.node_id.hex() for n in GcsClient(address="${up.address}").get_all_node_info().values() if n.instance_id == sys.argv[1]][0]
@ray.remote(num_cpus=1)
def work():
    time.sleep(45)
    return "done"
ref = work.options(scheduling_strategy=NodeAffinitySchedulingStrategy(nid, soft=False)).remote()
time.sleep(5)
print("busy", flush=True)
print(ray.get(ref), flush=True)
`,
    );
    const env = [`RAY_ADDRESS=${up.address}`, "RAY_AUTH_MODE=token", `RAY_AUTH_TOKEN_PATH=${up.tokenPath}`];
    const proc = spawn("runuser", ["-u", USER, "--", "env", ...env, `${RAY_VENV}/bin/python`, driver, busy.instanceId]);
    let out = "";
    proc.stdout.on("data", (d) => {
      out += d;
    });
    const finished = new Promise<number>((res) => proc.on("close", (c) => res(c ?? -1)));
    await waitFor("the driver's task to start", async () => out.includes("busy"), 60_000);

    const shrink = cli(["scale", config, "--workers", "1", "--json"], dir);
    expect(shrink.status, shrink.stderr).toBe(0);
    const r = JSON.parse(shrink.stdout);
    expect(r.removed).toHaveLength(2);
    expect(r.removed).not.toContain(busy.instanceId);
    expect(r.kept).toEqual([{ node: busy.instanceId, why: expect.stringMatching(/^busy \(drain refused/) }]);
    expect(await finished).toBe(0);
    expect(out).toContain("done");
    const left = workers();
    expect(left.map((w) => w.instanceId)).toEqual([busy.instanceId]);
    expect(await sge.listJobs({ name: "rsge-itscale-*" })).toHaveLength(2);

    expect(cli(["scale", config, "--workers", "50"], dir).stderr).toMatch(
      /within min_workers 1 and max_workers 10, not 50/,
    );
    expect(cli(["down", config], dir).status).toBe(0);
  });
});
