/** Pure: rows of cells -> aligned lines, every column but the last padded to its widest cell. */
export function formatTable(rows: readonly (readonly string[])[], indent = "  "): string[] {
  const widths = rows.reduce<number[]>((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), []);
  return rows.map((r) =>
    `${indent}${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ")}`.trimEnd(),
  );
}
