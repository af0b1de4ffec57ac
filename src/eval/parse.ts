/**
 * Parsing model replies into tool calls, for the format scorers.
 *
 * The call syntaxes and their parsers live in model/tool-calls (shared with generation, which
 * returns `toolCalls`); the scorers read `<tool_call>…</tool_call>` blocks holding Hermes JSON or
 * Qwen3-Coder XML (see model/tool-calls/tagged.ts for the rules).
 *
 * Thinking: a `<think>…</think>` block is found wherever it is, as is a `</think>` with no opener
 * (the template opened the block in the prompt) and a `<think>` opener that is never closed (the
 * model started thinking and was stopped or ran out of tokens). An empty block (whitespace only)
 * is harmless and is removed; anything else makes `think` "content" or "unterminated".
 */

import { isPlainObject } from '../core/suggest.js';
import { parseTaggedCalls, type CallError, type ParameterSchemas, type ParsedCall } from '../model/tool-calls/index.js';

export type { CallError, CallFormat, ParameterSchemas, ParsedCall } from '../model/tool-calls/index.js';
export { endsInPartialCallTag, parameterSchemasOf, parseCallBlock, parseHermesCall, parseQwen3XmlCall } from '../model/tool-calls/index.js';

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

const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

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

/** Parse a whole reply: thinking, `<tool_call>` blocks, errors, prose around the calls. */
export function parseReply(reply: string, schemas: ParameterSchemas = {}): ParsedReply {
  const { think, thinking, body } = splitThinking(reply);
  const { calls, errors, spans } = parseTaggedCalls(body, schemas);
  let outside = '';
  let at = 0;
  for (const [start, end] of spans) {
    outside += `${body.slice(at, start)} `;
    at = end;
  }
  const tail = errors.at(-1)?.kind === 'unterminated' ? body.slice(at, body.lastIndexOf('<tool_call>')) : body.slice(at);
  outside += tail;
  return { think, thinking, body, calls, errors, outside: outside.replace(/\s+/g, ' ').trim() };
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

// The eval files have imported it from here; it lives in core/suggest.ts.
export { isPlainObject };

