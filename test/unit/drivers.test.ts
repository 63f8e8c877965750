// Drivers from the submit host: the Jobs API client (wire shapes, errors, the log stream), working_dir
// packages, the env/submit/job/dashboard renderers, the connection view and the driver node's script.
// Error paths against local stand-in servers; the real thing is in test/integration/drivers.test.ts.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { renderDashboard } from "../../src/cli/dashboard.js";
import { renderEnv } from "../../src/cli/env.js";
import { renderJobs } from "../../src/cli/job.js";
import { globMatch } from "../../src/cli/ray-logs.js";
import { entrypointFor, exitCodeOf } from "../../src/cli/submit.js";
import { connectionFrom } from "../../src/cluster/connection.js";
import { renderDriverNodeScript } from "../../src/cluster/jobscript.js";
import type { HeadInfo } from "../../src/cluster/state-dir.js";
import { JobsClient, jobFromWire, RayJobsError, submitBody } from "../../src/ray/jobs.js";
import { packageWorkingDir } from "../../src/ray/package.js";
import type { JobEntry } from "../../src/sge/qstat.js";

const head: HeadInfo = {
  cluster: "c",
  job_id: "12",
  host: "node1",
  ip: "10.0.0.5",
  gcs_port: 4000,
  dashboard_port: 5000,
  client_port: 6000,
  temp_dir: "/tmp/x/p/ray",
  started_at: 1,
};

describe("Ray's Jobs API: wire <-> domain", () => {
  it("reads a job, leaving out what Ray leaves null", () => {
    expect(
      jobFromWire({
        submission_id: "raysubmit_a",
        job_id: "02000000",
        status: "SUCCEEDED",
        entrypoint: "python x.py",
        message: null,
        driver_exit_code: 0,
        start_time: 10,
        end_time: 20,
        metadata: { user: "u" },
      }),
    ).toEqual({
      submissionId: "raysubmit_a",
      jobId: "02000000",
      status: "SUCCEEDED",
      entrypoint: "python x.py",
      driverExitCode: 0,
      startTimeMs: 10,
      endTimeMs: 20,
      metadata: { user: "u" },
    });
    expect(jobFromWire({ status: "PENDING", entrypoint: "e", driver_exit_code: null }).driverExitCode).toBeUndefined();
  });

  it("writes a submission in Ray's field names", () => {
    expect(submitBody({ entrypoint: "e", runtimeEnv: { working_dir: "gcs://p.zip" }, metadata: { a: "b" } })).toEqual({
      entrypoint: "e",
      runtime_env: { working_dir: "gcs://p.zip" },
      metadata: { a: "b" },
    });
  });
});

describe("submit: the entrypoint and the exit code", () => {
  it("starts in the submit host's directory, every word quoted only where needed", () => {
    expect(entrypointFor(["python", "app.py", "--n", "3"], "/home/u/proj")).toBe(
      "cd /home/u/proj && exec python app.py --n 3",
    );
    expect(entrypointFor(["python", "-c", "print('hi $HOME')"], "/home/u/my dir")).toBe(
      `cd '/home/u/my dir' && exec python -c 'print('\\''hi $HOME'\\'')'`,
    );
    // with a working_dir Ray starts the driver inside the unpacked package
    expect(entrypointFor(["python", "main.py"], undefined)).toBe("python main.py");
  });

  it("maps Ray's end of a driver to an exit code", () => {
    const j = (status: "SUCCEEDED" | "FAILED" | "STOPPED", code?: number) => ({
      submissionId: "s",
      status,
      entrypoint: "e",
      metadata: {},
      ...(code === undefined ? {} : { driverExitCode: code }),
    });
    expect(exitCodeOf(j("SUCCEEDED", 0), false)).toBe(0);
    expect(exitCodeOf(j("FAILED", 7), false)).toBe(7);
    expect(exitCodeOf(j("FAILED", -9), false)).toBe(137);
    expect(exitCodeOf(j("FAILED"), false)).toBe(1); // never ran (runtime env failed...)
    expect(exitCodeOf(j("STOPPED"), true)).toBe(130);
    expect(exitCodeOf(j("STOPPED"), false)).toBe(143);
  });
});

