/**
 * Checks for values that Grid Engine would mangle or that could inject options. Each rule below was
 * found by experiment on gridengine 8.1.9 (see test/integration/adversarial.test.ts):
 * - `-N` with whitespace consumes a job id and fails obscurely; `/` is refused; a leading digit is refused.
 * - script arguments lose everything after a newline; other bytes pass exactly.
 * - `-v NAME=value` and `-ac NAME=value` split at commas, so a comma cannot be carried in a value.
 * - `-o`/`-e`/`-wd` read `host:path` and comma lists, so `:` and `,` in a path change its meaning.
 * Anything refused gets an error that names the option, the value and the rule.
 */
import { invalidInput } from "./errors.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_BUT_TAB = /[\u0000-\u0008\u000a-\u001f\u007f]/;

export function describe(value: string): string {
  return JSON.stringify(value);
}

/** Job names: letters, digits and `_ . + -`, starting with a letter or `_` (SGE reads a leading digit as a job id). */
export function checkJobName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.+-]{0,199}$/.test(name)) {
    throw invalidInput(
      `job name ${describe(name)} is not allowed: use 1-200 letters, digits and _ . + -, starting with a letter or _ (Grid Engine mangles names with whitespace, / : @ \\ * ? and reads a leading digit as a job id)`,
    );
  }
  return name;
}

/** Names of queues, PEs, projects, complexes, users, context keys. */
export function checkObjectName(what: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.@-]{0,199}$/.test(value) || value.includes("..")) {
    throw invalidInput(
      `${what} ${describe(value)} is not a valid Grid Engine name (letters, digits and _ . - @, starting with a letter or _)`,
    );
  }
  return value;
}

/** A queue request: a cluster queue, `queue@host`, `@hostgroup` or a wildcard such as `all.q@node*`. */
export function checkQueue(value: string): string {
  if (!/^[A-Za-z0-9_.@*?-]+$/.test(value)) {
    throw invalidInput(`queue ${describe(value)} is not a valid queue request (e.g. all.q, all.q@node1, all.q@node*)`);
  }
  return value;
}

/** Values in `-l name=value`, `-ac name=value`, `-v NAME=value`: no commas, no control characters. */
export function checkListValue(option: string, key: string, value: string, allowSpaces: boolean): string {
  if (value.includes(",")) {
    throw invalidInput(
      `${option} ${key}=${describe(value)}: a comma cannot be carried (Grid Engine splits ${option} lists at commas)`,
    );
  }
  if (CONTROL.test(value)) {
    throw invalidInput(`${option} ${key}=${describe(value)}: control characters (newline, tab, ...) are not allowed`);
  }
  if (!allowSpaces && /\s/.test(value)) {
    throw invalidInput(`${option} ${key}=${describe(value)}: whitespace is not allowed here`);
  }
  return value;
}

/** Environment variable names as POSIX shells accept them. */
export function checkEnvName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw invalidInput(
      `environment variable name ${describe(name)} is not valid (letters, digits, _; not starting with a digit)`,
    );
  }
  return name;
}

/** Paths for -o, -e, -wd, -S and script files. SGE pseudo variables such as $JOB_ID, $TASK_ID are allowed. */
export function checkPath(option: string, path: string): string {
  if (path.length === 0) throw invalidInput(`${option}: the path is empty`);
  if (CONTROL.test(path))
    throw invalidInput(`${option} ${describe(path)}: control characters are not allowed in paths`);
  if (path.includes(":") || path.includes(",")) {
    throw invalidInput(
      `${option} ${describe(path)}: ':' and ',' are not allowed in paths (Grid Engine reads them as host:path and as path lists)`,
    );
  }
  return path;
}

/**
 * Arguments after a script file: passed as they are except that SGE cuts them at a newline, and OCS
 * 9.1.4 kills the job with SIGSEGV when one holds `%n` (measured: `qsub script.py %n` exits 139 before
 * the script runs; `%s`, `%d`, `100%` are fine; 8.1.9 is fine). Refused on every scheduler, so a
 * submission means the same everywhere; command + args carries both.
 */
export function checkScriptArg(arg: string, index: number): string {
  if (/[\n\r\0]/.test(arg)) {
    throw invalidInput(
      `script argument ${index + 1} ${describe(arg)} contains a newline or NUL, which Grid Engine cuts off; use command + args instead (rendered into a job script that passes them exactly)`,
    );
  }
  if (arg.includes("%n")) {
    throw invalidInput(
      `script argument ${index + 1} ${describe(arg)} contains %n, which makes Open Cluster Scheduler 9.1's execution daemon kill the job (SIGSEGV); use command + args instead (rendered into a job script that passes them exactly)`,
    );
  }
  return arg;
}

/** Any argv word (command args): everything but NUL can be carried by our generated script. */
export function checkArgvWord(what: string, arg: string): string {
  if (arg.includes("\0"))
    throw invalidInput(`${what} ${describe(arg)} contains a NUL byte, which no program argument can hold`);
  return arg;
}

/** Native qsub arguments from the escape hatch: anything but control characters. */
export function checkNativeArg(arg: string): string {
  if (CONTROL_BUT_TAB.test(arg))
    throw invalidInput(`native qsub argument ${describe(arg)} contains control characters`);
  return arg;
}

export function checkInteger(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidInput(`${what} must be a whole number from ${min} to ${max}, not ${value}`);
  }
  return value;
}

/** Job and task ids for qdel/qstat: `12`, `12.3`, `12.1-5`, `12.1-9:2`. */
export function checkJobRef(ref: number | string): string {
  const s = String(ref);
  if (!/^[1-9][0-9]*(\.[1-9][0-9]*(-[1-9][0-9]*(:[1-9][0-9]*)?)?)?$/.test(s)) {
    throw invalidInput(`${describe(s)} is not a job id (expected 12, 12.3 or 12.1-5)`);
  }
  return s;
}
