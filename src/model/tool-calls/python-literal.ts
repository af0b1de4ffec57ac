/**
 * A reader for the small part of Python that pythonic tool calls use: calls with keyword
 * arguments (`fn(a=1, b="x")`, dotted names allowed) whose values are literals — strings (single
 * or double quotes, the usual escapes), numbers, True/False/None (and JSON's true/false/null,
 * which templates render inside nested values), lists, tuples and dicts. Nothing is evaluated.
 * Nesting deeper than MAX_DEPTH is an error, so hostile input cannot exhaust the stack.
 */
import { ownObject, validName } from './types.js';

export const MAX_DEPTH = 64;

/** A call read from Python text. */
export interface PythonCall {
  name: string;
  arguments: Record<string, unknown>;
  start: number;
  end: number;
}

export class PythonSyntaxError extends Error {}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', b: '\b', f: '\f', '\n': '' };
const CONSTANTS: Record<string, unknown> = { True: true, False: false, None: null, true: true, false: false, null: null };

/** A cursor over Python text. */
export class PythonReader {
  pos: number;
  constructor(
    readonly text: string,
    start = 0,
  ) {
    this.pos = start;
  }

  /** Skip spaces, tabs and (when `newlines`) line breaks. */
  skip(newlines = true): void {
    const re = newlines ? /[ \t\r\n]/ : /[ \t]/;
    while (this.pos < this.text.length && re.test(this.text[this.pos])) this.pos++;
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  expect(c: string): void {
    this.skip();
    if (this.peek() !== c) this.fail(`expected "${c}"`);
    this.pos++;
  }

  fail(message: string): never {
    const got = this.pos < this.text.length ? JSON.stringify(this.text.slice(this.pos, this.pos + 12)) : 'the end';
    throw new PythonSyntaxError(`${message} at offset ${this.pos}, found ${got}`);
  }

  /** `name(key=value, …)`, name possibly dotted. */
  call(): PythonCall {
    this.skip();
    const start = this.pos;
    const m = /^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*/.exec(this.text.slice(this.pos, this.pos + 300));
    if (!m || !validName(m[0])) this.fail('expected a function name');
    this.pos += m[0].length;
    this.expect('(');
    const args = new Map<string, unknown>();
    for (;;) {
      this.skip();
      if (this.peek() === ')') break;
      const key = /^[A-Za-z_]\w*/.exec(this.text.slice(this.pos, this.pos + 300));
      if (!key) this.fail(`expected a keyword argument of ${m[0]}()`);
      this.pos += key[0].length;
      this.skip();
      if (this.peek() !== '=') this.fail(`positional arguments are not tool arguments (${m[0]}() needs key=value)`);
      this.pos++;
      if (args.has(key[0])) this.fail(`argument "${key[0]}" is given twice`);
      args.set(key[0], this.value(1));
      this.skip();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== ')') this.fail('expected "," or ")"');
    }
    this.pos++;
    return { name: m[0], arguments: ownObject(args), start, end: this.pos };
  }

  /** One literal value. */
  value(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`values nested deeper than ${MAX_DEPTH}`);
    this.skip();
    const c = this.peek();
    if (c === '"' || c === "'") return this.string();
    if (c === '[') return this.sequence(']', depth);
    if (c === '(') return this.sequence(')', depth);
    if (c === '{') return this.dict(depth);
    const num = /^[-+]?(\d[\d_]*)?(\.\d+)?([eE][-+]?\d+)?/.exec(this.text.slice(this.pos, this.pos + 100));
    if (num && /\d/.test(num[0])) {
      this.pos += num[0].length;
      return Number(num[0].replace(/_/g, ''));
    }
    const word = /^[A-Za-z_]\w*/.exec(this.text.slice(this.pos, this.pos + 100));
    if (word && Object.hasOwn(CONSTANTS, word[0])) {
      this.pos += word[0].length;
      return CONSTANTS[word[0]];
    }
    this.fail('expected a literal value');
  }

  private string(): string {
    const quote = this.peek();
    let out = '';
    for (this.pos++; this.pos < this.text.length; this.pos++) {
      const c = this.text[this.pos];
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === '\n') this.fail('a string literal runs past the end of the line');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[++this.pos] ?? '';
      const hex = e === 'u' ? 4 : e === 'x' ? 2 : 0;
      if (hex > 0) {
        const digits = this.text.slice(this.pos + 1, this.pos + 1 + hex);
        if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) this.fail(`a bad \\${e} escape`);
        out += String.fromCharCode(Number.parseInt(digits, 16));
        this.pos += hex;
      } else out += Object.hasOwn(ESCAPES, e) ? ESCAPES[e] : `\\${e}`;
    }
    this.fail('a string literal is never closed');
  }

  private sequence(close: string, depth: number): unknown[] {
    this.pos++;
    const items: unknown[] = [];
    for (;;) {
      this.skip();
      if (this.peek() === close) break;
      items.push(this.value(depth + 1));
      this.skip();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== close) this.fail(`expected "," or "${close}"`);
    }
    this.pos++;
    return items;
  }

  private dict(depth: number): Record<string, unknown> {
    this.pos++;
    const entries = new Map<string, unknown>();
    for (;;) {
      this.skip();
      if (this.peek() === '}') break;
      const key = this.value(depth + 1);
      if (typeof key !== 'string' && typeof key !== 'number') this.fail('a dict key that is not a string or number');
      this.expect(':');
      entries.set(String(key), this.value(depth + 1));
      this.skip();
      if (this.peek() === ',') this.pos++;
      else if (this.peek() !== '}') this.fail('expected "," or "}"');
    }
    this.pos++;
    return ownObject(entries);
  }
}

/** A Python list of calls, `[a(x=1), b()]`, opening at `start`; returns the calls and the index past `]`. */
export function readCallList(text: string, start: number): { calls: PythonCall[]; end: number } {
  const r = new PythonReader(text, start);
  r.expect('[');
  const calls: PythonCall[] = [];
  for (;;) {
    r.skip();
    if (r.peek() === ']') break;
    calls.push(r.call());
    r.skip();
    if (r.peek() === ',') r.pos++;
    else if (r.peek() !== ']') r.fail('expected "," or "]" after a call');
  }
  if (calls.length === 0) r.fail('an empty list holds no call');
  return { calls, end: r.pos + 1 };
}

/** Statements that are each one call, separated by ";" or line breaks (the code of a wrapper call). */
export function readCallStatements(code: string): PythonCall[] {
  const r = new PythonReader(code);
  const calls: PythonCall[] = [];
  for (;;) {
    r.skip();
    if (r.pos >= code.length) break;
    calls.push(r.call());
    r.skip(false);
    const c = r.peek();
    if (c === ';' || c === '\n' || c === '\r') r.pos++;
    else if (c !== '') r.fail('expected ";" or a new line after a call');
  }
  return calls;
}
