/** The shapes shared by every tool-call parser (generation and the eval scorers). */

/** The syntaxes a call can be written in. */
export const CALL_FORMATS = ['hermes', 'qwen3_xml', 'llama3_json', 'mistral', 'pythonic'] as const;
export type CallFormat = (typeof CALL_FORMATS)[number];

/** What a caller asks for: one syntax, `auto` (from the chat template), or `none` (no parsing). */
export type ToolFormat = CallFormat | 'auto' | 'none';

/** A parsed tool call. */
export interface ParsedCall {
  name: string;
  arguments: Record<string, unknown>;
  format: CallFormat;
  /** The call's text as the model wrote it (inside the tags, for tagged formats). */
  raw: string;
  /** The id the model gave the call (Mistral), when it gave one. */
  id?: string;
  /** For a code wrapper (`execute_code`): the calls its `code` argument makes, parsed as Python. */
  calls?: ParsedCall[];
}

/** A call that could not be parsed. */
export interface CallError {
  /** `unterminated`: an opening tag never closed. `unknown`: a block that is no known syntax. */
  kind: 'invalid_json' | 'invalid_xml' | 'invalid_python' | 'unterminated' | 'unknown';
  /** The syntax the block seemed to use, when that could be told. */
  format: CallFormat | null;
  message: string;
  raw: string;
}

/** JSON-schema-like description of a function's parameters, by function name (types Qwen3 XML values). */
export type ParameterSchemas = Record<string, Record<string, unknown> | undefined>;

/** What a format parser finds in a text: calls, errors, and the [start, end) ranges of call markup. */
export interface FormatParse {
  calls: ParsedCall[];
  errors: CallError[];
  spans: Array<[number, number]>;
}

/** Shorten text for a message. */
export function clip(s: string, n = 60): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? `${one.slice(0, n)}…` : one;
}

/** An object from entries, with keys such as `__proto__` kept as plain own data. */
export function ownObject(entries: Iterable<readonly [string, unknown]>): Record<string, unknown> {
  return Object.fromEntries(entries);
}

/** A function name: a non-empty string without spaces or markup characters. */
export function validName(name: unknown): name is string {
  return typeof name === 'string' && /^[^\s<>()[\]{}"',;]+$/.test(name) && name.length <= 256;
}
