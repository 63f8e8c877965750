// ray-sge doctor on the real testbed: healthy, a disabled queue instance, Ray missing on the hosts.
import { readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, writeConfig } from "../support/cluster.js";
import { asRoot, clientAs, userDir } from "../support/testbed.js";

let dir: string;
const sge = clientAs();
beforeAll(() => {
  installForUser();
  dir = userDir("it-doctor");
});

type Check = { name: string; status: string; detail: string; fix?: string };
const checks = (out: string) => JSON.parse(out) as Check[];

describe("ray-sge doctor", () => {
  it("passes the testbed with the guide's config, probes included", () => {
    const r = cli(["doctor", writeConfig(dir, "itdoc"), "--json"], dir);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = checks(r.stdout);
    expect(c.every((x) => x.status === "ok")).toBe(true);
    expect(c.find((x) => x.name === "Ray on an execution host")?.detail).toMatch(/^ray 2\.\d+\.\d+ on node\d/);
    expect(c.find((x) => x.name === "network between hosts")?.detail).toMatch(
      /a job on node\d reached a free port of a job on node\d/,
    );
    expect(c.find((x) => x.name === "autoscaler in the head job")?.detail).toMatch(
      /^node, the CLI and Grid Engine's commands work on node\d/,
    );
  });

  it("says which queue instance is disabled and how to fix it", () => {
    asRoot(["qmod", "-d", "all.q@node2"]);
    try {
      const r = cli(["doctor", "--no-probes", "--json"], dir);
      expect(checks(r.stdout).find((x) => x.name === "queue all.q")).toMatchObject({
        status: "warn",
        fix: "enable it: qmod -e all.q@node2",
      });
    } finally {
      asRoot(["qmod", "-e", "all.q@node2"]);
    }
  });

  it("fails when Ray cannot be run on the execution hosts, with the job's own words", async () => {
    const config = writeConfig(dir, "itdocnoray");
    writeFileSync(
      config,
      readFileSync(config, "utf8")
        .replace(/ {2}- source .*\n/, "")
        .concat("ray:\n  ray_executable: /nonexistent/ray\n"),
    );
    const r = cli(["doctor", config, "--json"], dir);
    expect(r.status).toBe(1);
    const ray = checks(r.stdout).find((x) => x.name === "Ray on an execution host");
    expect(ray).toMatchObject({ status: "fail", fix: expect.stringMatching(/install Ray on the execution hosts/) });
    expect(ray?.detail).toMatch(/No such file or directory|not found/);
    expect(await sge.listJobs({ name: "rsge-itdoc*" })).toEqual([]);
  });
});
