/** `qconf -sc`, `-spl`, `-sp NAME`, `-sql` and `qstat -f -xml` (queue instances) -> typed values. Pure. */
import { type ChunkSource, xmlRecords } from "./xml.js";

export interface Complex {
  name: string;
  shortcut: string;
  type: string;
  relop: string;
  requestable: "YES" | "NO" | "FORCED";
  /** YES: consumed per slot; JOB: once per job; NO: a load value or a fixed attribute. */
  consumable: "YES" | "NO" | "JOB";
  default: string;
  urgency: number;
}

export function parseComplexes(text: string): Complex[] {
  return text
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((line) => {
      const c = line.trim().split(/\s+/);
      if (c.length < 8)
        throw new Error(`a qconf -sc line has ${c.length} columns, expected 8: ${JSON.stringify(line)}`);
      return {
        name: c[0] as string,
        shortcut: c[1] as string,
        type: c[2] as string,
        relop: c[3] as string,
        requestable: c[4] as Complex["requestable"],
        consumable: c[5] as Complex["consumable"],
        default: c[6] as string,
        urgency: Number(c[7]),
      };
    });
}

/** `key value...` lines (qconf -sp, -sq, -sconf), with backslash continuations joined. */
export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const joined = text.replace(/\\\n\s*/g, "");
  for (const line of joined.split("\n")) {
    const m = /^(\S+)\s+(.*?)\s*$/.exec(line);
    if (m && !line.startsWith("#")) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** One name per line (qconf -spl, -sql, -sel ...); "no ... defined" answers mean none. */
export function parseNameList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^no \S+.* defined$/i.test(l));
}

export interface ParallelEnvironment {
  name: string;
  slots: number;
  /** "$pe_slots" (all slots on one host), "$round_robin", "$fill_up" or a fixed number per host. */
  allocationRule: string;
  controlSlaves: boolean;
  jobIsFirstTask: boolean;
  userLists: string[];
  xuserLists: string[];
  startProcArgs?: string;
  stopProcArgs?: string;
  urgencySlots: string;
  accountingSummary: boolean;
}

function list(v: string | undefined): string[] {
  return !v || v === "NONE" ? [] : v.split(/[\s,]+/).filter(Boolean);
}

export function parseParallelEnvironment(text: string): ParallelEnvironment {
  const kv = parseKeyValues(text);
  if (!kv.pe_name) throw new Error("qconf -sp output has no pe_name");
  const pe: ParallelEnvironment = {
    name: kv.pe_name,
    slots: Number(kv.slots ?? 0),
    allocationRule: kv.allocation_rule ?? "",
    controlSlaves: /^true$/i.test(kv.control_slaves ?? ""),
    jobIsFirstTask: /^true$/i.test(kv.job_is_first_task ?? ""),
    userLists: list(kv.user_lists),
    xuserLists: list(kv.xuser_lists),
    urgencySlots: kv.urgency_slots ?? "",
    accountingSummary: /^true$/i.test(kv.accounting_summary ?? ""),
  };
  if (kv.start_proc_args && kv.start_proc_args !== "NONE") pe.startProcArgs = kv.start_proc_args;
  if (kv.stop_proc_args && kv.stop_proc_args !== "NONE") pe.stopProcArgs = kv.stop_proc_args;
  return pe;
}

export interface QueueInstance {
  /** "all.q@node1" */
  name: string;
  queue: string;
  host: string;
  /** B(atch), I(nteractive), P(arallel) letters. */
  qtype: string;
  slotsUsed: number;
  slotsReserved: number;
  slotsTotal: number;
  load?: number;
  arch?: string;
  /** State letters, "" when healthy: a(larm) u(nknown) d(isabled) E(rror) s(uspended) c(onfig ambiguous) o(rphaned)... */
  state: string;
  /** True when the instance can take jobs: not disabled, in error, unknown, suspended or orphaned. */
  usable: boolean;
  /** What is wrong, in words, when not usable or alarmed. */
  problems: string[];
}

const STATE_WORDS: Record<string, string> = {
  u: "unknown (execd not reporting)",
  a: "load alarm",
  A: "suspend alarm",
  d: "disabled",
  D: "disabled by calendar",
  s: "suspended",
  S: "suspended by subordination",
  C: "suspended by calendar",
  c: "configuration ambiguous",
  E: "error state (see qstat -explain E)",
  o: "orphaned",
};
const UNUSABLE = /[udDsSCEo]/;

export function describeQueueState(state: string): string[] {
  return [...state].map((ch) => STATE_WORDS[ch] ?? `state ${ch}`);
}

/** Queue instances out of `qstat -f -xml` (jobs in it are skipped). */
export async function parseQueueInstances(source: ChunkSource): Promise<QueueInstance[]> {
  const out: QueueInstance[] = [];
  const spec = {
    records: new Set(["Queue-List", "job_list"]),
    roots: new Set(["job_info"]),
  };
  for await (const rec of xmlRecords(source, spec)) {
    if (rec.tag !== "Queue-List") continue;
    const f = rec.fields;
    const name = f.name ?? "";
    const at = name.indexOf("@");
    const state = f.state ?? "";
    const qi: QueueInstance = {
      name,
      queue: at >= 0 ? name.slice(0, at) : name,
      host: at >= 0 ? name.slice(at + 1) : "",
      qtype: f.qtype ?? "",
      slotsUsed: Number(f.slots_used ?? 0),
      slotsReserved: Number(f.slots_resv ?? 0),
      slotsTotal: Number(f.slots_total ?? 0),
      state,
      usable: !UNUSABLE.test(state),
      problems: describeQueueState(state),
    };
    if (f.load_avg !== undefined && f.load_avg !== "") qi.load = Number(f.load_avg);
    if (f.arch) qi.arch = f.arch;
    out.push(qi);
  }
  return out;
}
