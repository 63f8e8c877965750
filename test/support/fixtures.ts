import { readFileSync } from "node:fs";
import { Readable } from "node:stream";

const DIR = new URL("../fixtures/sge-8.1.9/", import.meta.url);

/** A recorded real output of gridengine 8.1.9 (recorded on the testbed; see test/fixtures/README.md). */
export function fixture(name: string): string {
  return readFileSync(new URL(name, DIR), "utf8");
}

/** The fixture as a stream in small chunks, so parsers meet tags split across chunks. */
export function fixtureStream(name: string, chunkSize = 97): Readable {
  const text = fixture(name);
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += chunkSize) chunks.push(text.slice(i, i + chunkSize));
  return Readable.from(chunks);
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
