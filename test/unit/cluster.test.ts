import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderStatus } from "../../src/cli/render-status.js";
import { clusterJobPattern, headJobName, parseJobName, workerJobName } from "../../src/cluster/identity.js";
import { jobRequest } from "../../src/cluster/requests.js";
import { stuckDeletionMessage } from "../../src/cluster/shutdown.js";
import { type NodeStatus, removalOrder, statusView } from "../../src/cluster/view.js";
import { parseConfig } from "../../src/config/load.js";
import { type NodeTypeSpec, normaliseConfig } from "../../src/config/normalise.js";
import { buildSubmission } from "../../src/sge/qsub.js";

const node = (instanceId: string, sgeStatus: NodeStatus["sgeStatus"], ray: NodeStatus["ray"]): NodeStatus => {
  const [job, task] = instanceId.split(".").map(Number) as [number, number];
  return {
    instanceId,
    jobId: job,
    taskId: task,
    role: "worker",
    nodeType: "worker",
    sgeState: sgeStatus === "running" ? "r" : "qw",
    sgeStatus,
    ray,
  };
};

describe("cluster identity", () => {
  it("names jobs so that a cluster's jobs are found again, and only its own", () => {
    expect(headJobName("c1")).toBe("rsge-c1-head");
    expect(workerJobName("c1", "gpu")).toBe("rsge-c1-w-gpu");
    expect(clusterJobPattern("c1")).toBe("rsge-c1-*");
    expect(parseJobName("c1", "rsge-c1-w-gpu")).toEqual({ role: "worker", type: "gpu" });
    expect(parseJobName("c1", "rsge-c1-head")).toEqual({ role: "head", type: "head" });
    expect(parseJobName("c1", "rsge-c10-head")).toBeUndefined();
    expect(parseJobName("c1", "rsge-c1-probe-ray")).toBeUndefined();
  });
});

describe("removalOrder", () => {
  it("removes pending tasks first, then nodes Ray does not know, then the newest", () => {
    const order = removalOrder([
      node("10.1", "running", "ALIVE"),
      node("11.2", "running", "ALIVE"),
      node("11.1", "running", "not registered"),
      node("12.1", "pending", "not registered"),
      node("10.2", "running", "ALIVE"),
    ]);
    expect(order.map((n) => n.instanceId)).toEqual(["12.1", "11.1", "11.2", "10.2", "10.1"]);
  });
});

describe("renderStatus", () => {
  it("shows each node's Grid Engine and Ray state side by side, why jobs wait, and pending demand", () => {
    const text = renderStatus({
      name: "c1",
      stateDir: "/home/u/.ray-sge/clusters/c1",
      head: {
        cluster: "c1",
        job_id: "9",
        host: "node1",
        ip: "10.77.0.11",
        gcs_port: 4000,
        dashboard_port: 5000,
        client_port: 1,
        temp_dir: "/t",
        started_at: 0,
      },
      nodes: [
        {
          ...node("9.0", "running", "ALIVE"),
          role: "head",
          nodeType: "head",
          host: "node1",
          resources: { CPU: 4 },
          available: { CPU: 1 },
          secondsLeft: 5400,
        },
        {
          ...node("10.1", "running", "ALIVE"),
          host: "node2",
          resources: { CPU: 2 },
          available: { CPU: 2 },
          idleMs: 125_000,
        },
        {
          ...node("11.1", "pending", "not registered"),
          waitingBecause: 'cannot run in queue "all.q@node3" because it offers only hl:mem_free=2G',
        },
      ],
      strayRayNodes: [],
      pendingDemand: [{ resources: { CPU: 1 }, count: 6 }],
      infeasible: [{ CPU: 1, GPU: 1 }],
      failures: [{ nodeType: "worker", reason: "12.1: ended with exit status 1", at: "2026-11-25T20:11:12.000Z" }],
      autoscaler: { pid: 42, host: "node1", mode: "head job 9", last_round_at: 0 },
      events: [{ time: "2026-11-25T20:10:35.000Z", event: "scale-up", type: "worker", count: 4, why: "waiting task" }],
    });
    expect(text).toContain("head: node1 (job 9), GCS 10.77.0.11:4000, dashboard http://10.77.0.11:5000/");
    expect(text).toMatch(/9\.0 +head +r +node1 +ALIVE +3\/4 +- +1h30m/);
    expect(text).toMatch(/10\.1 +worker +r +node2 +ALIVE +0\/2 +2m05s +-/);
    expect(text).toMatch(/11\.1 +worker +qw +- +not registered +- +- +-/);
    expect(text).toContain('11.1 waits: cannot run in queue "all.q@node3" because it offers only hl:mem_free=2G');
    expect(text).toContain("pending demand: 6 x CPU=1");
    expect(text).toContain("infeasible: {CPU=1, GPU=1}: no node type can hold it (never submitted)");
    expect(text).toContain("failed worker (worker, 20:11:12): 12.1: ended with exit status 1");
    expect(text).toContain("autoscaler: head job 9, pid 42 on node1");
    expect(text).toContain("20:10:35 scale-up type=worker count=4: waiting task");
  });

  it("says when Ray's side is unknown", () => {
    const s = {
      name: "c1",
      rayError: "the head job is not running",
      stateDir: "/home/u/.ray-sge/clusters/c1",
      nodes: [],
      strayRayNodes: [],
      pendingDemand: [],
      infeasible: [],
      failures: [],
    };
    expect(renderStatus(s)).toContain("Ray: unknown (the head job is not running)");
  });
});

