import { describe, expect, it } from "vitest";
import { countTasks, jobStatus, parseJobList, parseTaskRanges, summariseJobs } from "../../src/sge/qstat.js";
import { communicationError, parseJobDetail } from "../../src/sge/qstat-detail.js";
import { collect, fixture, fixtureStream } from "../support/fixtures.js";

describe("parseJobList (qstat -xml)", () => {
  it("reads running, pending, held, error and array rows as qstat prints them", async () => {
    const jobs = await collect(parseJobList(fixtureStream("qstat-mixed.xml")));
    expect(jobs.map((j) => `${j.id}${j.taskId ? `.${j.taskId}` : ""}:${j.status}`)).toEqual([
      "4:running",
      "5.1:running",
      "5.2:running",
      "9:running",
      "10:running",
      "6:pending",
      "8:error",
      "5:pending",
      "7:held",
    ]);
    const sleeper = jobs[0];
    expect(sleeper).toMatchObject({
      name: "sleeper",
      owner: "raysge",
      state: "r",
      queue: "all.q@node3",
      host: "node3",
      slots: 1,
    });
    expect(sleeper?.startedAtMs).toBe(new Date("2026-11-25T17:12:03").getTime());
    const pendingTasks = jobs.find((j) => j.id === 5 && j.status === "pending");
    expect(pendingTasks?.taskRanges).toEqual([{ first: 3, last: 20, step: 1 }]);
    expect(jobs.find((j) => j.id === 9)?.slots).toBe(2);
  });

  it("gives running jobs of qstat -f their queue instance and host (they sit in its Queue-List)", async () => {
    for (const set of ["sge-8.1.9", "ocs-9.1"] as const) {
      const jobs = await collect(parseJobList(fixtureStream("qstat-f.xml", 97, set)));
      const running = jobs.filter((j) => j.status === "running");
      expect(running.length, set).toBeGreaterThan(0);
      for (const j of running) {
        expect(j.queue, `${set} job ${j.id}`).toMatch(/^all\.q@node\d$/);
        expect(j.host).toBe(j.queue?.split("@")[1]);
      }
      for (const j of jobs.filter((x) => x.status !== "running")) expect(j.queue, `${set} job ${j.id}`).toBeUndefined();
    }
    // 8.1.9: array job 5's tasks on node1 and node2, as the file lists them
    const tasks = (await collect(parseJobList(fixtureStream("qstat-f.xml")))).filter((j) => j.id === 5 && j.taskId);
    expect(tasks.map((j) => `${j.taskId}@${j.host}`)).toEqual(["2@node1", "1@node2"]);
  });

  it("expands pending array tasks on request", async () => {
    const jobs = await collect(parseJobList(fixtureStream("qstat-mixed.xml"), { tasks: "expand" }));
    const tasks = jobs.filter((j) => j.id === 5).map((j) => j.taskId);
    expect(tasks).toEqual([1, 2, ...Array.from({ length: 18 }, (_, i) => i + 3)]);
  });

  it("reads per-slot rows (qstat -g t) with MASTER and SLAVE on several hosts", async () => {
    const jobs = await collect(parseJobList(fixtureStream("qstat-gt-mixed.xml")));
    const mpi = jobs.filter((j) => j.id === 10);
    expect(mpi.map((j) => `${j.host}:${j.role}`).sort()).toEqual([
      "node1:MASTER",
      "node1:SLAVE",
      "node2:SLAVE",
      "node3:SLAVE",
    ]);
    const [summary] = summariseJobs(mpi);
    expect(summary?.hosts.sort()).toEqual(["node1", "node2", "node3"]);
    expect(summary?.taskCount).toBe(1);
  });

  it("reads every user's jobs", async () => {
    const jobs = await collect(parseJobList(fixtureStream("qstat-many-users.xml")));
    expect(new Set(jobs.map((j) => j.owner))).toEqual(new Set(["raysge", "rsgeother"]));
  });

  it("reads an empty list as no jobs", async () => {
    expect(await collect(parseJobList(fixtureStream("qstat-empty.xml")))).toEqual([]);
  });

  it("refuses empty, truncated and foreign documents instead of reporting no jobs", async () => {
    const text = fixture("qstat-mixed.xml");
    await expect(collect(parseJobList([""]))).rejects.toThrow(/empty/);
    await expect(collect(parseJobList([text.slice(0, text.length / 2)]))).rejects.toThrow();
    await expect(collect(parseJobList([fixture("qhost.xml")]))).rejects.toThrow(/expected a <job_info>/);
  });

  it("summarises array jobs by task status", async () => {
    const jobs = await collect(parseJobList(fixtureStream("qstat-mixed.xml")));
    const arr = summariseJobs(jobs).find((s) => s.id === 5);
    expect(arr).toMatchObject({
      isArray: true,
      taskCount: 20,
      status: "running",
      tasksByStatus: { running: 2, pending: 18 },
    });
    expect(arr?.hosts.sort()).toEqual(["node1", "node2"]);
  });
});

