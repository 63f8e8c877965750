// Batch mode's bounded join wait, on 8.1.9 (the OCS pass runs batch.test.ts, whose failing host
// covers the same qrsh -inherit path there): a host whose Ray node never registers is named when
// --join-timeout runs out, and the job ends with nothing left on any host.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { batchConfig, rayProcesses, withSetup } from "../support/batch.js";
import { cli, installForUser } from "../support/cluster.js";
import { userDir, waitFor } from "../support/testbed.js";

let dir: string;
let config: string;

beforeAll(() => {
  installForUser();
  dir = userDir("it-batch-faults");
  config = batchConfig(dir, "itbatchf");
});

describe("ray-sge batch: a node that never joins", () => {
  it("is named when --join-timeout runs out, and the job ends", async () => {
    // node2 never gets past its setup (another host late as well is named with it)
    const stuck = withSetup(config, join(dir, "stuck.yaml"), '[ "$(hostname)" != node2 ] || sleep 600');
    const t0 = Date.now();
    const logs = join(dir, "logs");
    const args = ["--slots", "3", "--pe", "mpi", "--log-dir", logs, "--join-timeout", "20", "--wait"];
    const r = cli(["batch", stuck, ...args, "--", "python", "-c", "print('never')"], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Ray node\(s\) on ([a-z0-9]+ )*node2( [a-z0-9]+)* did not join within 20 s/);
    expect(r.stdout).toBe("");
    // 20 s of waiting, at most 15 s for the stuck host's task, then the job's end
    expect((Date.now() - t0) / 1000).toBeLessThan(120);
    await waitFor("no Ray process of the user on any host", async () => rayProcesses() === "", 10_000, 250);
  }, 240_000);
});
