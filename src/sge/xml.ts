/**
 * Two ways to read Grid Engine's XML, both on the scanner in xml-scan.ts:
 * - `xmlRecords`/`xmlRecordBatches`: stream flat records (e.g. every <job_list>) out of a document of
 *   any size with memory bounded by one chunk, for `qstat -xml` of 100k jobs (34 MB) and the like;
 * - `parseXmlTree`: a small element tree for small documents such as `qstat -j ID -xml`.
 */
import { StringDecoder } from "node:string_decoder";
import { decodeEntities, XmlScanner } from "./xml-scan.js";

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
  /** Nesting depth of the record element (the root is 0). */
  depth: number;
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

/**
 * Stream records out of an XML document, in batches (the records completed by each chunk of input):
 * one await per chunk instead of one per record keeps 100k-record documents fast.
 * Throws on malformed or truncated input.
 */
export async function* xmlRecordBatches(source: ChunkSource, spec: RecordSpec): AsyncGenerator<XmlRecord[]> {
  let ready: XmlRecord[] = [];
  const open: XmlRecord[] = [];
  let depth = 0;
  // the open leaf element inside a record (no object per leaf: 100k records have ~1M leaves)
  let leafKey: string | undefined;
  let leafText = "";
  let sawRoot = false;

  const scanner = new XmlScanner({
    open(name, attrs) {
      if (!sawRoot) {
        sawRoot = true;
        if (spec.roots && !spec.roots.has(name)) {
          throw new Error(`expected a <${[...spec.roots].join("> or <")}> document, got <${name}>`);
        }
      }
      if (spec.records.has(name)) {
        const rec: XmlRecord = { tag: name, attrs, fields: {}, depth };
        const parent = open[open.length - 1];
        if (parent) rec.parent = parent;
        open.push(rec);
        leafKey = undefined;
      } else if (open.length > 0) {
        leafKey = attrs.name !== undefined ? `${name}:${attrs.name}` : name;
        leafText = "";
      }
      depth++;
    },
    text(buf, start, end) {
      if (leafKey === undefined) return;
      const t = decodeEntities(buf.slice(start, end));
      leafText = leafText === "" ? t : leafText + t;
    },
    close(name) {
      depth--;
      const current = open[open.length - 1];
      if (current && name === current.tag && depth === current.depth) {
        open.pop();
        ready.push(current);
        leafKey = undefined;
      } else if (current && leafKey !== undefined) {
        current.fields[leafKey] = leafText;
        leafKey = undefined;
      }
    },
  });

  for await (const chunk of decodeChunks(source)) {
    scanner.write(chunk);
    if (ready.length > 0) {
      yield ready;
      ready = [];
    }
  }
  scanner.end();
  if (ready.length > 0) yield ready;
}

/** Stream records one by one (see xmlRecordBatches). */
export async function* xmlRecords(source: ChunkSource, spec: RecordSpec): AsyncGenerator<XmlRecord> {
  for await (const batch of xmlRecordBatches(source, spec)) yield* batch;
}

export interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

/** Parse a small XML document into a tree. */
export function parseXmlTree(text: string): XmlNode {
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  const scanner = new XmlScanner({
    open(name, attrs) {
      const node: XmlNode = { name, attrs, children: [], text: "" };
      const top = stack[stack.length - 1];
      if (top) top.children.push(node);
      else root = node;
      stack.push(node);
    },
    text(buf, start, end) {
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(buf.slice(start, end));
    },
    close() {
      stack.pop();
    },
  });
  scanner.write(text);
  scanner.end();
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
