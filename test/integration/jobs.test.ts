// Round trips against the real testbed Grid Engine, submitting as the unprivileged test user.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { jobScope, NODES, waitFor } from "../support/testbed.js";

const { sge, dir, submitted, gone } = jobScope("it-jobs");

describe("submit / list / detail / delete / accounting", () => {
  it("follows a job from submission to accounting", async () => {
    const since = Date.now();
    const { jobId, tasks } = await sge.submit({
      name: "it-roundtrip",
      command: "sleep",
      args: ["300"],
      cwd: dir,
      stdoutPath: `${dir}/roundtrip.out`,
      joinOutput: true,
      hardRuntime: 600,
      context: { ray_sge_cluster: "it", ray_sge_role: "worker" },
      environment: { IT_VALUE: "with spaces $and 'quotes'" },
      notify: true,
    });
    submitted.push(jobId);
    expect(tasks).toBeUndefined();

    const running = await waitFor("the job to run", async () => {
      const [j] = await sge.listJobs({ jobIds: [jobId] });
      return j?.status === "running" ? j : undefined;
    });
    expect(running.name).toBe("it-roundtrip");
    expect(NODES).toContain(running.host);

    const byName = await sge.listJobs({ name: "it-round*" });
    expect(byName.map((j) => j.id)).toContain(jobId);
    expect(await sge.listJobs({ name: "it-nomatch*" })).toEqual([]);

    const detail = await sge.jobDetail(jobId);
    expect(detail.context).toEqual({ ray_sge_cluster: "it", ray_sge_role: "worker" });
    expect(detail.environment.IT_VALUE).toBe("with spaces $and 'quotes'");
    expect(detail.hardResources.h_rt).toBe("600");
    expect(detail.notify).toBe(true);
    expect(detail.runningTasks).toEqual([
      { queue: `all.q@${running.host}`, host: running.host, role: "MASTER", slots: 1 },
    ]);

    const [del] = await sge.deleteJobs([jobId]);
    expect(del).toMatchObject({ job: String(jobId), outcome: "deleting" });
    await gone(jobId);
    // idempotent: deleting again reports it gone instead of failing
    expect((await sge.deleteJobs([jobId]))[0]?.outcome).toBe("gone");

    const acct = await waitFor("accounting", async () => (await sge.accounting(jobId, { since }))[0]);
    // -notify: qdel sent SIGUSR2 first, which ended sleep (128 + 12) before the SIGKILL
    expect(acct).toMatchObject({ jobId, host: running.host, name: "it-roundtrip", exitStatus: 140, failed: 100 });
    expect(acct.failedReason).toMatch(/assumedly after job/);
    expect(acct.wallclockSeconds).toBeGreaterThanOrEqual(0);
  });

  it("reports a script's exit status, run time and memory in accounting", async () => {
    const since = Date.now();
    const { jobId } = await sge.submit({
      name: "it-exit3",
      scriptText: '#!/bin/sh\npython3 -c "b = bytearray(60 * 1024 * 1024); import time; time.sleep(2)"\nexit 3\n',
      cwd: dir,
      stdoutPath: "/dev/null",
      joinOutput: true,
    });
    submitted.push(jobId);
    await gone(jobId);
    const [acct] = await waitFor("accounting", async () => sge.accounting(jobId, { since }));
    expect(acct).toMatchObject({ exitStatus: 3, failed: 0 });
    expect(acct?.wallclockSeconds).toBeGreaterThanOrEqual(2);
    expect(acct?.maxVmemBytes).toBeGreaterThan(60 * 1024 * 1024);
  });

  it("says why a job waits", async () => {
    const { jobId } = await sge.submit({
      name: "it-toobig",
      command: "true",
      cwd: dir,
      hardResources: { mem_free: "102400G" }, // 9.x refuses the T suffix
    });
    submitted.push(jobId);
    const detail = await waitFor("a scheduling message", async () => {
      const d = await sge.jobDetail(jobId);
      return d.schedulingMessages.length > 0 ? d : undefined;
    });
    expect(detail.rows[0]?.status).toBe("pending");
    expect(detail.schedulingMessages.join("\n")).toMatch(/mem_free=102400G\) cannot run at host "node\d"/);
    await sge.deleteJobs([jobId]);
    await gone(jobId);
  });
});

