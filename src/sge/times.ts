/**
 * Times as Grid Engine's XML writes them. Pure.
 * - `qstat -xml` (both versions): local time without a zone, "2026-11-25T17:12:03"; 9.1 adds
 *   microseconds, "2026-12-02T07:09:19.420147" (fixture ocs-9.1/qstat.xml).
 * - `qstat -j -xml`: 8.1.9 writes epoch seconds, "1795626723"; 9.1 the local time as above
 *   (fixture ocs-9.1/qstat-j.xml).
 */

/** A local time without a zone (any number of fractional digits) -> epoch ms; throws on junk. */
export function localTime(text: string): number {
  const ms = new Date(text).getTime();
  if (Number.isNaN(ms)) throw new Error(`not a time: ${JSON.stringify(text)}`);
  return ms;
}

/** Epoch seconds or a local time -> Date; undefined for absent, zero or unreadable values. */
export function detailTime(text: string | undefined): Date | undefined {
  const s = text?.trim();
  if (!s) return undefined;
  if (/^[0-9]+$/.test(s)) {
    const n = Number(s);
    return n > 0 ? new Date(n * 1000) : undefined;
  }
  const ms = new Date(s).getTime();
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
