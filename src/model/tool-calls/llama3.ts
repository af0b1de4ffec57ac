/**
 * Llama 3.1/3.2 JSON calls: the reply is `{"name": "NAME", "parameters": {…}}` (several joined by
 * ";" allowed; "arguments" accepted for "parameters"), optionally after `<|python_tag|>`. After
 * the tag, a built-in tool call `brave_search.call(query="x")` is read as Python (name
 * `brave_search`). A reply that is JSON without a "name" string is not a call (it is content).
 */
import { isPlainObject } from '../../core/suggest.js';
import { jsonValueEnd, tryJson } from './json-scan.js';
import { PythonReader, PythonSyntaxError } from './python-literal.js';
import { jsonCall } from './tagged.js';
import type { FormatParse } from './types.js';

export const PYTHON_TAG = '<|python_tag|>';
const ARG_KEYS = ['parameters', 'arguments'] as const;

/** The Llama 3 JSON calls of a text. */
export function parseLlama3Calls(text: string): FormatParse {
  const out: FormatParse = { calls: [], errors: [], spans: [] };
  const tag = text.indexOf(PYTHON_TAG);
  const from = tag === -1 ? 0 : tag + PYTHON_TAG.length;
  let at = from + (text.slice(from).search(/\S/) === -1 ? text.length : text.slice(from).search(/\S/));
  if (at >= text.length) {
    if (tag !== -1) out.errors.push({ kind: 'unknown', format: 'llama3_json', message: `nothing after ${PYTHON_TAG}`, raw: '' });
    return out;
  }
  if (tag !== -1 && text[at] !== '{') return builtinCall(out, text, tag, at);
  if (text[at] !== '{') return out;
  const first = at;
  for (;;) {
    const end = jsonValueEnd(text, at);
    const raw = end === -1 ? text.slice(at) : text.slice(at, end);
    const parsed = end === -1 ? { error: 'the JSON object is never closed' } : tryJson(raw);
    if ('error' in parsed) {
      if (tag !== -1 || out.calls.length > 0 || /^\{\s*"name"\s*:/.test(raw)) {
        out.errors.push({ kind: end === -1 ? 'unterminated' : 'invalid_json', format: 'llama3_json', message: `invalid JSON call: ${parsed.error}`, raw });
      }
      return out;
    }
    const call = jsonCall(parsed.value, 'llama3_json', raw, ARG_KEYS);
    if (typeof call === 'string') {
      // JSON content that is no call is the reply itself, unless the tag announced a call.
      if (tag !== -1 || out.calls.length > 0 || (isPlainObject(parsed.value) && Object.hasOwn(parsed.value, 'name'))) {
        out.errors.push({ kind: 'invalid_json', format: 'llama3_json', message: call, raw });
      }
      return out;
    }
    out.calls.push(call);
    at = end;
    const sep = /^\s*;?\s*/.exec(text.slice(at))![0];
    if (text[at + sep.length] !== '{') break;
    at += sep.length;
  }
  out.spans.push([tag === -1 ? first : tag, at]);
  return out;
}

/** `<|python_tag|>tool.call(key=value, …)`: a built-in tool, read as a Python call. */
function builtinCall(out: FormatParse, text: string, tag: number, at: number): FormatParse {
  const reader = new PythonReader(text, at);
  try {
    const c = reader.call();
    const name = c.name.endsWith('.call') ? c.name.slice(0, -'.call'.length) : c.name;
    out.calls.push({ name, arguments: c.arguments, format: 'llama3_json', raw: text.slice(c.start, c.end) });
    out.spans.push([tag, c.end]);
  } catch (err) {
    if (!(err instanceof PythonSyntaxError)) throw err;
    out.errors.push({ kind: 'invalid_python', format: 'llama3_json', message: `after ${PYTHON_TAG}: ${err.message}`, raw: text.slice(at) });
  }
  return out;
}
