/**
 * The grammar an eval case implies: for each built-in scorer that checks a format, a grammar
 * (llguidance, see model/grammar.ts) that holds a reply to that format, so that a constrained
 * eval measures what a grammar would force against what the model does by itself.
 *
 * - `rubric`: one call of the wrapper tool (`expect.wrapper`, default execute_code) with a
 *   non-empty string `code` and nothing else, in the suite's form
 *   `<tool_call>{"name": "execute_code", "arguments": {"code": "…"}}</tool_call>` (Qwen3 XML
 *   when `expect.format` is qwen3_xml). The code itself is free: which tool it calls is what the
 *   rubric scores, not the format.
 * - `hermes` / `qwen3_xml`: one or more calls and nothing else, in that syntax, of the case's
 *   tools with arguments that fit their parameter schemas. Without tools, any function name
 *   (letters, digits, `_ . -`, at most 64) with any JSON object of arguments (Hermes) or any
 *   parameters (XML). The expected tool is not forced: choosing it is the model's part.
 * - `json_schema`: the reply is JSON that fits `expect.json_schema`.
 * - `regex`: the whole reply matches `expect.regex` (a match is what the scorer searches for).
 *   The pattern is read as Rust regex syntax (llguidance's), the flags i, m, s become inline
 *   flags, and a leading `^` / trailing `$` are dropped (the whole reply is the match). JS-only
 *   syntax (lookaround, backreferences) is refused by the engine, naming the case. `\d` and `\w`
 *   are Unicode-aware there (ASCII in JS).
 * - `exact`, user scorers, anything else: no grammar; the case runs unconstrained (kind null).
 *
 * JSON is laid out as the suite shows it (JSON_LAYOUT: `", "` and `": "`, no other whitespace).
 * Every grammar is compiled by the engine before any generation (checkConstraints); a problem is
 * E_GRAMMAR naming the suite file and the case.
 */
import { MlxLabError } from '../core/errors.js';
import { native, type NativeGrammarVocab } from '../core/native.js';
import { grammarVocab, JSON_LAYOUT, toNativeGrammar, type GrammarOption } from '../model/grammar.js';
import { hermesToolGrammar, qwen3XmlToolGrammar } from '../model/tool-grammar.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { EvalCase, EvalSuite } from './suite-types.js';

/** What a case's grammar holds the reply to. */
export const CONSTRAINT_KINDS = ['wrapper', 'hermes', 'qwen3_xml', 'json_schema', 'regex'] as const;
export type ConstraintKind = (typeof CONSTRAINT_KINDS)[number];

export interface CaseConstraint {
  /** The format the grammar holds the reply to; null: the case runs unconstrained. */
  kind: ConstraintKind | null;
  grammar: GrammarOption | null;
}

const NONE: CaseConstraint = { kind: null, grammar: null };

/** A function name when the suite gives no tools. */
const ANY_NAME = '[A-Za-z_][A-Za-z0-9_.-]{0,63}';

/** Where a case is, for errors: the suite file, the case id and its line. */
export function caseWhere(suite: Pick<EvalSuite, 'source'>, c: Pick<EvalCase, 'id' | 'line'>): string {
  return `${suite.source}: case "${c.id}"${c.line !== undefined ? ` (line ${c.line})` : ''}`;
}

/** The grammar of one case (E_GRAMMAR naming the suite file and case for what is wrong before the engine sees it). */
export function caseConstraint(suite: Pick<EvalSuite, 'source'>, c: EvalCase): CaseConstraint {
  const where = caseWhere(suite, c);
  switch (c.scorer) {
    case 'rubric':
      return { kind: 'wrapper', grammar: wrapperGrammar(c.expect.wrapper ?? 'execute_code', c.expect.format) };
    case 'hermes':
      return { kind: 'hermes', grammar: { lark: hasTools(c) ? hermesToolGrammar(c.tools, 'required', where, JSON_LAYOUT) : anyHermesCalls() } };
    case 'qwen3_xml':
      return { kind: 'qwen3_xml', grammar: { lark: hasTools(c) ? qwen3XmlToolGrammar(c.tools, 'required', where, JSON_LAYOUT) : anyQwen3XmlCalls() } };
    case 'json_schema': {
      const schema = c.expect.json_schema ?? true;
      if (schema === false) throw new MlxLabError('E_GRAMMAR', `${where}: expect.json_schema is false, which no reply fits: there is no grammar for it`);
      return { kind: 'json_schema', grammar: { jsonSchema: schema } };
    }
    case 'regex':
      return { kind: 'regex', grammar: { regex: wholeReplyRegex(c.expect.regex ?? '', c.expect.flags) } };
    default:
      return NONE;
  }
}

