// GPUs on Open Cluster Scheduler 9.1, for real: the testbed's RSMAP complex `gpu` (ids 0-3 on each
// emulated host, no real GPU needed). Other jobs hold 2 GPUs of every host first, so the worker (2
// GPUs) is granted ids other than the 0 and 1 Ray would assume; what a Ray task sees
// (ray.get_gpu_ids(), CUDA_VISIBLE_DEVICES) must be what Grid Engine granted the worker's job.
// Runs in the OCS pass only (scripts/test; vitest project integration-ocs): 8.1.9 has no RSMAP.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, smallConfig } from "../support/cluster.js";
import { asRoot, clientAs, NODES, USER, userDir, waitFor } from "../support/testbed.js";

const sge = clientAs();
const NAME = "itgpu";
let dir: string;
let config: string;
const blockers: number[] = [];

beforeAll(() => {
  installForUser();
  dir = userDir("it-gpu");
  config = smallConfig(dir, NAME);
  writeFileSync(
    config,
    readFileSync(config, "utf8").replace(/(worker_nodes:[\s\S]*?memory: "1G"\n)/, "$1    gpus: 2\n"),
  );
});
afterAll(async () => {
  if (config) cli(["down", config], dir);
  if (blockers.length > 0) {
    await sge.deleteJobs(blockers);
    await waitFor("the blockers to end", async () => (await sge.jobDetails("itgpu-blocker")).length === 0);
  }
});

describe("GPUs from an RSMAP complex (OCS 9.1)", () => {
  it("the scheduler is OCS 9.x with an RSMAP gpu complex", async () => {
    const s = await sge.scheduler();
    expect(s).toMatchObject({ family: "ocs", major: 9 });
    const gpu = (await sge.complexes()).find((c) => c.name === "gpu");
    expect(gpu?.type).toBe("RSMAP");
  });

  it("a task sees exactly the GPUs Grid Engine granted its worker", async () => {
    expect(readFileSync(config, "utf8")).toContain("gpus: 2");
    for (const host of NODES) {
      const job = await sge.submit({
        name: "itgpu-blocker",
        command: "sleep",
        args: ["600"],
        queue: `all.q@${host}`,
        hardResources: { gpu: 2 },
        stdoutPath: "/dev/null",
        joinOutput: true,
      });
      blockers.push(job.jobId);
    }
    const held = await waitFor("the blockers to run", async () => {
      const details = await Promise.all(blockers.map((id) => sge.jobDetail(id)));
      const ids = details.flatMap((d) => d.tasks.flatMap((t) => t.granted.flatMap((g) => g.ids)));
      return ids.length === 2 * NODES.length && ids;
    });
    expect(new Set(held)).toEqual(new Set(["0", "1"]));
    const up = cli(["up", config, "--json", "--timeout", "240"], dir);
    expect(up.status, up.stderr).toBe(0);
    const worker = (await sge.jobDetails(`rsge-${NAME}-*`)).find((j) => j.context.ray_sge_role === "worker");
    expect(worker?.hardResources.gpu).toBe("2");
    const granted = worker?.tasks[0]?.granted.find((g) => g.name === "gpu");
    expect([...(granted?.ids ?? [])].sort()).toEqual(["2", "3"]);

    const app = join(dir, "gpus.py");
    writeFileSync(
      app,
      `import json, os, ray
ray.init()
@ray.remote(num_gpus=2)
def both():
    return {"ids": ray.get_gpu_ids(), "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "host": os.uname().nodename}
@ray.remote(num_gpus=1)
def one():
    return ray.get_gpu_ids()
print("RESULT " + json.dumps({"both": ray.get(both.remote()), "one": ray.get(one.remote()),
    "total": ray.cluster_resources().get("GPU")}))
`,
    );
    asRoot(["chown", USER, app]);
    const r = cli(["submit", NAME, "--working-dir", dir, "--", "python", "gpus.py"], dir);
    expect(r.status, r.stderr).toBe(0);
    const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
    const seen = JSON.parse((line ?? "RESULT {}").slice(7));
    expect(seen.total).toBe(2);
    expect(seen.both.host).toBe(granted?.host);
    expect([...seen.both.ids].map(String).sort()).toEqual([...(granted?.ids ?? [])].sort());
    expect(seen.both.cuda.split(",").sort()).toEqual([...(granted?.ids ?? [])].sort());
    expect(seen.one).toHaveLength(1);
    expect(granted?.ids).toContain(String(seen.one[0]));
  });
});
