import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isSgeError } from "../../src/sge/errors.js";
import { buildSubmission, formatRuntime, parseSubmitOutput, renderCommandScript } from "../../src/sge/qsub.js";

const ADVERSARIAL = [
  "a b",
  "$(id)",
  "`id`",
  "x'y",
  'q"q',
  "semi;colon&&amp|pipe",
  "new\nline",
  "",
  "*",
  "#$ -q evil.q",
  "-N",
  "back\\slash",
  "tab\there",
  "\u0001ctl",
  "ünï€ 😀",
  "'",
  "''",
  "$HOME",
  "%s%n",
];

describe("renderCommandScript", () => {
  it("passes every argument exactly through /bin/sh (adversarial strings)", () => {
    // run the rendered script with a program that prints its argv as JSON
    const script = renderCommandScript(process.execPath, [
      "-e",
      "process.stdout.write(JSON.stringify(process.argv.slice(1)))",
      ...ADVERSARIAL,
    ]);
    const out = execFileSync("/bin/sh", ["-c", script], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual(ADVERSARIAL);
  });

  it("refuses NUL bytes, which no argument can hold", () => {
    expect(() => renderCommandScript("echo", ["a\0b"])).toThrow(/NUL/);
  });
});

describe("buildSubmission", () => {
  it("maps every option to qsub arguments", () => {
    const { argv, stdin } = buildSubmission({
      name: "ray-head",
      command: "ray",
      args: ["start", "--head"],
      cwd: "/home/u/work dir",
      stdoutPath: "/home/u/logs/$JOB_ID.$TASK_ID.out",
      stderrPath: "/home/u/logs/$JOB_ID.err",
      queue: ["all.q", "gpu.q@node*"],
      project: "proj1",
      parallelEnvironment: { name: "smp", slots: { min: 2, max: 4 } },
      hardResources: { mem_free: "4G", gpu: 1, exclusive: true },
      softResources: { arch: "lx-amd64" },
      hardRuntime: 86400,
      softRuntime: "23:30:00",
      array: { first: 1, last: 10, step: 2 },
      maxConcurrentTasks: 3,
      holdJobs: [12, "prep-job"],
      hold: true,
      environment: { RAY_TMP: "/tmp/x y" },
      context: { ray_sge_cluster: "c1", ray_sge_role: "head" },
      notify: true,
      priority: -5,
      verify: "error",
      nativeArgs: ["-m", "n"],
    });
    expect(argv).toEqual([
      "qsub",
      "-terse",
      "-N",
      "ray-head",
      "-S",
      "/bin/sh",
      "-wd",
      "/home/u/work dir",
      "-o",
      "/home/u/logs/$JOB_ID.$TASK_ID.out",
      "-e",
      "/home/u/logs/$JOB_ID.err",
      "-q",
      "all.q,gpu.q@node*",
      "-P",
      "proj1",
      "-pe",
      "smp",
      "2-4",
      "-hard",
      "-l",
      "mem_free=4G,gpu=1,exclusive=TRUE,h_rt=24:00:00,s_rt=23:30:00",
      "-soft",
      "-l",
      "arch=lx-amd64",
      "-hard",
      "-t",
      "1-10:2",
      "-tc",
      "3",
      "-hold_jid",
      "12,prep-job",
      "-h",
      "-v",
      "RAY_TMP=/tmp/x y",
      "-ac",
      "ray_sge_cluster=c1,ray_sge_role=head",
      "-notify",
      "-p",
      "-5",
      "-w",
      "e",
      "-m",
      "n",
      "-C",
      "",
    ]);
    expect(stdin).toContain("exec 'ray' 'start' '--head'");
  });

  it("submits a script file with its arguments and no stdin", () => {
    expect(
      buildSubmission({
        name: "s",
        script: "/home/u/job.sh",
        scriptArgs: ["a b", "$x"],
        cwd: true,
        joinOutput: true,
      }),
    ).toEqual({
      argv: ["qsub", "-terse", "-N", "s", "-cwd", "-j", "y", "/home/u/job.sh", "a b", "$x"],
    });
  });

  const refused: [string, Parameters<typeof buildSubmission>[0], RegExp][] = [
    ["a name with a space", { name: "a b", command: "true" }, /job name "a b" is not allowed/],
    ["a name with a slash", { name: "a/b", command: "true" }, /job name/],
    ["a name starting with a digit", { name: "1abc", command: "true" }, /leading digit/],
    ["a name with a newline", { name: "a\nb", command: "true" }, /job name/],
    ["no command", { name: "x" }, /exactly one of command, script or scriptText/],
    ["command and script", { name: "x", command: "a", script: "b" }, /exactly one/],
    ["a newline in a script argument", { name: "x", script: "/s.sh", scriptArgs: ["a\nb"] }, /newline or NUL/],
    [
      "%n in a script argument (OCS 9.1.4 kills the job)",
      { name: "x", script: "/s.sh", scriptArgs: ["ok", "%s%n"] },
      /script argument 2 .* contains %n, .* use command \+ args/,
    ],
    [
      "a comma in an environment value",
      { name: "x", command: "t", environment: { A: "1,2" } },
      /comma cannot be carried/,
    ],
    [
      "a newline in an environment value",
      { name: "x", command: "t", environment: { A: "1\n2" } },
      /control characters/,
    ],
    ["a bad environment name", { name: "x", command: "t", environment: { "A-B": "1" } }, /variable name/],
    ["a comma in a resource value", { name: "x", command: "t", hardResources: { h: "a,b" } }, /comma/],
    ["a space in a resource value", { name: "x", command: "t", hardResources: { h: "a b" } }, /whitespace/],
    [
      "an injected resource name",
      { name: "x", command: "t", hardResources: { "a=b,c": "1" } },
      /not a valid Grid Engine name/,
    ],
    ["a colon in a path", { name: "x", command: "t", stdoutPath: "host:/p" }, /host:path/],
    ["a comma in a path", { name: "x", command: "t", cwd: "/a,b" }, /':' and ','/],
    ["a bad queue", { name: "x", command: "t", queue: "all.q -l x" }, /not a valid queue/],
    [
      "zero slots",
      {
        name: "x",
        command: "t",
        parallelEnvironment: { name: "smp", slots: 0 },
      },
      /slots must be a whole number/,
    ],
    ["a bad runtime", { name: "x", command: "t", hardRuntime: "1 day" }, /not a run time/],
    ["-tc without an array", { name: "x", command: "t", maxConcurrentTasks: 2 }, /needs an array job/],
    ["a reversed array", { name: "x", command: "t", array: { first: 5, last: 2 } }, /array last task/],
    ["a priority above 1024", { name: "x", command: "t", priority: 2000 }, /priority/],
    ["a control character in native args", { name: "x", command: "t", nativeArgs: ["-l\n"] }, /control characters/],
    ["a context value with a comma", { name: "x", command: "t", context: { k: "a,b" } }, /comma/],
  ];
  it.each(refused)("refuses %s with a clear error", (_, job, message) => {
    let error: unknown;
    try {
      buildSubmission(job);
    } catch (e) {
      error = e;
    }
    expect(isSgeError(error, "invalid-input")).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});

describe("qsub output", () => {
  it("reads plain and array job ids", () => {
    expect(parseSubmitOutput("12\n")).toEqual({ jobId: 12 });
    expect(parseSubmitOutput("17.1-5:1\n")).toEqual({
      jobId: 17,
      tasks: { first: 1, last: 5, step: 1 },
    });
    expect(() => parseSubmitOutput("Your job 12 has been submitted")).toThrow(/no job id/);
  });

  it("formats run times", () => {
    expect(formatRuntime("h_rt", 3661)).toBe("1:01:01");
    expect(formatRuntime("h_rt", "24:00:00")).toBe("24:00:00");
    expect(() => formatRuntime("h_rt", 0)).toThrow(/whole number/);
  });
});
