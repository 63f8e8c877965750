// Synthetic `qstat -u '*' -xml` documents shaped like the recorded real output
// (test/fixtures/sge-8.1.9/qstat-mixed.xml): half running (one row per task), half pending, every
// tenth an array job, 50 users, 100 hosts. longNames: Ray-style names of 30+ characters.
import { createWriteStream } from "node:fs";

export async function writeSyntheticQstat(path, jobs, { longNames = false } = {}) {
  const out = createWriteStream(path);
  const write = (s) => (out.write(s) ? undefined : new Promise((r) => out.once("drain", r)));
  await write(
    `<?xml version='1.0'?>\n<job_info  xmlns:xsd="http://arc.liv.ac.uk/repos/darcs/sge/source/dist/util/resources/schemas/qstat/qstat.xsd">\n  <queue_info>\n`,
  );
  const running = Math.floor(jobs / 2);
  for (let i = 0; i < jobs; i++) {
    const r = i < running;
    if (i === running) await write("  </queue_info>\n  <job_info>\n");
    const tasks = i % 10 === 0 ? `      <tasks>${r ? (i % 7) + 1 : "4-20:1"}</tasks>\n` : "";
    await write(
      `    <job_list state="${r ? "running" : "pending"}">\n` +
        `      <JB_job_number>${1000 + i}</JB_job_number>\n` +
        `      <JAT_prio>0.25000</JAT_prio>\n` +
        `      <JB_name>${longNames ? `ray-sge-cluster${i % 20}-worker-cpu-${i}` : `job-${i}`}</JB_name>\n` +
        `      <JB_owner>user${i % 50}</JB_owner>\n` +
        `      <state>${r ? "r" : i % 13 === 0 ? "hqw" : "qw"}</state>\n` +
        (r
          ? "      <JAT_start_time>2026-11-25T17:12:03</JAT_start_time>\n"
          : "      <JB_submission_time>2026-11-25T17:12:03</JB_submission_time>\n") +
        `      <queue_name>${r ? `all.q@node${i % 100}` : ""}</queue_name>\n` +
        "      <slots>1</slots>\n" +
        tasks +
        "    </job_list>\n",
    );
  }
  await write(`  </job_info>\n</job_info>\n`);
  await new Promise((r) => out.end(r));
}
