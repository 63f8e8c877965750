// Error paths of the process layer, with stand-in commands (a fake qstat is fine for error paths;
// the real behaviour is covered by test/integration against a real Grid Engine).
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SgeClient } from "../../src/sge/client.js";
import { isSgeError } from "../../src/sge/errors.js";
import { parseAccounting } from "../../src/sge/qacct.js";
import { CommandRunner } from "../../src/sge/run.js";
import { fixture } from "../support/fixtures.js";

function fakeBin(scripts: Record<string, string>): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), "rsge-fake-"));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return { ...process.env, PATH: `${dir}:/usr/bin:/bin` };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("CommandRunner", () => {
  it("reports a missing command with advice", async () => {
    const e = await caught(new CommandRunner({ env: { PATH: "/nonexistent" } }).run(["qstat"]));
    expect(isSgeError(e, "command-not-found")).toBe(true);
    expect((e as Error).message).toMatch(/settings\.sh/);
  });

  it("kills a command that runs too long", async () => {
    const e = await caught(new CommandRunner({ timeoutMs: 200 }).run(["sleep", "5"]));
    expect(isSgeError(e, "timeout")).toBe(true);
    expect((e as { durationMs: number }).durationMs).toBeLessThan(2000);
  });

  it("stops on abort", async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await caught(new CommandRunner().run(["sleep", "5"], { signal: ac.signal }));
    expect(isSgeError(e, "aborted")).toBe(true);
  });

  it("passes stdin, returns any exit code from run(), throws from runChecked()", async () => {
    const r = new CommandRunner();
    expect((await r.run(["sh", "-c", "cat; exit 3"], { stdin: "hi" })).stdout).toBe("hi");
    expect((await r.run(["sh", "-c", "exit 3"])).exitCode).toBe(3);
    const e = await caught(r.runChecked(["sh", "-c", "echo boom >&2; exit 3"]));
    expect(e).toMatchObject({
      kind: "command-failed",
      exitCode: 3,
      stderr: "boom\n",
    });
  });

  it("puts the command prefix in front, as argv", async () => {
    const r = new CommandRunner({ commandPrefix: ["env", "RSGE_X=1"] });
    const out = await r.run(["sh", "-c", 'echo "$RSGE_X"']);
    expect(out.stdout).toBe("1\n");
    expect(out.argv.slice(0, 2)).toEqual(["env", "RSGE_X=1"]);
  });
});

describe("a failed qstat is never an empty list", () => {
  it("throws qmaster-unreachable when qstat fails with no output", async () => {
    const env = fakeBin({
      qstat: `echo '${fixture("qmaster-down-qstat.err").trim().replace(/'/g, "")}' >&2; exit 1`,
    });
    const e = await caught(new SgeClient({ env }).listJobs());
    expect(isSgeError(e, "qmaster-unreachable")).toBe(true);
  });

  it("throws when qstat dies half way, even after printing jobs", async () => {
    const half = fixture("qstat-mixed.xml").slice(0, 1500);
    const env = fakeBin({
      qstat: `cat <<'EOF'\n${half}\nEOF\necho 'error: commlib error: got select error (Connection reset by peer)' >&2; exit 1`,
    });
    const e = await caught(new SgeClient({ env }).listJobs());
    expect(isSgeError(e)).toBe(true);
    expect((e as { kind: string }).kind).toBe("qmaster-unreachable");
  });

  it("throws when qstat exits non-zero after a complete document", async () => {
    const env = fakeBin({
      qstat: `cat <<'EOF'\n${fixture("qstat-empty.xml")}\nEOF\necho 'error: something' >&2; exit 1`,
    });
    const e = await caught(new SgeClient({ env }).listJobs());
    expect(isSgeError(e, "command-failed")).toBe(true);
  });

  it("reports garbage output as unparseable, with the command", async () => {
    const env = fakeBin({ qstat: "echo 'this is not xml <'" });
    const e = await caught(new SgeClient({ env }).listJobs());
    expect(isSgeError(e, "unparseable-output")).toBe(true);
    expect((e as { argv: string[] }).argv[0]).toBe("qstat");
  });

  it("ends qstat when the caller stops reading early", async () => {
    const env = fakeBin({
      qstat: `cat <<'EOF'\n${fixture("qstat-mixed.xml")}\nEOF\nsleep 30`,
    });
    const started = Date.now();
    for await (const _ of new SgeClient({ env }).streamJobs()) break;
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("accounting", () => {
  // job ids are reused over time: qacct -j 13 can hold several jobs' records
  const two = `${fixture("qacct-13.txt")}${fixture("qacct-exit3.txt").replace(/jobnumber +16/, "jobnumber    13")}`;
  const env = () => fakeBin({ qacct: `cat <<'EOF'\n${two}\nEOF` });

  it("keeps the records of the job asked for, by name or submission time", async () => {
    const sge = new SgeClient({ env: env() });
    expect((await sge.accounting(13)).map((r) => r.name)).toEqual(["ok", "exit3"]);
    expect((await sge.accounting(13, { name: "exit3" })).map((r) => r.exitStatus)).toEqual([3]);
    const exit3 = parseAccounting(fixture("qacct-exit3.txt"))[0]?.submittedAt as Date;
    expect((await sge.accounting(13, { since: exit3 })).map((r) => r.name)).toEqual(["exit3"]);
  });

  it("says unknown-job when no record matches", async () => {
    const e = await caught(new SgeClient({ env: env() }).accounting(13, { name: "other" }));
    expect(isSgeError(e, "unknown-job")).toBe(true);
  });
});

describe("deleteJobs", () => {
  it("reports unknown jobs as gone, not as an error", async () => {
    const env = fakeBin({
      qdel: `echo 'denied: job "999999" does not exist'; exit 1`,
    });
    expect(await new SgeClient({ env }).deleteJobs([999999])).toEqual([
      {
        job: "999999",
        outcome: "gone",
        message: 'denied: job "999999" does not exist',
      },
    ]);
  });

  it("counts a job as answered when qdel answered for its tasks (recorded: execd of one host killed)", async () => {
    const env = fakeBin({
      qdel: `cat <<'EOF'\n${fixture("qdel-execd-down-mixed.out").trim()}\nEOF\nexit 1`,
    });
    const results = await new SgeClient({ env }).deleteJobs([491, 492, 493]);
    expect(results.map((r) => `${r.job}:${r.outcome}`)).toEqual([
      "491:deleting",
      "492.1:deleting",
      "493.1:deleting",
      "493.2:deleting",
      "493:deleting",
      "493.4:deleting",
      "493.5:deleting",
    ]);
  });

  it("throws permission-denied for another user's job", async () => {
    const env = fakeBin({
      qdel: `echo '${fixture("qdel-permission.out").trim()}'; exit 1`,
    });
    const e = await caught(new SgeClient({ env }).deleteJobs([12]));
    expect(isSgeError(e, "permission-denied")).toBe(true);
  });

  it("throws qmaster-unreachable when qmaster is down", async () => {
    const env = fakeBin({
      qdel: `echo 'unable to send message to qmaster using port 6444 on host "vm": got send error'; echo 'error: commlib error: got select error (Connection refused)' >&2; exit 1`,
    });
    const e = await caught(new SgeClient({ env }).deleteJobs([12]));
    expect(isSgeError(e, "qmaster-unreachable")).toBe(true);
  });

  it("refuses malformed ids before running anything", async () => {
    const e = await caught(new SgeClient({ env: { PATH: "/nonexistent" } }).deleteJobs(["12; rm -rf /"]));
    expect(isSgeError(e, "invalid-input")).toBe(true);
  });
});
