/**
 * Which Grid Engine answers: the first line of `qstat -help` names it, e.g. `SGE 8.1.9` (Son of Grid
 * Engine, fixture sge-8.1.9/qstat-help-first-line.txt), `OCS 9.1.4` (Open Cluster Scheduler, fixture
 * ocs-9.1/...), `GCS 9.1.x` (Gridware Cluster Scheduler), `UGE 8.6.x`, `OGS/GE 2011.11`. Pure.
 */

export type SchedulerFamily = "sge" | "ocs" | "gcs" | "uge" | "ogs" | "unknown";

export interface SchedulerInfo {
  family: SchedulerFamily;
  /** As printed, e.g. "9.1.4", "8.1.9", "2011.11p1"; "" when the line names none. */
  version: string;
  /** Major version number (9 for 9.1.4); 0 when unknown. */
  major: number;
  /** The line as qstat printed it, e.g. "OCS 9.1.4". */
  banner: string;
  /**
   * 9.x keeps a job's requests in request sets (global, master, slave scopes), writes times with
   * microseconds and accounting as JSON lines: the family is OCS or GCS from major version 9.
   */
  requestSets: boolean;
}

const FAMILIES: Record<string, SchedulerFamily> = {
  SGE: "sge",
  OCS: "ocs",
  GCS: "gcs",
  UGE: "uge",
  "OGS/GE": "ogs",
};

const NAMES: Record<SchedulerFamily, string> = {
  sge: "Son of Grid Engine",
  ocs: "Open Cluster Scheduler",
  gcs: "Gridware Cluster Scheduler",
  uge: "Univa Grid Engine",
  ogs: "Open Grid Scheduler",
  unknown: "Grid Engine",
};

/** Read the first line of `qstat -help`. */
export function parseSchedulerBanner(text: string): SchedulerInfo {
  const banner = (text.split("\n").find((l) => l.trim() !== "") ?? "").trim();
  const m = /^(\S+)\s+(\S+)/.exec(banner);
  const family = (m && FAMILIES[m[1] as string]) || "unknown";
  const version = m && family !== "unknown" ? (m[2] as string) : "";
  const major = Number.parseInt(version, 10) || 0;
  return { family, version, major, banner, requestSets: (family === "ocs" || family === "gcs") && major >= 9 };
}

/** "Open Cluster Scheduler 9.1.4", "Son of Grid Engine 8.1.9". */
export function describeScheduler(s: SchedulerInfo): string {
  if (s.family === "unknown")
    return s.banner ? `Grid Engine (qstat says "${s.banner}")` : "Grid Engine (version unknown)";
  return `${NAMES[s.family]} ${s.version}`.trim();
}
