/** `tail -f` of several files: what is appended from now on, prefixed by its node when there are several. */
import { sleep } from "../base/sleep.js";
import { FileTail } from "../base/tail.js";

export async function follow(targets: readonly { id: string; file: string }[], signal: AbortSignal): Promise<void> {
  const tails = await Promise.all(targets.map(async (t) => ({ id: t.id, tail: await FileTail.of(t.file, "end") })));
  while (!signal.aborted) {
    for (const { id, tail } of tails) {
      const text = await tail.read();
      if (text) process.stdout.write(tails.length > 1 ? text.replace(/^(?=.)/gm, `[${id}] `) : text);
    }
    await sleep(500, signal).catch(() => undefined);
  }
}
