// Ray's own launcher as the front door (issue 17): `ray up`, `ray get-head-ip`, `ray submit`, `ray exec`,
// `ray dashboard`, `ray down` with ray_sge_provider, as the unprivileged user, with real Grid Engine,
// real Ray and Ray's real `ray` CLI. One cluster serves every check, in order.

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, writeConfig } from "../support/cluster.js";
import { installProvider, RAY_VENV, ray, rayInBackground, rayProcessesOfUser } from "../support/launcher.js";
import { asRoot, clientAs, HOME, OTHER_USER, USER, userDir, waitFor } from "../support/testbed.js";

const sge = clientAs();
const other = clientAs(OTHER_USER);
const NAME = "itray";
let dir: string;
let config: string;
let rayForm: string;
const fillers: number[] = [];

type Node = {
  instanceId: string;
  role: string;
  nodeType: string;
  ray: string;
  sgeStatus: string;
  host?: string;
  ip?: string;
};
type Status = {
  head?: { job_id: string; ip: string; started_at: number; dashboard_port: number };
  nodes: Node[];
  stateDir: string;
};
const status = (): Status => {
  const r = cli(["status", config, "--json"], dir);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
};

beforeAll(() => {
  installForUser();
  installProvider();
  dir = userDir("it-ray-launcher");
  config = writeConfig(dir, NAME);
  copyFileSync(new URL("../../examples/guide_app.py", import.meta.url), join(dir, "guide_app.py"));
  asRoot(["chown", USER, join(dir, "guide_app.py")]);
});
afterAll(async () => {
  if (fillers.length > 0) await other.deleteJobs(fillers).catch(() => undefined);
  for (const f of [config, rayForm]) if (f && existsSync(f)) cli(["down", f], dir);
});

