// What the job receives equals what was passed: adversarial strings through real qsub and execd.
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isSgeError } from "../../src/sge/errors.js";
import { asRoot, jobScope, USER, userDir, waitFor } from "../support/testbed.js";

const ADVERSARIAL = [
  "a b",
  "  leading and trailing  ",
  "$(id)",
  "`id`",
  "x'y",
  'q"q',
  "semi;colon && pipe | amp &",
  "new\nline",
  "cr\rreturn",
  "",
  "*",
  "?",
  "#$ -q evil.q",
  "#$ -N pwned",
  "-N",
  "--",
  "back\\slash",
  "tab\there",
  "\u0001\u0002ctl",
  "ünï€ 😀",
  "'",
  "$HOME",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an adversarial string, meant literally
  "${SGE_TASK_ID}",
  "%s%n",
  "a,b,c",
  "a=b",
  ">out",
  "<in",
];

const { sge, dir, submitted, gone } = jobScope("it-adv");

const PRINT_ARGV = "import json,sys; sys.stdout.write(json.dumps(sys.argv[1:]))";

describe("arguments reach the job exactly", () => {
  it("command + args: every adversarial string, byte for byte", async () => {
    const { jobId } = await sge.submit({
      name: "it-adv-cmd",
      command: "/usr/bin/python3",
      args: ["-c", PRINT_ARGV, ...ADVERSARIAL],
      cwd: dir,
      stdoutPath: `${dir}/cmd.out`,
      stderrPath: `${dir}/cmd.err`,
    });
    submitted.push(jobId);
    await gone(jobId);
    expect(readFileSync(`${dir}/cmd.err`, "utf8")).toBe("");
    expect(JSON.parse(readFileSync(`${dir}/cmd.out`, "utf8"))).toEqual(ADVERSARIAL);
    // the `#$` lines inside arguments were not read as directives
    const [acct] = await waitFor("accounting", () => sge.accounting(jobId, { name: "it-adv-cmd" }));
    expect(acct).toMatchObject({ name: "it-adv-cmd", queue: "all.q", exitStatus: 0 });
  });

  it("script + scriptArgs: exact for everything qsub can carry; newlines refused before submitting", async () => {
    const script = `${dir}/print-argv.py`;
    writeFileSync(script, `#!/usr/bin/python3\n${PRINT_ARGV}\n`, { mode: 0o755 });
    asRoot(["chown", USER, script]);
    const carried = ADVERSARIAL.filter((a) => !/[\n\r]/.test(a) && !a.includes("%n"));
    const { jobId } = await sge.submit({
      name: "it-adv-script",
      script,
      scriptArgs: carried,
      shell: "/usr/bin/python3",
      cwd: dir,
      stdoutPath: `${dir}/script.out`,
      stderrPath: `${dir}/script.err`,
    });
    submitted.push(jobId);
    await gone(jobId);
    expect(JSON.parse(readFileSync(`${dir}/script.out`, "utf8"))).toEqual(carried);

    let error: unknown;
    try {
      await sge.submit({ name: "it-adv-nl", script, scriptArgs: ["new\nline"] });
    } catch (e) {
      error = e;
    }
    expect(isSgeError(error, "invalid-input")).toBe(true);
    expect(await sge.listJobs({ name: "it-adv-nl" })).toEqual([]);
    // %n: OCS 9.1.4 kills such a job with SIGSEGV before the script runs; refused on both
    const percentN = sge.submit({ name: "it-adv-pn", script, scriptArgs: ["%s%n"] });
    await expect(percentN).rejects.toThrow(/contains %n/);
    expect(await sge.listJobs({ name: "it-adv-pn" })).toEqual([]);
  });

  it("environment values with spaces, quotes and dollars arrive unchanged; commas are refused", async () => {
    const value = `a b $(id) 'q' "d" \\ ü`;
    const { jobId } = await sge.submit({
      name: "it-adv-env",
      command: "/usr/bin/python3",
      args: ["-c", "import os,sys; sys.stdout.write(os.environ['IT_ADV'])"],
      environment: { IT_ADV: value },
      cwd: dir,
      stdoutPath: `${dir}/env.out`,
      joinOutput: true,
    });
    submitted.push(jobId);
    await gone(jobId);
    expect(readFileSync(`${dir}/env.out`, "utf8")).toBe(value);
    await expect(sge.submit({ name: "it-adv-env2", command: "true", environment: { X: "a,b" } })).rejects.toThrow(
      /comma/,
    );
  });

  it("paths with spaces and SGE's $JOB_ID expansion work", async () => {
    const spaced = userDir("it adv spaced");
    const { jobId } = await sge.submit({
      name: "it-adv-path",
      command: "pwd",
      cwd: spaced,
      stdoutPath: `${spaced}/o.$JOB_ID`,
      joinOutput: true,
    });
    submitted.push(jobId);
    await gone(jobId);
    expect(readFileSync(`${spaced}/o.${jobId}`, "utf8")).toBe(`${spaced}\n`);
  });

  it.each([["a b"], ["a/b"], ["1abc"], ["x\ny"], ["$(id)"]])("refuses job name %j before qsub runs", async (name) => {
    await expect(sge.submit({ name, command: "true" })).rejects.toMatchObject({ kind: "invalid-input" });
  });
});
