import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileTail } from "../../src/base/tail.js";

describe("FileTail", () => {
  it("reads what was appended since the last look, from the start or from the end, a missing file as empty", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tail-"));
    const f = join(dir, "log");
    const fromStart = await FileTail.of(f);
    expect(await fromStart.read()).toBe("");
    writeFileSync(f, "one\n");
    const fromEnd = await FileTail.of(f, "end");
    expect(await fromStart.read()).toBe("one\n");
    appendFileSync(f, `two\n${"x".repeat(100_000)}\n`);
    expect(await fromEnd.read()).toBe(`two\n${"x".repeat(100_000)}\n`);
    expect(await fromStart.read()).toBe(`two\n${"x".repeat(100_000)}\n`);
    expect(await fromStart.read()).toBe("");
  });

  it("keeps a character whose bytes are not all written yet for the next look (a log line mid-write)", async () => {
    const f = join(mkdtempSync(join(tmpdir(), "tail-")), "log");
    const bytes = Buffer.from("naïve ✓\n");
    const cut = bytes.indexOf(Buffer.from("✓")) + 1;
    writeFileSync(f, bytes.subarray(0, cut));
    const t = await FileTail.of(f);
    expect(await t.read()).toBe("naïve ");
    appendFileSync(f, bytes.subarray(cut));
    expect(await t.read()).toBe("✓\n");
  });
});
