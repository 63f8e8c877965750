import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/sge/errors.js";
import { parseAccounting } from "../../src/sge/qacct.js";
import { parseComplexes, parseNameList, parseParallelEnvironment, parseQueueInstances } from "../../src/sge/qconf.js";
import { parseQdelOutput } from "../../src/sge/qdel.js";
import { parseHosts } from "../../src/sge/qhost.js";
import { parseDuration, parseMemory } from "../../src/sge/units.js";
import { fixture } from "../support/fixtures.js";

const outcome = (argv: string[], exitCode: number, stdout: string, stderr: string) => ({
  argv,
  exitCode,
  signal: null,
  stdout,
  stderr,
  durationMs: 60,
});

describe("classifyFailure on recorded failures", () => {
  it.each([
    ["qsub-unknown-queue", ["qsub", "-q", "nosuch.q"], "job-rejected", /unknown queue "nosuch.q".*qconf -sql/],
    ["qsub-unknown-resource", ["qsub"], "job-rejected", /unknown resource "nosuchres".*qconf -sc/],
    ["qsub-unknown-pe", ["qsub"], "job-rejected", /parallel environment "nosuchpe" does not exist.*qconf -spl/],
    ["qsub-w-e-impossible", ["qsub"], "job-rejected", /no suitable queues.*can ever run/],
    ["qmaster-down-qsub", ["qsub"], "qmaster-unreachable", /cannot reach the Grid Engine qmaster/],
    ["qmaster-down-qstat", ["qstat", "-xml"], "qmaster-unreachable", /Job states are unknown/],
    ["qmaster-down-qdel", ["qdel", "12"], "qmaster-unreachable", /qdel: cannot reach/],
    ["qdel-permission", ["qdel", "12"], "permission-denied", /necessary privileges to delete the job "12"/],
    ["qdel-unknown", ["qdel", "999999"], "unknown-job", /job "999999" does not exist/],
    ["qacct-unknown", ["qacct", "-j", "999999"], "unknown-job", /job id 999999 not found/],
  ])("%s is %s", (name, argv, kind, message) => {
    const e = classifyFailure(outcome(argv, 1, fixture(`${name}.out`), fixture(`${name}.err`)));
    expect(e.kind).toBe(kind);
    expect(e.message).toMatch(message);
    expect(e.argv).toEqual(argv);
    expect(e.details()).toContain("exit code: 1");
  });

  it("reads a missing command behind a wrapper as command-not-found", () => {
    const e = classifyFailure(
      outcome(
        ["runuser", "-u", "x", "--", "qstat"],
        127,
        "",
        "runuser: failed to execute qstat: No such file or directory",
      ),
    );
    expect(e.kind).toBe("command-not-found");
  });

  it("keeps unknown failures as command-failed with the first useful line", () => {
    const e = classifyFailure(outcome(["qconf", "-sq", "x"], 1, "", "something odd\n"));
    expect(e.kind).toBe("command-failed");
    expect(e.message).toMatch(/something odd/);
  });
});

describe("parseQdelOutput", () => {
  it("reads each outcome qdel reports", () => {
    const text = [
      fixture("qdel-running.txt"),
      fixture("qdel-array.txt"),
      fixture("qdel-unknown.out"),
      fixture("qdel-permission.out"),
      "raysge has deleted job-array task 5.3",
      // recorded on 8.1.9 with sge_execd of node3 killed (tasks 3 and 6 ran there): exit code 1
      fixture("qdel-execd-down.out"),
    ].join("\n");
    expect(parseQdelOutput(text).map((r) => `${r.job}:${r.outcome}`)).toEqual([
      "4:deleting",
      "5:deleting",
      "5:deleting",
      "5:deleted",
      "999999:gone",
      "12:denied",
      "5.3:deleted",
      "102.1:deleting",
      "102.2:deleting",
      "102:deleting",
      "102.4:deleting",
      "102.5:deleting",
      "102:deleting",
    ]);
  });
});