describe("jobRequest (resources -> qsub options)", () => {
  const text = `${readFileSync(new URL("../../examples/ray-sge-cluster.yaml", import.meta.url), "utf8")}
available_node_types:
  gpu:
    resources: { slots: 8, memory: 64G, gpus: 2 }
    max_workers: 2
    sge: { queue: gpu.q, project: ml, h_rt: "2:00:00", s_rt: 7000, qsub_options: "-l exclusive=true -m n" }
`;
  const spec = normaliseConfig(parseConfig(text, "c.yaml"), { home: "/h" }).spec;
  const state = { path: "/h/s", logDir: "/h/s/logs" };

  it("maps the guide's head: PE slots, memory per job for a load value, h_rt from qsub_options, tags", () => {
    const o = jobRequest(spec, spec.head, false, state);
    expect(o).toMatchObject({
      queue: "all.q",
      project: "raysge_demo",
      parallelEnvironment: { name: "smp", slots: 4 },
      hardResources: { mem_free: "16384M" },
      hardRuntime: "24:00:00",
      context: { ray_sge_cluster: "ray-sge-cluster", ray_sge_role: "head", ray_sge_type: "head" },
      notify: true,
      stdoutPath: "/h/s/logs/head.$JOB_ID.out",
    });
  });

  it("maps a GPU type: per-slot memory for a consumable, the GPU complex, its own queue, project and limits", () => {
    const gpu = spec.workerTypes.find((t) => t.name === "gpu") as NodeTypeSpec;
    const o = jobRequest(spec, gpu, true, state);
    expect(o).toMatchObject({
      queue: "gpu.q",
      project: "ml",
      parallelEnvironment: { name: "smp", slots: 8 },
      hardResources: { mem_free: "8192M", gpu: 2, exclusive: "true" },
      hardRuntime: "2:00:00",
      softRuntime: 7000,
      nativeArgs: ["-m", "n"],
      stdoutPath: "/h/s/logs/gpu.$JOB_ID.$TASK_ID.out",
    });
    // and qsub takes it: the whole request renders to argv without complaint
    expect(buildSubmission({ name: "rsge-c-w-gpu", scriptText: "true\n", ...o }).argv).toContain(
      "exclusive=true,mem_free=8192M,gpu=2,h_rt=2:00:00,s_rt=1:56:40",
    );
  });
});

