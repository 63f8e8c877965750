/** `qacct -j ID` -> one accounting record per finished job or task. Pure. */
import { parseDuration, parseMemory } from "./units.js";

export interface AccountingRecord {
  jobId: number;
  taskId?: number;
  name: string;
  owner: string;
  queue: string;
  host: string;
  project?: string;
  submittedAt?: Date;
  startedAt?: Date;
  endedAt?: Date;
  slots: number;
  grantedPe?: string;
  /** 0 when Grid Engine ran the job without trouble; otherwise its failure code (e.g. 100). */
  failed: number;
  /** Grid Engine's words for the failure code, e.g. "assumedly after job". */
  failedReason?: string;
  /** The job script's exit status; 128+N when killed by signal N. */
  exitStatus: number;
  /** The signal name qacct adds, e.g. "Killed" for 137. */
  exitSignal?: string;
  wallclockSeconds: number;
  cpuSeconds?: number;
  maxVmemBytes?: number;
  maxRssBytes?: number;
  /** Every field as qacct printed it. */
  raw: Record<string, string>;
}

function date(s: string | undefined): Date | undefined {
  if (!s || s === "-/-" || s === "undefined") return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function parseAccounting(text: string): AccountingRecord[] {
  const blocks = text
    .split(/^=+\s*$/m)
    .map((b) => b.trim())
    .filter(Boolean);
  return blocks.map((block) => {
    const raw: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const m = /^(\S+)\s+(.*?)\s*$/.exec(line);
      if (m) raw[m[1] as string] = m[2] as string;
    }
    const jobId = Number(raw.jobnumber);
    if (!Number.isInteger(jobId)) throw new Error(`a qacct record has no jobnumber: ${block.slice(0, 80)}`);
    const failed = /^(\d+)\s*(?::\s*(.*))?$/.exec(raw.failed ?? "0");
    const exit = /^(\d+)\s*(?:\((.*)\))?$/.exec(raw.exit_status ?? "0");
    const rec: AccountingRecord = {
      jobId,
      name: raw.jobname ?? "",
      owner: raw.owner ?? "",
      queue: raw.qname ?? "",
      host: raw.hostname ?? "",
      slots: Number(raw.slots ?? 1),
      failed: Number(failed?.[1] ?? 0),
      exitStatus: Number(exit?.[1] ?? 0),
      wallclockSeconds: parseDuration(raw.ru_wallclock) ?? 0,
      raw,
    };
    const set = <K extends keyof AccountingRecord>(k: K, v: AccountingRecord[K] | undefined) => {
      if (v !== undefined && v !== "" && v !== "NONE" && v !== "undefined") rec[k] = v;
    };
    const task = Number(raw.taskid);
    if (Number.isInteger(task)) rec.taskId = task;
    set("project", raw.project);
    set("submittedAt", date(raw.qsub_time));
    set("startedAt", date(raw.start_time));
    set("endedAt", date(raw.end_time));
    set("grantedPe", raw.granted_pe);
    set("failedReason", failed?.[2]?.trim());
    set("exitSignal", exit?.[2]?.trim());
    set("cpuSeconds", parseDuration(raw.cpu));
    set("maxVmemBytes", parseMemory(raw.maxvmem));
    // 9.x: maxrss in bytes (its ru_maxrss is a bare number of kilobytes); 8.1.9: ru_maxrss with a unit, "4.477KB"
    set("maxRssBytes", parseMemory(raw.maxrss) ?? parseMemory(raw.ru_maxrss));
    return rec;
  });
}
