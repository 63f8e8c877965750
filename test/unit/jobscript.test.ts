import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  rayResourceArgs,
  renderHeadScript,
  renderWorkerScript,
  type ScriptInput,
} from "../../src/cluster/jobscript.js";

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

describe("job scripts", () => {
  it("head: valid bash, token by path, no ray stop, dashboard on localhost, ids for matching", () => {
    const s = renderHeadScript(base);
    bashSyntaxOk(s);
    expect(s).toMatch(/^#!\/bin\/bash\n/);
    expect(s).toContain('export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$STATE_DIR/token"');
    expect(s).toContain('export RAY_CLOUD_INSTANCE_ID="$JOB_ID.$TASK" RAY_NODE_TYPE_NAME="$NODE_TYPE"');
    expect(s).toContain("--dashboard-host=127.0.0.1");
    expect(s).toContain("--no-monitor");
    expect(s).toContain("export RAY_enable_autoscaler_v2=1");
    expect(s).not.toMatch(/ray stop/);
    expect(s).toContain('"--num-cpus=${NSLOTS:-4}" "--memory=17179869184" "--num-gpus=1" "--resources={\\"a100\\":1}"');
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
});
