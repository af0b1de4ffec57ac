/**
 * Parsing model replies into tool calls, for the format scorers.
 *
 * Two call syntaxes are understood, both inside `<tool_call>…</tool_call>` blocks (several blocks
 * per reply allowed, whitespace around and inside the tags ignored):
 * - Hermes JSON: `<tool_call>{"name": "NAME", "arguments": {…}}</tool_call>`. `arguments` may be
 *   an object or a string holding a JSON object (as some templates emit), or left out (= {}).
 * - Qwen3-Coder XML: `<tool_call><function=NAME><parameter=KEY>VALUE</parameter>…</function></tool_call>`.
 *   As Qwen3-Coder's own parser does, one newline right after `<parameter=KEY>` and one right
 *   before `</parameter>` are not part of the value. Values are strings unless a parameter schema
 *   (JSON schema `properties`) declares another type, in which case they are converted (numbers,
 *   booleans, JSON objects/arrays, null); a value that does not convert stays a string.
 *
 * Thinking: a `<think>…</think>` block is found wherever it is, as is a `</think>` with no opener
 * (the template opened the block in the prompt) and a `<think>` opener that is never closed (the
 * model started thinking and was stopped or ran out of tokens). An empty block (whitespace only)
 * is harmless and is removed; anything else makes `think` "content" or "unterminated".
 */

import { isPlainObject } from '../core/suggest.js';

/** The syntax a call was written in. */
export type CallFormat = 'hermes' | 'qwen3_xml';

/** A parsed tool call. */
export interface ParsedCall {
  name: string;
  arguments: Record<string, unknown>;
  format: CallFormat;
  /** The text between `<tool_call>` and `</tool_call>`. */
  raw: string;
}

/** A `<tool_call>` block that could not be parsed. */
export interface CallError {
  /** `unterminated`: a `<tool_call>` with no `</tool_call>` after it. `unknown`: the block is neither JSON nor `<function=…>`. */
  kind: 'invalid_json' | 'invalid_xml' | 'unterminated' | 'unknown';
  /** The syntax the block seemed to use, when that could be told. */
  format: CallFormat | null;
  message: string;
  raw: string;
}

/** none: no think tags; empty: only empty blocks; content: a block with text; unterminated: an opener never closed. */
export type ThinkState = 'none' | 'empty' | 'content' | 'unterminated';

export interface ParsedReply {
  think: ThinkState;
  /** The text inside the think block(s), joined. */
  thinking: string;
  /** The reply without its think block(s), trimmed. */
  body: string;
  calls: ParsedCall[];
  errors: CallError[];
  /** The body's text outside the `<tool_call>` blocks, trimmed (prose around the calls). */
  outside: string;
}

/** JSON-schema-like description of a function's parameters, used to type Qwen3 XML values. */
export type ParameterSchemas = Record<string, Record<string, unknown> | undefined>;

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';
const CALL_OPEN = '<tool_call>';
const CALL_CLOSE = '</tool_call>';

/** Split a reply into think text and body. */
export function splitThinking(reply: string): { think: ThinkState; thinking: string; body: string } {
  const thinking: string[] = [];
  const body: string[] = [];
  let unterminated = false;
  let rest = reply;
  for (;;) {
    const open = rest.indexOf(THINK_OPEN);
    const close = rest.indexOf(THINK_CLOSE);
    if (open === -1 && close === -1) {
      body.push(rest);
      break;
    }
    if (close !== -1 && (open === -1 || close < open)) {
      // A closer without an opener: what precedes it was thinking (the prompt opened the block).
      thinking.push(rest.slice(0, close));
      rest = rest.slice(close + THINK_CLOSE.length);
      continue;
    }
    body.push(rest.slice(0, open));
    rest = rest.slice(open + THINK_OPEN.length);
    const end = rest.indexOf(THINK_CLOSE);
    if (end === -1) {
      unterminated = true;
      thinking.push(rest);
      break;
    }
    thinking.push(rest.slice(0, end));
    rest = rest.slice(end + THINK_CLOSE.length);
  }
  const text = thinking.join('\n').trim();
  const think: ThinkState = unterminated ? 'unterminated' : text !== '' ? 'content' : thinking.length > 0 ? 'empty' : 'none';
  return { think, thinking: text, body: body.join('').trim() };
}

/** Parse a whole reply: thinking, tool-call blocks, errors, prose around the calls. */
export function parseReply(reply: string, schemas: ParameterSchemas = {}): ParsedReply {
  const { think, thinking, body } = splitThinking(reply);
  const calls: ParsedCall[] = [];
  const errors: CallError[] = [];
  const outside: string[] = [];
  let rest = body;
  for (;;) {
    const open = rest.indexOf(CALL_OPEN);
    if (open === -1) {
      outside.push(rest);
      break;
    }
    outside.push(rest.slice(0, open));
    rest = rest.slice(open + CALL_OPEN.length);
    const close = rest.indexOf(CALL_CLOSE);
    if (close === -1) {
      const raw = rest;
      const t = raw.trim();
      const format: CallFormat | null = t.startsWith('{') ? 'hermes' : t.startsWith('<') ? 'qwen3_xml' : null;
      errors.push({ kind: 'unterminated', format, message: '<tool_call> is never closed by </tool_call>', raw });
      break;
    }
    const raw = rest.slice(0, close);
    rest = rest.slice(close + CALL_CLOSE.length);
    const result = parseCallBlock(raw, schemas);
    if ('kind' in result) errors.push(result);
    else calls.push(result);
  }
  return { think, thinking, body, calls, errors, outside: outside.join(' ').replace(/\s+/g, ' ').trim() };
}

