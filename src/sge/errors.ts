/**
 * The one error type of the Grid Engine client. It carries everything needed to understand a
 * failed command (argv, exit code, signal, stdout, stderr, duration) and a `kind` a caller can act on.
 * `classifyFailure` is a pure function over a command's outcome, tested on recorded real outputs.
 */

import { shellWord } from "../base/shell.js";

export type SgeErrorKind =
  /** qmaster is down or unreachable: nothing is known about jobs right now. */
  | "qmaster-unreachable"
  /** qsub refused the job; `reason` holds Grid Engine's words. */
  | "job-rejected"
  /** The job (or task) is not known to Grid Engine. */
  | "unknown-job"
  /** The caller lacks the rights for the operation (another user's job, manager-only command). */
  | "permission-denied"
  /** The command itself is missing: Grid Engine's client tools are not on PATH. */
  | "command-not-found"
  /** The command ran longer than allowed and was killed. */
  | "timeout"
  /** The caller aborted (AbortSignal). */
  | "aborted"
  /** The command's output could not be parsed; the output is kept on the error. */
  | "unparseable-output"
  /** Input refused before anything ran (would be mangled by Grid Engine or could inject). */
  | "invalid-input"
  /** Anything else: the command failed for a reason we do not classify. */
  | "command-failed";

export interface CommandOutcome {
  argv: readonly string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface SgeCommandErrorInit extends Partial<CommandOutcome> {
  kind: SgeErrorKind;
  message: string;
  reason?: string;
  cause?: unknown;
}

export class SgeCommandError extends Error {
  override readonly name = "SgeCommandError";
  readonly kind: SgeErrorKind;
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** Grid Engine's own explanation, when it gave one (e.g. why qsub rejected a job). */
  readonly reason: string | undefined;

  constructor(init: SgeCommandErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.argv = init.argv ?? [];
    this.exitCode = init.exitCode ?? null;
    this.signal = init.signal ?? null;
    this.stdout = init.stdout ?? "";
    this.stderr = init.stderr ?? "";
    this.durationMs = init.durationMs ?? 0;
    this.reason = init.reason;
  }

  /** A multi-line account for logs and `--verbose` output. */
  details(): string {
    const lines = [
      `${this.message}`,
      `  command:   ${formatArgv(this.argv)}`,
      `  exit code: ${this.exitCode ?? "-"}${this.signal ? ` (signal ${this.signal})` : ""}, ${Math.round(this.durationMs)} ms`,
    ];
    if (this.stderr.trim()) lines.push(`  stderr:    ${indentTail(this.stderr.trim())}`);
    if (this.stdout.trim()) lines.push(`  stdout:    ${indentTail(truncate(this.stdout.trim(), 2000))}`);
    return lines.join("\n");
  }
}

export function isSgeError(e: unknown, kind?: SgeErrorKind): e is SgeCommandError {
  return e instanceof SgeCommandError && (kind === undefined || e.kind === kind);
}

export function invalidInput(message: string): SgeCommandError {
  return new SgeCommandError({ kind: "invalid-input", message });
}

const QMASTER_DOWN =
  /commlib error|unable to send message to qmaster|unable to contact qmaster|cannot (?:reach|connect to) qmaster|can't (?:reach|connect to) qmaster|qmaster is down/i;
const PERMISSION =
  /necessary privileges|permission denied|not allowed|must be (?:a )?(?:manager|operator)|denied: .*(?:manager|operator|privileg)/i;
const REJECTED = /Unable to run job:?\s*([\s\S]*?)\s*(?:\nExiting\.|$)/;

/** Turn a failed command's outcome into an error whose kind and message a user can act on. */
export function classifyFailure(outcome: CommandOutcome): SgeCommandError {
  const text = `${outcome.stderr}\n${outcome.stdout}`;
  const cmd = commandName(outcome.argv);
  const base = { ...outcome };
  if (outcome.exitCode === 127 || /failed to execute .*No such file|command not found/i.test(text)) {
    return new SgeCommandError({
      ...base,
      kind: "command-not-found",
      message: `${cmd} was not found: install the Grid Engine client tools or source your cell's settings.sh (${firstLine(text)})`,
    });
  }
  if (QMASTER_DOWN.test(text)) {
    return new SgeCommandError({
      ...base,
      kind: "qmaster-unreachable",
      message: `${cmd}: cannot reach the Grid Engine qmaster (${firstLine(text)}). Job states are unknown until it answers: check that sge_qmaster runs and that SGE_ROOT/SGE_CELL point at your cell.`,
    });
  }
  if (PERMISSION.test(text)) {
    return new SgeCommandError({
      ...base,
      kind: "permission-denied",
      reason: firstLine(text),
      message: `${cmd}: permission denied: ${firstLine(text)}`,
    });
  }
  const rejected = REJECTED.exec(text);
  if (cmd === "qsub" && (rejected || /^qsub: /m.test(text))) {
    const reason = (rejected?.[1] ?? firstLine(text)).replace(/^qsub:\s*/, "").trim();
    return new SgeCommandError({
      ...base,
      kind: "job-rejected",
      reason,
      message: `Grid Engine rejected the job: ${reason}${rejectionAdvice(reason)}`,
    });
  }
  if (/does not exist|do not exist|not found/i.test(text) && /\bjob/i.test(text)) {
    return new SgeCommandError({
      ...base,
      kind: "unknown-job",
      reason: firstLine(text),
      message: `${cmd}: ${firstLine(text)}`,
    });
  }
  return new SgeCommandError({
    ...base,
    kind: "command-failed",
    reason: firstLine(text) || undefined,
    message: `${formatArgv(outcome.argv)} failed with exit code ${outcome.exitCode ?? outcome.signal}: ${firstLine(text) || "(no output)"}`,
  });
}

function rejectionAdvice(reason: string): string {
  if (/unknown queue/i.test(reason)) return " (list queues with `qconf -sql`)";
  if (/unknown resource/i.test(reason)) return " (list resources with `qconf -sc`)";
  if (/parallel environment/i.test(reason)) return " (list parallel environments with `qconf -spl`)";
  if (/no suitable queues/i.test(reason))
    return " (no queue can ever run this request: lower the resources or pick another queue)";
  return "";
}

/** A one-line rendering of argv that a user could paste into a shell. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map(shellWord).join(" ");
}

function commandName(argv: readonly string[]): string {
  // skip a wrapper prefix such as `runuser -u x --` by taking the first q* command
  const q = argv.find((a) => /(^|\/)q(sub|stat|del|host|conf|acct|mod|rsh)$/.test(a));
  return (q ?? argv[0] ?? "command").replace(/^.*\//, "");
}

function firstLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && l !== "Exiting.");
  const useful = lines.find((l) => !/^error: commlib error/.test(l)) ?? lines[0];
  return (useful ?? "").replace(/^error:\s*/, "");
}

function indentTail(s: string): string {
  return s.replace(/\n/g, "\n             ");
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}... (${s.length - n} more characters)` : s;
}