describe("renderers", () => {
  it("env: exports eval can run, values quoted, a comment saying how drivers connect", () => {
    const text = renderEnv({ RAY_ADDRESS: "10.0.0.5:4000", RAY_AUTH_TOKEN_PATH: "/home/u/it's/token" }, "how");
    expect(text).toBe(
      "# how\nexport RAY_ADDRESS='10.0.0.5:4000'\nexport RAY_AUTH_TOKEN_PATH='/home/u/it'\\''s/token'\n",
    );
    const out = execFileSync("bash", ["-c", `eval "$1"; printf %s "$RAY_AUTH_TOKEN_PATH"`, "_", text], {
      encoding: "utf8",
    });
    expect(out).toBe("/home/u/it's/token");
  });

  it("job list: oldest first, the cd of ray-sge's entrypoint left out", () => {
    const text = renderJobs([
      {
        submissionId: "b",
        status: "RUNNING",
        entrypoint: "cd /h && exec python b.py",
        startTimeMs: 2000,
        metadata: {},
      },
      {
        submissionId: "a",
        status: "SUCCEEDED",
        entrypoint: "x".repeat(80),
        driverExitCode: 0,
        startTimeMs: 1000,
        metadata: {},
      },
    ]);
    const lines = text.split("\n").map((l) => l.trim());
    expect(lines[0]).toMatch(/^SUBMISSION ID\s+STATUS\s+EXIT\s+STARTED\s+ENDED\s+ENTRYPOINT$/);
    expect(lines[1]).toMatch(/^a\s+SUCCEEDED\s+0\s+1970-01-01 00:00:01\s+-\s+x{57}\.\.\.$/);
    expect(lines[2]).toMatch(/^b\s+RUNNING\s+-\s+.*\s+python b\.py$/);
    expect(renderJobs([])).toMatch(/no drivers/);
  });

  it("dashboard: the URL, how to log in, a tunnel", () => {
    const text = renderDashboard({
      cluster: "c",
      url: "http://10.0.0.5:5000/",
      tokenPath: "/h/.ray-sge/clusters/c/token",
      tunnel: "ssh -N -L 8265:10.0.0.5:5000 u@login1",
      tunnelUrl: "http://localhost:8265/",
    });
    expect(text).toContain("Ray dashboard of c: http://10.0.0.5:5000/");
    expect(text).toContain("paste the cluster's token");
    expect(text).toContain("ssh -N -L 8265:10.0.0.5:5000 u@login1");
  });

  it("ray logs: globs match a file's name or its path under the node's dir", () => {
    expect(globMatch("worker-*.out", "worker-abc-01-123.out")).toBe(true);
    expect(globMatch("worker-*.out", "old/worker-abc-01-123.out")).toBe(true);
    expect(globMatch("raylet.out", "raylet.err")).toBe(false);
    expect(globMatch("old/*", "old/raylet.1.out")).toBe(true);
    expect(globMatch("a.b", "axb")).toBe(false);
  });
});

describe("connection: from head.json and the head job's state", () => {
  const job = (status: JobEntry["status"], state: string) => ({ id: 12, status, state }) as JobEntry;
  it("running head: the GCS, the dashboard and Ray Client addresses", () => {
    const r = connectionFrom("c", head, [job("running", "r")], "/t");
    expect(r).toEqual({
      ok: true,
      connection: {
        cluster: "c",
        head,
        gcsAddress: "10.0.0.5:4000",
        dashboardUrl: "http://10.0.0.5:5000",
        clientAddress: "ray://10.0.0.5:6000",
        tokenPath: "/t",
      },
    });
  });
  it("says why not otherwise", () => {
    expect(connectionFrom("c", undefined, [], "/t")).toEqual({ ok: false, why: expect.stringMatching(/no published/) });
    expect(connectionFrom("c", head, [], "/t")).toEqual({ ok: false, why: expect.stringMatching(/job 12 .* is gone/) });
    expect(connectionFrom("c", head, [job("pending", "qw")], "/t")).toEqual({
      ok: false,
      why: expect.stringMatching(/is qw, not running/),
    });
  });
});

describe("working_dir packages", () => {
  const tree = () => {
    const d = mkdtempSync(join(tmpdir(), "wd-"));
    mkdirSync(join(d, "data/raw"), { recursive: true });
    mkdirSync(join(d, "src/cache"), { recursive: true });
    mkdirSync(join(d, "empty"));
    writeFileSync(join(d, "main.py"), "print(1)\n");
    writeFileSync(join(d, "data/raw/big.bin"), "x".repeat(100));
    writeFileSync(join(d, "data/keep.csv"), "a,b\n");
    writeFileSync(join(d, "src/mod.py"), "X = 1\n");
    writeFileSync(join(d, "src/cache/c.pyc"), "c");
    writeFileSync(join(d, "src/notes.log"), "n");
    writeFileSync(join(d, ".rayignore"), "data/raw/\n");
    writeFileSync(join(d, "src/.gitignore"), "cache/\n*.log\n");
    return d;
  };

  it("zips the files relative to the directory, honouring .rayignore and nested .gitignore as Ray does", async () => {
    const d = tree();
    const p = await packageWorkingDir(d);
    expect(Object.keys(unzipSync(p.zip)).sort()).toEqual([
      ".rayignore",
      "data/keep.csv",
      "empty/",
      "main.py",
      "src/.gitignore",
      "src/mod.py",
    ]);
    expect(p.name).toMatch(/^_ray_pkg_[0-9a-f]{32}\.zip$/);
    expect(p.files).toBe(5);
  });

  it("names packages by content: same files, same name; a changed file, a new name", async () => {
    const d = tree();
    const a = await packageWorkingDir(d);
    expect((await packageWorkingDir(d)).name).toBe(a.name);
    writeFileSync(join(d, "main.py"), "print(2)\n");
    expect((await packageWorkingDir(d)).name).not.toBe(a.name);
    // an ignored file does not change it
    const b = await packageWorkingDir(d);
    writeFileSync(join(d, "src/notes.log"), "changed");
    expect((await packageWorkingDir(d)).name).toBe(b.name);
  });

  it("refuses what is not a directory", async () => {
    await expect(packageWorkingDir("/nonexistent/dir")).rejects.toThrow(/does not exist/);
    const d = tree();
    await expect(packageWorkingDir(join(d, "main.py"))).rejects.toThrow(/not a directory/);
  });
});

