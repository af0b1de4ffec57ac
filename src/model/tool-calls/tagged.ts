/**
 * Calls in `<tool_call>…</tool_call>` blocks (several per reply allowed, whitespace around and
 * inside the tags ignored), in either of two syntaxes:
 * - Hermes JSON: `{"name": "NAME", "arguments": {…}}`. `arguments` may be an object or a string
 *   holding a JSON object (as some templates emit), or left out (= {}).
 * - Qwen3-Coder XML: `<function=NAME><parameter=KEY>VALUE</parameter>…</function>`. As
 *   Qwen3-Coder's own parser does, one newline right after `<parameter=KEY>` and one right before
 *   `</parameter>` are not part of the value. Values are strings unless a parameter schema
 *   (JSON schema `properties`) declares another type, in which case they are converted (numbers,
 *   booleans, JSON objects/arrays, null); a value that does not convert stays a string.
 */
import { isPlainObject } from '../../core/suggest.js';
import { tryJson } from './json-scan.js';
import { clip, ownObject, validName, type CallError, type CallFormat, type FormatParse, type ParameterSchemas, type ParsedCall } from './types.js';

export const CALL_OPEN = '<tool_call>';
export const CALL_CLOSE = '</tool_call>';

/** Every `<tool_call>` block of a text: the calls, the blocks that do not parse, and where the parsed blocks are. */
export function parseTaggedCalls(text: string, schemas: ParameterSchemas = {}): FormatParse {
  const out: FormatParse = { calls: [], errors: [], spans: [] };
  let at = 0;
  for (;;) {
    const open = text.indexOf(CALL_OPEN, at);
    if (open === -1) break;
    const from = open + CALL_OPEN.length;
    const close = text.indexOf(CALL_CLOSE, from);
    if (close === -1) {
      const raw = text.slice(from);
      const t = raw.trim();
      const format: CallFormat | null = t.startsWith('{') ? 'hermes' : t.startsWith('<') ? 'qwen3_xml' : null;
      out.errors.push({ kind: 'unterminated', format, message: `${CALL_OPEN} is never closed by ${CALL_CLOSE}`, raw });
      break;
    }
    const raw = text.slice(from, close);
    at = close + CALL_CLOSE.length;
    const result = parseCallBlock(raw, schemas);
    if ('kind' in result) {
      out.errors.push(result);
      continue;
    }
    out.calls.push(result);
    out.spans.push([open, at]); // a block that does not parse stays in the text
  }
  return out;
}

/** Parse the inside of one `<tool_call>` block, in whichever syntax it uses. */
export function parseCallBlock(raw: string, schemas: ParameterSchemas = {}): ParsedCall | CallError {
  const t = raw.trim();
  if (t.startsWith('{')) return parseHermesCall(raw);
  if (t.startsWith('<function')) return parseQwen3XmlCall(raw, schemas);
  if (t === '') return { kind: 'unknown', format: null, message: 'empty <tool_call> block', raw };
  return { kind: 'unknown', format: null, message: `a <tool_call> block holds neither JSON nor <function=…>: ${clip(t)}`, raw };
}

/** A JSON call object `{name, arguments | parameters}` as a ParsedCall, or why it is not one. */
export function jsonCall(value: unknown, format: CallFormat, raw: string, argsKeys: readonly string[] = ['arguments']): ParsedCall | string {
  if (!isPlainObject(value)) return 'the call JSON is not an object';
  const name = typeof value.name === 'string' ? value.name.trim() : value.name;
  if (!validName(name)) return 'the call JSON has no "name" string naming a function';
  const key = argsKeys.find((k) => Object.hasOwn(value, k));
  let args: unknown = key === undefined ? undefined : value[key];
  if (args === undefined || args === null) args = {};
  if (typeof args === 'string') {
    const parsed = tryJson(args);
    if ('error' in parsed) return `"${key}" is a string that is not JSON: ${parsed.error}`;
    args = parsed.value;
  }
  if (!isPlainObject(args)) return `"${key}" is not a JSON object`;
  const call: ParsedCall = { name, arguments: args, format, raw };
  if (typeof value.id === 'string') call.id = value.id;
  return call;
}