/** Parse the inside of one `<tool_call>` block, in whichever syntax it uses. */
export function parseCallBlock(raw: string, schemas: ParameterSchemas = {}): ParsedCall | CallError {
  const t = raw.trim();
  if (t.startsWith('{')) return parseHermesCall(raw);
  if (t.startsWith('<function')) return parseQwen3XmlCall(raw, schemas);
  if (t === '') return { kind: 'unknown', format: null, message: 'empty <tool_call> block', raw };
  return { kind: 'unknown', format: null, message: `a <tool_call> block holds neither JSON nor <function=…>: ${clip(t)}`, raw };
}

/** Parse a Hermes JSON call body: {"name": ..., "arguments": {...}}. */
export function parseHermesCall(raw: string): ParsedCall | CallError {
  const bad = (message: string): CallError => ({ kind: 'invalid_json', format: 'hermes', message, raw });
  let value: unknown;
  try {
    value = JSON.parse(raw.trim());
  } catch (err) {
    return bad(`invalid JSON in <tool_call>: ${(err as Error).message}`);
  }
  if (!isPlainObject(value)) return bad('the <tool_call> JSON is not an object');
  const name = value.name;
  if (typeof name !== 'string' || name.trim() === '') return bad('the <tool_call> JSON has no "name" string');
  let args: unknown = value.arguments;
  if (args === undefined || args === null) args = {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch (err) {
      return bad(`"arguments" is a string that is not JSON: ${(err as Error).message}`);
    }
  }
  if (!isPlainObject(args)) return bad('"arguments" is not a JSON object');
  return { name: name.trim(), arguments: args, format: 'hermes', raw };
}

/** Parse a Qwen3-Coder XML call body: <function=NAME><parameter=KEY>VALUE</parameter>…</function>. */
export function parseQwen3XmlCall(raw: string, schemas: ParameterSchemas = {}): ParsedCall | CallError {
  const bad = (message: string): CallError => ({ kind: 'invalid_xml', format: 'qwen3_xml', message, raw });
  const t = raw.trim();
  const head = /^<function=([^<>\s]+)\s*>/.exec(t);
  if (!head) return bad('expected <function=NAME> at the start of the <tool_call> block');
  const name = head[1];
  if (!t.endsWith('</function>')) return bad(`<function=${name}> is not closed by </function>`);
  let inner = t.slice(head[0].length, t.length - '</function>'.length);
  const props = propertiesOf(schemas[name]);
  const args: Record<string, unknown> = {};
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
    if (key in args) return bad(`parameter "${key}" is given twice`);
    args[key] = convertValue(value, props?.[key]);
  }
  return { name, arguments: args, format: 'qwen3_xml', raw };
}

/**
 * The argument text a call "says": for a code wrapper, its `code` argument when that is a
 * string; otherwise its string arguments joined by newlines; the JSON of the arguments when none
 * is a string.
 */
export function argumentText(call: ParsedCall): string {
  if (typeof call.arguments.code === 'string') return call.arguments.code;
  const strings = Object.values(call.arguments).filter((v): v is string => typeof v === 'string');
  return strings.length > 0 ? strings.join('\n') : JSON.stringify(call.arguments);
}

/** Whether code text calls a function of that name: `name(` as a whole word (`obj.name(` counts). */
export function codeCallsTool(code: string, tool: string): boolean {
  const escaped = tool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_])${escaped}\\s*\\(`).test(code);
}

/** Whether the text ends with a non-empty proper prefix of `<tool_call>` (cut mid-tag). */
export function endsInPartialCallTag(text: string): boolean {
  for (let n = CALL_OPEN.length - 1; n >= 2; n--) {
    if (text.endsWith(CALL_OPEN.slice(0, n))) return true;
  }
  return false;
}

/** The parameter schemas of OpenAI-style tools, by function name. */
export function parameterSchemasOf(tools: readonly Record<string, unknown>[] | undefined): ParameterSchemas {
  const out: ParameterSchemas = {};
  for (const tool of tools ?? []) {
    const fn = isPlainObject(tool.function) ? tool.function : tool;
    if (typeof fn.name === 'string' && isPlainObject(fn.parameters)) out[fn.name] = fn.parameters;
  }
  return out;
}

function propertiesOf(schema: Record<string, unknown> | undefined): Record<string, Record<string, unknown>> | undefined {
  if (!schema || !isPlainObject(schema.properties)) return undefined;
  return schema.properties as Record<string, Record<string, unknown>>;
}

function convertValue(value: string, schema: Record<string, unknown> | undefined): unknown {
  if (!schema) return value;
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
    try {
      return JSON.parse(t);
    } catch {
      return value;
    }
  }
  return value;
}

// The eval files have imported it from here; it lives in core/suggest.ts.
export { isPlainObject };

function clip(s: string, n = 60): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? `${one.slice(0, n)}…` : one;
}
