import { Readable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderInfo } from "../../src/cli/info.js";
import { main } from "../../src/cli/main.js";
import { parseParallelEnvironment, parseQueueInstances } from "../../src/sge/qconf.js";
import { parseHosts } from "../../src/sge/qhost.js";
import { parseSchedulerBanner } from "../../src/sge/scheduler.js";
import { VERSION } from "../../src/version.js";
import { fixture } from "../support/fixtures.js";

describe("renderInfo", () => {
  it("shows hosts, queue instance states in words, and PEs", async () => {
    const instances = await parseQueueInstances(Readable.from([fixture("qstat-f-disabled.xml")]));
    const text = renderInfo({
      scheduler: parseSchedulerBanner(fixture("qstat-help-first-line.txt")),
      hosts: parseHosts(fixture("qhost.xml")),
      queues: [{ name: "all.q", instances }],
      parallelEnvironments: [
        parseParallelEnvironment(fixture("qconf-sp-mpi.txt")),
        parseParallelEnvironment(fixture("qconf-sp-smp.txt")),
      ],
    });
    expect(text).toMatch(/^Scheduler: Son of Grid Engine 8\.1\.9\n\nExecution hosts \(3\)\n/);
    expect(text).toMatch(/node1 +lx-amd64 +2 +0\.15 +0\.2\/23\.5 +ok/);
    expect(text).toContain("Queue all.q: 3 instances (2 usable)");
    expect(text).toMatch(/all\.q@node3 +BIP +3\/4 +d: disabled/);
    expect(text).toMatch(/mpi +\$round_robin +999 +yes \(control_slaves TRUE\)/);
  });

  it("names Open Cluster Scheduler 9.1 and reads its outputs", async () => {
    const text = renderInfo({
      scheduler: parseSchedulerBanner(fixture("qstat-help-first-line.txt", "ocs-9.1")),
      hosts: parseHosts(fixture("qhost.xml", "ocs-9.1")),
      queues: [
        { name: "all.q", instances: await parseQueueInstances(Readable.from([fixture("qstat-f.xml", "ocs-9.1")])) },
      ],
      parallelEnvironments: [parseParallelEnvironment(fixture("qconf-sp-make.txt", "ocs-9.1"))],
    });
    expect(text).toMatch(/^Scheduler: Open Cluster Scheduler 9\.1\.4\n\nExecution hosts \(1\)\n/);
    expect(text).toMatch(/all\.q@node1 +BIP +2\/4 +ok/);
    expect(text).toMatch(/make +\$round_robin +999 +yes/);
  });
});

describe("main", () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
    vi.restoreAllMocks();
  });

  it("prints the version", async () => {
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    expect(await main(["--version"])).toBe(0);
    expect(out.mock.calls.map((c) => c[0]).join("")).toBe(`${VERSION}\n`);
  });

  it("exits 2 on a bad option", async () => {
    vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    expect(await main(["--no-such-option"])).toBe(2);
  });

  it("turns a missing Grid Engine into exit 1 and advice", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    process.env.PATH = "/nonexistent";
    expect(await main(["info"])).toBe(1);
    expect(err.mock.calls.map((c) => c[0]).join("")).toMatch(/(qhost|qconf|qstat) was not found on PATH.*settings\.sh/);
  });
});

describe("main: the small promises", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it("accepts --verbose in any position before --, and leaves it to the driver after --", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    // no Grid Engine commands: a unit test must not reach a qmaster (the name is looked up there too)
    vi.stubEnv("PATH", "/nonexistent");
    for (const argv of [
      ["--verbose", "status", "no-such-cluster-x"],
      ["status", "--verbose", "no-such-cluster-x"],
      ["status", "no-such-cluster-x", "--verbose"],
    ]) {
      // the cluster does not exist (exit 2, said so): the option itself is not refused
      expect(await main(argv)).toBe(2);
      expect(err.mock.calls.map((c) => c[0]).join("")).toMatch(/no cluster named "no-such-cluster-x"/);
      expect(err.mock.calls.map((c) => c[0]).join("")).not.toMatch(/unknown option/);
      expect(err.mock.calls.map((c) => c[0]).join("")).toMatch(/nor could Grid Engine be asked.*qstat was not found/);
      err.mockClear();
    }
  });

  it("an interruption exits 130", async () => {
    const { exitCodeFor } = await import("../../src/cli/main.js");
    const { InterruptedError } = await import("../../src/base/sleep.js");
    expect(exitCodeFor(new InterruptedError("interrupted"))).toBe(130);
  });
});
