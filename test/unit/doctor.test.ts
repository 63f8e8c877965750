import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { type ClusterFacts, checkCluster } from "../../src/cluster/checks.js";
import { parseConfig } from "../../src/config/load.js";
import { normaliseConfig } from "../../src/config/normalise.js";
import { parseComplexes, parseParallelEnvironment, parseQueueInstances } from "../../src/sge/qconf.js";
import { parseHosts } from "../../src/sge/qhost.js";
import { parseSchedulerBanner } from "../../src/sge/scheduler.js";
import { fixture } from "../support/fixtures.js";

const EXAMPLE = readFileSync(new URL("../../examples/ray-sge-cluster.yaml", import.meta.url), "utf8");
const spec = (text = EXAMPLE) => normaliseConfig(parseConfig(text, "c.yaml"), { home: "/h" }).spec;

async function facts(qstatF: string): Promise<ClusterFacts> {
  return {
    queues: [{ name: "all.q", instances: await parseQueueInstances(Readable.from([fixture(qstatF)])) }],
    pes: [parseParallelEnvironment(fixture("qconf-sp-smp.txt")), parseParallelEnvironment(fixture("qconf-sp-mpi.txt"))],
    complexes: parseComplexes(fixture("qconf-sc.txt")),
    hosts: parseHosts(fixture("qhost.xml")),
  };
}

describe("checkCluster", () => {
  it("passes the testbed as recorded, for the guide's config", async () => {
    const checks = checkCluster(await facts("qstat-f.xml"), spec());
    expect(checks.filter((c) => c.status !== "ok")).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "queue all.q",
        "parallel environment smp",
        "memory complex mem_free",
        "memory for head",
        "memory for worker",
      ]),
    );
  });

  it("on 9.x, fails a -l request with a T suffix (9.1's qsub refuses it), with the size in G; not on 8.1.9", async () => {
    const text = EXAMPLE.replace('qsub_options: "-l h_rt=24:00:00', 'qsub_options: "-l h_rt=24:00:00 -l h_vmem=1.5T');
    const on = async (set: "sge-8.1.9" | "ocs-9.1") =>
      checkCluster(
        { ...(await facts("qstat-f.xml")), scheduler: parseSchedulerBanner(fixture("qstat-help-first-line.txt", set)) },
        spec(text),
      ).filter((c) => c.status === "fail");
    expect(await on("sge-8.1.9")).toEqual([]);
    expect(await on("ocs-9.1")).toEqual([
      {
        name: "request h_vmem for head",
        status: "fail",
        detail: `h_vmem=1.5T: 9.x's qsub refuses the T suffix ("not a memory value")`,
        fix: "write it in G: h_vmem=1536G",
      },
      expect.objectContaining({ name: "request h_vmem for worker", fix: "write it in G: h_vmem=1536G" }),
    ]);
  });

  it("says which instance is disabled and how to enable it", async () => {
    const q = checkCluster(await facts("qstat-f-disabled.xml"), spec()).find((c) => c.name === "queue all.q");
    expect(q).toMatchObject({
      status: "warn",
      detail: expect.stringMatching(/2\/3 usable; all\.q@node3: disabled/),
      fix: "enable it: qmod -e all.q@node3",
    });
  });

  it("fails a missing queue, PE, memory complex and too much memory, each with a fix", async () => {
    const text = EXAMPLE.replace("queue: all.q", "queue: gpu.q")
      .replace("parallel_environment: smp", "parallel_environment: openmp\n  memory_complex: h_vmem_x")
      .replace('memory: "16G"', 'memory: "64G"');
    const bad = checkCluster(await facts("qstat-f.xml"), spec(text)).filter((c) => c.status === "fail");
    expect(bad.map((c) => c.name)).toEqual([
      "queue gpu.q",
      "parallel environment openmp",
      "memory complex h_vmem_x",
      "memory for head",
    ]);
    expect(bad.every((c) => c.fix)).toBe(true);
    expect(bad[0]?.fix).toBe("pick one of: all.q (qconf -sql)");
  });
});

describe("probeHosts", () => {
  it("picks hosts with a free slot, most free first: a probe pinned to a full host waits and proves nothing", async () => {
    const { probeHosts } = await import("../../src/cluster/doctor.js");
    // as recorded: node1 2/4 slots used, node2 4/4 (full), node3 3/4
    const f = await facts("qstat-f.xml");
    expect(probeHosts(f.queues, "all.q", f.hosts)).toEqual(["node1", "node3"]);
    expect(probeHosts(f.queues, "other.q", f.hosts)).toEqual([]);
    const d = await facts("qstat-f-disabled.xml");
    const disabled = d.queues[0]?.instances.filter((i) => !i.usable).map((i) => i.host) ?? [];
    expect(disabled.length).toBeGreaterThan(0);
    for (const h of disabled) expect(probeHosts(d.queues, "all.q", d.hosts)).not.toContain(h);
  });
});