describe("array jobs", () => {
  it("runs, lists, expands, limits concurrency and accounts each task", async () => {
    const since = Date.now();
    const { jobId, tasks } = await sge.submit({
      name: "it-array",
      command: "sh",
      args: ["-c", 'echo "task $SGE_TASK_ID on $(hostname)"; sleep 4'],
      cwd: dir,
      stdoutPath: `${dir}/array.$TASK_ID.out`,
      joinOutput: true,
      array: { first: 1, last: 4 },
      maxConcurrentTasks: 2,
    });
    submitted.push(jobId);
    expect(tasks).toEqual({ first: 1, last: 4, step: 1 });

    const rows = await waitFor("two running tasks", async () => {
      const r = await sge.listJobs({ jobIds: [jobId] });
      return r.filter((x) => x.status === "running").length === 2 ? r : undefined;
    });
    expect(rows.filter((x) => x.status === "running").every((x) => x.taskId !== undefined)).toBe(true);
    const expanded = await sge.listJobs({ jobIds: [jobId] }, { tasks: "expand" });
    expect(expanded.map((x) => x.taskId).sort()).toEqual([1, 2, 3, 4]);
    const [summary] = await sge.jobSummaries({ jobIds: [jobId] });
    expect(summary).toMatchObject({ isArray: true, taskCount: 4 });
    expect(summary?.tasksByStatus.running).toBe(2); // -tc 2 holds

    await gone(jobId);
    const acct = await waitFor("4 accounting records", async () => {
      const a = await sge.accounting(jobId, { since });
      return a.length === 4 ? a : undefined;
    });
    expect(acct.map((a) => a.taskId).sort()).toEqual([1, 2, 3, 4]);
    for (const t of [1, 2, 3, 4]) {
      expect(readFileSync(`${dir}/array.${t}.out`, "utf8")).toMatch(new RegExp(`^task ${t} on node\\d\\n$`));
    }
  });

  it("deletes single tasks and ranges", async () => {
    const { jobId } = await sge.submit({
      name: "it-arrdel",
      command: "sleep",
      args: ["300"],
      cwd: dir,
      stdoutPath: "/dev/null",
      joinOutput: true,
      array: { first: 1, last: 5 },
      hold: true,
    });
    submitted.push(jobId);
    const res = await sge.deleteJobs([`${jobId}.2`, `${jobId}.4-5`]);
    expect(res.every((r) => r.outcome === "deleted" || r.outcome === "deleting")).toBe(true);
    const left = await sge.listJobs({ jobIds: [jobId] }, { tasks: "expand" });
    expect(left.map((r) => r.taskId).sort()).toEqual([1, 3]);
    await sge.deleteJobs([jobId]);
    await gone(jobId);
  });
});

describe("parallel jobs across hosts", () => {
  it("runs a PE job on two hosts and reaches the second with qrsh -inherit", async () => {
    const { jobId } = await sge.submit({
      name: "it-mpi",
      parallelEnvironment: { name: "mpi", slots: 2 },
      scriptText: [
        "#!/bin/sh",
        'echo "master $(hostname)"',
        "for h in $(awk '{print $1}' \"$PE_HOSTFILE\"); do",
        '  [ "$h" = "$(hostname)" ] && continue',
        // qrsh -inherit joins its arguments into one shell command line: pass one word
        '  qrsh -inherit "$h" \'echo "slave $(hostname) $(hostname -I)"; exit 7\'; echo "rc $?"',
        "done",
        "sleep 3",
      ].join("\n"),
      cwd: dir,
      stdoutPath: `${dir}/mpi.out`,
      joinOutput: true,
    });
    submitted.push(jobId);
    const detail = await waitFor("the PE job to run on 2 hosts", async () => {
      const d = await sge.jobDetail(jobId);
      return new Set(d.runningTasks.map((t) => t.host)).size === 2 ? d : undefined;
    });
    // job_is_first_task FALSE: the master queue holds the MASTER row and a SLAVE slot, the other host a SLAVE
    expect(detail.runningTasks.map((t) => t.role).sort()).toEqual(["MASTER", "SLAVE", "SLAVE"]);
    await gone(jobId);
    const out = readFileSync(`${dir}/mpi.out`, "utf8");
    const master = /master (\S+)/.exec(out)?.[1];
    const slave = /slave (\S+) (\S+)/.exec(out);
    expect(master).toBeDefined();
    expect(slave?.[1]).not.toBe(master);
    expect(NODES).toContain(slave?.[1]);
    expect(slave?.[2]).toMatch(/^10\.77\.0\.\d+$/);
    expect(out).toContain("rc 7");
  });
});

describe("cluster description", () => {
  it("lists hosts, queues, parallel environments and complexes", async () => {
    const hosts = await sge.hosts();
    expect(hosts.map((h) => h.name).sort()).toEqual(NODES);
    expect(hosts.every((h) => h.reporting && (h.cpus ?? 0) > 0 && (h.memTotalBytes ?? 0) > 0)).toBe(true);
    const queues = await sge.queues();
    const allq = queues.find((q) => q.name === "all.q");
    expect(allq?.instances.map((i) => i.host).sort()).toEqual(NODES);
    expect(allq?.instances.every((i) => i.usable && i.slotsTotal > 0)).toBe(true);
    const pes = await sge.parallelEnvironments();
    expect(pes.find((p) => p.name === "smp")?.allocationRule).toBe("$pe_slots");
    expect(pes.find((p) => p.name === "mpi")).toMatchObject({ allocationRule: "$round_robin", controlSlaves: true });
    const cx = await sge.complexes();
    expect(cx.find((c) => c.name === "mem_free")?.type).toBe("MEMORY");
  });
});
