/**
 * Pythonic calls: a Python list of keyword-argument calls, `[get_weather(city="Paris"), now()]`,
 * either in `<|tool_call_start|>…<|tool_call_end|>` blocks (LFM2) or as the whole reply (Llama 4,
 * Llama 3.2's pythonic templates). A reply that is a list of something else is prose.
 */
import { PythonSyntaxError, readCallList, type PythonCall } from './python-literal.js';
import type { FormatParse, ParsedCall } from './types.js';

export const PY_OPEN = '<|tool_call_start|>';
export const PY_CLOSE = '<|tool_call_end|>';

/** The pythonic calls of a text (tagged blocks, or a reply that is one call list). */
export function parsePythonicCalls(text: string): FormatParse {
  const out: FormatParse = { calls: [], errors: [], spans: [] };
  if (!text.includes(PY_OPEN)) {
    const start = text.search(/\S/);
    if (start === -1 || text[start] !== '[' || !/^\[\s*[A-Za-z_][\w.]*\s*\(/.test(text.slice(start, start + 300))) return out;
    const end = text.trimEnd().length;
    addList(out, text, start, end, text.slice(start, end));
    return out;
  }
  let at = 0;
  for (;;) {
    const open = text.indexOf(PY_OPEN, at);
    if (open === -1) break;
    const from = open + PY_OPEN.length;
    const close = text.indexOf(PY_CLOSE, from);
    if (close === -1) {
      out.errors.push({ kind: 'unterminated', format: 'pythonic', message: `${PY_OPEN} is never closed by ${PY_CLOSE}`, raw: text.slice(from) });
      break;
    }
    at = close + PY_CLOSE.length;
    const inner = text.slice(from, close);
    const start = inner.search(/\S/);
    if (start === -1) out.errors.push({ kind: 'unknown', format: 'pythonic', message: `an empty ${PY_OPEN} block`, raw: inner });
    else if (addList(out, inner, start, inner.trimEnd().length, inner, false)) out.spans.push([open, at]);
  }
  return out;
}

/** Read the call list text[start, end) into `out` (and its span when `span`), or record why not; whether it read. */
function addList(out: FormatParse, text: string, start: number, end: number, raw: string, span = true): boolean {
  try {
    const { calls, end: stop } = readCallList(text.slice(0, end), start);
    if (stop !== end) throw new PythonSyntaxError(`text after the call list at offset ${stop}`);
    out.calls.push(...calls.map((c) => toCall(c, text)));
    if (span) out.spans.push([start, end]);
    return true;
  } catch (err) {
    if (!(err instanceof PythonSyntaxError)) throw err;
    out.errors.push({ kind: 'invalid_python', format: 'pythonic', message: `not a list of Python calls: ${err.message}`, raw });
    return false;
  }
}

/** A call read from Python text as a ParsedCall. */
export function toCall(c: PythonCall, text: string): ParsedCall {
  return { name: c.name, arguments: c.arguments, format: 'pythonic', raw: text.slice(c.start, c.end) };
}
