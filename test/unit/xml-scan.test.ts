// The scanner against saxes (a strict, general XML parser, kept as the reference) on every recorded
// Grid Engine output, fed in chunks split at every position; and on malformed input.
import { readdirSync } from "node:fs";
import { SaxesParser } from "saxes";
import { describe, expect, it } from "vitest";
import { decodeEntities, XmlScanner } from "../../src/sge/xml-scan.js";
import { FIXTURE_SETS, fixture, fixtureDir } from "../support/fixtures.js";

type Event = ["open", string, Record<string, string>] | ["text", string] | ["close", string];

/** Events with adjacent text merged and whitespace-only text dropped (chunking may split text). */
function normalise(events: Event[]): Event[] {
  const out: Event[] = [];
  for (const e of events) {
    const last = out[out.length - 1];
    if (e[0] === "text" && last?.[0] === "text") last[1] += e[1];
    else out.push(e[0] === "open" ? ["open", e[1], { ...e[2] }] : ([...e] as Event));
  }
  return out.filter((e) => e[0] !== "text" || e[1].trim() !== "");
}

/** saxes, strict, reads Grid Engine's known malformed tags once they are written as what they mean. */
function viaSaxes(text: string): Event[] {
  text = text.replace(/<(\/?)JATASK:\s+[0-9]+\.>/g, "<$1JATASK>").replace(/<(\/?)>/g, "<$1element>");
  const events: Event[] = [];
  const p = new SaxesParser();
  p.on("opentag", (t) => events.push(["open", t.name, t.attributes as Record<string, string>]));
  p.on("text", (t) => events.push(["text", t]));
  p.on("cdata", (t) => events.push(["text", t]));
  p.on("closetag", (t) => events.push(["close", t.name]));
  p.write(text).close();
  return normalise(events);
}

function viaScanner(chunks: string[]): Event[] {
  const events: Event[] = [];
  const s = new XmlScanner({
    open: (name, attrs) => events.push(["open", name, attrs]),
    text: (buf, a, b) => events.push(["text", decodeEntities(buf.slice(a, b))]),
    close: (name) => events.push(["close", name]),
  });
  for (const c of chunks) s.write(c);
  s.end();
  return normalise(events);
}

const xmlFixtures = FIXTURE_SETS.flatMap((set) =>
  readdirSync(fixtureDir(set))
    .filter((f) => f.endsWith(".xml"))
    .map((f) => [set, f] as const),
);

describe("XmlScanner equals saxes", () => {
  it.each(xmlFixtures)(
    "%s/%s, whole and split at every position",
    (set, name) => {
      const text = fixture(name, set);
      const expected = viaSaxes(text);
      expect(viaScanner([text])).toEqual(expected);
      // the splits compare serialised events: a deep toEqual of thousands of events per split cost
      // ~2 min of CPU for the fixture sets, which slowed the integration tests running beside them
      const want = JSON.stringify(expected);
      const splitAt = (i: number) => JSON.stringify(viaScanner([text.slice(0, i), text.slice(i)]));
      // every split point of the first 3000 characters, then about 1500 more spread over the rest
      const step = Math.max(7, Math.ceil((text.length - 3000) / 1500));
      const wrong: number[] = [];
      for (let i = 1; i < text.length; i += i < 3000 ? 1 : step) if (splitAt(i) !== want) wrong.push(i);
      expect(wrong, "split positions where the events differ").toEqual([]);
      // tiny chunks everywhere
      const tiny: string[] = [];
      for (let i = 0; i < text.length; i += 3) tiny.push(text.slice(i, i + 3));
      expect(viaScanner(tiny)).toEqual(expected);
    },
    120_000,
  ); // 9.1's qstat -j documents (17 KB) take ~4500 whole parses each

  it("handles entities, quoted '>' in attributes, self-closing tags, comments and CDATA like saxes", () => {
    const doc = `<?xml version='1.0'?>\n<!-- c -->\n<r a="x > y" b='q "z"' c="&lt;&amp;&#65;&#x42;"><e/><t>a &amp; b &quot;c&quot; &apos;d&apos; &#233;</t><!-- in --><d><![CDATA[<raw & stuff>]]></d></r>`;
    expect(viaScanner([doc])).toEqual(viaSaxes(doc));
    for (let i = 1; i < doc.length; i++) expect(viaScanner([doc.slice(0, i), doc.slice(i)])).toEqual(viaSaxes(doc));
  });

  it.each([
    ["", /empty/],
    ["   \n", /empty/],
    ["<a><b></a>", /closes <b>/],
    ["<a>", /still open/],
    ["<a></a><b/>", /after the root/],
    ["<a>&bogus;</a>", /unknown entity/],
    ["<!DOCTYPE a [<!ENTITY x 'y'>]><a/>", /DOCTYPE/],
    ["text<a/>", /outside the root/],
    ['<a b="unterminated></a>', /ends inside/],
    ["<a b=c></a>", /malformed attributes/],
    ["<a><JATASK: 12></JATASK: 12></a>", /malformed attributes/],
    ["<a><JATASK:x 12.></JATASK:x 12.></a>", /malformed attributes/],
  ])("refuses %j", (doc, message) => {
    expect(() => viaScanner([doc])).toThrow(message);
  });
});
