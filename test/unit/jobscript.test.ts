import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gpuGrantLines } from "../../src/cluster/gpus.js";
import {
  rayResourceArgs,
  renderHeadScript,
  renderWorkerScript,
  type ScriptInput,
} from "../../src/cluster/jobscript.js";
import { KEPT_RAY_LOG_BYTES } from "../../src/cluster/script-parts.js";

const base: ScriptInput = {
  cluster: "demo",
  stateDir: "/home/u/.ray-sge/clusters/demo",
  rayExecutable: "ray",
  nodeType: "head",
  role: "head",
  resourceArgs: rayResourceArgs({ slots: 4, memoryBytes: 16 * 1024 ** 3, gpus: 1, customResources: { a100: 1 } }),
  extraArgs: ["--object-store-memory=1000000"],
  setupCommands: ["source /opt/venv/bin/activate", "echo 'it''s' \"$HOME\""],
  version: "0.1.0",
};

function bashSyntaxOk(script: string): void {
  execFileSync("bash", ["-n"], { input: script });
}

describe("GPU grant", () => {
  const run = (hgr: string | undefined) => {
    const lines = gpuGrantLines("gpu");
    const r = spawnSync(
      "bash",
      [
        "-c",
        `log() { echo "log: $*"; }\n${lines}\necho "n=\${RSGE_NUM_GPUS:-unset} cuda=\${CUDA_VISIBLE_DEVICES:-unset}"`,
      ],
      { encoding: "utf8", env: { PATH: process.env.PATH, ...(hgr === undefined ? {} : { SGE_HGR_gpu: hgr }) } },
    );
    return r.stdout.trim().split("\n").pop();
  };

  it("turns the RSMAP ids Grid Engine granted into CUDA_VISIBLE_DEVICES and Ray's GPU count", () => {
    expect(run("0 1")).toBe("n=2 cuda=0,1");
    expect(run("3")).toBe("n=1 cuda=3");
    // no grant (8.1.9's plain consumable): the config's count, devices as the host has them
    expect(run(undefined)).toBe("n=unset cuda=unset");
  });

  it("is in the script of a node type that requests GPUs, reading that type's complex", () => {
    const s = renderWorkerScript({ ...base, role: "worker", nodeType: "gpu", gpuComplex: "gpu_rsmap" });
    bashSyntaxOk(s);
    expect(s).toContain("printenv 'SGE_HGR_gpu_rsmap'");
    expect(renderWorkerScript({ ...base, role: "worker" })).not.toContain("SGE_HGR_");
  });
});