describe("ray up / exec / submit / down with ray_sge_provider", () => {
  it("ray up shows Grid Engine's reason while the head waits, then brings the cluster up as ray-sge up does", async () => {
    // the queue is full: the second user's jobs hold every slot of the three hosts
    for (let i = 0; i < 3; i++) {
      const { jobId } = await other.submit({
        name: "it-filler",
        command: "sleep",
        args: ["600"],
        parallelEnvironment: { name: "smp", slots: 4 },
        stdoutPath: "/dev/null",
        joinOutput: true,
      });
      fillers.push(jobId);
    }
    await waitFor("the fillers to run", async () =>
      (await other.listJobs()).filter((j) => fillers.includes(j.id) && j.status === "running").length === 3
        ? true
        : undefined,
    );
    const started = Date.now() / 1000;
    const up = rayInBackground(["up", "-y", config], dir);
    const reason = await waitFor(
      "the head's reason in ray up's output",
      async () => /head job \d+: qw, waiting: (.+)/.exec(up.out())?.[1],
    );
    expect(reason).toMatch(/slots|queue|PE|parallel environment/);
    await other.deleteJobs(fillers.splice(0));
    const code = await Promise.race([up.done, new Promise<number>((r) => setTimeout(() => r(-2), 300_000))]);
    expect(code, up.out()).toBe(0);
    const out = up.out();
    expect(out).toContain("Ray was started by the head job");
    expect(out.indexOf("no SSH is involved")).toBeLessThan(out.indexOf("Useful commands"));

    const s = status();
    expect(s.nodes.map((n) => `${n.role}:${n.sgeStatus}:${n.ray}`).sort()).toEqual([
      "head:running:ALIVE",
      "worker:running:ALIVE",
      "worker:running:ALIVE",
    ]);
    expect(s.head?.started_at).toBeGreaterThan(started - 5);
    // as ray-sge up makes it: the token private, the autoscaler running in the head job
    const token = join(s.stateDir, "token");
    expect(statSync(token).mode & 0o777).toBe(0o600);
    expect(statSync(s.stateDir).mode & 0o777).toBe(0o700);
    expect(existsSync(join(s.stateDir, "autoscaler.json"))).toBe(true);
    // and nothing of Ray's launcher holds the token: no bootstrap copy in the home, not in Ray's config cache
    expect(existsSync(join(HOME, "ray_bootstrap_config.yaml"))).toBe(false);
    const secret = readFileSync(token, "utf8").trim();
    const caches = readdirSync("/tmp").filter((f) => f.startsWith("ray-config-"));
    expect(caches.length).toBeGreaterThan(0);
    for (const f of caches) expect(readFileSync(join("/tmp", f), "utf8")).not.toContain(secret);
    expect(statSync(join(s.stateDir, "ray-tags.json")).mode & 0o777).toBe(0o600);
  });

  it("ray get-head-ip is the head of ray-sge status; get-worker-ips its workers", () => {
    const s = status();
    const head = ray(["get-head-ip", config], dir);
    expect(head.status, head.out).toBe(0);
    expect(head.out.trim().split("\n").at(-1)).toBe(s.head?.ip);
    const workers = ray(["get-worker-ips", config], dir);
    expect(workers.status, workers.out).toBe(0);
    const ips = s.nodes.filter((n) => n.role === "worker").map((n) => n.ip);
    expect(workers.out.trim().split("\n").slice(-2).sort()).toEqual(ips.sort());
  });

  it("the guide's app through ray submit and ray exec; exec brings the exit code back", () => {
    const submitted = ray(["submit", config, "guide_app.py"], dir);
    expect(submitted.status, submitted.out).toBe(0);
    expect(submitted.out).toContain("Results: [0, 1, 4, 9, 16,");
    expect(submitted.out).toContain("runs");
    // run where it is: nothing was copied into the home
    expect(existsSync(join(HOME, "guide_app.py"))).toBe(false);

    const exec = ray(["exec", config, `cd ${dir} && python guide_app.py && hostname && exit 3`], dir);
    expect(exec.status, exec.out).toBe(3);
    expect(exec.out).toContain("Results: [0, 1, 4, 9, 16,");
    // it ran in the head job, on the head's host
    const head = status().nodes.find((n) => n.role === "head") as Node;
    expect(exec.out.split("\n")).toContain(head.host);
  });

  it("a second ray up neither starts a second head nor restarts the live one", async () => {
    const before = status();
    const again = ray(["up", "-y", config], dir);
    expect(again.status, again.out).toBe(0);
    expect(again.out).toContain("reconciling it with `ray-sge up`");
    expect(again.out).not.toMatch(/Relaunching|Launched a new head/);
    const after = status();
    expect(after.head?.job_id).toBe(before.head?.job_id);
    expect(after.head?.started_at).toBe(before.head?.started_at);
    const heads = (await sge.listJobs()).filter((j) => j.name === `rsge-${NAME}-head`);
    expect(heads).toHaveLength(1);
  });

  it("ray dashboard forwards a local port to the dashboard, which asks for the token", async () => {
    const port = 20000 + Math.floor(Math.random() * 5000);
    const dash = rayInBackground(["dashboard", "-p", String(port), config], dir);
    try {
      const page = await waitFor("the forward", async () => (await fetch(`http://127.0.0.1:${port}/`)).status);
      expect(page).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/api/jobs/`)).status).toBe(401);
      expect(dash.out()).toContain("the page asks for the cluster's token");
    } finally {
      asRoot(["pkill", "-INT", "-u", USER, "-f", "ray dashboard"]);
    }
    expect(await dash.done).toBe(0);
  });

  it("a broken YAML: ray up exits non-zero with ray-sge's file:line:col, nothing submitted", async () => {
    const jobsBefore = (await sge.listJobs()).map((j) => j.id).sort();
    const broken = join(dir, "broken.yaml");
    asRoot(["cp", config, broken]);
    asRoot(["sed", "-i", "s/slots: 2/slots: two/; s/cluster_name: itray/cluster_name: itbroken/", broken]);
    asRoot(["chown", USER, broken]);
    const r = ray(["up", "-y", broken], dir);
    expect(r.status, r.out).not.toBe(0);
    expect(r.out).toMatch(/broken\.yaml:\d+:\d+: worker_nodes\.resources\.slots: expected number/);
    expect((await sge.listJobs()).map((j) => j.id).sort()).toEqual(jobsBefore);
  });

  it("the second user cannot plant Ray's cached view of the YAML: ray refuses it, nothing runs", async () => {
    // Ray reads $TMPDIR/ray-config-<sha256 of the prepared YAML> instead of the YAML when it is there;
    // the second user can read the YAML (0644) and so name the file before the owner's next ray command
    const open = userDir("it-ray-plant");
    asRoot(["chmod", "0755", open]);
    const planted = join(open, "planted.yaml");
    asRoot(["cp", config, planted]);
    asRoot(["chown", USER, planted]);
    asRoot(["sed", "-i", "s/cluster_name: itray/cluster_name: itplant/", planted]);
    asRoot(["chmod", "0644", planted]);
    const plant = [
      "import hashlib, json, os, sys, tempfile, yaml",
      "from ray.autoscaler._private.util import prepare_config",
      "cfg = prepare_config(yaml.safe_load(open(sys.argv[1])))",
      "key = hashlib.sha256(json.dumps([cfg], sort_keys=True).encode('utf-8')).hexdigest()",
      "path = os.path.join(tempfile.gettempdir(), 'ray-config-' + key)",
      "cfg['file_mounts'] = {'~/stolen': '~/.ray-sge'}",
      "json.dump({'_version': 1, 'provider_log_info': None, 'config': cfg}, open(path, 'w'))",
      "os.chmod(path, 0o644)",
      "print(path)",
    ].join("\n");
    const r = spawnSync("runuser", ["-u", OTHER_USER, "--", `${RAY_VENV}/bin/python`, "-c", plant, planted], {
      encoding: "utf8",
      cwd: "/tmp",
    });
    expect(r.status, r.stderr).toBe(0);
    const cache = r.stdout.trim().split("\n").at(-1) as string;
    try {
      const jobsBefore = (await sge.listJobs()).map((j) => j.id).sort();
      const up = ray(["up", "-y", planted], dir);
      expect(up.status, up.out).toBe(1);
      expect(up.out).toContain(`Ray's cached config ${cache} is not yours alone`);
      expect((await sge.listJobs()).map((j) => j.id).sort()).toEqual(jobsBefore);
      expect(existsSync(join(HOME, "stolen"))).toBe(false);
    } finally {
      asRoot(["rm", "-f", cache]);
    }
  });

  it("ray down deletes every job of the cluster and leaves no Ray process, without ray stop", async () => {
    const down = ray(["down", "-y", config], dir);
    expect(down.status, down.out).toBe(0);
    expect(down.out).toContain("not running `ray stop`");
    expect(down.out).toContain("No nodes remaining");
    expect(await sge.listJobs()).toEqual([]);
    await waitFor("no Ray process of the user", async () => rayProcessesOfUser() === "" || undefined, 30_000);
  });
});

