/**
 * Configs in Ray's own form (head_node_type, resources {CPU, GPU, memory}, node_config, Grid Engine
 * settings under provider:), the guide's YAML as `ray up` needs it, and `ray-sge config`, whose JSON
 * the Python provider reads (python/tests/fixtures are recorded from it: held equal here).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { plannerTypes } from "../../src/autoscaler/settings.js";
import { type ConfigView, renderConfig } from "../../src/cli/config.js";
import { rayResourceArgs } from "../../src/cluster/jobscript.js";
import { ConfigError, loadClusterSpec } from "../../src/config/index.js";

const EXAMPLES = new URL("../../examples/", import.meta.url).pathname;
const RAY_FORM = readFileSync(join(EXAMPLES, "ray-cluster.yaml"), "utf8");
const GUIDE = readFileSync(join(EXAMPLES, "ray-sge-cluster.yaml"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "rsge-rayform-"));

async function load(text: string, name = "c.yaml") {
  const file = join(dir, name);
  writeFileSync(file, text);
  return loadClusterSpec(file, { home: "/home/user" });
}

async function issues(text: string): Promise<string[]> {
  try {
    await load(text, "bad.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.line}:${i.col}: ${i.path}: ${i.message}`);
    throw e;
  }
  throw new Error("expected the config to be refused");
}

function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the text has no ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

describe("Ray's own form", () => {
  it("reads the example: head type, worker types, resources, provider and node_config settings", async () => {
    const { spec, warnings } = await load(RAY_FORM);
    expect(spec.head).toMatchObject({ name: "head", slots: 4, memoryBytes: 16 * 1024 ** 3, gpus: 0 });
    expect(spec.head.sge).toMatchObject({ queue: "all.q", project: "raysge_demo", parallelEnvironment: "smp" });
    expect(spec.head.sge.hardRuntime).toBe("24:00:00");
    const [w] = spec.workerTypes;
    expect(w).toMatchObject({ name: "ray.worker.default", slots: 2, minWorkers: 2, maxWorkers: 10 });
    expect(w?.memoryBytes).toBe(8 * 1024 ** 3);
    // the type's node_config adds to (and overrides) the provider's settings
    expect(w?.sge.hardRuntime).toBe("8:00:00");
    expect(w?.sge.queue).toBe("all.q");
    // Ray's empty boilerplate (file_mounts: {}, [] ...) is not worth a warning; the naive parts are
    expect(warnings.some((x) => x.startsWith("file_mounts"))).toBe(false);
    expect(warnings.filter((x) => /ray stop|not used/.test(x))).toHaveLength(7);
  });

  it("takes CPU: 0 as a head that asks one slot and tells Ray it has no CPUs", async () => {
    const { spec } = await load(edit(RAY_FORM, '{"CPU": 4, "memory": 17179869184}', '{"CPU": 0, "GPU": 1, "a100": 2}'));
    expect(spec.head).toMatchObject({ slots: 1, cpus: 0, gpus: 1, customResources: { a100: 2 } });
    expect(rayResourceArgs(spec.head)).toContain("--num-cpus=0");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the bash expansion the job script holds
    expect(rayResourceArgs(spec.workerTypes[0] as never)).toContain("--num-cpus=${NSLOTS:-2}");
  });

  it("gives the autoscaler a worker type's Ray CPUs", async () => {
    const text = edit(RAY_FORM, '{"CPU": 2, "memory": 8589934592}', '{"CPU": 0, "memory": 8589934592}');
    const { spec } = await load(text);
    expect(plannerTypes(spec)[0]?.resources.CPU).toBe(0);
  });

  it("reads a type's own worker_setup_commands instead of the global ones (as Ray does)", async () => {
    const text = edit(
      RAY_FORM,
      "    min_workers: 2\n",
      "    min_workers: 2\n    worker_setup_commands: [source /opt/other/bin/activate]\n",
    );
    const { spec } = await load(text);
    expect(spec.workerTypes[0]?.setupCommands).toEqual(["source /opt/other/bin/activate"]);
    expect(spec.head.setupCommands).toEqual(["source /opt/ray-sge/ray-2.58.1/bin/activate"]);
  });

  const corpus: [string, string, RegExp][] = [
    [
      "resources with neither CPU nor slots",
      edit(RAY_FORM, '{"CPU": 4, "memory": 17179869184}', "{}"),
      /^26:5: available_node_types\.ray\.head\.default\.resources\.slots: is required: slots .* or CPU/,
    ],
    [
      "slots and CPU together",
      edit(RAY_FORM, '{"CPU": 4, "memory": 17179869184}', "{CPU: 4, slots: 4}"),
      /^26:\d+: available_node_types\.ray\.head\.default\.resources\.CPU: give slots .* or CPU .*, not both/,
    ],
    [
      "a misspelt GPU in Ray's form",
      edit(RAY_FORM, '{"CPU": 2, "memory": 8589934592}', "{CPU: 2, GPUs: 1}"),
      /^31:25: available_node_types\.ray\.worker\.default\.resources\.GPUs: "GPUs": a typo\?/,
    ],
    [
      "Ray's names in ray-sge's form",
      edit(GUIDE, "    slots: 2\n", "    slots: 2\n    GPU: 1\n"),
      /worker_nodes\.resources\.GPU: unknown field "GPU" with slots/,
    ],
    [
      "a head type that is not there",
      edit(RAY_FORM, "head_node_type: ray.head.default", "head_node_type: ray.head.big"),
      /^36:17: head_node_type: "ray\.head\.big" is not one of available_node_types \(ray\.head\.default, ray\.worker\.default\)/,
    ],
    [
      "a setting under provider and under sge",
      `${RAY_FORM}\nsge:\n  queue: other.q\n`,
      /^15:10: provider\.queue: also given as sge\.queue: give each Grid Engine setting once/,
    ],
    [
      "node_config and sge in one type",
      edit(
        RAY_FORM,
        "    node_config:\n      qsub_options",
        "    sge: { queue: a.q }\n    node_config:\n      qsub_options",
      ),
      /available_node_types\.ray\.worker\.default\.node_config: also given as available_node_types\.ray\.worker\.default\.sge/,
    ],
    [
      "head_node and head_node_type",
      `${RAY_FORM}\nhead_node:\n  resources: { slots: 1 }\n`,
      /head_node: give the head as head_node or as head_node_type, not both/,
    ],
    [
      "an unknown Grid Engine setting in node_config",
      edit(RAY_FORM, "    node_config: {}", "    node_config: { InstanceType: m5.large }"),
      /available_node_types\.ray\.head\.default\.node_config\.InstanceType: unknown field "InstanceType"/,
    ],
  ];
  for (const [what, text, want] of corpus) {
    it(`refuses ${what} at file:line:col`, async () => {
      const got = await issues(text);
      expect(
        got.some((i) => want.test(i)),
        got.join("\n"),
      ).toBe(true);
    });
  }
});

describe("the guide's YAML as ray up needs it", () => {
  it("is the guide's cluster: the same spec as the guide's own text, and a hint when the module lacks its class", async () => {
    const guideAsWritten = edit(
      edit(GUIDE, "module: ray_sge_provider.SGENodeProvider", "module: ray_sge_provider"),
      "head_setup_commands: []\nworker_setup_commands: []\n",
      "",
    );
    const shipped = await load(GUIDE, "shipped.yaml");
    const original = await load(guideAsWritten, "original.yaml");
    expect(shipped.spec).toEqual(original.spec);
    expect(original.warnings.some((w) => w.includes("module: ray_sge_provider.SGENodeProvider"))).toBe(true);
    expect(shipped.warnings.some((w) => w.startsWith("provider.module"))).toBe(false);
  });
});

describe("ray-sge config", () => {
  it("prints what each node type asks of Ray and of Grid Engine", async () => {
    const { spec, warnings } = await load(RAY_FORM);
    const view: ConfigView = { file: "ray-cluster.yaml", cluster: spec.name, stateDir: spec.stateDir, spec, warnings };
    const text = renderConfig(view);
    expect(text).toContain(
      "head                1      CPU 4, memory 16.0 GiB  -pe smp 4 -q all.q -P raysge_demo -l h_rt=24:00:00",
    );
    expect(text).toContain(
      "ray.worker.default  2-10   CPU 2, memory 8.0 GiB   -pe smp 2 -q all.q -P raysge_demo -l h_rt=8:00:00",
    );
    expect(text).toContain(`${warnings.length} warning(s):`);
  });

  for (const example of ["ray-sge-cluster", "ray-cluster"]) {
    it(`--json of ${example}.yaml is what the Python provider's tests were recorded with`, async () => {
      const { spec, warnings } = await loadClusterSpec(join(EXAMPLES, `${example}.yaml`), { home: "/home/user" });
      const recorded = JSON.parse(
        readFileSync(new URL(`../../python/tests/fixtures/config-${example}.json`, import.meta.url), "utf8"),
      );
      // re-record: HOME=/home/user node bin/ray-sge.js config examples/X.yaml --json > python/tests/fixtures/config-X.json
      expect(recorded.spec).toEqual(spec);
      expect(recorded.warnings).toEqual(warnings);
    });
  }
});
