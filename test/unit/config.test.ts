import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configJsonSchema } from "../../src/config/json-schema.js";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { normaliseConfig } from "../../src/config/normalise.js";
import { shellWords } from "../../src/config/shell-words.js";

const EXAMPLE = readFileSync(new URL("../../examples/ray-sge-cluster.yaml", import.meta.url), "utf8");

function issuesOf(text: string) {
  try {
    parseConfig(text, "cluster.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error("expected the config to be refused");
}

/** 1-based line and column of the first occurrence of `marker` in `text`. */
function where(text: string, marker: string): { line: number; col: number } {
  const i = text.indexOf(marker);
  if (i < 0) throw new Error(`marker ${JSON.stringify(marker)} not in the test text`);
  const before = text.slice(0, i).split("\n");
  return { line: before.length, col: (before.at(-1)?.length ?? 0) + 1 };
}

function replace(from: string, to: string): string {
  if (!EXAMPLE.includes(from)) throw new Error(`the example has no ${JSON.stringify(from)}`);
  return EXAMPLE.replace(from, to);
}

describe("parseConfig", () => {
  it("accepts the guide's config", () => {
    const c = parseConfig(EXAMPLE, "ray-sge-cluster.yaml");
    expect(c.cluster_name).toBe("ray-sge-cluster");
    expect(c.worker_nodes?.min_workers).toBe(2);
    expect(c.head_node?.resources).toEqual({ slots: 4, memory: "16G" });
    expect(c.sge?.qsub_options).toBe("-l h_rt=24:00:00 -l mem_free=4G");
  });

  it("accepts several worker types", () => {
    const text = `${EXAMPLE}
available_node_types:
  gpu:
    resources: { slots: 8, memory: 64G, gpus: 2, custom: { a100: 2 } }
    min_workers: 0
    max_workers: 4
    sge: { queue: gpu.q, h_rt: "12:00:00", qsub_options: "-l exclusive=true" }
    labels: { tier: fast }
`;
    expect(parseConfig(text, "c.yaml").available_node_types?.gpu?.resources.gpus).toBe(2);
  });

  // [what, broken text, marker where the error must point, path, message]
  const corpus: [string, string, string, string, RegExp][] = [
    [
      "cluster name with a space",
      replace("cluster_name: ray-sge-cluster", "cluster_name: ray sge"),
      "ray sge",
      "cluster_name",
      /letters, digits/,
    ],
    [
      "cluster name starting with a digit",
      replace("cluster_name: ray-sge-cluster", "cluster_name: 1abc"),
      "1abc",
      "cluster_name",
      /starting with a letter/,
    ],
    [
      "cluster name too long",
      replace("cluster_name: ray-sge-cluster", `cluster_name: ${"a".repeat(41)}`),
      "aaaa",
      "cluster_name",
      /1-40/,
    ],
    [
      "cluster name a number",
      replace("cluster_name: ray-sge-cluster", "cluster_name: 12"),
      "12",
      "cluster_name",
      /expected string/,
    ],
    [
      "cluster name missing",
      replace("cluster_name: ray-sge-cluster", ""),
      "# yaml-language-server",
      "cluster_name",
      /required/,
    ],
    ["negative max_workers", replace("max_workers: 10\n", "max_workers: -1\n"), "-1", "max_workers", />=0/],
    [
      "max_workers not a number",
      replace("max_workers: 10\n", "max_workers: lots\n"),
      "lots",
      "max_workers",
      /expected number/,
    ],
    [
      "fractional max_workers",
      replace("max_workers: 10\n", "max_workers: 2.5\n"),
      "2.5",
      "max_workers",
      /whole number/,
    ],
    ["provider type not external", replace("type: external", "type: aws"), "aws", "provider.type", /external/],
    [
      "typo at the top level",
      replace("max_workers: 10\n", "max_workers: 10\nmax_worker: 3\n"),
      "max_worker:",
      "max_worker",
      /unknown field "max_worker"/,
    ],
    ["typo in sge", replace("  queue: all.q", "  queu: all.q"), "queu:", "sge.queu", /unknown field "queu"/],
    ["queue empty", replace("  queue: all.q", '  queue: ""'), '""', "sge.queue", /at least 1|too small/i],
    [
      "qsub_options a list",
      replace('qsub_options: "-l h_rt=24:00:00 -l mem_free=4G"', "qsub_options: [a, b]"),
      "[a, b]",
      "sge.qsub_options",
      /expected string/,
    ],
    [
      "head slots zero",
      replace("    slots: 4", "    slots: 0"),
      '0\n    memory: "16G"',
      "head_node.resources.slots",
      />=1/,
    ],
    [
      "head slots a string",
      replace("    slots: 4", "    slots: four"),
      "four",
      "head_node.resources.slots",
      /expected number/,
    ],
    [
      "head slots missing",
      replace("    slots: 4\n", ""),
      "resources:\n    memory",
      "head_node.resources.slots",
      /required/,
    ],
    [
      "head memory malformed",
      replace('memory: "16G"', 'memory: "16 gigs"'),
      '"16 gigs"',
      "head_node.resources.memory",
      /memory size/,
    ],
    ["head memory negative", replace('memory: "16G"', "memory: -5"), "-5", "head_node.resources.memory", /memory size/],
    [
      "head_node missing",
      replace('head_node:\n  # Resources allocated to head node\n  resources:\n    slots: 4\n    memory: "16G"\n', ""),
      "# yaml-language-server",
      "head_node",
      /required/,
    ],
    [
      "typo in head resources",
      replace('    memory: "16G"', '    memory: "16G"\n    cpus: 4'),
      "cpus:",
      "head_node.resources.cpus",
      /unknown field "cpus"/,
    ],
    [
      "worker slots fractional",
      replace("    slots: 2", "    slots: 1.5"),
      "1.5",
      "worker_nodes.resources.slots",
      /whole number/,
    ],
    [
      "worker memory malformed",
      replace('memory: "8G"', 'memory: "eight"'),
      '"eight"',
      "worker_nodes.resources.memory",
      /memory size/,
    ],
    ["min_workers negative", replace("min_workers: 2", "min_workers: -2"), "-2", "worker_nodes.min_workers", />=0/],
    [
      "max_workers of workers a string",
      replace("  max_workers: 10\n\n# Commands", "  max_workers: ten\n\n# Commands"),
      "ten",
      "worker_nodes.max_workers",
      /expected number/,
    ],
    [
      "setup_commands a string",
      replace("setup_commands:\n", "setup_commands: oops\nx_setup:\n"),
      "oops",
      "setup_commands",
      /expected array/,
    ],
    [
      "setup command a number",
      replace("  - source", "  - 42\n  - source"),
      "42\n",
      "setup_commands[0]",
      /expected string/,
    ],
    [
      "start command a map",
      replace("  - ray stop\n  - ray start --head", "  - {a: 1}\n  - ray start --head"),
      "{a: 1}",
      "head_start_ray_commands[0]",
      /expected string/,
    ],
    ["bad YAML indentation", replace("  queue: all.q", "   queue: all.q\n  x"), "x\n", "", /YAML/],
    [
      "duplicate key",
      replace("max_workers: 10\n", "max_workers: 10\nmax_workers: 11\n"),
      "max_workers: 11",
      "",
      /YAML: Map keys must be unique/,
    ],
    ["tab indentation", replace("  queue: all.q", "\tqueue: all.q"), "\tqueue", "", /YAML/],
    [
      "provider module empty",
      replace("module: ray_sge_provider.SGENodeProvider", 'module: ""'),
      '""  #',
      "provider.module",
      /too small|at least/i,
    ],
    [
      "gpus negative",
      replace("    slots: 2", "    slots: 2\n    gpus: -1"),
      "-1",
      "worker_nodes.resources.gpus",
      />=0/,
    ],
    [
      "h_rt malformed",
      replace("  project: raysge_demo", "  project: raysge_demo\n  h_rt: one day"),
      "one day",
      "sge.h_rt",
      /H:MM:SS/,
    ],
    [
      "label value with a comma",
      `${EXAMPLE}\navailable_node_types:\n  big:\n    resources: { slots: 2 }\n    labels: { tier: "a,b" }\n`,
      '"a,b"',
      "available_node_types.big.labels.tier",
      /label value/,
    ],
    ["ray gcs port out of range", `${EXAMPLE}\nray:\n  gcs_port: 80\n`, "80", "ray.gcs_port", />=1024/],
    [
      "node type name with a space",
      `${EXAMPLE}\navailable_node_types:\n  "big one":\n    resources: { slots: 2 }\n`,
      '"big one"',
      "available_node_types.big one",
      /bad name: expected a node type name/,
    ],
    [
      "node type without resources",
      `${EXAMPLE}\navailable_node_types:\n  big:\n    min_workers: 1\n`,
      "big:",
      "available_node_types.big.resources",
      /required/,
    ],
    [
      "custom resource negative",
      `${EXAMPLE}\navailable_node_types:\n  big:\n    resources: { slots: 2, custom: { x: -1 } }\n`,
      "-1",
      "available_node_types.big.resources.custom.x",
      />=0/,
    ],
    [
      "autoscaler mode unknown",
      `${EXAMPLE}\nautoscaler:\n  mode: remote\n`,
      "remote",
      "autoscaler.mode",
      /head.*local.*off/,
    ],
    [
      "autoscaler interval too short",
      `${EXAMPLE}\nautoscaler:\n  interval_seconds: 0.01\n`,
      "0.01",
      "autoscaler.interval_seconds",
      />=0.1/,
    ],
  ];

  it(`has a corpus of at least 30 broken configs (${corpus.length})`, () =>
    expect(corpus.length).toBeGreaterThanOrEqual(30));

  it.each(corpus)("refuses %s, naming file:line:col and the field", (_, text, marker, path, message) => {
    const issues = issuesOf(text);
    const pos = where(text, marker);
    const hit = issues.find(
      (i) => i.path === path && message.test(i.message) && i.line === pos.line && i.col === pos.col,
    );
    expect(hit, `expected ${path} at ${pos.line}:${pos.col}, got ${JSON.stringify(issues)}`).toBeDefined();
    expect(hit?.file).toBe("cluster.yaml");
  });

  it("refuses an empty file", () => {
    expect(issuesOf("")[0]).toMatchObject({ line: 1, col: 1, message: expect.stringMatching(/empty/) });
  });

  it("formats issues as file:line:col: field: message", () => {
    expect(() => parseConfig(replace("    slots: 4", "    slots: 0"), "c.yaml")).toThrow(
      /^c\.yaml:\d+:\d+: head_node\.resources\.slots: /,
    );
  });
});

describe("normaliseConfig", () => {
  const { spec, warnings } = normaliseConfig(parseConfig(EXAMPLE, "c.yaml"), { home: "/home/u" });

  it("maps the guide's config to a cluster spec", () => {
    expect(spec.name).toBe("ray-sge-cluster");
    expect(spec.stateDir).toBe("/home/u/.ray-sge/clusters/ray-sge-cluster");
    expect(spec.head).toMatchObject({ slots: 4, memoryBytes: 16 * 1024 ** 3, minWorkers: 1, maxWorkers: 1 });
    expect(spec.head.sge).toEqual({
      queue: "all.q",
      project: "raysge_demo",
      parallelEnvironment: "smp",
      hardRuntime: "24:00:00",
      resources: {},
      nativeArgs: [],
    });
    expect(spec.workerTypes).toHaveLength(1);
    expect(spec.workerTypes[0]).toMatchObject({
      name: "worker",
      slots: 2,
      memoryBytes: 8 * 1024 ** 3,
      minWorkers: 2,
      maxWorkers: 10,
    });
    expect(spec.maxWorkers).toBe(10);
  });

  it("autoscaler: in the head job, every second, by default; settings carried over", () => {
    expect(spec.autoscaler).toEqual({
      mode: "head",
      intervalMs: 1000,
      queuedGraceMs: 30_000,
      failureBackoffMs: 30_000,
      waitForBursts: true,
      upscalingSpeed: 1,
    });
    const custom = normaliseConfig(
      parseConfig(
        `${EXAMPLE}\nautoscaler: { mode: local, interval_seconds: 0.5, walltime_margin_seconds: 90, queued_grace_seconds: 5, failure_backoff_seconds: 10, wait_for_bursts: false }\nupscaling_speed: 2.5\n`,
        "c.yaml",
      ),
      { home: "/home/u" },
    ).spec.autoscaler;
    expect(custom).toEqual({
      mode: "local",
      intervalMs: 500,
      walltimeMarginMs: 90_000,
      queuedGraceMs: 5000,
      failureBackoffMs: 10_000,
      waitForBursts: false,
      upscalingSpeed: 2.5,
    });
  });

  it("keeps the intent of the naive parts and says what it does instead", () => {
    const text = warnings.join("\n");
    expect(text).toMatch(/auth: not needed/);
    expect(text).toMatch(/head_start_ray_commands\[0\]: "ray stop" is dropped/);
    expect(text).toMatch(/worker_start_ray_commands\[0\]: "ray stop" is dropped/);
    expect(text).toMatch(/--port=6379 is not used: fixed ports collide/);
    expect(text).toMatch(
      /--dashboard-host=0\.0\.0\.0 is not used: the dashboard listens on the head's own address, never on every interface, and answers only with the cluster's token/,
    );
    expect(text).toMatch(/--autoscaling-config is not used/);
    expect(text).toMatch(/--address is not used/);
    expect(text).toMatch(/memory \(16G\) replaces -l mem_free=4G/);
    expect(spec.head.rayStartArgs).toEqual([]);
    expect(spec.head.setupCommands).toEqual([
      "source /opt/ray-sge/ray-2.58.1/bin/activate",
      'echo "ray $(ray --version) on $(hostname)"',
    ]);
  });

  it("keeps other ray start options and drops sleeps", () => {
    const text = EXAMPLE.replace(
      "  - ray stop\n  - ray start --head",
      "  - sleep 30\n  - ray start --object-store-memory 1000000 --head",
    );
    const n = normaliseConfig(parseConfig(text, "c.yaml"), { home: "/h" });
    expect(n.spec.head.rayStartArgs).toEqual(["--object-store-memory=1000000"]);
    expect(n.warnings.join("\n")).toMatch(/"sleep 30" is dropped/);
  });

  it("refuses ray stop in setup commands and impossible limits", () => {
    expect(() =>
      normaliseConfig(parseConfig(EXAMPLE.replace("  - source", "  - ray stop\n  - source"), "c.yaml")),
    ).toThrow(/setup_commands\[0\]: "ray stop"/);
    expect(() => normaliseConfig(parseConfig(EXAMPLE.replace("min_workers: 2", "min_workers: 20"), "c.yaml"))).toThrow(
      /min_workers \(20\) is more than max_workers \(10\)/,
    );
    expect(() =>
      normaliseConfig(parseConfig(EXAMPLE.replace('qsub_options: "-l', 'qsub_options: "-N x -l'), "c.yaml")),
    ).toThrow(/-N is set by ray-sge/);
  });
});

describe("loadClusterSpec", () => {
  it("points errors found after the schema at their field in the file", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadClusterSpec } = await import("../../src/config/index.js");
    const file = join(mkdtempSync(join(tmpdir(), "rsge-cfg-")), "c.yaml");
    writeFileSync(
      file,
      `cluster_name: c1
head_node:
  resources: { slots: 1 }
available_node_types:
  broken:
    resources: { slots: 1 }
    sge: { qsub_options: "-wd /x" }
`,
    );
    const e = await loadClusterSpec(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe(
      `${file}:7:26: available_node_types.broken.sge.qsub_options: -wd is set by ray-sge for its jobs and cannot be given in qsub_options`,
    );
  });

  it("points at fields whose message does not start with their name (max_workers, a ray stop in a list)", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { loadClusterSpec } = await import("../../src/config/index.js");
    const dir = mkdtempSync(join(tmpdir(), "rsge-cfg-"));
    const file = join(dir, "c.yaml");
    writeFileSync(
      file,
      `cluster_name: c1
max_workers: 1
head_node:
  resources: { slots: 1 }
worker_nodes:
  resources: { slots: 1 }
  min_workers: 2
  max_workers: 3
`,
    );
    const e = await loadClusterSpec(file).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).issues).toEqual([
      { file, line: 2, col: 14, path: "max_workers", message: "1 is less than the sum of min_workers (2)" },
    ]);
    const file2 = join(dir, "d.yaml");
    writeFileSync(
      file2,
      `cluster_name: c1\nhead_node:\n  resources: { slots: 1 }\nsetup_commands:\n  - echo hi\n  - ray stop --force\n`,
    );
    const e2 = await loadClusterSpec(file2).catch((x: unknown) => x);
    expect((e2 as ConfigError).issues[0]).toMatchObject({ line: 6, col: 5, path: "setup_commands[1]" });
  });
});

