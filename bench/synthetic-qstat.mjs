// Synthetic `qstat -u '*' -xml` documents shaped like the recorded real output
// (test/fixtures/sge-8.1.9/qstat-mixed.xml): half running (one row per task), half pending, every
// tenth an array job, 50 users, 100 hosts. longNames: Ray-style names of 30+ characters.
// shape "ocs": as OCS 9.1 writes it (test/fixtures/ocs-9.1/qstat.xml): its schema URL, times with
// microseconds, pending jobs' JAT_submission_time, pending tasks listed as "2,3".
import { createWriteStream } from "node:fs";

export async function writeSyntheticQstat(path, jobs, { longNames = false, shape = "sge" } = {}) {
  const ocs = shape === "ocs";
  const schema = ocs
    ? "https://github.com/hpc-gridware/clusterscheduler/raw/master/source/dist/util/resources/schemas/qstat/qstat.xsd"
    : "http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd";
  const time = (i) => (ocs ? `2026-11-25T17:12:03.${String(420147 + i).slice(-6)}` : "2026-11-25T17:12:03");
  const out = createWriteStream(path);
  const write = (s) => (out.write(s) ? undefined : new Promise((r) => out.once("drain", r)));
  await write(`<?xml version='1.0'?>\n<job_info  xmlns:xsd="${schema}">\n  <queue_info>\n`);
  const running = Math.floor(jobs / 2);
  for (let i = 0; i < jobs; i++) {
    const r = i < running;
    if (i === running) await write("  </queue_info>\n  <job_info>\n");
    const pendingTasks = ocs ? `${(i % 5) + 2},${(i % 5) + 3}` : "4-20:1";
    const tasks = i % 10 === 0 ? `      <tasks>${r ? (i % 7) + 1 : pendingTasks}</tasks>\n` : "";
    await write(
      `    <job_list state="${r ? "running" : "pending"}">\n` +
        `      <JB_job_number>${1000 + i}</JB_job_number>\n` +
        `      <JAT_prio>0.25000</JAT_prio>\n` +
        `      <JB_name>${longNames ? `ray-sge-cluster${i % 20}-worker-cpu-${i}` : `job-${i}`}</JB_name>\n` +
        `      <JB_owner>user${i % 50}</JB_owner>\n` +
        `      <state>${r ? "r" : i % 13 === 0 ? "hqw" : "qw"}</state>\n` +
        (r
          ? `      <JAT_start_time>${time(i)}</JAT_start_time>\n`
          : `      <${ocs ? "JAT" : "JB"}_submission_time>${time(i)}</${ocs ? "JAT" : "JB"}_submission_time>\n`) +
        `      <queue_name>${r ? `all.q@node${i % 100}` : ""}</queue_name>\n` +
        "      <slots>1</slots>\n" +
        tasks +
        "    </job_list>\n",
    );
  }
  await write(`  </job_info>\n</job_info>\n`);
  await new Promise((r) => out.end(r));
}