describe("JobsClient against stand-in servers (error paths)", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));
  const serve = async (status: number, body: string, seen?: (h: IncomingHttpHeaders) => void): Promise<string> => {
    server = createServer((req, res) => {
      seen?.(req.headers);
      res.writeHead(status, { "content-type": "application/json" });
      res.end(body);
    });
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  it("sends the token and no browser headers (Ray refuses POSTs that look like a browser's)", async () => {
    let headers: IncomingHttpHeaders = {};
    const url = await serve(200, JSON.stringify({ submission_id: "raysubmit_x" }), (h) => {
      headers = h;
    });
    expect(await new JobsClient({ url, token: "tok" }).submit({ entrypoint: "e" })).toBe("raysubmit_x");
    expect(headers.authorization).toBe("Bearer tok");
    expect(Object.keys(headers).filter((k) => k.startsWith("sec-fetch") || k === "origin" || k === "referer")).toEqual(
      [],
    );
  });

  it.each([
    [401, "unauthorized"],
    [403, "unauthorized"],
    [404, "not-found"],
    [400, "bad-request"],
    [500, "server"],
  ])("answer %i -> %s", async (status, kind) => {
    const url = await serve(status, "Traceback...\nValueError: nope");
    const e = await new JobsClient({ url, token: "t" }).get("x").catch((err) => err);
    expect(e).toBeInstanceOf(RayJobsError);
    expect(e.kind).toBe(kind);
  });

  it("a closed port is 'unreachable', named by its URL", async () => {
    const e = await new JobsClient({ url: "http://127.0.0.1:1", token: "t" }).list().catch((err) => err);
    expect(e.kind).toBe("unreachable");
    expect(e.message).toMatch(/cannot reach Ray's dashboard at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });

  it("package check: 404 means absent, 200 present", async () => {
    let url = await serve(404, "Package gcs://p.zip does not exist");
    expect(await new JobsClient({ url, token: "t" }).packageExists("p.zip")).toBe(false);
    await new Promise<void>((r) => server?.close(() => r()));
    url = await serve(200, "");
    expect(await new JobsClient({ url, token: "t" }).packageExists("p.zip")).toBe(true);
  });

  it("log stream: every chunk, resolved when Ray closes it; a refused token is an error", async () => {
    server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    server.on("upgrade", (req, socket, head) => {
      if (req.headers.authorization !== "Bearer good") {
        socket.end("HTTP/1.1 401 Unauthorized\r\n\r\n");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.send("line 1\n");
        ws.send("line 2\n");
        ws.close();
      });
    });
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let got = "";
    await new JobsClient({ url, token: "good" }).tail("raysubmit_x", (t) => {
      got += t;
    });
    expect(got).toBe("line 1\nline 2\n");
    const e = await new JobsClient({ url, token: "bad" }).tail("raysubmit_x", () => {}).catch((err) => err);
    expect(e.kind).toBe("unauthorized");
    wss.close();
  });
});

describe("the driver node's script", () => {
  const s = renderDriverNodeScript({
    cluster: "c",
    stateDir: "/home/u/.ray-sge/clusters/c",
    rayExecutable: "ray",
    nodeType: "driver",
    role: "driver",
    resourceArgs: [],
    extraArgs: [],
    setupCommands: ["source /opt/venv/bin/activate"],
    version: "0.1.0",
    driver: { headIp: "10.0.0.5", gcsPort: 4000, objectStoreBytes: 1024 ** 3, instanceId: "driver-login1-a1b2c3" },
  });
  it("is valid bash that joins the GCS offering nothing, privately, and ends with the cluster", () => {
    execFileSync("bash", ["-n"], { input: s });
    expect(s).toContain("--address='10.0.0.5:4000'");
    expect(s).toContain("--num-cpus=0 --num-gpus=0 --memory=0 --object-store-memory=1073741824");
    expect(s).toContain("INSTANCE='driver-login1-a1b2c3'");
    expect(s).toContain('export RAY_CLOUD_INSTANCE_ID="$INSTANCE"');
    expect(s).toContain(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${...}, meant literally
      'export RAY_gcs_rpc_server_reconnect_timeout_s="${RAY_gcs_rpc_server_reconnect_timeout_s:-10}"',
    );
    // never SGE's $TMP (it is no job): a fresh 0700 directory under /tmp, removed at exit
    expect(s).toContain("if false && [");
    expect(s).toContain("mktemp -d /tmp/rsge.XXXXXX");
    expect(s).toContain("trap 'stop_ray HUP' HUP");
    expect(s).not.toMatch(/ray stop/);
  });
});