describe("a YAML in Ray's own form, with both front doors", () => {
  it("ray-sge up brings it up, ray up adopts that cluster (no second head), ray down removes it", async () => {
    // examples/ray-cluster.yaml: available_node_types, head_node_type, resources {CPU, memory}, node_config
    rayForm = join(dir, "itrayform.yaml");
    const text = readFileSync(new URL("../../examples/ray-cluster.yaml", import.meta.url), "utf8")
      .replace("cluster_name: ray-cluster", "cluster_name: itrayform")
      .replace("max_workers: 10\n", `max_workers: 10\nstate_dir: ${dir}/state\n`);
    writeFileSync(rayForm, text);
    asRoot(["chown", USER, rayForm]);
    const up = cli(["up", rayForm, "--json", "--timeout", "240"], dir);
    expect(up.status, up.stderr).toBe(0);
    const r = JSON.parse(up.stdout);
    expect(r.workersAlive).toBe(2);
    const s = JSON.parse(cli(["status", rayForm, "--json"], dir).stdout) as Status;
    expect(s.nodes.map((n) => `${n.nodeType}:${n.ray}`).sort()).toEqual([
      "head:ALIVE",
      "ray.worker.default:ALIVE",
      "ray.worker.default:ALIVE",
    ]);

    const adopt = ray(["up", "-y", rayForm], dir);
    expect(adopt.status, adopt.out).toBe(0);
    expect(adopt.out).not.toMatch(/No head node found|Launched a new head|Relaunching/);
    expect(adopt.out).toContain("reconciling it with `ray-sge up`");
    const after = JSON.parse(cli(["status", rayForm, "--json"], dir).stdout) as Status;
    expect(after.head?.job_id).toBe(r.head.job_id);
    expect(after.head?.started_at).toBe(r.head.started_at);
    const ip = ray(["get-head-ip", rayForm], dir);
    expect(ip.out.trim().split("\n").at(-1)).toBe(r.head.ip);

    const down = ray(["down", "-y", rayForm], dir);
    expect(down.status, down.out).toBe(0);
    expect(await sge.listJobs()).toEqual([]);
  });
});
