/**
 * Tool calls as data: one parser per call syntax, shared by generation (Model.generate and
 * friends return `toolCalls`) and the eval scorers. `parseToolCalls` finds the calls of a
 * reply in one syntax and returns the reply without the call markup.
 */
import { MlxLabError } from '../../core/errors.js';
import { isPlainObject } from '../../core/suggest.js';
import { parseLlama3Calls } from './llama3.js';
import { parseMistralCalls } from './mistral.js';
import { PythonSyntaxError, readCallStatements } from './python-literal.js';
import { parsePythonicCalls, toCall } from './pythonic.js';
import { parseTaggedCalls } from './tagged.js';
import { CALL_FORMATS, type CallError, type CallFormat, type FormatParse, type ParameterSchemas, type ParsedCall, type ToolFormat } from './types.js';

export * from './types.js';
export { detectToolFormat, resolveToolFormat } from './detect.js';
export { parseCallBlock, parseHermesCall, parseQwen3XmlCall, parseTaggedCalls, endsInPartialCallTag } from './tagged.js';

/** The code wrapper tool of the example suite: its `code` argument is Python calling the real tools. */
export const DEFAULT_WRAPPER = 'execute_code';

export interface ToolCallOptions {
  /** Types Qwen3 XML values by the tools' parameter schemas. */
  schemas?: ParameterSchemas;
  /** The code wrapper whose `code` argument is parsed into `calls` (default `execute_code`; null: none). */
  wrapper?: string | null;
}

export interface ToolCallParse {
  calls: ParsedCall[];
  errors: CallError[];
  /** The text without the call markup (thinking kept), trimmed; the reply as is when it holds no call markup. */
  text: string;
}

const PARSERS: Record<CallFormat, (text: string, schemas: ParameterSchemas) => FormatParse> = {
  hermes: parseTaggedCalls,
  qwen3_xml: parseTaggedCalls,
  llama3_json: parseLlama3Calls,
  mistral: parseMistralCalls,
  pythonic: parsePythonicCalls,
};

/** Check a toolFormat option (E_ARGUMENT naming the allowed values). */
export function checkToolFormat(format: unknown, where = 'toolFormat'): ToolFormat {
  const allowed: readonly string[] = ['auto', 'none', ...CALL_FORMATS];
  if (typeof format === 'string' && allowed.includes(format)) return format as ToolFormat;
  throw new MlxLabError('E_ARGUMENT', `${where}: ${JSON.stringify(format)} is not a tool-call format; use one of ${allowed.join(', ')}`);
}

/**
 * The calls of a reply written in `format` (`hermes` and `qwen3_xml` both read `<tool_call>`
 * blocks in either syntax). Calls inside a thinking block are not calls; a reply whose
 * `<think>` never closes has none.
 */
export function parseToolCalls(reply: string, format: CallFormat | 'none', options: ToolCallOptions = {}): ToolCallParse {
  if (format === 'none') return { calls: [], errors: [], text: reply };
  const from = answerStart(reply);
  if (from === -1) return { calls: [], errors: [], text: reply };
  const answer = reply.slice(from);
  const found = PARSERS[format](answer, options.schemas ?? {});
  const wrapper = options.wrapper === undefined ? DEFAULT_WRAPPER : options.wrapper;
  if (wrapper !== null) for (const call of found.calls) unwrap(call, wrapper);
  const text = found.spans.length === 0 ? reply : (reply.slice(0, from) + withoutSpans(answer, found.spans)).trim();
  return { calls: found.calls, errors: found.errors, text };
}

/** Where the answer starts: after the last `</think>`; -1 when a `<think>` after it never closes. */
function answerStart(reply: string): number {
  const close = reply.lastIndexOf('</think>');
  const from = close === -1 ? 0 : close + '</think>'.length;
  return reply.indexOf('<think>', from) === -1 ? from : -1;
}

function withoutSpans(text: string, spans: Array<[number, number]>): string {
  let out = '';
  let at = 0;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    out += text.slice(at, start);
    at = Math.max(at, end);
  }
  return out + text.slice(at);
}

/** A wrapper call's `code`, when it is a sequence of Python calls, as the call's `calls`. */
function unwrap(call: ParsedCall, wrapper: string): void {
  const code = call.arguments.code;
  if (call.name !== wrapper || typeof code !== 'string') return;
  try {
    const inner = readCallStatements(code);
    if (inner.length > 0) call.calls = inner.map((c) => toCall(c, code));
  } catch (err) {
    if (!(err instanceof PythonSyntaxError)) throw err;
  }
}

/** The parameter schemas of OpenAI-style tools, by function name. */
export function parameterSchemasOf(tools: readonly Record<string, unknown>[] | null | undefined): ParameterSchemas {
  const out = new Map<string, Record<string, unknown>>();
  for (const tool of tools ?? []) {
    if (!isPlainObject(tool)) continue;
    const fn = isPlainObject(tool.function) ? tool.function : tool;
    if (typeof fn.name === 'string' && isPlainObject(fn.parameters)) out.set(fn.name, fn.parameters);
  }
  return Object.fromEntries(out);
}
