// A request 9.x refuses where 8.1.9 takes it: a memory size with a T suffix. The fact, from the real
// qsub, then what ray-sge does about it: `up` fails before submitting anything, with the size in G.
// Runs in the OCS pass only (scripts/test; vitest project integration-ocs).
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, smallConfig } from "../support/cluster.js";
import { clientAs, userDir } from "../support/testbed.js";

const sge = clientAs();
const NAME = "itterabyte";
let dir: string;
let config: string;

beforeAll(() => {
  installForUser();
  dir = userDir("it-terabyte");
  config = smallConfig(dir, NAME);
  const text = readFileSync(config, "utf8");
  expect(text).toContain('qsub_options: "-l h_rt=24:00:00');
  writeFileSync(
    config,
    text.replace('qsub_options: "-l h_rt=24:00:00', 'qsub_options: "-l h_rt=24:00:00 -l h_vmem=2T'),
  );
});
afterAll(() => {
  if (config) cli(["down", config], dir);
});

describe("memory sizes in T on OCS 9.1", () => {
  it("9.1's qsub refuses -l h_vmem=2T and takes 2048G", async () => {
    const refused = sge.submit({ name: "itterabyte-t", command: "true", hardResources: { h_vmem: "2T" }, hold: true });
    await expect(refused).rejects.toThrow(/not a memory value|2T/);
    const taken = await sge.submit({
      name: "itterabyte-g",
      command: "true",
      hardResources: { h_vmem: "2048G" },
      hold: true,
    });
    await sge.deleteJobs([taken.jobId]);
  });

  it("up fails before submitting, naming the request and its size in G", async () => {
    const r = cli(["up", config], dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/h_vmem=2T: 9\.x's qsub refuses the T suffix/);
    expect(r.stderr).toMatch(/h_vmem=2048G/);
    expect(await sge.listJobs({ name: `rsge-${NAME}-*` })).toEqual([]);
  });
});
