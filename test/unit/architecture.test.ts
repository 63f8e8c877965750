// The layering of src/ (README, Architecture): cli -> autoscaler | batch -> cluster -> config -> sge / ray -> base.
// A file imports only files of its own folder or of a layer below, and there is no import cycle.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../src/", import.meta.url).pathname;
const RANK: Record<string, number> = {
  base: -1,
  sge: 0,
  ray: 0,
  config: 1,
  cluster: 2,
  autoscaler: 3,
  batch: 3,
  cli: 4,
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const files = sources(SRC).map((f) => relative(SRC, f));
const imports = new Map(
  files.map((f) => [
    f,
    [...readFileSync(join(SRC, f), "utf8").matchAll(/from "(\.[^"]+)"/g)].map((m) =>
      normalize(join(dirname(f), (m[1] as string).replace(/\.js$/, ".ts"))),
    ),
  ]),
);
const layer = (f: string) => f.split("/")[0] as string;

describe("the layers of src/", () => {
  it("every folder has a layer", () => {
    expect(files.map(layer).filter((l) => !l.endsWith(".ts") && RANK[l] === undefined)).toEqual([]);
  });

  it("no file imports from a layer above its own", () => {
    const upward = files.flatMap((f) =>
      (imports.get(f) ?? [])
        .filter((t) => (RANK[layer(t)] ?? -1) > (RANK[layer(f)] ?? Number.POSITIVE_INFINITY))
        .map((t) => `${f} -> ${t}`),
    );
    expect(upward).toEqual([]);
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...path.slice(path.indexOf(f)), f].join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const t of imports.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