describe("state letters and task ranges", () => {
  it.each([
    ["r", "running"],
    ["qw", "pending"],
    ["hqw", "held"],
    ["Eqw", "error"],
    ["dr", "deleting"],
    ["t", "transferring"],
    ["Rr", "restarted"],
    ["s", "suspended"],
    ["S", "suspended"],
    ["z", "unknown"],
  ])("%s is %s", (state, status) => expect(jobStatus(state)).toBe(status));

  it("parses comma lists of ranges and counts tasks", () => {
    const r = parseTaskRanges("1-3:1,5-9:2");
    expect(r).toEqual([
      { first: 1, last: 3, step: 1 },
      { first: 5, last: 9, step: 2 },
    ]);
    expect(countTasks(r)).toBe(6);
    expect(() => parseTaskRanges("1-x")).toThrow(/not a task range/);
  });
});

describe("parseJobDetail (qstat -j ID -xml)", () => {
  it("gives why a pending job waits", () => {
    const { found } = parseJobDetail(fixture("qstat-j-pending.xml"));
    expect(found).toHaveLength(1);
    const d = found[0];
    expect(d?.hardResources).toEqual({ mem_free: "100T" });
    expect(d?.schedulingMessages.join("\n")).toMatch(/cannot run at host "node\d" because it offers only hl:mem_free=/);
    expect(d?.args).toEqual(["1"]);
    expect(d?.scriptFile).toBe("sleep");
  });

  it("gives why a job waits when every queue is full (Grid Engine's global messages, summary first)", () => {
    const [d] = parseJobDetail(fixture("qstat-j-queues-full.xml")).found;
    expect(d?.schedulingMessages[0]).toBe("All queues dropped because of overload or full");
    expect(d?.schedulingMessages.slice(1)).toEqual([
      'queue instance "all.q@node3" dropped because it is full',
      'queue instance "all.q@node1" dropped because it is full',
      'queue instance "all.q@node2" dropped because it is full',
    ]);
  });

  it("gives the message of a task in error state", () => {
    const [d] = parseJobDetail(fixture("qstat-j-error.xml")).found;
    expect(d?.tasks[0]?.messages[0]).toMatch(/can't open output file "\/nonexistent\/dir\/x"/);
    expect(d?.schedulingMessages).toContain("Job is in error state");
  });

  it("gives array structure, concurrency and started tasks", () => {
    const [d] = parseJobDetail(fixture("qstat-j-array.xml")).found;
    expect(d?.array).toEqual({ first: 1, last: 20, step: 1 });
    expect(d?.maxConcurrentTasks).toBe(2);
    expect(d?.tasks.map((t) => t.taskId)).toEqual([1, 2]);
    expect(d?.tasks[0]?.startedAt?.getUTCFullYear()).toBe(2026);
  });

  it("reads what 8.1.9 writes after a qmaster restart (<JATASK:     342.> for each task)", () => {
    const [one] = parseJobDetail(fixture("qstat-j-after-qmaster-restart.xml")).found;
    expect(one?.id).toBe(342);
    expect(one?.tasks.map((t) => t.taskId)).toEqual([1]);
    expect(one?.tasks[0]?.startedAt?.getUTCFullYear()).toBe(2026);
    const both = parseJobDetail(fixture("qstat-j-wildcard-after-qmaster-restart.xml")).found;
    expect(both.map((d) => [d.id, d.tasks.map((t) => t.taskId)])).toEqual([
      [342, [1]],
      [343, [1, 2]],
    ]);
  });

  it("gives context, PE range, hold, environment, notify and priority", () => {
    const [d] = parseJobDetail(fixture("qstat-j-context.xml")).found;
    expect(d?.context).toEqual({
      ray_sge_cluster: "demo",
      ray_sge_role: "head",
    });
    expect(d?.parallelEnvironment).toEqual({ name: "smp", min: 1, max: 2 });
    expect(d?.holdJobs).toEqual([4]);
    expect(d?.environment).toMatchObject({ FOO: "bar", EMPTY: "" });
    expect(d?.notify).toBe(true);
    expect(d?.priority).toBe(-10);
    expect(d?.hardResources).toMatchObject({ h_rt: "3600", s_rt: "3000" });
    expect(d?.softResources).toEqual({ mem_free: "1G" });
    expect(d?.array).toBeUndefined();
  });

  it("recognises the communication error qstat -j prints (with exit code 0) when qmaster is down", () => {
    expect(communicationError(fixture("qmaster-down-qstat-j.xml"))).toMatch(/unable to send message to qmaster/);
    expect(communicationError(fixture("qstat-j-pending.xml"))).toBeUndefined();
  });

  it("reports unknown jobs", () => {
    expect(parseJobDetail(fixture("qstat-j-unknown.xml"))).toEqual({
      found: [],
      unknown: ["999999"],
    });
  });
});
