// How the launcher behaves when things go wrong, and with neighbours, on the real testbed.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, smallConfig } from "../support/cluster.js";
import { asRoot, clientAs, conf, NODES, USER, userDir, waitFor } from "../support/testbed.js";

const RAY_VENV = conf.RAY_VENV as string;
const sge = clientAs();
let dir: string;
const names = ["itf1", "itf2", "itfhead", "itfbig", "itfq", "itfwait"];

beforeAll(() => {
  installForUser();
  dir = userDir("it-cluster-failures");
});
afterAll(() => {
  for (const q of NODES) asRoot(["qmod", "-e", `all.q@${q}`]);
  for (const n of names) {
    const f = join(dir, `${n}.yaml`);
    if (existsSync(f)) cli(["down", f], dir);
  }
});

function runApp(address: string, tokenPath: string): string {
  return execFileSync(
    "runuser",
    [
      "-u",
      USER,
      "--",
      "env",
      `RAY_ADDRESS=${address}`,
      "RAY_AUTH_MODE=token",
      `RAY_AUTH_TOKEN_PATH=${tokenPath}`,
      `${RAY_VENV}/bin/python`,
      "-c",
      "import ray; ray.init(address='auto'); print(sum(ray.get([ray.remote(lambda x: x).remote(i) for i in range(20)])))",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
}

describe("neighbours", () => {
  it("two clusters share the hosts without colliding; down of one leaves the other and a hand-started Ray alone", async () => {
    const a = JSON.parse(cli(["up", smallConfig(dir, "itf1"), "--json"], dir).stdout);
    const b = JSON.parse(cli(["up", smallConfig(dir, "itf2"), "--json"], dir).stdout);
    expect(a.address).not.toBe(b.address);
    expect(runApp(a.address, a.tokenPath).trim()).toBe("190");
    expect(runApp(b.address, b.tokenPath).trim()).toBe("190");

    // a Ray started by hand, outside Grid Engine, by the same user
    const handTemp = join("/tmp", `rsge-hand-${process.pid}`);
    const hand = spawnSync(
      "runuser",
      [
        "-u",
        USER,
        "--",
        `${RAY_VENV}/bin/ray`,
        "start",
        "--head",
        "--port=0",
        `--temp-dir=${handTemp}`,
        "--include-dashboard=false",
        "--num-cpus=1",
        "--disable-usage-stats",
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(hand.status, hand.stderr).toBe(0);
    // a job of the user's own whose name happens to match the cluster's: no ray-sge context, kept by down
    const mine = await sge.submit({ name: "rsge-itf1-w-mine", command: "sleep", args: ["300"], hold: true, cwd: dir });
    try {
      expect(cli(["down", join(dir, "itf1.yaml")], dir).status).toBe(0);
      expect((await sge.listJobs({ jobIds: [mine.jobId] })).length).toBe(1);
      await sge.deleteJobs([mine.jobId]);
      expect(runApp(b.address, b.tokenPath).trim()).toBe("190");
      expect(cli(["down", join(dir, "itf2.yaml")], dir).status).toBe(0);
      const alive = spawnSync("pgrep", ["-u", USER, "-f", handTemp], { encoding: "utf8" }).stdout.trim();
      expect(alive, "the hand-started Ray must survive ray-sge down").not.toBe("");
    } finally {
      spawnSync("pkill", ["-KILL", "-u", USER, "-f", handTemp]);
      asRoot(["rm", "-rf", handTemp]);
    }
  });
});

describe("failures", () => {
  it("head job deleted by hand: status says the head is gone, workers end within 15 s of it, down cleans up", async () => {
    const config = smallConfig(dir, "itfhead");
    const up = JSON.parse(cli(["up", config, "--json"], dir).stdout);
    const headJob = Number(up.head.job_id);
    await sge.deleteJobs([headJob]);
    await waitFor(
      "the head job to leave Grid Engine",
      async () => (await sge.listJobs({ jobIds: [headJob] })).length === 0,
      60_000,
      200,
    );
    const headEnded = Date.now();
    const st = JSON.parse(cli(["status", config, "--json"], dir).stdout);
    expect(st.head).toBeUndefined();
    expect(st.headGone).toMatch(new RegExp(`the head job ${headJob} \\(on node\\d\\) is no longer in Grid Engine`));
    const text = cli(["status", config], dir).stdout;
    expect(text).toMatch(
      /head: gone: the head job \d+ .* is no longer in Grid Engine; `ray-sge down itfhead` removes what is left/,
    );
    expect(text).not.toMatch(/GCS \d+\.\d+/);
    expect(text).not.toMatch(/autoscaler: head job/);
    // Ray workers whose GCS is gone exit by themselves, and their jobs with them: within 15 s (Ray's own
    // timeout is 60 s, holding the slots)
    await waitFor(
      "the workers to end by themselves",
      async () => (await sge.listJobs({ name: "rsge-itfhead-*" })).length === 0,
      60_000,
      500,
    );
    expect(Date.now() - headEnded).toBeLessThan(15_000);
    expect(cli(["down", config], dir).status).toBe(0);
  });

  it("a head whose Ray dies after it published its address: up fails at once, says why in plain words, leaves nothing", async () => {
    // h_vmem as the memory complex (a per-process limit at many sites): the head's raylet cannot map
    // Ray's default object store (30% of the host's RAM) and dies; its job ends some 35 s after it started
    const config = smallConfig(dir, "itfvmem");
    writeFileSync(
      config,
      readFileSync(config, "utf8")
        .replace("  parallel_environment: smp\n", "  parallel_environment: smp\n  memory_complex: h_vmem\n")
        .replace(/memory: "1G"/g, 'memory: "3G"'),
    );
    const started = Date.now();
    const r = cli(["up", config, "--timeout", "240"], dir);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /the head job \d+ ended after its Ray came up: exit status 1 .*Ray's object store could not get its memory of \d+\.\d GiB \(Cannot allocate memory\): the job's memory limit \(h_vmem\)/,
    );
    // the job ends when `ray start` gives up (30 s after the raylet died); up says so within seconds of it
    expect(Date.now() - started).toBeLessThan(90_000);
    expect(r.stderr).toMatch(/up failed: deleting the 2 job\(s\) it submitted/);
    await waitFor("nothing left", async () =>
      (await sge.listJobs({ name: "rsge-itfvmem-*" })).length === 0 ? true : undefined,
    );
  });

  it("a request no queue can ever run fails fast with Grid Engine's reason and leaves nothing", async () => {
    const config = smallConfig(dir, "itfbig");
    writeFileSync(config, readFileSync(config, "utf8").replace(/(head_node:\n(?:.*\n)*?\s+memory: )"\S+"/, '$1"100T"'));
    const started = Date.now();
    const r = cli(["up", config], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /memory for head: node type head asks for 102400\.0G of mem_free, but no execution host has that much memory \(largest: 23\.\dG, qhost\); fix: lower head_node\.resources\.memory/,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await sge.listJobs({ name: "rsge-itfbig-*" })).toEqual([]);
  });

  it("more slots than any host has: Grid Engine's reason, nothing submitted", async () => {
    const config = smallConfig(dir, "itfbig");
    writeFileSync(config, readFileSync(config, "utf8").replace(/(worker_nodes:\n(?:.*\n)*?\s+slots: )1/, "$164"));
    const r = cli(["up", config], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /node type worker can never run as requested: .*cannot run in PE "smp" because it only offers \d+ slots/,
    );
    expect(await sge.listJobs({ name: "rsge-itfbig-*" })).toEqual([]);
  });

  it("a head waiting in the queue: up shows Grid Engine's reason, and at --timeout deletes what it submitted", async () => {
    const config = smallConfig(dir, "itfwait");
    // pin the jobs to a host whose queue instance is disabled: valid, but nothing can start
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(
        'qsub_options: "-l h_rt=24:00:00',
        'qsub_options: "-l hostname=node1 -l h_rt=24:00:00',
      ),
    );
    asRoot(["qmod", "-d", "all.q@node1"]);
    try {
      const r = cli(["up", config, "--timeout", "12"], dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /head job \d+: qw, waiting: .*cannot run in queue "all\.q@node\d" because it offers only qf:hostname=node\d/,
      );
      expect(r.stderr).toMatch(/still waiting in the queue when the time ran out/);
      expect(r.stderr).toMatch(/up failed: deleting the 2 job\(s\) it submitted/);
      expect(await sge.listJobs({ name: "rsge-itfwait-*" })).toEqual([]);
    } finally {
      asRoot(["qmod", "-e", "all.q@node1"]);
    }
  });

  it("a queue with every instance disabled fails before anything is submitted", async () => {
    for (const q of NODES) asRoot(["qmod", "-d", `all.q@${q}`]);
    try {
      const r = cli(["up", smallConfig(dir, "itfq")], dir);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        /queue all\.q: 0\/3 usable; all\.q@node\d: disabled.*; fix: enable it: qmod -e all\.q@node\d/,
      );
      expect(await sge.listJobs({ name: "rsge-itfq-*" })).toEqual([]);
    } finally {
      for (const q of NODES) asRoot(["qmod", "-e", `all.q@${q}`]);
    }
  });
});