describe("job scripts", () => {
  it("head: valid bash, token by path, no ray stop, dashboard on the node's address, ids for matching", () => {
    const s = renderHeadScript(base);
    bashSyntaxOk(s);
    expect(s).toMatch(/^#!\/bin\/bash\n/);
    expect(s).toContain('export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$STATE_DIR/token"');
    expect(s).toContain('INSTANCE="$JOB_ID.$TASK"');
    expect(s).toContain('export RAY_CLOUD_INSTANCE_ID="$INSTANCE" RAY_NODE_TYPE_NAME="$NODE_TYPE"');
    // reachable from the submit host; the token protects it (Ray answers 401 without it)
    expect(s).toContain('--dashboard-host="$NODE_IP"');
    expect(s).not.toContain("0.0.0.0");
    expect(s).toContain("--no-monitor");
    expect(s).toContain("export RAY_enable_autoscaler_v2=1");
    expect(s).not.toMatch(/ray stop/);
    expect(s).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, meant literally
      '"--num-cpus=${NSLOTS:-4}" "--memory=17179869184" "--num-gpus=${RSGE_NUM_GPUS:-1}" "--resources={\\"a100\\":1}"',
    );
    expect(s).toContain("'--object-store-memory=1000000'");
    expect(s).toContain("STATE_DIR='/home/u/.ray-sge/clusters/demo'");
  });

  it("head with the autoscaler: started after the head is up, only where node, the CLI and Grid Engine work; stopped with Ray", () => {
    const s = renderHeadScript({
      ...base,
      autoscaler: { node: "/usr/bin/node", cli: "/opt/ray sge/bin/ray-sge.js", spec: "/home/u/s/spec.json" },
    });
    bashSyntaxOk(s);
    expect(s).toContain("RSGE_NODE='/usr/bin/node'; RSGE_CLI='/opt/ray sge/bin/ray-sge.js'");
    expect(s).toContain('elif ! qstat -j "$JOB_ID" >/dev/null 2>&1; then RSGE_AUTOSCALER="unavailable:');
    expect(s).toContain(
      `"$RSGE_NODE" "$RSGE_CLI" autoscaler '/home/u/s/spec.json' --mode "head job $JOB_ID" >> "$STATE_DIR/logs/autoscaler.$JOB_ID.out" 2>&1 &`,
    );
    expect(s).toContain('log "autoscaler exited with code $rc: restarting it in 5 s"');
    // after head.json is published (the autoscaler reads it), and killed when Ray stops
    expect(s.indexOf("autoscaler '/home/u/s/spec.json'")).toBeGreaterThan(s.indexOf('PUBLISH\nlog "head up'));
    expect(s).toContain('[ -n "$AUTOSCALER_PID" ] && kill -TERM "$AUTOSCALER_PID"');
    expect(s).toContain('"autoscaler": os.environ.get("RSGE_AUTOSCALER", "off")');
    expect(renderHeadScript(base)).toContain("export RSGE_AUTOSCALER=off");
  });

  it("gives node labels to Ray", () => {
    expect(
      rayResourceArgs({ slots: 2, gpus: 0, customResources: {}, labels: { tier: "fast", "zone.a": "x-1" } }),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, meant literally
    ).toEqual(["--num-cpus=${NSLOTS:-2}", "--labels=tier=fast,zone.a=x-1"]);
  });

  it("pins ports only when asked", () => {
    expect(renderHeadScript(base)).not.toMatch(/^PORT_gcs=\d+$/m);
    const pinned = renderHeadScript({ ...base, gcsPort: 6379, dashboardPort: 8265 });
    expect(pinned).toMatch(/^PORT_gcs=6379$/m);
    expect(pinned).toMatch(/^PORT_dashboard=8265$/m);
    bashSyntaxOk(pinned);
  });

  it("worker: waits for the head's address for a bounded time, never starts a head", () => {
    const s = renderWorkerScript({ ...base, role: "worker", nodeType: "gpu", headWaitSeconds: 30 });
    bashSyntaxOk(s);
    expect(s).toContain('[ "$waited" -ge 30 ]');
    expect(s).toContain('--address="$HEAD_ADDR"');
    expect(s).not.toContain("--head");
    expect(s).toContain("NODE_TYPE='gpu'");
    // a worker whose head is gone ends 10 s later (Ray's default: 60 s); the head has no such limit
    expect(s).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, meant literally
      'export RAY_gcs_rpc_server_reconnect_timeout_s="${RAY_gcs_rpc_server_reconnect_timeout_s:-10}"',
    );
    expect(renderHeadScript(base)).not.toContain("reconnect_timeout");
  });

  it("quotes hostile values from the config", () => {
    const s = renderHeadScript({ ...base, stateDir: "/tmp/a'b $(id)", rayExecutable: "ray; rm -rf ~" });
    bashSyntaxOk(s);
    expect(s).toContain(`STATE_DIR='/tmp/a'\\''b $(id)'`);
    expect(s).toContain(`command -v 'ray; rm -rf ~'`);
  });

  it("runs setup commands in the job's shell and stops on the first failure", () => {
    // run the rendered setup part for real: a failing command ends the script with a clear line
    const s = renderWorkerScript({ ...base, role: "worker", setupCommands: ["X=1", "test $X = 2", "echo never"] });
    const setupPart = s.slice(0, s.indexOf("RAY_BIN="));
    let out = "";
    let code = 0;
    try {
      execFileSync("bash", ["-c", setupPart], { env: { ...process.env, JOB_ID: "7" }, encoding: "utf8" });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
      code = (e as { status: number }).status;
    }
    expect(code).toBe(1);
    expect(out).toMatch(/setup 1\/3: X=1/);
    expect(out).toMatch(/ERROR: setup command 2\/3 failed: test \$X = 2 \(exit 1\)/);
    expect(out).not.toMatch(/echo never/);
  });

  /** The part of a rendered script between two markers, to run for real. */
  function part(script: string, from: string, to: string): string {
    const a = script.indexOf(from);
    const b = script.indexOf(to, a);
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(a);
    return script.slice(a, b);
  }
  const preamble = 'log() { echo "$*"; }; fail() { echo "ERROR: $*"; exit 1; }; JOB_ID=7; TASK=1; INSTANCE=7.1\n';

  it("puts Ray's temp dir inside a 0700 directory Ray does not create, in $TMP or a fresh one under /tmp", () => {
    const s = renderHeadScript(base);
    const privatePart = `${preamble}${part(s, "RSGE_PRIVATE=", "# free ports")}echo "RAY_TEMP=$RAY_TEMP TMPDIR=$TMPDIR MODE=$(stat -c %a "$RSGE_PRIVATE")"\n`;
    const run = (tmp: string) => {
      const r = spawnSync("bash", ["-c", privatePart], { env: { ...process.env, TMP: tmp }, encoding: "utf8" });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const temp = /RAY_TEMP=(\S+)/.exec(r.stdout)?.[1] as string;
      return { temp, tmpdir: /TMPDIR=(\S+)/.exec(r.stdout)?.[1] as string, mode: /MODE=(\d+)/.exec(r.stdout)?.[1] };
    };
    // SGE's per-job $TMP (0755, ours): Ray's dir goes in $TMP/p, which is 0700
    const jobTmp = mkdtempSync(join(tmpdir(), "jt-"));
    const a = run(jobTmp);
    expect(a.temp).toBe(`${jobTmp}/p/ray`);
    expect(a.mode).toBe("700");
    expect(statSync(`${jobTmp}/p`).mode & 0o777).toBe(0o700);
    expect(a.tmpdir).toBe(`${jobTmp}/p/tmp`);
    // a $TMP too long for Ray's unix sockets: a fresh private directory under /tmp
    const long = join(jobTmp, "x".repeat(40));
    mkdirSync(long);
    const b = run(long);
    expect(b.temp).toMatch(/^\/tmp\/rsge\.[A-Za-z0-9]{6}\/ray$/);
    expect(b.mode).toBe("700");
    // removed when the script exits (SGE's $TMP is removed by execd; this one is ours to remove)
    expect(existsSync(b.temp.replace(/\/ray$/, ""))).toBe(false);
    // the longest socket path Ray makes (sockets/dash_MetricsHead in a session dir) stays below 107 bytes
    const session = "session_2026-12-01_19-24-47_773640_4194304";
    expect(`${"x".repeat(32)}/p/ray/${session}/sockets/dash_MetricsHead`.length).toBeLessThan(108);
  });

  it("keeps Ray's logs when Ray exits: newest files first, bounded, a file that does not fit keeps its end", () => {
    const s = renderWorkerScript({ ...base, role: "worker" });
    expect(s).toMatch(
      /log "Ray exited with code \$rc"\n.*\nsave_ray_logs\n(#.*\n)*\[ "\$\{STOP_SIGNAL:-\}" = USR2 \] && rc=140\nexit "\$rc"/,
    );
    const fn = part(s, "save_ray_logs() {", "\nRAY_PID=");
    const root = mkdtempSync(join(tmpdir(), "rl-"));
    const logs = join(root, "ray/session_latest/logs");
    mkdirSync(join(logs, "old"), { recursive: true });
    writeFileSync(join(logs, "old/raylet.1.out"), "o".repeat(1000));
    writeFileSync(join(logs, "worker-1.out"), `${"a".repeat(900)}THE END`);
    writeFileSync(join(logs, "raylet.out"), "r".repeat(100));
    const t = Date.now() / 1000;
    utimesSync(join(logs, "old/raylet.1.out"), t - 300, t - 300);
    utimesSync(join(logs, "worker-1.out"), t - 200, t - 200);
    utimesSync(join(logs, "raylet.out"), t - 100, t - 100);
    const budget = 500;
    const script = `${preamble}STATE_DIR=${root}/state; RAY_TEMP=${root}/ray; RAY_PY=python3\n${fn.replace(String(KEPT_RAY_LOG_BYTES), String(budget))}\nsave_ray_logs\n`;
    const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const kept = join(root, "state/logs/ray/7.1");
    expect(r.stdout).toContain(`Ray's logs kept in ${kept}`);
    expect(readFileSync(join(kept, "raylet.out"), "utf8")).toBe("r".repeat(100));
    const worker = readFileSync(join(kept, "worker-1.out"), "utf8");
    expect(worker.length).toBe(budget - 100);
    expect(worker.endsWith("THE END")).toBe(true);
    expect(readdirSync(kept)).not.toContain("old");
    expect(statSync(kept).mode & 0o777).toBe(0o700);
    expect(statSync(join(kept, "raylet.out")).mode & 0o777).toBe(0o600);
  });

  it("head: refuses a Ray without ray[default] with a clear line", () => {
    expect(renderHeadScript(base)).toContain("lacks ray[default] (grpcio, aiohttp)");
  });
});

