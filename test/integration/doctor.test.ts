// ray-sge doctor on the real testbed: healthy, a disabled queue instance, Ray missing on the hosts.
import { readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { cli, installForUser, writeConfig } from "../support/cluster.js";
import { asRoot, clientAs, conf, userDir } from "../support/testbed.js";

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
    expect(c.find((x) => x.name === "Ray on an execution host")?.detail).toMatch(
      /^ray 2\.\d+\.\d+ with ray\[default\] on node\d/,
    );
    expect(c.find((x) => x.name === "network between hosts")?.detail).toMatch(
      /a job on node\d reached a free port of a job on node\d/,
    );
    expect(c.find((x) => x.name === "execution hosts reach this host")?.detail).toMatch(
      /^a job on node\d reached 10\.77\.0\.1:\d+ here/,
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

describe("a Ray installed without ray[default] (e.g. pip install 'ray[data,tune]')", () => {
  // a real second install of the pinned Ray without extras (pip's cache makes it quick)
  const BARE = "/opt/ray-sge/ray-bare";
  beforeAll(() => {
    const have = asRoot([`${BARE}/bin/python`, "-c", "import ray; print(ray.__version__)"]);
    if (have.status !== 0 || have.stdout.trim() !== conf.RAY_VERSION) {
      asRoot(["rm", "-rf", BARE]);
      expect(asRoot(["/usr/bin/python3", "-m", "venv", BARE]).status).toBe(0);
      const pip = asRoot([
        `${BARE}/bin/pip`,
        "install",
        "-q",
        "--disable-pip-version-check",
        "-c",
        new URL("../../scripts/ray-constraints.txt", import.meta.url).pathname,
        `ray==${conf.RAY_VERSION}`,
      ]);
      expect(pip.status, pip.stderr).toBe(0);
      asRoot(["chmod", "-R", "a+rX", BARE]);
    }
    // what ray[default] brings is really missing there
    expect(asRoot([`${BARE}/bin/python`, "-c", "import grpc"]).status).not.toBe(0);
  }, 300_000);

  const bareConfig = (name: string) => {
    const config = writeConfig(dir, name);
    writeFileSync(config, readFileSync(config, "utf8").replace(String(conf.RAY_VENV), BARE));
    return config;
  };

  it("doctor finds it on an execution host and says what to install", () => {
    const r = cli(["doctor", bareConfig("itdocbare"), "--json"], dir);
    expect(r.status).toBe(1);
    expect(checks(r.stdout).find((x) => x.name === "Ray on an execution host")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/lacks ray\[default\] \(grpcio, aiohttp\)/),
      fix: `pip install "ray[default]==${conf.RAY_VERSION}" in that environment (ray[data,tune] alone is not enough)`,
    });
  }, 180_000);

  it("up fails with the head's own reason and leaves nothing behind", async () => {
    const config = bareConfig("itupbare");
    const r = cli(["up", config, "--timeout", "120"], dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the head job \d+ ended before Ray came up: .*lacks ray\[default\] \(grpcio, aiohttp\)/);
    expect(await sge.listJobs({ name: "rsge-itupbare-*" })).toEqual([]);
  }, 180_000);
});
