// What Ray users do every day, from the submit host, on an autoscaling cluster (min 0, max 4), with
// the real Ray libraries: drivers through `ray-sge submit` (the head runs them) and interactive ones
// after `eval "$(ray-sge env)"` (a driver node on this host), Ray's own CLI, the dashboard, and Ray's
// logs kept after `down`. Interactive shells run in a PID namespace of their own, as on a real login
// node: Ray finds the raylet a driver attaches to by listing processes, and on this one-kernel testbed
// the emulated hosts' raylets would otherwise be listed too.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, loginShell, PKG_BIN, spawnCli } from "../support/cluster.js";
import { asRoot, clientAs, conf, OTHER_USER, USER, userDir, waitFor } from "../support/testbed.js";

const RAY = `${conf.RAY_VENV}/bin`;
const DRIVERS = new URL("../drivers/", import.meta.url).pathname;
let dir: string;
let config: string;
let head: {
  host: string;
  ip: string;
  dashboard_port: number;
  client_port: number;
  agent_port: number;
  metrics_port: number;
  job_id: string;
  temp_dir: string;
};
let tokenPath: string;
const NAME = "itdrv";

/** An autoscaling cluster: a 2-slot head, 0 to 4 one-slot workers that go after 30 s idle. */
function autoscalingConfig(): string {
  const file = join(dir, `${NAME}.yaml`);
  writeFileSync(
    file,
    `cluster_name: ${NAME}
max_workers: 4
idle_timeout_minutes: 0.5
state_dir: ${dir}/state
sge: { queue: all.q, parallel_environment: smp, project: raysge_demo }
head_node:
  resources: { slots: 2, memory: "2G" }
worker_nodes:
  resources: { slots: 1, memory: "1G" }
  min_workers: 0
  max_workers: 4
setup_commands:
  - source ${conf.RAY_VENV}/bin/activate
`,
  );
  asRoot(["chown", USER, file]);
  return file;
}

beforeAll(() => {
  installForUser();
  dir = userDir("it-drivers");
  for (const f of readdirSync(DRIVERS)) copyFileSync(join(DRIVERS, f), join(dir, f));
  asRoot(["chown", "-R", USER, dir]);
  config = autoscalingConfig();
  const up = cli(["up", config, "--json", "--timeout", "240"], dir);
  expect(up.status, up.stderr).toBe(0);
  const r = JSON.parse(up.stdout);
  head = r.head;
  tokenPath = r.tokenPath;
}, 300_000);

afterAll(() => {
  if (config && existsSync(config)) cli(["down", config], dir);
});

const env = () => `eval "$(${process.execPath} ${PKG_BIN} env ${NAME})"`;