describe("shellWords", () => {
  it("splits like a shell, refuses operators", () => {
    expect(shellWords(`-l h_rt=1:00:00 -q 'all.q@node*' -ac "a=b c" x\\ y`)).toEqual([
      "-l",
      "h_rt=1:00:00",
      "-q",
      "all.q@node*",
      "-ac",
      "a=b c",
      "x y",
    ]);
    expect(() => shellWords("-l a=1; rm -rf ~")).toThrow(/not supported/);
    expect(() => shellWords("-l $(id)")).toThrow(/not supported/);
    expect(() => shellWords("'unclosed")).toThrow(/unclosed/);
  });
});

describe("JSON schema for editors", () => {
  it("is the one generated from the config schema (run `npm run schema` after changing it)", () => {
    const committed = JSON.parse(
      readFileSync(new URL("../../schema/ray-sge-config.schema.json", import.meta.url), "utf8"),
    );
    expect(committed).toEqual(configJsonSchema());
  });

  it("describes the guide's fields", () => {
    const s = configJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(s.properties)).toEqual(
      expect.arrayContaining(["cluster_name", "sge", "head_node", "worker_nodes", "available_node_types"]),
    );
    expect(Object.keys(s.properties)).toContain("head_node_type");
    // the head is head_node or Ray's head_node_type: one of them, which the schema checks in code
    expect(s.required).toEqual(["cluster_name"]);
  });
});
