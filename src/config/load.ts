/**
 * Config text -> validated RawConfig, with every problem placed at file:line:col. Pure apart from
 * `loadConfigFile`, which only reads the file.
 */
import { readFile } from "node:fs/promises";
import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { configSchema, type RawConfig } from "./schema.js";

export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  /** The field, e.g. "worker_nodes.resources.slots". */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

/**
 * The YAML node at a path: its value and key nodes, or, when the path does not exist (a missing
 * field), `found: false` with the deepest existing ancestor's key, so the error points at the parent.
 */
function nodeAt(
  root: Node | null,
  path: readonly PropertyKey[],
): { node: Node | null; key: Node | null; found: boolean } {
  let node: Node | null = root;
  let key: Node | null = null;
  for (const p of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (it.key as { value?: unknown } | null)?.value === p);
      if (!pair) return { node, key, found: false };
      key = pair.key as Node;
      node = (pair.value as Node | null) ?? key;
    } else if (isSeq(node) && typeof p === "number") {
      const item = node.items[p] as Node | undefined;
      if (!item) return { node, key, found: false };
      node = item;
    } else return { node, key, found: false };
  }
  return { node, key, found: true };
}

/** Parse and validate. Throws ConfigError with every issue found, each with its position. */
export function parseConfig(text: string, file: string): RawConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number) => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({ file, ...at(e.pos[0]), path: "", message: `YAML: ${e.message.split("\n")[0]}` })),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new ConfigError([
      {
        file,
        line: 1,
        col: 1,
        path: "",
        message: "the file is empty: expected a cluster config (see examples/ray-sge-cluster.yaml)",
      },
    ]);
  }
  const result = configSchema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue): ConfigIssue => {
    // an unknown key, or a bad key of a map: point at the key itself
    const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const path = keys.length > 0 ? [...issue.path, keys[0] as string] : issue.path;
    const { node, key, found } = nodeAt(doc.contents, path);
    const onKey =
      keys.length > 0 || issue.code === "invalid_key" || (issue.code === "custom" && issue.params?.onKey === true);
    // a missing field points at its parent's key (line 1 when the parent is the whole file)
    const target = !found ? key : onKey ? (key ?? node) : node;
    const pos = target?.range ? at(target.range[0]) : { line: 1, col: 1 };
    return { file, ...pos, path: pathText(path), message: describeIssue(issue, keys) };
  });
  issues.sort((a, b) => a.line - b.line || a.col - b.col);
  throw new ConfigError(issues);
}

interface ZodIssueLike {
  code: string;
  message: string;
  expected?: unknown;
  issues?: ZodIssueLike[];
}

function describeIssue(issue: ZodIssueLike, keys: string[]): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")} (a typo? see the config reference in README.md)`;
  }
  if (issue.code === "invalid_key" && issue.issues?.[0]) return `bad name: ${describeIssue(issue.issues[0], [])}`;
  const text = issue.message.replace(/^Invalid input: /, "");
  if (issue.code === "invalid_type" && /received undefined/.test(text)) return `is required (${text})`;
  if (issue.code === "invalid_type" && issue.expected === "int") return `expected a whole number (${text})`;
  return text;
}

/**
 * Where a field is in the config text ("available_node_types.gpu.sge.qsub_options", "setup_commands[0]"):
 * for errors found after the schema (by normalise.ts), which name the field first. Line 1 if not found.
 */
export function locateField(text: string, field: string): { line: number; col: number } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const path = [...field.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) =>
    m[2] !== undefined ? Number(m[2]) : (m[1] as string),
  );
  const { node, key, found } = nodeAt(doc.contents, path);
  const target = found ? node : key;
  if (!target?.range) return { line: 1, col: 1 };
  const p = lineCounter.linePos(target.range[0]);
  return { line: p.line, col: p.col };
}

export async function loadConfigFile(path: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([
      {
        file: path,
        line: 1,
        col: 1,
        path: "",
        message: code === "ENOENT" ? "no such file" : `cannot read: ${(e as Error).message}`,
      },
    ]);
  }
  return parseConfig(text, path);
}
