import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { GcsClient, GcsError } from "../../src/ray/gcs.js";
import {
  decodeAutoscalingState,
  decodeClusterResourceState,
  encodeAutoscalingState,
  encodeResourceRequest,
} from "../../src/ray/messages.js";

describe("autoscaler messages (wire objects <-> ours)", () => {
  it("decodes the GCS's resource state: node ids as hex, enums as names, placement constraints, label selectors", () => {
    const s = decodeClusterResourceState({
      cluster_resource_state_version: 6,
      node_states: [
        {
          node_id: Buffer.from("4419", "hex"),
          instance_id: "697.0",
          ray_node_type_name: "head",
          status: "RUNNING",
          node_ip_address: "10.77.0.13",
          total_resources: { CPU: 1, "node:__internal_head__": 1 },
          available_resources: {},
          labels: { "ray.io/node-group": "head" },
          idle_duration_ms: 0,
          node_activity: ["Busy workers on node."],
        },
      ],
      pending_resource_requests: [
        { request: { resources_bundle: { CPU: 1, GPU: 1 } }, count: 1 },
        { request: { resources_bundle: { CPU: 1 } }, count: 0 },
      ],
      pending_gang_resource_requests: [
        {
          details: "03bb:STRICT_SPREAD|PENDING",
          requests: [
            {
              resources_bundle: { CPU: 1 },
              placement_constraints: [{ anti_affinity: { label_name: "_PG_03bb", label_value: "" } }],
              label_selectors: [
                {
                  label_constraints: [{ label_key: "pool", operator: "LABEL_OPERATOR_NOT_IN", label_values: ["gpu"] }],
                },
              ],
            },
          ],
        },
      ],
      cluster_resource_constraints: [{ resource_requests: [{ request: { resources_bundle: { CPU: 1 } }, count: 5 }] }],
    });
    expect(s.version).toBe(6);
    expect(s.nodes[0]).toMatchObject({ nodeId: "4419", instanceId: "697.0", status: "RUNNING", available: {} });
    expect(s.pending).toEqual([{ request: { resources: { CPU: 1, GPU: 1 }, labelSelectors: [] }, count: 1 }]);
    expect(s.gangs[0]?.requests[0]).toEqual({
      resources: { CPU: 1 },
      antiAffinity: { label: "_PG_03bb", value: "" },
      labelSelectors: [[{ key: "pool", operator: "not_in", values: ["gpu"] }]],
    });
    expect(s.constraints).toEqual([[{ request: { resources: { CPU: 1 }, labelSelectors: [] }, count: 5 }]]);
  });

  it("an empty reply decodes to an empty state", () => {
    expect(decodeClusterResourceState(null)).toMatchObject({ version: 0, nodes: [], pending: [], gangs: [] });
  });

  it("encodes the autoscaling state with timestamps in seconds (what `ray status` formats)", () => {
    const wire = encodeAutoscalingState({
      lastSeenClusterVersion: 6,
      version: 1795637427000,
      pendingInstances: [{ nodeType: "worker", instanceId: "701.1", ip: "", details: "qw in all.q" }],
      infeasible: [{ resources: { GPU: 1 }, labelSelectors: [] }],
      infeasibleGangs: [],
      infeasibleConstraints: [],
      failed: [
        { nodeType: "worker", count: 1, reason: "701.2: exit 1", startMs: 1795637427123, failedMs: 1795637430999 },
      ],
    });
    expect(wire).toMatchObject({
      autoscaler_state_version: 1795637427000,
      pending_instances: [
        { instance_type_name: "worker", ray_node_type_name: "worker", instance_id: "701.1", details: "qw in all.q" },
      ],
      failed_instance_requests: [{ start_ts: 1795637427, failed_ts: 1795637430, reason: "701.2: exit 1" }],
    });
    const back = decodeAutoscalingState(wire as never);
    expect(back.pendingInstances).toEqual([
      { nodeType: "worker", instanceId: "701.1", ip: "", details: "qw in all.q" },
    ]);
    expect(back.infeasible).toEqual([{ resources: { GPU: 1 }, labelSelectors: [] }]);
  });

  it("encodes STRICT_PACK affinity and label selectors", () => {
    expect(
      encodeResourceRequest({
        resources: { CPU: 2 },
        affinity: { label: "_PG_x", value: "" },
        labelSelectors: [[{ key: "k", operator: "in", values: ["a", "b"] }]],
      }),
    ).toEqual({
      resources_bundle: { CPU: 2 },
      placement_constraints: [{ affinity: { label_name: "_PG_x", label_value: "" } }],
      label_selectors: [
        { label_constraints: [{ label_key: "k", operator: "LABEL_OPERATOR_IN", label_values: ["a", "b"] }] },
      ],
    });
  });
});

describe("GcsClient error paths", () => {
  it("a port nobody listens on: UNAVAILABLE, transient, says which call and address", async () => {
    const c = new GcsClient({ address: "127.0.0.1:1", token: "t", timeoutMs: 3000 });
    try {
      const e = await c.getClusterResourceState().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(GcsError);
      expect((e as GcsError).code).toBe("UNAVAILABLE");
      expect((e as GcsError).transient).toBe(true);
      expect((e as GcsError).message).toMatch(/^GetClusterResourceState to 127\.0\.0\.1:1: UNAVAILABLE/);
    } finally {
      c.close();
    }
  });

  it("a server that never answers: the deadline ends the call", async () => {
    const server = createServer(() => {});
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const c = new GcsClient({ address: `127.0.0.1:${port}`, timeoutMs: 500 });
    try {
      const t = Date.now();
      const e = await c.drainNode("ab", "IDLE_TERMINATION", "test").catch((x: unknown) => x);
      expect((e as GcsError).code).toBe("DEADLINE_EXCEEDED");
      expect(Date.now() - t).toBeLessThan(5000);
    } finally {
      c.close();
      server.close();
    }
  });
});
