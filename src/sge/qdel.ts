/**
 * `qdel` answers per job on stdout, whatever its exit code (measured on 8.1.9):
 *   "alice has registered the job 4 for deletion"          -> deleting
 *   "alice has deleted job 5" / "... job-array task 5.3"    -> deleted
 *   "job 5 is already in deletion"                         -> deleting
 *   'alice unable to sync state with remote execd for the deletion of job "5"' -> deleting (rc 1):
 *     the host's sge_execd does not answer; the job stays (dr) until it does
 *   'denied: job "999999" does not exist'                  -> gone (rc 1)
 *   'alice - you do not have the necessary privileges to delete the job "12"' -> denied (rc 1)
 */

export type DeleteOutcome = "deleted" | "deleting" | "gone" | "denied";

export interface DeleteResult {
  /** The job or task as qdel named it: "12", "5.3". */
  job: string;
  outcome: DeleteOutcome;
  message: string;
}

const LINE_RULES: [RegExp, DeleteOutcome][] = [
  [/has registered the job(?:-array task)? (\S+) for deletion/, "deleting"],
  [/has deleted job(?:-array task)? (\S+)/, "deleted"],
  [/job(?:-array task)? (\S+) is already in deletion/, "deleting"],
  [/unable to sync state with remote execd for the deletion of job "?([^"\s]+)"?/, "deleting"],
  [/job "?([^"\s]+)"? does not exist/, "gone"],
  [/necessary privileges to delete the job(?:-array task)? "?([^"\s]+)"?/, "denied"],
];

/** Parse qdel's stdout into one result per line it understands; other lines are ignored. */
export function parseQdelOutput(stdout: string): DeleteResult[] {
  const out: DeleteResult[] = [];
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    for (const [re, outcome] of LINE_RULES) {
      const m = re.exec(line);
      if (m) {
        out.push({ job: m[1] as string, outcome, message: line });
        break;
      }
    }
  }
  return out;
}