describe("drivers through ray-sge submit (the head runs them)", () => {
  it.each([
    ["data_pipeline.py", /DATA OK 2666466670000 /],
    ["tune_sweep.py", /TUNE OK 8 3/],
    ["actor_pool.py", /ACTORS OK 870 /],
  ])(
    "%s: correct, output streamed, exit code 0",
    (file, ok) => {
      const r = cli(["submit", NAME, "--", `${RAY}/python`, file], dir);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toMatch(ok);
      expect(r.stderr).toMatch(/driver raysubmit_\w+ submitted to itdrv \(the head on node\d runs it\)/);
    },
    240_000,
  );

  it("passes the driver's exit code on, and says when it could not start in this directory", () => {
    expect(cli(["submit", NAME, "--", `${RAY}/python`, "-c", "raise SystemExit(7)"], dir).status).toBe(7);
    // a directory only this host has (a tmpfs in a mount namespace of this shell): the head cannot cd there
    const hidden = spawnSync(
      "unshare",
      [
        "--mount",
        "--propagation",
        "private",
        "bash",
        "-c",
        `mount -t tmpfs -o mode=1777 rsge-only-here /mnt && mkdir /mnt/only-here && chown ${USER} /mnt/only-here && cd /mnt/only-here && runuser -u ${USER} -- ${process.execPath} ${PKG_BIN} submit ${NAME} -- true`,
      ],
      { encoding: "utf8", timeout: 120_000 },
    );
    expect(hidden.status, hidden.stderr).toBe(2); // sh: cd: can't cd to ...
    expect(hidden.stderr).toMatch(/could not start in \/mnt\/only-here on the head's host node\d: .*--working-dir/);
  }, 120_000);

  it("--working-dir uploads the directory as Ray's working_dir (.rayignore honoured), unchanged code is not uploaded twice", () => {
    const wd = join(dir, "wd");
    spawnSync("runuser", ["-u", USER, "--", "mkdir", "-p", join(wd, "big")]);
    writeFileSync(join(wd, "mod.py"), 'WHO = "the owner\'s code"\n');
    writeFileSync(join(wd, "main.py"), "import os, mod\nprint('WD', mod.WHO, sorted(os.listdir('.')))\n");
    writeFileSync(join(wd, "big/data.bin"), "x".repeat(1000));
    writeFileSync(join(wd, ".rayignore"), "big/\n");
    asRoot(["chown", "-R", USER, wd]);
    const first = cli(["submit", NAME, "--working-dir", wd, "--", "python", "main.py"], "/tmp");
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toContain("WD the owner's code ['.rayignore', 'main.py', 'mod.py']");
    expect(first.stderr).toMatch(/uploading .*wd \(3 files/);
    const again = cli(["submit", NAME, "--working-dir", wd, "--", "python", "main.py"], "/tmp");
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/unchanged, already in the cluster/);
  }, 120_000);

  it("--no-wait returns at once; the driver runs on after the session that submitted it is gone; ray-sge job follows it", async () => {
    // the submitting shell is its own session, ended with SIGHUP as at logout
    const r = spawnSync(
      "runuser",
      [
        "-u",
        USER,
        "--",
        "setsid",
        "bash",
        "-c",
        `${process.execPath} ${PKG_BIN} submit ${NAME} --no-wait --json -- bash -c 'sleep 8; echo survived logout'; kill -HUP 0`,
      ],
      { cwd: dir, encoding: "utf8", timeout: 60_000 },
    );
    const id = JSON.parse(r.stdout.trim().split("\n")[0] as string).submissionId as string;
    expect(id).toMatch(/^raysubmit_/);
    const list = cli(["job", "list", NAME, "--json"], dir);
    expect(JSON.parse(list.stdout).map((j: { submissionId: string }) => j.submissionId)).toContain(id);
    const done = await waitFor(
      "the detached driver to succeed",
      async () => {
        const s = JSON.parse(cli(["job", "status", NAME, id, "--json"], dir).stdout);
        return s.status === "SUCCEEDED" ? s : undefined;
      },
      60_000,
      1000,
    );
    expect(done.driverExitCode).toBe(0);
    expect(cli(["job", "logs", NAME, id], dir).stdout).toContain("survived logout");
    expect(cli(["job", "list", NAME], dir).stdout).toMatch(new RegExp(`${id}\\s+SUCCEEDED\\s+0 `));
  }, 120_000);

  it("Ctrl-C stops the driver (exit 130, Ray says STOPPED); job stop stops a detached one", async () => {
    const p = spawnCli(["submit", NAME, "--", "sleep", "300"], dir);
    let err = "";
    p.stderr?.on("data", (d) => {
      err += d;
    });
    await waitFor("the driver to be submitted", async () => /submitted to/.test(err), 60_000);
    const id = /driver (raysubmit_\w+)/.exec(err)?.[1] as string;
    await waitFor(
      "the driver to run",
      async () => JSON.parse(cli(["job", "status", NAME, id, "--json"], dir).stdout).status === "RUNNING",
    );
    p.kill("SIGINT");
    const code = await new Promise<number | null>((res) => p.once("close", res));
    expect(code).toBe(130);
    expect(JSON.parse(cli(["job", "status", NAME, id, "--json"], dir).stdout).status).toBe("STOPPED");

    const detached = JSON.parse(cli(["submit", NAME, "--no-wait", "--json", "--", "sleep", "300"], dir).stdout);
    const stop = cli(["job", "stop", NAME, detached.submissionId], dir);
    expect(stop.status, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/stopped \(STOPPED\)/);
  }, 120_000);
});

describe('interactive drivers and Ray\'s CLI on the submit host after eval "$(ray-sge env)"', () => {
  it("ray.init() with no arguments: Ray Data, Tune and an actor pool are correct; the driver has this host's address", () => {
    const r = loginShell(
      `${env()}
for f in data_pipeline tune_sweep actor_pool; do ${RAY}/python $f.py 2>&1 | grep " OK " || echo "$f FAILED"; done
${RAY}/python -c "import ray; ray.init(); print('DRIVER_IP', ray.util.get_node_ip_address())"`,
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/starting the driver node driver-\S+ on this host/);
    expect(r.stdout).toMatch(/DATA OK 2666466670000 /);
    expect(r.stdout).toMatch(/TUNE OK 8 3/);
    expect(r.stdout).toMatch(/ACTORS OK 870 /);
    expect(r.stdout).not.toMatch(/FAILED/);
    // this host's own address (towards the head), never the head's
    const ip = /DRIVER_IP (\S+)/.exec(r.stdout)?.[1];
    expect(ip).toBe("10.77.0.1");
    expect(ip).not.toBe(head.ip);
  }, 300_000);

  it("Ray's CLI works: ray status, job submit/list/logs/stop, list nodes, summary tasks, logs; a second env reuses the driver node", () => {
    const r = loginShell(
      `${env()}
${env()}
set -e
${RAY}/ray status | grep -c "Node status"
${RAY}/ray job submit --submission-id rsge-cli-$$ -- echo from-ray-job-submit | grep from-ray-job-submit
${RAY}/ray job list | grep -c rsge-cli-$$
${RAY}/ray job logs rsge-cli-$$ | grep -c from-ray-job-submit
${RAY}/ray job submit --no-wait --submission-id rsge-stop-$$ -- sleep 300 >/dev/null
${RAY}/ray job stop rsge-stop-$$ | tail -1
${RAY}/ray list nodes --format yaml | grep -c "state: ALIVE"
${RAY}/ray summary tasks | grep -c "Tasks Summary"
${RAY}/ray logs raylet.out --tail 3 | grep -c "truncated to last 3 lines"
# (the last lines of raylet.out may all be inside one of its multi-line dumps: the whole file)
${RAY}/ray logs raylet.out --tail -1 | grep -c "(raylet)"
echo CLI-OK`,
      dir,
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("CLI-OK");
    expect(r.stdout).toContain("from-ray-job-submit");
    expect(r.stdout).toMatch(/Job 'rsge-stop-\d+' was stopped|stopped/);
    // started once, reused by the second env
    expect(r.stderr.match(/starting the driver node/g)?.length).toBe(1);
  }, 180_000);

  it("without the token, Ray's CLI and the dashboard's API are refused", () => {
    const r = loginShell(
      `${env()}
unset RAY_AUTH_TOKEN_PATH RAY_AUTH_MODE
${RAY}/ray job list 2>&1 | tail -3; echo "job list: $?"
${RAY}/ray list nodes 2>&1 | tail -3
echo wrong > $HOME/.wrong-token; export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$HOME/.wrong-token
${RAY}/ray status 2>&1 | tail -1; rm -f $HOME/.wrong-token`,
      dir,
    );
    expect(r.stdout).toMatch(/Unauthorized|Authentication required|401/);
    expect(r.stdout).toMatch(/InvalidAuthToken|invalid or incorrect/);
    expect(r.stdout).not.toMatch(/ALIVE/);
    const url = `http://${head.ip}:${head.dashboard_port}`;
    const token = readFileSync(tokenPath, "utf8").trim();
    const curl = (args: string[]) =>
      spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args], { encoding: "utf8" }).stdout;
    expect(curl([`${url}/api/jobs/`])).toBe("401");
    expect(curl(["-H", "Authorization: Bearer wrong", `${url}/api/jobs/`])).toBe("403");
    expect(curl(["-H", `Authorization: Bearer ${token}`, `${url}/api/jobs/`])).toBe("200");
    // the page itself loads and asks for the token
    expect(curl([`${url}/`])).toBe("200");
    // the head's job agent wants the token too; Ray's metrics port does not (Ray's default: the README says so)
    expect(curl([`http://${head.ip}:${head.agent_port}/api/job_agent/jobs/x/logs`])).toBe("401");
    expect(curl([`http://${head.ip}:${head.metrics_port}/metrics`])).toBe("200");
    // Ray Client: connects with the token, not without (Ray gives up after its 30 s connection timeout)
    const client = (withToken: boolean) =>
      spawnSync(
        "runuser",
        [
          "-u",
          USER,
          "--",
          "env",
          ...(withToken ? ["RAY_AUTH_MODE=token", `RAY_AUTH_TOKEN_PATH=${tokenPath}`] : []),
          `${RAY}/python`,
          "-c",
          `import ray; ray.init("ray://${head.ip}:${head.client_port}"); print("CONNECTED", ray.cluster_resources()["CPU"] > 0)`,
        ],
        { encoding: "utf8", timeout: 90_000 },
      );
    // Ray's own bug (ray-project/ray#63202, open): the Ray Client proxier's specific server dies at
    // fork now and then ("Initialization failure from server", ZombieProcess); seen in 1 of 3 fresh
    // runs here. Another try is a new specific server; any other failure fails at once.
    let connected = client(true);
    for (let i = 0; i < 2 && /Initialization failure from server/.test(connected.stderr); i++) connected = client(true);
    expect(connected.stdout, `${connected.error ?? ""} ${connected.stderr.slice(-3000)}`).toContain("CONNECTED True");
    const refused = client(false);
    expect(refused.status).not.toBe(0);
    expect(refused.stdout).not.toContain("CONNECTED");
  }, 240_000);

  it("ray-sge dashboard says where it is and how to log in", () => {
    const r = cli(["dashboard", NAME], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Ray dashboard of ${NAME}: http://${head.ip}:${head.dashboard_port}/`);
    expect(r.stdout).toMatch(/ssh -N -L 8265:\S+ \S+@\S+/);
    expect(cli(["dashboard", NAME, "--token"], dir).stdout.trim()).toBe(readFileSync(tokenPath, "utf8").trim());
  });
});

/** Run a script as the second testbed user, as a Grid Engine job on HOST; its output. */
async function asOtherUserOn(host: string, script: string): Promise<string> {
  const other = clientAs(OTHER_USER);
  const home = `/home/${OTHER_USER}`;
  const out = join(home, `probe-${Date.now()}.out`);
  const { jobId } = await other.submit({
    name: "rsge-it-intruder",
    scriptText: script,
    shell: "/bin/bash",
    queue: `all.q@${host}`,
    cwd: home,
    stdoutPath: out,
    joinOutput: true,
  });
  await waitFor(
    "the intruder's job to end",
    async () => (await other.listJobs({ jobIds: [jobId] })).length === 0,
    90_000,
  );
  return readFileSync(out, "utf8");
}

describe("tenants cannot touch each other: the second user on the same hosts", () => {
  it("cannot list, read or write anything under the head's Ray dirs, and a planted working_dir package never runs", async () => {
    // the owner's working_dir job: Ray unpacks it under runtime_resources/working_dir_files on the head
    const wd = join(dir, "victim");
    spawnSync("runuser", ["-u", USER, "--", "mkdir", "-p", wd]);
    writeFileSync(join(wd, "mod.py"), 'WHO = "owner"\n');
    writeFileSync(join(wd, "main.py"), "import mod, os\nprint('RAN', mod.WHO, os.getcwd())\n");
    asRoot(["chown", "-R", USER, wd]);
    const first = cli(["submit", NAME, "--working-dir", wd, "--", "python", "main.py"], "/tmp");
    expect(first.status, first.stderr).toBe(0);
    const pkgDir = /RAN owner (\S+)/.exec(first.stdout)?.[1] as string;
    expect(pkgDir).toMatch(/runtime_resources\/working_dir_files\/_ray_pkg_\w+$/);
    expect(pkgDir.startsWith(head.temp_dir)).toBe(true);

    const t = head.temp_dir;
    const targets = [
      t.replace(/\/ray$/, ""),
      t,
      `${t}/session_latest`,
      `${t}/session_latest/logs`,
      `${t}/session_latest/sockets`,
      `${t}/session_latest/runtime_resources`,
      pkgDir,
    ];
    const out = await asOtherUserOn(
      head.host,
      `${targets.map((p) => `ls '${p}' >/dev/null 2>&1 && echo "LISTED ${p}"; touch '${p}/intruder' 2>/dev/null && echo "WROTE ${p}"`).join("\n")}
cat '${t}/session_latest/logs/raylet.out' >/dev/null 2>&1 && echo READ-LOG
# the attack that worked before: rename the owner's package and plant one's own code in its place
mv '${pkgDir}' /tmp/stolen-$$ 2>/dev/null && echo MOVED-PACKAGE
mkdir -p '${pkgDir}' 2>/dev/null && echo 'WHO = "planted by ${OTHER_USER}"' > '${pkgDir}/mod.py' 2>/dev/null && echo PLANTED
echo "PROBE DONE on $(hostname) as $(id -un)"`,
    );
    expect(out).toContain(`PROBE DONE on ${head.host} as ${OTHER_USER}`);
    expect(out).not.toMatch(/LISTED|WROTE|READ-LOG|MOVED-PACKAGE|PLANTED/);
    // the owner's next run of the same job runs the owner's code
    const again = cli(["submit", NAME, "--working-dir", wd, "--", "python", "main.py"], "/tmp");
    expect(again.stdout).toContain("RAN owner");
    expect(again.stdout).not.toContain("planted");
  }, 180_000);

  it("cannot reach the driver node's dir on the submit host, nor the cluster's state and kept logs", () => {
    const r = loginShell(
      `${env()}\nls -d /tmp/rsge.* | while read d; do [ -O "$d" ] && stat -c "%a %n" "$d"; done`,
      dir,
    );
    expect(r.status, r.stderr).toBe(0);
    const dirs = r.stdout.trim().split("\n").filter(Boolean);
    expect(dirs.length).toBeGreaterThan(0);
    for (const line of dirs) expect(line).toMatch(/^700 \/tmp\/rsge\.\w{6}$/);
    const probe = spawnSync(
      "runuser",
      [
        "-u",
        OTHER_USER,
        "--",
        "bash",
        "-c",
        `for p in ${dirs.map((l) => l.split(" ")[1]).join(" ")} '${dir}/state/${NAME}' '${dir}/state/${NAME}/logs' '${dir}/state/${NAME}/token'; do cat "$p" 2>/dev/null && echo "READ $p"; ls "$p" >/dev/null 2>&1 && echo "LISTED $p"; done; echo done`,
      ],
      { encoding: "utf8" },
    );
    expect(probe.stdout.trim()).toBe("done");
  }, 120_000);
});

describe("Ray's own logs outlive the jobs", () => {
  it("after down, every node's Ray logs are in the log dir (a task's output among them); ray-sge logs --ray shows them", async () => {
    const marker = `TASK-MARKER-${Date.now()}`;
    const task = cli(
      [
        "submit",
        NAME,
        "--",
        `${RAY}/python`,
        "-c",
        `import ray; ray.init(); ray.get(ray.remote(lambda: print("${marker}")).remote())`,
      ],
      dir,
    );
    expect(task.status, task.stderr).toBe(0);
    // a driver node on this host that outlives its shell (not in a login namespace): down stops it
    expect(cli(["env", NAME], dir).status).toBe(0);
    const down = cli(["down", config], dir);
    expect(down.stderr).toMatch(/stopped the driver node on this host/);
    expect(down.status, down.stderr).toBe(0);
    const kept = join(dir, "state", NAME, "logs", "ray");
    const headLogs = join(kept, `${head.job_id}.0`);
    for (const f of ["raylet.out", "gcs_server.out", "dashboard.log"])
      expect(existsSync(join(headLogs, f)), f).toBe(true);
    const grep = spawnSync("grep", ["-rl", marker, kept], { encoding: "utf8" });
    expect(grep.stdout).toMatch(/worker-\w+-\w+-\d+\.out/);
    const list = cli(["logs", NAME, "--ray"], dir);
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout).toContain(`${head.job_id}.0`);
    const one = cli(["logs", NAME, "--ray", "--node", `${head.job_id}.0`, "--file", "gcs_server.out", "-n", "5"], dir);
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toContain(`==> ${head.job_id}.0/gcs_server.out <==`);
    // and the driver node's, stopped by down on this host
    expect(readdirSync(kept).some((n) => n.startsWith("driver-"))).toBe(true);
  }, 180_000);
});
