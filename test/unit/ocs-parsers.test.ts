// Every parser on outputs recorded from Open Cluster Scheduler 9.1.4 (test/fixtures/ocs-9.1, see its
// README for how each was made and what differs from 8.1.9); the 8.1.9 ones are in parsers.test.ts,
// qstat.test.ts and xml-scan.test.ts (which runs on both sets).
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/sge/errors.js";
import { parseAccounting } from "../../src/sge/qacct.js";
import { parseComplexes, parseNameList, parseParallelEnvironment, parseQueueInstances } from "../../src/sge/qconf.js";
import { parseQdelOutput } from "../../src/sge/qdel.js";
import { parseHosts } from "../../src/sge/qhost.js";
import { parseJobList } from "../../src/sge/qstat.js";
import { parseJobDetail } from "../../src/sge/qstat-detail.js";
import { describeScheduler, parseSchedulerBanner } from "../../src/sge/scheduler.js";
import { collect, fixture, fixtureStream } from "../support/fixtures.js";

const ocs = (name: string) => fixture(name, "ocs-9.1");
const local = (s: string) => new Date(s).getTime();

describe("scheduler banner", () => {
  it("reads OCS 9.1.4 and SGE 8.1.9 from qstat -help's first line", () => {
    expect(parseSchedulerBanner(ocs("qstat-help-first-line.txt"))).toEqual({
      family: "ocs",
      version: "9.1.4",
      major: 9,
      banner: "OCS 9.1.4",
      requestSets: true,
    });
    const sge = parseSchedulerBanner(fixture("qstat-help-first-line.txt"));
    expect(sge).toMatchObject({ family: "sge", version: "8.1.9", major: 8, requestSets: false });
    expect(describeScheduler(sge)).toBe("Son of Grid Engine 8.1.9");
    expect(describeScheduler(parseSchedulerBanner("GCS 9.0.5\n"))).toBe("Gridware Cluster Scheduler 9.0.5");
    expect(describeScheduler(parseSchedulerBanner("usage: qstat [options]"))).toBe(
      'Grid Engine (qstat says "usage: qstat [options]")',
    );
  });
});

describe("qstat -xml (9.1)", () => {
  it("reads times with microseconds, a pending job's JAT_submission_time and a task list 2,3", async () => {
    const jobs = await collect(parseJobList(fixtureStream("qstat.xml", 97, "ocs-9.1")));
    expect(jobs.map((j) => [j.id, j.name, j.state, j.taskId ?? j.taskRanges])).toEqual([
      [1, "fx", "r", undefined],
      [2, "fxarr", "r", 1],
      [
        2,
        "fxarr",
        "qw",
        [
          { first: 2, last: 2, step: 1 },
          { first: 3, last: 3, step: 1 },
        ],
      ],
      [3, "fxwait", "qw", undefined],
    ]);
    expect(jobs[0]?.startedAtMs).toBe(local("2026-12-02T07:09:19.420"));
    expect(jobs[0]?.host).toBe("node1");
    // 8.1.9 names this JB_submission_time; 9.1 JAT_submission_time (undefined before)
    expect(jobs[3]?.submittedAtMs).toBe(local("2026-12-02T07:09:19.433"));
    expect(jobs[2]?.submittedAtMs).toBe(local("2026-12-02T07:09:19.425"));
  });
});

describe("qstat -j -xml (9.1)", () => {
  it("reads requests from the global request set (hardResources was {} before)", () => {
    const { found } = parseJobDetail(ocs("qstat-j.xml"));
    expect(found.map((j) => [j.id, j.name, j.hardResources])).toEqual([
      [1, "fx", { h_rt: "100", h_vmem: "1G" }],
      [2, "fxarr", { h_rt: "200" }],
      [3, "fxwait", { arch: "nosuch", h_rt: "100" }],
    ]);
    expect(found[1]?.array).toEqual({ first: 1, last: 3, step: 1 });
  });

  it("reads 9.1's local times (8.1.9 writes epoch seconds) for submission and task start", () => {
    const [fx] = parseJobDetail(ocs("qstat-j.xml")).found;
    expect(fx?.submittedAt?.getTime()).toBe(local("2026-12-02T07:09:19.418"));
    expect(fx?.tasks[0]?.startedAt?.getTime()).toBe(local("2026-12-02T07:09:19.420"));
  });

  it("reads the unknown ids out of 9.1's malformed <unknown_jobs> document", () => {
    expect(parseJobDetail(ocs("qstat-j-unknown.xml"))).toEqual({ found: [], unknown: ["999999"] });
  });
});

