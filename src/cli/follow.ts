/** `tail -f` of several files: what is appended from now on, prefixed by its node when there are several. */
import { open, stat } from "node:fs/promises";
import { sleep } from "../base/sleep.js";

export async function follow(targets: readonly { id: string; file: string }[], signal: AbortSignal): Promise<void> {
  const offsets = new Map<string, number>();
  for (const t of targets)
    offsets.set(
      t.file,
      await stat(t.file)
        .then((s) => s.size)
        .catch(() => 0),
    );
  while (!signal.aborted) {
    for (const t of targets) {
      const size = await stat(t.file)
        .then((s) => s.size)
        .catch(() => 0);
      const from = offsets.get(t.file) ?? 0;
      if (size <= from) continue;
      const fh = await open(t.file, "r");
      const buf = Buffer.alloc(size - from);
      try {
        await fh.read(buf, 0, buf.length, from);
      } finally {
        await fh.close();
      }
      offsets.set(t.file, size);
      const text = buf.toString("utf8");
      process.stdout.write(targets.length > 1 ? text.replace(/^(?=.)/gm, `[${t.id}] `) : text);
    }
    await sleep(500, signal).catch(() => undefined);
  }
}
