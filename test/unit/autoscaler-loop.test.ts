// The loop's error paths, with stand-in Grid Engine commands (a real Grid Engine and Ray drive the
// integration tests): no action in a round where qstat or the GCS does not answer, and the loop ends
// when the head job is gone.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Autoscaler } from "../../src/autoscaler/autoscaler.js";
import { RayClusterManager } from "../../src/cluster/manager.js";
import { loadClusterSpec } from "../../src/config/index.js";
import { SgeClient } from "../../src/sge/client.js";

let dir: string;
let bin: string;

const HEAD_XML = `<?xml version='1.0'?>
<job_info>
  <queue_info>
    <job_list state="running">
      <JB_job_number>40</JB_job_number>
      <JAT_prio>0.5</JAT_prio>
      <JB_name>rsge-c1-head</JB_name>
      <JB_owner>me</JB_owner>
      <state>r</state>
      <JAT_start_time>2026-11-25T17:12:03</JAT_start_time>
      <queue_name>all.q@node1</queue_name>
      <slots>1</slots>
    </job_list>
  </queue_info>
  <job_info></job_info>
</job_info>
`;

async function setup(qstat: "fails" | "head" | "empty") {
  writeFileSync(
    join(dir, "qstat.xml"),
    qstat === "head"
      ? HEAD_XML
      : "<?xml version='1.0'?><job_info><queue_info></queue_info><job_info></job_info></job_info>",
  );
  writeFileSync(
    join(bin, "qstat"),
    qstat === "fails"
      ? `#!/bin/sh\necho 'error: commlib error: got select error (Connection refused)' >&2\nexit 1\n`
      : `#!/bin/sh\ncat '${dir}/qstat.xml'\n`,
  );
  writeFileSync(
    join(bin, "qsub"),
    `#!/bin/sh\necho "$@" >> '${dir}/qsub-calls'\necho 'Your job 99 ("x") has been submitted'\n`,
  );
  for (const c of ["qstat", "qsub"]) chmodSync(join(bin, c), 0o755);
  const config = join(dir, "c1.yaml");
  writeFileSync(
    config,
    `cluster_name: c1
state_dir: ${dir}/state
head_node: { resources: { slots: 1 } }
worker_nodes: { resources: { slots: 1 }, min_workers: 2, max_workers: 4 }
`,
  );
  const { spec } = await loadClusterSpec(config);
  const sge = new SgeClient({ env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  const manager = new RayClusterManager(spec, { sge });
  await manager.state.ensure();
  writeFileSync(
    manager.state.headInfoPath,
    JSON.stringify({
      cluster: "c1",
      job_id: "40",
      host: "node1",
      ip: "127.0.0.1",
      gcs_port: 1,
      dashboard_port: 2,
      client_port: 3,
      temp_dir: "/t",
      started_at: 0,
    }),
  );
  return { manager, autoscaler: new Autoscaler(manager) };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "rsge-loop-"));
  bin = join(dir, "bin");
  mkdirSync(bin);
});

describe("autoscaler loop: no action without an answer", () => {
  it("qstat fails: the round is skipped, nothing submitted (min_workers 2 would have been)", async () => {
    const { autoscaler } = await setup("fails");
    const r = await autoscaler.round();
    expect(r.outcome).toBe("skipped");
    expect(r.error).toMatch(/^qstat failed: .*qmaster/);
    expect(existsSync(join(dir, "qsub-calls"))).toBe(false);
    expect(readFileSync(autoscaler.cluster.state.eventsPath, "utf8")).toContain('"event":"round-skipped"');
  });

  it("the GCS does not answer: skipped, never read as 'the nodes are gone'", async () => {
    const { autoscaler } = await setup("head");
    const r = await autoscaler.round();
    expect(r.outcome).toBe("skipped");
    expect(r.error).toMatch(/^GCS not answering: GetClusterResourceState to 127\.0\.0\.1:1: UNAVAILABLE/);
    expect(existsSync(join(dir, "qsub-calls"))).toBe(false);
  });

  it("no head job: the loop ends", async () => {
    const { autoscaler } = await setup("empty");
    expect((await autoscaler.round()).outcome).toBe("head-gone");
    expect(await autoscaler.run()).toBe("head-gone");
    expect(readFileSync(autoscaler.cluster.state.eventsPath, "utf8")).toMatch(
      /"event":"autoscaler-stopped","why":"the head job is gone"/,
    );
  });

  it("a stop asked by `down`: the loop ends before acting", async () => {
    const { autoscaler, manager } = await setup("head");
    writeFileSync(join(manager.state.path, "autoscaler.stop"), "1");
    expect((await autoscaler.round()).outcome).toBe("stopped");
  });
});

describe("recentEvents", () => {
  it("reads the last events from the end of a long log", async () => {
    const { recentEvents } = await import("../../src/autoscaler/events.js");
    const { StateDir } = await import("../../src/cluster/state-dir.js");
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ time: "t", event: "e", i }));
    writeFileSync(join(dir, "events.jsonl"), `${lines.join("\n")}\n`);
    const last = await recentEvents(new StateDir(dir), 3);
    expect(last.map((e) => e.i)).toEqual([4997, 4998, 4999]);
    expect(await recentEvents(new StateDir(join(dir, "none")))).toEqual([]);
  });
});