describe("qstat -f, qhost, qconf (9.1)", () => {
  it("reads queue instances, hosts, complexes, PEs and lists", async () => {
    const [inst] = await parseQueueInstances(Readable.from([ocs("qstat-f.xml")]));
    expect(inst).toMatchObject({ name: "all.q@node1", host: "node1", slotsUsed: 2, slotsTotal: 4, usable: true });
    const hosts = parseHosts(ocs("qhost.xml"));
    expect(hosts.map((h) => [h.name, h.cpus, h.reporting])).toEqual([["node1", 2, true]]);
    const complexes = parseComplexes(ocs("qconf-sc.txt"));
    expect(complexes.find((c) => c.name === "h_vmem")).toMatchObject({ type: "MEMORY", consumable: "NO" });
    expect(complexes.find((c) => c.name === "slots")).toMatchObject({ consumable: "YES" });
    expect(parseParallelEnvironment(ocs("qconf-sp-make.txt"))).toMatchObject({
      name: "make",
      slots: 999,
      allocationRule: "$round_robin",
      controlSlaves: true,
    });
    expect(parseNameList(ocs("qconf-spl.txt"))).toEqual(["make"]);
    expect(parseNameList(ocs("qconf-sql.txt"))).toEqual(["all.q"]);
  });
});

describe("qacct (9.1)", () => {
  it("reads times with microseconds, taskid undefined, and bytes of maxrss", () => {
    const [r] = parseAccounting(ocs("qacct-1.txt"));
    expect(r).toMatchObject({ jobId: 1, name: "fx", host: "node1", failed: 0, exitStatus: 0, wallclockSeconds: 25 });
    expect(r?.taskId).toBeUndefined();
    expect(r?.startedAt?.getTime()).toBe(local("2026-12-02T07:09:19.432"));
    expect(r?.endedAt?.getTime()).toBe(local("2026-12-02T07:09:44.444"));
    expect(r?.maxRssBytes).toBe(3489792);
    const tasks = parseAccounting(ocs("qacct-2-array.txt"));
    expect(tasks.map((t) => [t.jobId, t.taskId])).toEqual([[2, 1]]);
  });
});

describe("qsub and qdel (9.1)", () => {
  it("classifies qsub's refusals", () => {
    const e = classifyFailure({
      argv: ["qsub", "-q", "nosuch.q"],
      exitCode: 1,
      signal: null,
      stdout: ocs("qsub-unknown-queue.out"),
      stderr: ocs("qsub-unknown-queue.err"),
      durationMs: 50,
    });
    expect(e.kind).toBe("job-rejected");
    expect(e.message).toMatch(/unknown queue "nosuch.q"/);
  });

  it("reads qdel's answers", () => {
    expect(parseQdelOutput(ocs("qdel-pending.txt"))).toMatchObject([{ job: "3", outcome: "deleted" }]);
    const e = classifyFailure({
      argv: ["qdel", "999999"],
      exitCode: 1,
      signal: null,
      stdout: ocs("qdel-unknown.out"),
      stderr: ocs("qdel-unknown.err"),
      durationMs: 50,
    });
    expect(e.kind).toBe("unknown-job");
  });
});

describe("a ray-sge GPU worker's qstat -j -xml (9.1, RSMAP gpu)", () => {
  it("reads the gpu request and the ids Grid Engine granted", () => {
    const [w] = parseJobDetail(ocs("qstat-j-gpu-worker.xml")).found;
    expect(w?.hardResources).toMatchObject({ gpu: "2" });
    expect(w?.context.ray_sge_cluster).toBe("ocsgpu");
    expect(w?.tasks[0]?.granted).toEqual([{ name: "gpu", amount: 2, host: "node1", ids: ["0", "1"] }]);
    const [head] = parseJobDetail(ocs("qstat-j-head.xml")).found;
    expect(head?.tasks[0]?.granted.find((g) => g.name === "gpu")).toBeUndefined();
  });
});
