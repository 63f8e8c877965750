/**
 * JobOptions -> qsub argv (+ the job script on stdin), and qsub's answer -> job id. Pure functions.
 *
 * A command with arguments is not submitted with `-b y`: SGE joins binary-job arguments with spaces
 * and runs them through a shell (measured: `qsub -b y sh -c 'exit 3'` exits 0). Instead we render a
 * two-line /bin/sh script that `exec`s the argv, each word single-quoted, and send it on stdin with
 * directive parsing off (`-C ''`), so what the job receives equals what was passed, byte for byte.
 */

import { shellQuote } from "../base/shell.js";
import { invalidInput } from "./errors.js";
import {
  checkArgvWord,
  checkEnvName,
  checkInteger,
  checkJobName,
  checkJobRef,
  checkListValue,
  checkNativeArg,
  checkObjectName,
  checkPath,
  checkQueue,
  checkScriptArg,
} from "./validate.js";

export type ResourceValue = string | number | boolean;
/** Seconds, or a Grid Engine time such as "24:00:00". */
export type Runtime = number | string;

export interface TaskRange {
  first: number;
  last: number;
  step: number;
}

export interface JobOptions {
  /** `-N`: required, so a job is always findable by name (letters, digits, `_ . + -`). */
  name: string;

  // What to run: exactly one of command, script, scriptText.
  /** A program to run with `args`, passed exactly (rendered into a small /bin/sh script on stdin). */
  command?: string;
  args?: readonly string[];
  /** A job script file; `scriptArgs` are passed by qsub (they may not contain newlines). */
  script?: string;
  scriptArgs?: readonly string[];
  /** A job script's text, sent on stdin. Embedded `#$` directives are ignored: options come from here. */
  scriptText?: string;

  /** `-S`: the shell for the script (default /bin/sh for command and scriptText jobs). */
  shell?: string;
  /** `-cwd` when true, `-wd PATH` when a path. */
  cwd?: boolean | string;
  /** `-o`, `-e`: paths; SGE expands $JOB_ID, $TASK_ID, $JOB_NAME, $HOME, $USER, $HOSTNAME in them. */
  stdoutPath?: string;
  stderrPath?: string;
  /** `-j y`: stderr into stdout. */
  joinOutput?: boolean;

  /** `-q`: one or more queue requests (all.q, all.q@host, all.q@node*). */
  queue?: string | readonly string[];
  /** `-P` */
  project?: string;
  /** `-pe NAME N` or `-pe NAME MIN-MAX`. */
  parallelEnvironment?: {
    name: string;
    slots: number | { min: number; max: number };
  };
  /** `-hard -l name=value,...` */
  hardResources?: Readonly<Record<string, ResourceValue>>;
  /** `-soft -l name=value,...` */
  softResources?: Readonly<Record<string, ResourceValue>>;
  /** `-l h_rt=`: hard wall-clock limit; the job is killed when it is reached. */
  hardRuntime?: Runtime;
  /** `-l s_rt=`: soft wall-clock limit; the job gets SIGUSR1 when it is reached. */
  softRuntime?: Runtime;

  /** `-t first-last:step` */
  array?: { first: number; last: number; step?: number };
  /** `-tc`: at most this many tasks of the array at once. */
  maxConcurrentTasks?: number;
  /** `-hold_jid`: wait for these jobs (ids or names). */
  holdJobs?: readonly (number | string)[];
  /** `-h`: submit on user hold. */
  hold?: boolean;

  /**
   * `-v NAME=value`: environment for the job. These values are visible to every user through
   * `qstat -j`: never put secrets here (pass a path to a 0600 file instead). Commas cannot be carried.
   */
  environment?: Readonly<Record<string, string>>;
  /** `-ac name=value`: job context, visible in `qstat -j` and searchable; used to tag jobs. */
  context?: Readonly<Record<string, string>>;
  /** `-notify`: SIGUSR2 before SIGKILL at qdel, SIGUSR1 before SIGSTOP. */
  notify?: boolean;
  /** `-p`: priority from -1023 to 1024 (users may only lower it below 0). */
  priority?: number;
  /** `-w`: what qsub checks at submission. "error" refuses requests no queue can ever run. */
  verify?: "error" | "warning" | "none";
  /** Escape hatch: native qsub arguments placed before the script, as they are (no shell involved). */
  nativeArgs?: readonly string[];
}

