/** Escaping and number formats shared by the report pages, and the heat-map color scale. */


/** Escape text for HTML element content and quoted attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a <script> element (no "</script>", "<!--" or line separators). */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
/** A score in [0, 1] as a percentage. */
export const pct = (x: number | undefined, digits = 1): string => (isNum(x) ? `${(x * 100).toFixed(digits)}%` : '–');
/** A Wilson interval in percentage points. */
export const interval = (low: number | undefined, high: number | undefined): string =>
  isNum(low) && isNum(high) ? `[${(low * 100).toFixed(1)}, ${(high * 100).toFixed(1)}]` : '–';
export const lossText = (x: number | undefined): string => (isNum(x) ? x.toFixed(3) : '–');
function mix(a: [number, number, number], b: [number, number, number], t: number): string {
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}
const RED: [number, number, number] = [214, 69, 65];
const AMBER: [number, number, number] = [244, 180, 60];
const GREEN: [number, number, number] = [46, 158, 79];

/** Heat-map colors: 0 red, 0.5 amber, 1 green, in between interpolated. */
export function heatColor(score: number): { bg: string; fg: string } {
  const s = Math.min(1, Math.max(0, score));
  const bg = s <= 0.5 ? mix(RED, AMBER, s / 0.5) : mix(AMBER, GREEN, (s - 0.5) / 0.5);
  return { bg, fg: s > 0.3 && s < 0.75 ? '#222' : '#fff' };
}

export function cellText(score: number): string {
  if (score === 1) return '1';
  if (score === 0) return '0';
  if (score === 0.5) return '½';
  return score.toFixed(2).replace(/^0/, '');
}

