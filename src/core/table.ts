/** Plain-text tables for the terminal (sweep and report summaries): aligned columns, two spaces apart. */

/**
 * Rows of cells as aligned lines: each column as wide as its widest cell, left-aligned unless its
 * index is in `right`; trailing spaces trimmed. The first row is usually the header.
 */
export function table(rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}
