/**
 * The one way this package starts a process: argv arrays only (never a shell string), a timeout,
 * an AbortSignal, and an SgeCommandError that carries the whole outcome when something goes wrong.
 */
import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { type CommandOutcome, classifyFailure, SgeCommandError } from "./errors.js";

export interface RunOptions {
  /** Text written to the command's standard input (then closed). */
  stdin?: string;
  /** Kill the command after this many milliseconds (default: the runner's). */
  timeoutMs?: number;
  signal?: AbortSignal;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RunnerConfig {
  /**
   * Words put before every command, e.g. `["runuser", "-u", "alice", "--"]` to act as another user.
   * Still an argv array: no shell is involved.
   */
  commandPrefix?: readonly string[];
  /** Environment for the commands (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Default timeout for a command, in milliseconds (default 60 000). */
  timeoutMs?: number;
  /** Working directory for the commands (default: this process's). */
  cwd?: string;
}

export type RunResult = CommandOutcome & { exitCode: number };

export interface RunningCommand {
  argv: readonly string[];
  stdout: Readable;
  finish(readerError?: unknown): Promise<CommandOutcome>;
}

/** Runs Grid Engine commands. Stateless apart from its configuration. */
export class CommandRunner {
  readonly prefix: readonly string[];
  readonly env: NodeJS.ProcessEnv | undefined;
  readonly timeoutMs: number;
  readonly cwd: string | undefined;

  constructor(config: RunnerConfig = {}) {
    this.prefix = config.commandPrefix ?? [];
    this.env = config.env;
    this.timeoutMs = config.timeoutMs ?? 60_000;
    this.cwd = config.cwd;
  }

  /**
   * Run a command to completion and return its outcome whatever its exit code; throws only when it
   * could not run (not found), timed out or was aborted. Callers decide what an exit code means.
   */
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return this.stream(argv, options, async (stdout) => {
      stdout.setEncoding("utf8");
      let text = "";
      for await (const chunk of stdout) text += chunk;
      return text;
    }).then(({ value, outcome }) => ({
      ...outcome,
      stdout: value,
      exitCode: outcome.exitCode ?? -1,
    }));
  }

  /** Run a command and throw a classified SgeCommandError unless it exits 0. */
  async runChecked(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const result = await this.run(argv, options);
    if (result.exitCode !== 0) throw classifyFailure(result);
    return result;
  }

  /**
   * Run a command whose standard output is consumed as a stream by `consume` (for large outputs such
   * as `qstat -xml` of 100k jobs). Resolves when both the process and the consumer are done.
   */
  async stream<T>(
    argv: readonly string[],
    options: RunOptions,
    consume: (stdout: Readable) => Promise<T>,
  ): Promise<{ value: T; outcome: CommandOutcome }> {
    const proc = this.start(argv, options);
    let value: T | undefined;
    let consumerError: unknown;
    try {
      value = await consume(proc.stdout);
    } catch (e) {
      consumerError = e;
    }
    const outcome = await proc.finish(consumerError);
    return { value: value as T, outcome };
  }

  /**
   * Start a command; read `stdout`, then call `finish` exactly once. `finish` waits for the exit and
   * throws SgeCommandError when the command could not run, timed out, was aborted, or when the reader
   * failed (passed as `readerError`): as "unparseable-output", or as the command's own failure when it
   * exited non-zero by itself (its message explains bad output better than a parser can).
   */
  start(argv: readonly string[], options: RunOptions = {}): RunningCommand {
    const full = [...this.prefix, ...argv];
    const [file, ...args] = full;
    const name = full[this.prefix.length] ?? file ?? "command";
    if (!file)
      throw new SgeCommandError({
        kind: "invalid-input",
        message: "empty command",
      });
    const started = performance.now();
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const signal = options.signal;
    if (signal?.aborted) {
      throw new SgeCommandError({
        kind: "aborted",
        argv: full,
        message: `${name} was aborted before it started`,
      });
    }

    const child = spawn(file, args, {
      cwd: options.cwd ?? this.cwd,
      env: options.env ?? this.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      shell: false,
      // own process group, so a kill also reaches what the command started (runuser's child, ...)
      detached: true,
    });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      if (stderr.length < 1_000_000) stderr += d;
    });
    let killedFor: "timeout" | "aborted" | "unread" | undefined;
    const kill = (why: "timeout" | "aborted" | "unread") => {
      if (child.exitCode === null && child.signalCode === null) {
        killedFor ??= why;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }
    };
    const timer = setTimeout(() => kill("timeout"), timeoutMs);
    const onAbort = () => kill("aborted");
    signal?.addEventListener("abort", onAbort, { once: true });
    const exited = new Promise<{
      code: number | null;
      sig: NodeJS.Signals | null;
      spawnError?: Error;
    }>((resolve) => {
      child.once("error", (err) => resolve({ code: null, sig: null, spawnError: err }));
      child.once("close", (code, sig) => resolve({ code, sig }));
    });
    child.stdin.on("error", () => {
      /* the command may exit without reading its input; its exit code tells what happened */
    });
    child.stdin.end(options.stdin ?? "");

    const finish = async (readerError?: unknown): Promise<CommandOutcome> => {
      if (!child.stdout.readableEnded) {
        // the reader stopped early (error or not interested in the rest): end the command
        kill("unread");
        child.stdout.resume();
      }
      const { code, sig, spawnError } = await exited;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      const outcome: CommandOutcome = {
        argv: full,
        exitCode: code,
        signal: sig,
        stdout: "",
        stderr,
        durationMs: performance.now() - started,
      };
      if (spawnError) {
        const notFound = (spawnError as NodeJS.ErrnoException).code === "ENOENT";
        throw new SgeCommandError({
          ...outcome,
          kind: notFound ? "command-not-found" : "command-failed",
          cause: spawnError,
          message: notFound
            ? `${file} was not found on PATH: install the Grid Engine client tools or source your cell's settings.sh (e.g. . $SGE_ROOT/default/common/settings.sh)`
            : `could not start ${file}: ${spawnError.message}`,
        });
      }
      if (killedFor === "timeout") {
        throw new SgeCommandError({
          ...outcome,
          kind: "timeout",
          message: `${name} did not finish within ${Math.round(timeoutMs / 1000)} s and was killed; qmaster may be overloaded or hanging`,
        });
      }
      if (killedFor === "aborted")
        throw new SgeCommandError({
          ...outcome,
          kind: "aborted",
          message: `${name} was aborted`,
        });
      if (readerError !== undefined) {
        if (readerError instanceof SgeCommandError) throw readerError;
        if (killedFor === undefined && code !== 0) throw classifyFailure(outcome);
        throw new SgeCommandError({
          ...outcome,
          kind: "unparseable-output",
          cause: readerError,
          message: `could not read the output of ${name}: ${(readerError as Error).message ?? readerError}`,
        });
      }
      return outcome;
    };
    return { argv: full, stdout: child.stdout, finish };
  }
}