/** Parse a Hermes JSON call body: {"name": ..., "arguments": {...}}. */
export function parseHermesCall(raw: string): ParsedCall | CallError {
  const bad = (message: string): CallError => ({ kind: 'invalid_json', format: 'hermes', message, raw });
  const parsed = tryJson(raw.trim());
  if ('error' in parsed) return bad(`invalid JSON in <tool_call>: ${parsed.error}`);
  const call = jsonCall(parsed.value, 'hermes', raw);
  return typeof call === 'string' ? bad(call.replace('the call JSON', 'the <tool_call> JSON')) : call;
}

/** Parse a Qwen3-Coder XML call body: <function=NAME><parameter=KEY>VALUE</parameter>…</function>. */
export function parseQwen3XmlCall(raw: string, schemas: ParameterSchemas = {}): ParsedCall | CallError {
  const bad = (message: string): CallError => ({ kind: 'invalid_xml', format: 'qwen3_xml', message, raw });
  const t = raw.trim();
  const head = /^<function=([^<>\s]+)\s*>/.exec(t);
  if (!head) return bad('expected <function=NAME> at the start of the <tool_call> block');
  const name = head[1];
  if (!validName(name)) return bad(`<function=${clip(name)}> does not name a function`);
  if (!t.endsWith('</function>')) return bad(`<function=${name}> is not closed by </function>`);
  let inner = t.slice(head[0].length, t.length - '</function>'.length);
  const props = propertiesOf(Object.hasOwn(schemas, name) ? schemas[name] : undefined);
  const args = new Map<string, unknown>();
  for (;;) {
    inner = inner.replace(/^\s+/, '');
    if (inner === '') break;
    const p = /^<parameter=([^<>\s]+)\s*>/.exec(inner);
    if (!p) return bad(`unexpected text inside <function=${name}>: ${clip(inner)}`);
    const key = p[1];
    inner = inner.slice(p[0].length);
    const end = inner.indexOf('</parameter>');
    if (end === -1) return bad(`<parameter=${key}> is not closed by </parameter>`);
    let value = inner.slice(0, end);
    if (value.includes('<parameter=')) return bad(`<parameter=${key}> is not closed before the next <parameter=`);
    inner = inner.slice(end + '</parameter>'.length);
    if (value.startsWith('\n')) value = value.slice(1);
    if (value.endsWith('\n')) value = value.slice(0, -1);
    if (args.has(key)) return bad(`parameter "${key}" is given twice`);
    args.set(key, convertValue(value, props && Object.hasOwn(props, key) ? props[key] : undefined));
  }
  return { name, arguments: ownObject(args), format: 'qwen3_xml', raw };
}

/** Whether the text ends with a non-empty proper prefix of `<tool_call>` (cut mid-tag). */
export function endsInPartialCallTag(text: string): boolean {
  for (let n = CALL_OPEN.length - 1; n >= 2; n--) {
    if (text.endsWith(CALL_OPEN.slice(0, n))) return true;
  }
  return false;
}

function propertiesOf(schema: Record<string, unknown> | undefined): Record<string, Record<string, unknown>> | undefined {
  if (!schema || !isPlainObject(schema.properties)) return undefined;
  return schema.properties as Record<string, Record<string, unknown>>;
}

function convertValue(value: string, schema: Record<string, unknown> | undefined): unknown {
  if (!isPlainObject(schema)) return value;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  const t = value.trim();
  if (types.includes('string')) return value;
  if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t)) {
    const n = Number(t);
    if (types.includes('number') || Number.isInteger(n)) return n;
  }
  if (types.includes('boolean') && /^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
  if (types.includes('null') && /^(null|none)$/i.test(t)) return null;
  if (types.includes('object') || types.includes('array')) {
    const parsed = tryJson(t);
    return 'value' in parsed ? parsed.value : value;
  }
  return value;
}
