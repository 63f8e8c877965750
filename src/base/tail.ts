/** What has been appended to a file since the last look: `tail -f` one step at a time. */
import { open, stat } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";

export class FileTail {
  /** Holds the first bytes of a character whose rest is not written yet. */
  private readonly decoder = new StringDecoder("utf8");

  private constructor(
    readonly path: string,
    private offset: number,
  ) {}

  /** From the file's start (a file not there yet is empty), or from its current end. */
  static async of(path: string, from: "start" | "end" = "start"): Promise<FileTail> {
    const size =
      from === "end"
        ? await stat(path).then(
            (s) => s.size,
            () => 0,
          )
        : 0;
    return new FileTail(path, size);
  }

  /** The text appended since the last call ("" when nothing was, or the file is not there). */
  async read(): Promise<string> {
    const fh = await open(this.path, "r").catch(() => undefined);
    if (!fh) return "";
    let text = "";
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        text += this.decoder.write(buf.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
    return text;
  }
}
