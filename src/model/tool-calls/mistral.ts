/**
 * Mistral calls after `[TOOL_CALLS]`: a JSON array `[{"name": …, "arguments": {…}, "id"?: …}]`
 * (v0.3 templates), or one or more `NAME[ARGS]{…}` / `NAME[CALL_ID]ID[ARGS]{…}` / `NAME{…}`
 * headers with JSON arguments (v11+ tokenizers). Text before the first marker is prose.
 */
import { jsonValueEnd, tryJson } from './json-scan.js';
import { jsonCall } from './tagged.js';
import { clip, validName, type FormatParse, type ParsedCall } from './types.js';

export const MISTRAL_TAG = '[TOOL_CALLS]';
const HEADER = /^\s*([^\s[\]{}"]+)\s*(?:\[CALL_ID\]\s*([A-Za-z0-9_-]+)\s*)?(?:\[ARGS\])?\s*/;

/** The Mistral calls of a text. */
export function parseMistralCalls(text: string): FormatParse {
  const out: FormatParse = { calls: [], errors: [], spans: [] };
  let at = text.indexOf(MISTRAL_TAG);
  while (at !== -1) {
    const start = at;
    at += MISTRAL_TAG.length;
    at += /^\s*/.exec(text.slice(at))![0].length;
    const end = text[at] === '[' ? jsonArray(out, text, at) : headers(out, text, at);
    if (end === -1) break;
    out.spans.push([start, end]);
    at = text.indexOf(MISTRAL_TAG, end);
  }
  return out;
}

/** `[{…}, …]` at `at`: its calls into `out`; the index past it, or -1 after an error. */
function jsonArray(out: FormatParse, text: string, at: number): number {
  const end = jsonValueEnd(text, at);
  const raw = end === -1 ? text.slice(at) : text.slice(at, end);
  if (end === -1) return fail(out, 'unterminated', 'the [TOOL_CALLS] JSON array is never closed', raw);
  const parsed = tryJson(raw);
  if ('error' in parsed) return fail(out, 'invalid_json', `invalid JSON after [TOOL_CALLS]: ${parsed.error}`, raw);
  if (!Array.isArray(parsed.value) || parsed.value.length === 0) return fail(out, 'invalid_json', 'the [TOOL_CALLS] JSON is not a list of calls', raw);
  const calls: ParsedCall[] = [];
  for (const item of parsed.value) {
    const call = jsonCall(item, 'mistral', JSON.stringify(item) ?? '', ['arguments', 'parameters']);
    if (typeof call === 'string') return fail(out, 'invalid_json', call, raw);
    calls.push(call);
  }
  out.calls.push(...calls);
  return end;
}

/** One or more `NAME[ARGS]{…}` at `at`; the index past the last, or -1 after an error. */
function headers(out: FormatParse, text: string, at: number): number {
  let last = -1;
  for (;;) {
    const h = HEADER.exec(text.slice(at, at + 400));
    if (!h || !validName(h[1])) {
      if (last !== -1) return last;
      return fail(out, 'unknown', `no call after [TOOL_CALLS]: ${clip(text.slice(at))}`, text.slice(at));
    }
    const from = at + h[0].length;
    const end = jsonValueEnd(text, from);
    const raw = text.slice(at, end === -1 ? undefined : end);
    if (text[from] !== '{') return last !== -1 ? last : fail(out, 'invalid_json', `${h[1]}: its arguments are not a JSON object`, raw);
    if (end === -1) return fail(out, 'unterminated', `${h[1]}: the arguments JSON is never closed`, raw);
    const parsed = tryJson(text.slice(from, end));
    if ('error' in parsed) return fail(out, 'invalid_json', `${h[1]}: invalid arguments JSON: ${parsed.error}`, raw);
    const call = jsonCall({ name: h[1], arguments: parsed.value, ...(h[2] ? { id: h[2] } : {}) }, 'mistral', raw);
    if (typeof call === 'string') return fail(out, 'invalid_json', `${h[1]}: ${call}`, raw);
    out.calls.push(call);
    last = at = end;
  }
}

function fail(out: FormatParse, kind: 'invalid_json' | 'unterminated' | 'unknown', message: string, raw: string): number {
  out.errors.push({ kind, format: 'mistral', message, raw });
  return -1;
}
