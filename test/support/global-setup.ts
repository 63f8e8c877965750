/**
 * Integration tests need the testbed: bring it up when `scripts/testbed status` says it is not
 * (needs root, as on CI and the README's fresh machine), and afterwards remove every job the test
 * users still have, failing loudly if any were left.
 */
import { spawnSync } from "node:child_process";
import { OTHER_USER, TESTBED_SCRIPT, USER } from "./testbed.js";

function run(argv: string[]): { status: number; out: string } {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Which scheduler the tests want: 8.1.9 unless scripts/test's OCS pass says ocs. */
const WANT = process.env.RSGE_TESTBED_SCHEDULER === "ocs" ? "ocs" : "sge";

/**
 * On 8.1.9 this process and the test workers it starts must use Debian's commands: a shell that
 * sourced OCS's settings.sh (an earlier run left the testbed on OCS) has OCS's bin dir first on PATH
 * and its SGE_ROOT, with which every client command fails. Workers inherit process.env as set here.
 */
function useDebianCommands(): void {
  for (const v of ["SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT", "SGE_CLUSTER_NAME"])
    delete process.env[v];
  process.env.PATH = (process.env.PATH ?? "")
    .split(":")
    .filter((d) => !d.startsWith("/opt/ray-sge/ocs-"))
    .join(":");
}

export async function setup(): Promise<void> {
  if (WANT === "sge") useDebianCommands();
  const status = run([TESTBED_SCRIPT, "status"]);
  const running = /^scheduler: .*\((sge|ocs)\)$/m.exec(status.out)?.[1];
  if (status.status === 0 && running === WANT) return;
  if (WANT === "ocs") {
    // this process's PATH and SGE_ROOT must already be the OCS cell's: it cannot switch itself
    throw new Error(
      `the OCS tests need the testbed on Open Cluster Scheduler (it is ${running ?? "not up"}): run \`scripts/testbed up --scheduler ocs\` and \`. /etc/profile.d/ray-sge-testbed.sh\` first (scripts/test does both)`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      "the integration tests need the Grid Engine testbed on 8.1.9: run `sudo scripts/testbed up` first (or run the tests as root)",
    );
  }
  process.stdout.write(
    running === "ocs"
      ? "integration tests: the testbed runs OCS; switching it to 8.1.9 (scripts/testbed up)\n"
      : "integration tests: the testbed is not up; running scripts/testbed up\n",
  );
  const up = spawnSync(TESTBED_SCRIPT, ["up"], { stdio: "inherit" });
  if (up.status !== 0) throw new Error(`scripts/testbed up failed with exit code ${up.status}`);
}

export async function teardown(): Promise<void> {
  const users = `${USER},${OTHER_USER}`;
  const left = run(["qstat", "-u", users]).out.trim();
  if (left) run(["qdel", "-f", "-u", users]);
  // Ray processes of the test users (jobs' ones die with their jobs; give them a moment)
  let ray = "";
  for (let i = 0; i < 20; i++) {
    ray = run([
      "pgrep",
      "-a",
      "-u",
      users,
      "-f",
      "raylet|gcs_server|ray start|default_worker|ray-sge.js autoscaler",
    ]).out.trim();
    if (!ray) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (ray)
    run(["pkill", "-KILL", "-u", users, "-f", "raylet|gcs_server|ray start|default_worker|ray-sge.js autoscaler"]);
  if (left || ray) {
    throw new Error(
      `integration tests left things behind (now removed):${left ? `\njobs:\n${left}` : ""}${ray ? `\nRay processes:\n${ray}` : ""}`,
    );
  }
}