export interface Submission {
  argv: string[];
  stdin?: string;
}

export interface SubmitResult {
  jobId: number;
  /** The array's task range when the job is an array job. */
  tasks?: TaskRange;
  argv: readonly string[];
}

/** The script that runs `command args...` exactly. */
export function renderCommandScript(command: string, args: readonly string[]): string {
  const words = [command, ...args].map((w, i) => shellQuote(checkArgvWord(i === 0 ? "command" : `argument ${i}`, w)));
  return `#!/bin/sh\n# written by ray-sge: runs one command with its arguments exactly as given\nexec ${words.join(" ")}\n`;
}

export function formatRuntime(what: string, rt: Runtime): string {
  if (typeof rt === "number") {
    checkInteger(what, rt, 1, 10 * 365 * 86400);
    const h = Math.floor(rt / 3600);
    const m = Math.floor((rt % 3600) / 60);
    const s = rt % 60;
    return `${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
  }
  if (!/^\d{1,6}(:\d{1,2}){0,2}$/.test(rt)) {
    throw invalidInput(`${what} ${JSON.stringify(rt)} is not a run time (seconds, or H:MM:SS such as 24:00:00)`);
  }
  return rt;
}

function resourceList(option: string, resources: Readonly<Record<string, ResourceValue>>): string {
  return Object.entries(resources)
    .map(([k, v]) => {
      checkObjectName(`${option} resource name`, k);
      const value = typeof v === "boolean" ? (v ? "TRUE" : "FALSE") : String(v);
      if (value === "") throw invalidInput(`${option} ${k}: the value is empty`);
      return `${k}=${checkListValue(option, k, value, false)}`;
    })
    .join(",");
}

/** Build qsub's argv and stdin for a job. Throws `invalid-input` errors naming the option. */
export function buildSubmission(o: JobOptions): Submission {
  const argv = ["qsub", "-terse", "-N", checkJobName(o.name)];
  const what = [o.command, o.script, o.scriptText].filter((x) => x !== undefined).length;
  if (what !== 1) throw invalidInput("a job needs exactly one of command, script or scriptText");
  if (o.args && o.command === undefined) throw invalidInput("args go with command (use scriptArgs with script)");
  if (o.scriptArgs && o.script === undefined) throw invalidInput("scriptArgs go with script");

  if (o.shell !== undefined) argv.push("-S", checkPath("-S", o.shell));
  else if (o.script === undefined) argv.push("-S", "/bin/sh");
  if (o.cwd === true) argv.push("-cwd");
  else if (typeof o.cwd === "string") argv.push("-wd", checkPath("-wd", o.cwd));
  if (o.stdoutPath !== undefined) argv.push("-o", checkPath("-o", o.stdoutPath));
  if (o.stderrPath !== undefined) argv.push("-e", checkPath("-e", o.stderrPath));
  if (o.joinOutput) argv.push("-j", "y");
  if (o.queue !== undefined) {
    const qs = typeof o.queue === "string" ? [o.queue] : o.queue;
    if (qs.length === 0) throw invalidInput("queue: the list is empty");
    argv.push("-q", qs.map(checkQueue).join(","));
  }
  if (o.project !== undefined) argv.push("-P", checkObjectName("project", o.project));
  if (o.parallelEnvironment) {
    const { name, slots } = o.parallelEnvironment;
    const range =
      typeof slots === "number"
        ? String(checkInteger("parallel environment slots", slots, 1, 1_000_000))
        : `${checkInteger("minimum slots", slots.min, 1, 1_000_000)}-${checkInteger("maximum slots", slots.max, slots.min, 1_000_000)}`;
    argv.push("-pe", checkObjectName("parallel environment", name), range);
  }
  const hard: Record<string, ResourceValue> = { ...(o.hardResources ?? {}) };
  if (o.hardRuntime !== undefined) hard.h_rt = formatRuntime("hardRuntime (h_rt)", o.hardRuntime);
  if (o.softRuntime !== undefined) hard.s_rt = formatRuntime("softRuntime (s_rt)", o.softRuntime);
  if (Object.keys(hard).length > 0) argv.push("-hard", "-l", resourceList("-l", hard));
  if (o.softResources && Object.keys(o.softResources).length > 0) {
    argv.push("-soft", "-l", resourceList("-soft -l", o.softResources), "-hard");
  }
  if (o.array) {
    const { first, last } = o.array;
    const step = o.array.step ?? 1;
    checkInteger("array first task", first, 1, 75_000_000);
    checkInteger("array last task", last, first, 75_000_000);
    checkInteger("array step", step, 1, 75_000_000);
    argv.push("-t", `${first}-${last}:${step}`);
  }
  if (o.maxConcurrentTasks !== undefined) {
    if (!o.array) throw invalidInput("maxConcurrentTasks (-tc) needs an array job");
    argv.push("-tc", String(checkInteger("maxConcurrentTasks", o.maxConcurrentTasks, 1, 75_000_000)));
  }
  if (o.holdJobs && o.holdJobs.length > 0) {
    argv.push(
      "-hold_jid",
      o.holdJobs
        .map((j) => (typeof j === "number" ? checkJobRef(j) : /^\d/.test(j) ? checkJobRef(j) : checkJobName(j)))
        .join(","),
    );
  }
  if (o.hold) argv.push("-h");
  if (o.environment) {
    for (const [k, v] of Object.entries(o.environment)) {
      argv.push("-v", `${checkEnvName(k)}=${checkListValue("-v", k, v, true)}`);
    }
  }
  if (o.context && Object.keys(o.context).length > 0) {
    const pairs = Object.entries(o.context).map(
      ([k, v]) => `${checkObjectName("context name", k)}=${checkListValue("-ac", k, v, false)}`,
    );
    argv.push("-ac", pairs.join(","));
  }
  if (o.notify) argv.push("-notify");
  if (o.priority !== undefined) argv.push("-p", String(checkInteger("priority", o.priority, -1023, 1024)));
  if (o.verify !== undefined) argv.push("-w", { error: "e", warning: "w", none: "n" }[o.verify]);
  if (o.nativeArgs) argv.push(...o.nativeArgs.map(checkNativeArg));

  if (o.command !== undefined) {
    // stdin script; -C '' turns off `#$` directive parsing so an argument cannot smuggle in options
    argv.push("-C", "");
    return { argv, stdin: renderCommandScript(o.command, o.args ?? []) };
  }
  if (o.scriptText !== undefined) {
    if (o.scriptText.includes("\0")) throw invalidInput("scriptText contains a NUL byte");
    argv.push("-C", "");
    return { argv, stdin: o.scriptText };
  }
  argv.push(checkPath("script", o.script as string), ...(o.scriptArgs ?? []).map(checkScriptArg));
  return { argv };
}

/** Parse `qsub -terse` output: `12` or `17.1-5:1` (arrays). */
export function parseSubmitOutput(stdout: string): {
  jobId: number;
  tasks?: TaskRange;
} {
  const line = stdout
    .split("\n")
    .map((l) => l.trim())
    .find((l) => /^\d+(\.\d+-\d+:\d+)?$/.test(l));
  if (!line) throw new Error(`qsub printed no job id: ${JSON.stringify(stdout.slice(0, 200))}`);
  const m = /^(\d+)(?:\.(\d+)-(\d+):(\d+))?$/.exec(line) as RegExpExecArray;
  const jobId = Number(m[1]);
  if (m[2] === undefined) return { jobId };
  return {
    jobId,
    tasks: { first: Number(m[2]), last: Number(m[3]), step: Number(m[4]) },
  };
}
