// Every error kind of the client, provoked for real on the testbed.
import { describe, expect, it } from "vitest";
import { SgeClient } from "../../src/sge/client.js";
import { isSgeError, type SgeCommandError, type SgeErrorKind } from "../../src/sge/errors.js";
import {
  asRoot,
  clientAs,
  jobScope,
  OTHER_USER,
  qmasterProcessAlive,
  startQmaster,
  waitFor,
} from "../support/testbed.js";

const { sge, dir, submitted } = jobScope("it-err");
const other = clientAs(OTHER_USER);

async function failure(kind: SgeErrorKind, p: Promise<unknown>): Promise<SgeCommandError> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  if (!isSgeError(error)) throw new Error(`expected an SgeCommandError of kind ${kind}, got ${String(error)}`);
  expect(error.kind).toBe(kind);
  return error;
}

describe("qsub rejections carry Grid Engine's reason", () => {
  it.each([
    ["an unknown queue", { queue: "nosuch.q" }, /unknown queue "nosuch.q"/],
    ["an unknown resource", { hardResources: { nosuchres: 1 } }, /unknown resource "nosuchres"/],
    [
      "an unknown parallel environment",
      { parallelEnvironment: { name: "nosuchpe", slots: 2 } },
      /parallel environment "nosuchpe" does not exist/,
    ],
    [
      "a request no queue can ever run (-w e)",
      { hardResources: { mem_free: "100T" }, verify: "error" as const },
      /no suitable queues/,
    ],
    [
      "more slots than the cluster has",
      { parallelEnvironment: { name: "smp", slots: 64 }, verify: "error" as const },
      /no suitable queues/,
    ],
  ])("%s", async (_, extra, reason) => {
    const e = await failure(
      "job-rejected",
      sge.submit({ name: "it-err-rejected", command: "true", cwd: dir, ...extra }),
    );
    expect(e.reason).toMatch(reason);
    expect(e.argv).toContain("qsub");
    expect(e.exitCode).toBe(1);
    expect(await sge.listJobs({ name: "it-err-rejected" })).toEqual([]);
  });

  it("verify() tells whether a request could ever run, without submitting", async () => {
    expect(
      (await sge.verify({ name: "it-err-verify", command: "true", parallelEnvironment: { name: "smp", slots: 2 } }))
        .suitable,
    ).toBe(true);
    const no = await sge.verify({
      name: "it-err-verify",
      command: "true",
      parallelEnvironment: { name: "smp", slots: 64 },
    });
    expect(no.suitable).toBe(false);
    expect(no.messages.join("\n")).toMatch(/cannot run in (queue|PE)/);
    expect(await sge.listJobs({ name: "it-err-verify" })).toEqual([]);
  });
});

describe("unknown jobs", () => {
  it("jobDetail and accounting say unknown-job; deleteJobs says gone", async () => {
    await failure("unknown-job", sge.jobDetail(987654));
    await failure("unknown-job", sge.accounting(987654));
    expect(await sge.deleteJobs([987654, "987655.2"])).toEqual([
      expect.objectContaining({ job: "987654", outcome: "gone" }),
      expect.objectContaining({ outcome: "gone" }),
    ]);
  });
});

describe("permissions", () => {
  it("deleting another user's job is permission-denied and leaves it alone", async () => {
    const theirs = await other.submit({
      name: "it-err-theirs",
      command: "sleep",
      args: ["300"],
      hold: true,
      cwd: "/tmp",
    });
    const e = await failure("permission-denied", sge.deleteJobs([theirs.jobId]));
    expect(e.message).toMatch(/necessary privileges/);
    expect((await sge.listJobs({ users: "all", jobIds: [theirs.jobId] })).length).toBe(1);
    await other.deleteJobs([theirs.jobId]);
  });
});

describe("the command itself", () => {
  it("command-not-found when the Grid Engine tools are not on PATH", async () => {
    const bare = new SgeClient({ env: { PATH: "/nonexistent" } });
    await failure("command-not-found", bare.listJobs());
  });

  it("timeout when a command takes longer than allowed", async () => {
    await failure("timeout", sge.listJobs({}, { timeoutMs: 1 }));
  });

  it("aborted when the caller aborts", async () => {
    const ac = new AbortController();
    ac.abort();
    await failure("aborted", sge.listJobs({}, { signal: ac.signal }));
  });
});

describe("qmaster stopped and restarted", () => {
  it("reports qmaster-unreachable (never 'no jobs'), then works again with jobs intact", async () => {
    const held = await sge.submit({ name: "it-err-survivor", command: "true", hold: true, cwd: dir });
    submitted.push(held.jobId);

    expect(asRoot(["qconf", "-km"]).status).toBe(0);
    await waitFor("qmaster to stop", async () => !qmasterProcessAlive(), 30_000);

    const list = await failure("qmaster-unreachable", sge.listJobs());
    expect(list.message).toMatch(/Job states are unknown/);
    expect(list.durationMs).toBeLessThan(10_000);
    await failure("qmaster-unreachable", sge.submit({ name: "it-err-down", command: "true", cwd: dir }));
    await failure("qmaster-unreachable", sge.deleteJobs([held.jobId]));
    await failure("qmaster-unreachable", sge.jobDetail(held.jobId));
    await failure("qmaster-unreachable", sge.hosts());

    await startQmaster();
    const after = await waitFor("qstat to answer", async () => sge.listJobs({ jobIds: [held.jobId] }), 60_000);
    expect(after.map((j) => j.status)).toEqual(["held"]);
    // leave the testbed healthy: every queue instance reporting again
    await waitFor(
      "queue instances to report",
      async () => {
        const [allq] = (await sge.queues()).filter((q) => q.name === "all.q");
        return allq?.instances.every((i) => i.usable);
      },
      90_000,
    );
  });
});
