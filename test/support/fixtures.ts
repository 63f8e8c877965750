import { readFileSync } from "node:fs";
import { Readable } from "node:stream";

/** The schedulers whose outputs are recorded, by folder under test/fixtures (see its README.md). */
export type FixtureSet = "sge-8.1.9" | "ocs-9.1";
export const FIXTURE_SETS: FixtureSet[] = ["sge-8.1.9", "ocs-9.1"];

export function fixtureDir(set: FixtureSet = "sge-8.1.9"): URL {
  return new URL(`../fixtures/${set}/`, import.meta.url);
}

/** A recorded real output: of gridengine 8.1.9 unless another set is named. */
export function fixture(name: string, set: FixtureSet = "sge-8.1.9"): string {
  return readFileSync(new URL(name, fixtureDir(set)), "utf8");
}

/** The fixture as a stream in small chunks, so parsers meet tags split across chunks. */
export function fixtureStream(name: string, chunkSize = 97, set: FixtureSet = "sge-8.1.9"): Readable {
  const text = fixture(name, set);
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += chunkSize) chunks.push(text.slice(i, i + chunkSize));
  return Readable.from(chunks);
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
