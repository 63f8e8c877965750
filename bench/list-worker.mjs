// One measurement in a fresh process, so its peak RSS is its own: `node list-worker.mjs ours|baseline`
// with PATH leading to a stand-in `qstat` that prints the synthetic document.
// ours:     the real SgeClient.listJobs() path (spawn qstat, stream through saxes, typed entries)
// baseline: spawn the same qstat, buffer the whole output, fast-xml-parser, map to the same entries
// each mode loads only what it uses, so neither pays for the other's code in its peak RSS
import { spawn } from "node:child_process";

async function baseline({ XMLParser, jobStatus, parseTaskRanges }) {
  const child = spawn("qstat", ["-xml"], { stdio: ["ignore", "pipe", "inherit"] });
  const chunks = [];
  for await (const c of child.stdout) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  const doc = new XMLParser({ ignoreAttributes: false, parseTagValue: false }).parse(text);
  const rows = [...[doc.job_info.queue_info?.job_list ?? []].flat(), ...[doc.job_info.job_info?.job_list ?? []].flat()];
  return rows.map((f) => {
    const e = {
      id: Number(f.JB_job_number),
      name: f.JB_name,
      owner: f.JB_owner,
      state: f.state,
      status: jobStatus(f.state),
      priority: Number(f.JAT_prio),
      slots: Number(f.slots),
    };
    const submitted = f.JB_submission_time ?? f.JAT_submission_time; // 8.1.9, 9.x
    if (submitted) e.submittedAtMs = new Date(submitted).getTime();
    if (f.JAT_start_time) e.startedAtMs = new Date(f.JAT_start_time).getTime();
    if (f.queue_name) {
      e.queue = f.queue_name;
      e.host = f.queue_name.split("@")[1];
    }
    if (f.tasks) {
      const r = parseTaskRanges(String(f.tasks));
      if (r.length === 1 && r[0].first === r[0].last) e.taskId = r[0].first;
      else e.taskRanges = r;
    }
    return e;
  });
}

async function ours({ SgeClient }) {
  return new SgeClient({ timeoutMs: 600_000 }).listJobs({ users: "all" });
}

const mode = process.argv[2];
// modules are loaded before the clock starts
const mods =
  mode === "ours"
    ? await import("../dist/sge/client.js")
    : { ...(await import("fast-xml-parser")), ...(await import("../dist/sge/qstat.js")) };
const t0 = performance.now();
const jobs = mode === "ours" ? await ours(mods) : await baseline(mods);
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ mode, jobs: jobs.length, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
