/**
 * Constrained decoding options: the one place a `grammar` option is checked and turned into what
 * the engine takes. The grammar engine is llguidance (loaded by src/core/grammar-engine.ts); its
 * token mask is applied on the engine thread before every sampler.
 */
import { MlxLabError } from '../core/errors.js';
import { grammarEngineVersion } from '../core/grammar-engine.js';
import { native, type NativeGrammar, type NativeGrammarVocab } from '../core/native.js';
import { tokenBytes } from './token-bytes.js';
import { hermesToolGrammar, qwen3XmlToolGrammar } from './tool-grammar.js';
import { llama3ToolGrammar, mistralToolGrammar, pythonicToolGrammar, type SpecialTokenId } from './tool-grammar-plain.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * A grammar the reply must follow: a JSON Schema (object or its JSON text), a regex (Rust syntax),
 * a Lark grammar, or tool calls of the `tools` option in the call syntax in use (hermes or
 * qwen3_xml; "auto": free text and calls; "required": calls only).
 */
export type GrammarOption = { jsonSchema: object | boolean | string } | { regex: string } | { lark: string } | { toolCalls: 'auto' | 'required' };

/** What a toolCalls grammar is made from: the generate call's tools and the call syntax in use. */
export interface GrammarContext {
  tools?: unknown;
  toolFormat?: string;
  /** The id of a special token with this text (Mistral's `[TOOL_CALLS]` is one in its tokenizers). */
  specialTokenId?: SpecialTokenId;
}

/** Grammars above this many characters are refused before the engine sees them. */
export const MAX_GRAMMAR_CHARS = 4_000_000;

const KINDS = { jsonSchema: 'json_schema', regex: 'regex', lark: 'lark', toolCalls: 'lark' } as const;
type Kind = keyof typeof KINDS;

function bad(where: string, message: string): never {
  throw new MlxLabError('E_GRAMMAR', `${where}: ${message}`);
}

/** The option as the engine's { type, data }; E_GRAMMAR naming `where` for anything malformed. */
export function toNativeGrammar(option: unknown, where = 'grammar', context: GrammarContext = {}): NativeGrammar {
  if (typeof option !== 'object' || option === null || Array.isArray(option)) bad(where, 'must be an object: { jsonSchema } | { regex } | { lark }');
  const keys = Object.keys(option);
  if (keys.length !== 1 || !(keys[0] in KINDS)) bad(where, `must have exactly one of jsonSchema, regex, lark, toolCalls (got ${keys.join(', ') || 'no key'})`);
  const kind = keys[0] as Kind;
  const value = (option as Record<string, unknown>)[kind];
  const data = kind === 'jsonSchema' ? schemaText(value, `${where}.jsonSchema`) : kind === 'toolCalls' ? toolCallsText(value, `${where}.toolCalls`, context) : value;
  if (typeof data !== 'string') bad(`${where}.${kind}`, 'must be a string');
  if (data.length === 0) bad(`${where}.${kind}`, 'is empty');
  if (data.length > MAX_GRAMMAR_CHARS) bad(`${where}.${kind}`, `is ${data.length} characters, over the limit of ${MAX_GRAMMAR_CHARS}`);
  if (data.includes('\0')) bad(`${where}.${kind}`, 'holds a NUL character');
  return { type: KINDS[kind], data, name: `${where}.${kind}` };
}

/**
 * How JSON is laid out unless the schema's own "x-guidance" says otherwise: json.dumps's
 * separators and no other whitespace (free whitespace lets a weak model pad forever).
 */
export const JSON_LAYOUT = { whitespace_flexible: false, item_separator: ', ', key_separator: ': ' };

/** A JSON Schema as JSON text (with JSON_LAYOUT): an object or boolean, or a string holding one. */
function schemaText(value: unknown, where: string): string {
  let schema = value;
  if (typeof value === 'string') {
    try {
      schema = JSON.parse(value);
    } catch (err) {
      bad(where, `is not valid JSON (${(err as Error).message})`);
    }
  }
  if (typeof schema === 'boolean') return JSON.stringify(schema);
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) bad(where, 'must be a schema object, true/false, or its JSON text');
  const laidOut = 'x-guidance' in schema ? schema : { ...schema, 'x-guidance': JSON_LAYOUT };
  try {
    return JSON.stringify(laidOut);
  } catch (err) {
    return bad(where, `cannot be written as JSON (${(err as Error).message})`);
  }
}

