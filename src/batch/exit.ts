/**
 * A batch job's exit code. Pure.
 *
 * The driver's code becomes the job's, except the two Grid Engine acts on: 99 (reschedule the job)
 * and 100 (put it in error state); those make the job exit 1, and the driver's own code is kept in
 * JOB_DIR/exit_code, where `ray-sge batch --wait` reads it to exit with it.
 */

export const EXIT_FILE = "exit_code";

/** What the job exits with for a driver code. */
export function jobExitCode(driverCode: number): number {
  return driverCode === 99 || driverCode === 100 ? 1 : driverCode;
}

/** The same rule in bash, reading $code (the job script runs it). */
export function mappedExitCode(): string {
  return 'case "$code" in 99|100) echo 1;; *) echo "$code";; esac';
}

export interface ExitRecord {
  driverExitCode: number;
  jobExitCode: number;
  why: string;
  seconds: number;
}

/** JOB_DIR/exit_code, as the job script writes it; undefined when it is not (yet) complete. */
export function parseExitFile(text: string): ExitRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.driver_exit_code !== "number" || typeof r.job_exit_code !== "number") return undefined;
  return {
    driverExitCode: r.driver_exit_code,
    jobExitCode: r.job_exit_code,
    why: typeof r.why === "string" ? r.why : "",
    seconds: typeof r.seconds === "number" ? r.seconds : 0,
  };
}
