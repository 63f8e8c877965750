import { describe, expect, it } from "vitest";
import { explainRayFailure } from "../../src/cluster/ray-failures.js";
import { fixture } from "../support/fixtures.js";

describe("explainRayFailure (a node's kept Ray logs)", () => {
  it("names an object store that could not get its memory, and its size (raylet.out recorded with -l h_vmem=3G)", () => {
    const text = fixture("raylet-h_vmem.out");
    expect(explainRayFailure([{ name: "raylet.out", text }])).toBe(
      "Ray's object store could not get its memory of 6.7 GiB (Cannot allocate memory): the job's memory limit (h_vmem) or /dev/shm is smaller than what Ray asked for",
    );
    // the words must be in the raylet's own logs; its .err says the failure, its .out the size
    expect(explainRayFailure([{ name: "worker-1.out", text }])).toBeUndefined();
    const err = fixture("raylet-h_vmem.err");
    expect(explainRayFailure([{ name: "raylet.err", text: err }])).toMatch(/could not get its memory \(Cannot/);
    expect(
      explainRayFailure([
        { name: "raylet.err", text: err },
        { name: "raylet.out", text },
      ]),
    ).toMatch(/could not get its memory of 6\.7 GiB/);
  });

  it("says nothing when the logs name no known cause", () => {
    expect(explainRayFailure([{ name: "raylet.out", text: "[2026] I raylet started\n" }])).toBeUndefined();
    expect(explainRayFailure([])).toBeUndefined();
  });
});