describe("down with jobs Grid Engine cannot remove yet", () => {
  const entry = (id: number, name: string, state: string, host?: string, taskId?: number) => ({
    id,
    name,
    owner: "u",
    state,
    status: "deleting" as const,
    priority: 0,
    slots: 1,
    ...(host ? { host } : {}),
    ...(taskId ? { taskId } : {}),
  });

  it("a worker in dr on a host whose execd is down: says why, what happens, and the way out", () => {
    const m = stuckDeletionMessage("c", [entry(67, "rsge-c-w-worker", "dr", "node3", 1)], 120);
    expect(m).toBe(
      "job 67.1 (dr on node3) still in Grid Engine 120 s after qdel: the execution daemon of node3 has not confirmed the end (is sge_execd down there?). Grid Engine stops and removes them when it answers again (1 to 3 minutes after sge_execd is back, measured); their Ray nodes have stopped already (a node ends 10 s after its head). Have sge_execd started on node3, then run ray-sge down again (with --timeout 300 it waits that long). Last resort, for a Grid Engine manager: qdel -f 67 (Son of Grid Engine 8.1.9's qmaster crashed on it for array tasks here).",
    );
  });

  it("the head among them: its Ray runs on until then", () => {
    const m = stuckDeletionMessage(
      "c",
      [entry(66, "rsge-c-head", "dr", "node1"), entry(67, "rsge-c-w-worker", "dr", "node1", 1)],
      5,
    );
    expect(m).toMatch(
      /^job 66 \(dr on node1\), job 67\.1 \(dr on node1\) still in Grid Engine 5 s after qdel: the execution daemon of node1 .*until then the head's Ray runs on\. Have sge_execd started on node1, .*qdel -f 66 67 /,
    );
  });

  it("jobs not being deleted (e.g. still queued): ask Grid Engine", () => {
    expect(stuckDeletionMessage("c", [entry(70, "rsge-c-w-worker", "qw")], 30)).toBe(
      "job 70 (qw) still in Grid Engine 30 s after qdel; ask Grid Engine why: qstat -j 70",
    );
  });
});

describe("statusView", () => {
  it("gives each node the IP Ray knows it by (the head's published one), none while queued", () => {
    const spec = normaliseConfig(
      parseConfig(readFileSync(new URL("../../examples/ray-sge-cluster.yaml", import.meta.url), "utf8"), "c.yaml"),
      { home: "/home/u" },
    ).spec;
    const job = (id: number, name: string, state: string, status: "running" | "pending", extra = {}) => ({
      id,
      name,
      owner: "u",
      state,
      status,
      priority: 0,
      slots: 1,
      ...extra,
    });
    const head = {
      cluster: spec.name,
      job_id: "10",
      host: "node1",
      ip: "10.77.0.11",
      gcs_port: 20001,
      dashboard_port: 20002,
      client_port: 20003,
      temp_dir: "/tmp/x",
      started_at: 0,
    };
    const rayNode = (instanceId: string, ip: string) => ({
      nodeId: instanceId,
      available: {},
      idleMs: 0,
      instanceId,
      nodeType: "worker",
      state: "ALIVE" as const,
      ip,
      isHead: false,
      resources: { CPU: 2 },
    });
    const s = statusView({
      spec,
      jobs: [
        job(10, headJobName(spec.name), "r", "running", { host: "node1" }),
        job(11, workerJobName(spec.name, "worker"), "r", "running", { host: "node2", taskId: 1 }),
        job(11, workerJobName(spec.name, "worker"), "qw", "pending", { taskId: 2 }),
      ],
      head,
      headInfoPath: "/x/head.json",
      ray: {
        nodes: [rayNode("11.1", "10.77.0.12")],
        demand: [],
        autoscaling: { infeasible: [], infeasibleGangs: [], failed: [], pending: [] } as never,
      },
      rayError: undefined,
      reasons: new Map([[11, "no free slots"]]),
      now: Date.now(),
    });
    expect(s.nodes.map((n) => [n.instanceId, n.ip])).toEqual([
      ["10.0", "10.77.0.11"],
      ["11.1", "10.77.0.12"],
      ["11.2", undefined],
    ]);
  });
});
