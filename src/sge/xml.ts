/**
 * Two ways to read Grid Engine's XML, both on saxes (a strict streaming parser):
 * - `xmlRecords`: streams flat records (e.g. every <job_list>) out of a document of any size with
 *   memory bounded by one record, for `qstat -xml` of 100k jobs (34 MB) and the like;
 * - `parseXmlTree`: a small element tree for small documents such as `qstat -j ID -xml`.
 */
import { StringDecoder } from "node:string_decoder";
import { SaxesParser } from "saxes";

/** Text or bytes, from a stream or an array of chunks. */
export type ChunkSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

export interface XmlRecord {
  /** The record element's name, e.g. "job_list". */
  tag: string;
  attrs: Record<string, string>;
  /**
   * Text of the leaf elements inside the record, by element name. A leaf with a `name` attribute is
   * keyed `element:name` (qhost's `<hostvalue name='arch_string'>`).
   */
  fields: Record<string, string>;
  /** The fields of the enclosing record, when records nest (a job_list inside a Queue-List). */
  parent?: XmlRecord;
  /** Element names from the root to the record, e.g. ["job_info", "queue_info"]. */
  path: readonly string[];
}

export interface RecordSpec {
  /** Elements that make a record. */
  records: ReadonlySet<string>;
  /** If given, the root element must be one of these (else the output is not what we expect). */
  roots?: ReadonlySet<string>;
}

async function* decodeChunks(source: ChunkSource): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  for await (const chunk of source) yield typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer);
  const rest = decoder.end();
  if (rest) yield rest;
}

/** Stream records out of an XML document. Throws on malformed or truncated input. */
export async function* xmlRecords(source: ChunkSource, spec: RecordSpec): AsyncGenerator<XmlRecord> {
  const parser = new SaxesParser();
  const ready: XmlRecord[] = [];
  const path: string[] = [];
  const open: XmlRecord[] = [];
  let leaf: { key: string; text: string } | undefined;
  let sawRoot = false;

  parser.on("opentag", (tag) => {
    if (!sawRoot) {
      sawRoot = true;
      if (spec.roots && !spec.roots.has(tag.name)) {
        throw new Error(`expected a <${[...spec.roots].join("> or <")}> document, got <${tag.name}>`);
      }
    }
    const attrs = tag.attributes as Record<string, string>;
    if (spec.records.has(tag.name)) {
      const rec: XmlRecord = {
        tag: tag.name,
        attrs,
        fields: {},
        path: [...path],
      };
      const parent = open[open.length - 1];
      if (parent) rec.parent = parent;
      open.push(rec);
      leaf = undefined;
    } else if (open.length > 0) {
      leaf = {
        key: attrs.name !== undefined ? `${tag.name}:${attrs.name}` : tag.name,
        text: "",
      };
    }
    path.push(tag.name);
  });
  parser.on("text", (t) => {
    if (leaf) leaf.text += t;
  });
  parser.on("closetag", (tag) => {
    path.pop();
    const current = open[open.length - 1];
    if (current && tag.name === current.tag && path.length === current.path.length) {
      open.pop();
      ready.push(current);
      leaf = undefined;
    } else if (current && leaf) {
      current.fields[leaf.key] = leaf.text;
      leaf = undefined;
    }
  });

  for await (const chunk of decodeChunks(source)) {
    parser.write(chunk);
    if (ready.length > 0) {
      yield* ready;
      ready.length = 0;
    }
  }
  if (!sawRoot) throw new Error("the output is empty (no XML document)");
  parser.close();
  yield* ready;
}

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** Parse a small XML document into a tree. */
export function parseXmlTree(text: string): XmlNode {
  const parser = new SaxesParser();
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  parser.on("opentag", (tag) => {
    const node: XmlNode = {
      name: tag.name,
      attrs: tag.attributes as Record<string, string>,
      children: [],
      text: "",
    };
    const top = stack[stack.length - 1];
    if (top) top.children.push(node);
    else root = node;
    stack.push(node);
  });
  parser.on("text", (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  parser.write(text).close();
  if (!root) throw new Error("the output is empty (no XML document)");
  return root;
}

export function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  return node?.children.find((c) => c.name === name);
}

export function childrenOf(node: XmlNode | undefined, name: string): XmlNode[] {
  return node ? node.children.filter((c) => c.name === name) : [];
}

/** All descendants (depth first) with this name. */
export function descendants(node: XmlNode | undefined, name: string, out: XmlNode[] = []): XmlNode[] {
  if (!node) return out;
  for (const c of node.children) {
    if (c.name === name) out.push(c);
    descendants(c, name, out);
  }
  return out;
}

export function textOf(node: XmlNode | undefined, name: string): string | undefined {
  const c = child(node, name);
  return c === undefined ? undefined : c.text.trim();
}