describe("job scripts and Grid Engine's signals", () => {
  it("SIGUSR2 to the job's process group (qdel -notify) stops Ray through this script, not by killing it", async () => {
    const s = renderWorkerScript({ ...base, role: "worker" });
    const from = s.indexOf("save_ray_logs() {");
    const run = `log() { echo "$*"; }; RAY_TEMP=/nonexistent; STATE_DIR=/nonexistent; RAY_PY=python3; JOB_ID=7; TASK=1; INSTANCE=7.1
RAY_BIN=sleep; RAY_ARGS=(30)
${s.slice(from, s.indexOf('\nexit "$rc"', from))}
echo "RC=$rc"
`;
    const { spawn } = await import("node:child_process");
    // from a file, as execd runs it (bash reads a script file as it goes)
    const file = join(mkdtempSync(join(tmpdir(), "sig-")), "job.sh");
    writeFileSync(file, run);
    const p = spawn("bash", [file], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout?.on("data", (d) => {
      out += d;
    });
    await new Promise((r) => setTimeout(r, 500));
    // Grid Engine signals the whole group: the script, and Ray (here: sleep) with it
    process.kill(-(p.pid as number), "SIGUSR2");
    const code = await new Promise<number | null>((r) => p.once("close", r));
    expect(code).toBe(0);
    expect(out).toContain("signal USR2: stopping this job's Ray (gracefully)");
    // ended by the script's SIGTERM (143), not by the SIGUSR2 itself; the job then exits 140 (128 +
    // SIGUSR2), what accounting shows for a deleted job
    expect(out).toContain("Ray exited with code 143");
    expect(out).toContain("RC=140");
    // the traps' log lines use no command substitution: bash 5.2 fails to parse one in a trap that
    // interrupts wait in a job ("unexpected EOF while looking for matching )", measured at qdel -notify)
    const log = /\nlog\(\) \{[^\n]*\}/.exec(s)?.[0] ?? "";
    expect(log).toContain("printf");
    expect(log).not.toContain("$(");
  });
});

describe("the CLI's own signal guards", () => {
  it("SIGUSR1 (s_rt) neither kills ray-sge nor opens Node's inspector", async () => {
    const { execFileSync } = await import("node:child_process");
    const root = new URL("../../", import.meta.url).pathname;
    const main = join(root, "dist/cli/main.js");
    if (!existsSync(main)) execFileSync("npm", ["run", "--silent", "build"], { cwd: root });
    const probe = (guard: boolean) =>
      execFileSync(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `const m = await import(${JSON.stringify(main)}); const inspector = await import("node:inspector");
${guard ? "m.installSignalGuards();" : ""} process.kill(process.pid, "SIGUSR1");
setTimeout(() => { console.log(inspector.url() === undefined ? "no inspector" : "INSPECTOR OPEN"); inspector.close(); }, 300);`,
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      ).trim();
    // without the guard Node opens its inspector on SIGUSR1 (the probe can tell); with it, nothing happens
    expect(probe(false)).toBe("INSPECTOR OPEN");
    expect(probe(true)).toBe("no inspector");
  });
});
