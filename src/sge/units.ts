/** Grid Engine's number formats: memory ("23.5G", "1.734MB", "4.477KB", "0.000B") and time ("44s", "1:00:00"). */

const MEMORY_UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
};

/** Bytes from a memory value; SGE's capital K/M/G/T are powers of 1024 (lower case are powers of 1000). */
export function parseMemory(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtTpP]?)B?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = m[2] ?? "";
  const factor =
    unit === unit.toLowerCase() && unit !== "" ? 1000 ** ("kmgtp".indexOf(unit) + 1) : (MEMORY_UNITS[unit] ?? 1);
  return Math.round(Number(m[1]) * factor);
}

/** Seconds from "44s", "44", "0.5s" or "H:MM:SS". */
export function parseDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  const s = /^([0-9]*\.?[0-9]+)s?$/.exec(t);
  if (s) return Number(s[1]);
  const hms = /^(\d+):(\d{1,2}):(\d{1,2})$/.exec(t);
  if (hms) return Number(hms[1]) * 3600 + Number(hms[2]) * 60 + Number(hms[3]);
  return undefined;
}