describe("parseAccounting", () => {
  it("reads a job killed by qdel", () => {
    const [r] = parseAccounting(fixture("qacct-4.txt"));
    expect(r).toMatchObject({
      jobId: 4,
      host: "node3",
      failed: 100,
      failedReason: "assumedly after job",
      exitStatus: 137,
      exitSignal: "Killed",
      wallclockSeconds: 44,
    });
    expect(r?.maxVmemBytes).toBe(Math.round(1.734 * 1024 * 1024));
    // 8.1.9 writes ru_maxrss with its unit (9.x: maxrss in bytes, see ocs-parsers.test.ts)
    expect(parseAccounting(fixture("qacct-13.txt"))[0]?.maxRssBytes).toBe(Math.round(4.477 * 1024));
    expect(r?.taskId).toBeUndefined();
  });

  it("reads an exit status and each task of an array", () => {
    expect(parseAccounting(fixture("qacct-exit3.txt"))[0]).toMatchObject({
      exitStatus: 3,
      failed: 0,
    });
    const tasks = parseAccounting(fixture("qacct-15.txt"));
    expect(tasks.map((t) => [t.taskId, t.host])).toEqual([
      [1, "node1"],
      [2, "node3"],
    ]);
    expect(tasks[0]?.startedAt?.getFullYear()).toBe(2026);
  });
});

describe("parseHosts", () => {
  it("reads emulated hosts and skips global", () => {
    const hosts = parseHosts(fixture("qhost.xml"));
    expect(hosts.map((h) => h.name)).toEqual(["node1", "node2", "node3"]);
    expect(hosts[0]).toMatchObject({
      arch: "lx-amd64",
      cpus: 2,
      cores: 2,
      reporting: true,
    });
    expect(hosts[0]?.memTotalBytes).toBe(Math.round(23.5 * 1024 ** 3));
  });
});

describe("qconf parsers", () => {
  it("reads complexes", () => {
    const cx = parseComplexes(fixture("qconf-sc.txt"));
    expect(cx.find((c) => c.name === "h_rt")).toMatchObject({
      type: "TIME",
      requestable: "YES",
      consumable: "NO",
    });
    expect(cx.find((c) => c.name === "slots")?.consumable).toBe("YES");
    expect(cx.find((c) => c.name === "mem_free")?.type).toBe("MEMORY");
  });

  it("reads parallel environments", () => {
    expect(parseNameList(fixture("qconf-spl.txt"))).toEqual(["mpi", "smp"]);
    expect(parseParallelEnvironment(fixture("qconf-sp-mpi.txt"))).toMatchObject({
      name: "mpi",
      allocationRule: "$round_robin",
      controlSlaves: true,
      jobIsFirstTask: false,
      slots: 999,
    });
    expect(parseParallelEnvironment(fixture("qconf-sp-smp.txt")).allocationRule).toBe("$pe_slots");
  });

  it("reads queue instances and their states", async () => {
    const ok = await parseQueueInstances(Readable.from([fixture("qstat-f.xml")]));
    expect(ok.map((q) => q.name)).toEqual(["all.q@node1", "all.q@node2", "all.q@node3"]);
    expect(ok.every((q) => q.usable && q.slotsTotal === 4)).toBe(true);
    const disabled = await parseQueueInstances(Readable.from([fixture("qstat-f-disabled.xml")]));
    expect(disabled.find((q) => q.host === "node3")).toMatchObject({
      state: "d",
      usable: false,
      problems: ["disabled"],
    });
  });
});

describe("units", () => {
  it.each([
    ["23.5G", 23.5 * 1024 ** 3],
    ["207.6M", 207.6 * 1024 ** 2],
    ["4.477KB", 4.477 * 1024],
    ["0.000B", 0],
    ["1g", 1e9],
    ["512", 512],
  ])("memory %s", (t, n) => expect(parseMemory(t)).toBe(Math.round(n)));
  it("durations", () => {
    expect(parseDuration("44s")).toBe(44);
    expect(parseDuration("1:00:01")).toBe(3601);
    expect(parseDuration("x")).toBeUndefined();
  });
});