/** The Lark grammar of a toolCalls option, in the call syntax in use. */
function toolCallsText(mode: unknown, where: string, context: GrammarContext): string {
  if (mode !== 'auto' && mode !== 'required') bad(where, 'must be "auto" or "required"');
  const { tools, toolFormat = 'hermes' } = context;
  if (toolFormat === 'hermes') return hermesToolGrammar(tools, mode, where, JSON_LAYOUT);
  if (toolFormat === 'qwen3_xml') return qwen3XmlToolGrammar(tools, mode, where, JSON_LAYOUT);
  if (toolFormat === 'llama3_json') return llama3ToolGrammar(tools, mode, where, JSON_LAYOUT);
  if (toolFormat === 'mistral') return mistralToolGrammar(tools, mode, where, JSON_LAYOUT, context.specialTokenId);
  if (toolFormat === 'pythonic') return pythonicToolGrammar(tools, mode, where, JSON_LAYOUT);
  return bad(where, `a tool-call grammar needs a call syntax; this call reads "${toolFormat}" (set toolFormat to hermes, qwen3_xml, llama3_json, mistral or pythonic)`);
}

/** A tokenizer's special-token lookup for GrammarContext.specialTokenId. */
export function specialTokenLookup(tokenizer: Tokenizer | undefined): SpecialTokenId {
  return (text) => {
    const id = tokenizer?.tokenToId(text);
    return id !== undefined && tokenizer?.isSpecial(id) ? id : undefined;
  };
}

/** One grammar per prompt from the `grammar` option (one for all, or a list as long as the batch). */
export function grammarsOf(option: unknown, count: number, context: GrammarContext = {}): (NativeGrammar | null)[] | undefined {
  if (option === undefined || option === null) return undefined;
  if (!Array.isArray(option)) {
    const one = toNativeGrammar(option, 'grammar', context);
    return Array.from({ length: count }, () => one);
  }
  if (option.length !== count) bad('grammar', `lists ${option.length} grammars for ${count} prompts`);
  const list = option.map((g, i) => (g === null || g === undefined ? null : toNativeGrammar(g, `grammar[${i}]`, context)));
  return list.some((g) => g !== null) ? list : undefined;
}

const vocabs = new WeakMap<Tokenizer, NativeGrammarVocab>();

/** The tokenizer's vocabulary as the engine sees it (made once per tokenizer). */
export function grammarVocab(tokenizer: Tokenizer | undefined, where: string): NativeGrammarVocab {
  if (!tokenizer) throw new MlxLabError('E_GRAMMAR', `${where}: a grammar needs the tokenizer (the model was loaded without one)`);
  grammarEngineVersion();
  let vocab = vocabs.get(tokenizer);
  if (!vocab) {
    // Every id that ends generation may end a complete reply; the tokenizer's own EOS first.
    const eos = [...new Set([...(tokenizer.eosId === null ? [] : [tokenizer.eosId]), ...tokenizer.eosIds])].filter((id) => id <= tokenizer.maxId);
    if (eos.length === 0) throw new MlxLabError('E_GRAMMAR', `${where}: a grammar needs an end-of-sequence token, and the tokenizer names none`);
    const { bytes, lens } = tokenBytes(tokenizer);
    vocab = native().grammarVocab(bytes, lens, eos);
    vocabs.set(tokenizer, vocab);
  }
  return vocab;
}

/** Whether a text fits a grammar: `ok` when every token of it is allowed, `complete` when it is a whole reply. */
export function checkGrammarText(tokenizer: Tokenizer, option: GrammarOption, text: string, context: GrammarContext = {}): { ok: boolean; complete: boolean; error?: string } {
  const grammar = toNativeGrammar(option, 'grammar', { specialTokenId: specialTokenLookup(tokenizer), ...context });
  const tokens = tokenizer.encode(text, { addSpecialTokens: false });
  const { ok, complete, error } = native().checkGrammar(grammarVocab(tokenizer, 'checkGrammarText'), grammar, tokens);
  return { ok, complete: ok && complete, ...(error !== undefined && { error }) };
}