/** The grammar of every case of a suite, in order. */
export function suiteConstraints(suite: EvalSuite): CaseConstraint[] {
  return suite.cases.map((c) => caseConstraint(suite, c));
}

/**
 * Compile every case's grammar with the engine against the model's tokenizer, before any
 * generation: an invalid schema, regex or tool schema is E_GRAMMAR naming the suite file and
 * the case, with the engine's reason; so is a grammar that allows no reply at all.
 */
export function checkConstraints(tokenizer: Tokenizer, suite: EvalSuite, constraints: readonly CaseConstraint[]): void {
  if (!constraints.some((k) => k.grammar)) return;
  const vocab = grammarVocab(tokenizer, suite.source);
  constraints.forEach((k, i) => {
    if (k.grammar) checkOne(vocab, suite, suite.cases[i], k);
  });
}

/** One case's grammar through the engine (E_GRAMMAR naming the case with the engine's reason). */
function checkOne(vocab: NativeGrammarVocab, suite: EvalSuite, c: EvalCase, k: CaseConstraint): void {
  const where = `${caseWhere(suite, c)}: the ${k.kind} grammar of the "${c.scorer}" scorer cannot be used`;
  let why: string | undefined;
  try {
    const check = native().checkGrammar(vocab, toNativeGrammar(k.grammar, 'grammar'), []);
    // `next` false: not even EOS may come first, so generation would dead-end at once.
    if (check.next === false && !check.complete) why = 'it allows no reply (no first token fits it)';
  } catch (err) {
    why = err instanceof Error ? err.message : String(err);
  }
  if (why !== undefined) throw new MlxLabError('E_GRAMMAR', `${where}: ${why}`);
}

function hasTools(c: EvalCase): boolean {
  return Array.isArray(c.tools) && c.tools.length > 0;
}

/** One wrapper call with a non-empty string `code`, in the suite's Hermes form (no newlines) or Qwen3 XML. */
export function wrapperGrammar(wrapper: string, format?: 'hermes' | 'qwen3_xml'): GrammarOption {
  if (format === 'qwen3_xml') {
    const head = `"<tool_call>\\n<function=" ${JSON.stringify(wrapper)} ">\\n<parameter=code>\\n"`;
    return { lark: [`start: ${head} code "\\n</function>\\n</tool_call>"`, 'code[suffix="\\n</parameter>"]: /(?s:.+)/', ''].join('\n') };
  }
  const call = {
    type: 'object',
    properties: {
      name: { const: wrapper },
      arguments: { type: 'object', properties: { code: { type: 'string', minLength: 1 } }, required: ['code'], additionalProperties: false },
    },
    required: ['name', 'arguments'],
    additionalProperties: false,
    'x-guidance': JSON_LAYOUT,
  };
  return { lark: `start: "<tool_call>" %json ${JSON.stringify(call)} "</tool_call>"\n` };
}

/** Hermes calls of any function name with any object of arguments, one or more, nothing else. */
function anyHermesCalls(): string {
  const body = {
    type: 'object',
    properties: { name: { type: 'string', pattern: `^${ANY_NAME}$` }, arguments: { type: 'object' } },
    required: ['name', 'arguments'],
    additionalProperties: false,
    'x-guidance': JSON_LAYOUT,
  };
  return `start: call ("\\n" call)*\ncall: "<tool_call>\\n" %json ${JSON.stringify(body)} "\\n</tool_call>"\n`;
}

/** Qwen3 XML calls of any function name with any parameters (raw text values), one or more, nothing else. */
function anyQwen3XmlCalls(): string {
  return [
    'start: call ("\\n" call)*',
    'call: "<tool_call>\\n<function=" NAME ">\\n" param* "</function>\\n</tool_call>"',
    'param: "<parameter=" NAME ">\\n" text_value "\\n"',
    'text_value[suffix="\\n</parameter>"]: /(?s:.*)/',
    `NAME: /${ANY_NAME}/`,
    '',
  ].join('\n');
}

/** Whether the character at `i` is escaped by an odd run of backslashes before it. */
function escaped(text: string, i: number): boolean {
  let n = 0;
  for (let k = i - 1; k >= 0 && text[k] === '\\'; k--) n++;
  return n % 2 === 1;
}

/** A suite regex (JS, searched) as the engine's whole-reply regex: anchors dropped, flags i/m/s inline. */
export function wholeReplyRegex(source: string, flags = ''): string {
  let body = source;
  if (body.startsWith('^')) body = body.slice(1);
  if (body.endsWith('$') && !escaped(body, body.length - 1)) body = body.slice(0, -1);
  const inline = [...new Set(flags)].filter((f) => f === 'i' || f === 'm' || f === 's').join('');
  return `(?${inline}:${body})`;
}
