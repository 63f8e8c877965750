/** The user interrupted (Ctrl-C, an aborted signal): the CLI exits 130. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";
}

/** Wait `ms`; an abort of `signal` (before or during) rejects with InterruptedError at once. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError("interrupted"));
    const onAbort = () => {
      clearTimeout(t);
      reject(new InterruptedError("interrupted"));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
