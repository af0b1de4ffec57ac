/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json objects) from the tokenizer
 * metadata of a GGUF file, as MLX's load_gguf reports it (key → number | string | string[] |
 * number[]). The rules follow llama.cpp, the reference for GGUF files.
 *
 * Supported `tokenizer.ggml.model`s:
 * - "gpt2" (byte-level BPE) with the pre-tokenizer types below. For "smollm" llama.cpp splits
 *   every digit on its own (`\p{N}`), then applies the GPT-2 regex — the same as the upstream
 *   SmolLM2 tokenizer.json (Digits(individual_digits) + ByteLevel). transformers' own GGUF
 *   conversion has no entry for "smollm" and splits with the plain GPT-2 regex, which differs on
 *   text such as "a  1"; our fixtures record both (test/fixtures/chat/smollm2.json).
 * - "llama" (SentencePiece: Gemma, Llama 2, Mistral v0.1, Phi-3), tokens with their scores and
 *   no merges. llama.cpp splits text into characters (spaces written as U+2581, one prepended
 *   when `tokenizer.ggml.add_space_prefix`, its default) and repeatedly merges the adjacent pair
 *   whose concatenation is the vocabulary token of highest score; characters left outside the
 *   vocabulary become their UTF-8 byte tokens `<0xXX>`. That is a BPE whose merges are every
 *   split of every token into two vocabulary tokens, ranked by the token's score: what we build
 *   (see sentencePieceMerges), with byte fallback. Equal scores are ordered by token id (llama.cpp
 *   takes the leftmost pair; SentencePiece-trained vocabularies have distinct scores).
 * Control tokens (and SentencePiece's unknown token) become special added tokens, user-defined
 * ones plain added tokens, matched whole in the text as llama.cpp matches them. Anything else
 * fails with E_TOKENIZER naming the metadata key.
 */
import { MlxLabError } from '../core/errors.js';
import { Tokenizer, type AddedTokenJSON, type GenerationConfig, type TokenizerConfig, type TokenizerJSON } from './tokenizer.js';

/** GGUF metadata as the native loader reports it (only tokenizer.* keys are read). */
export type GgufTokenizerMetadata = Readonly<Record<string, unknown>>;

export interface GgufTokenizerFiles {
  tokenizer: TokenizerJSON;
  tokenizerConfig: TokenizerConfig;
  generationConfig: GenerationConfig;
}

// llama.cpp's token types (tokenizer.ggml.token_type)
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_USER_DEFINED = 4;

/** SentencePiece's space. */
const SPACE = '\u2581';

/** Control tokens llama.cpp ends generation at in a SentencePiece file besides its EOS (its EOG list). */
const SENTENCEPIECE_END_TOKENS = new Set(['<end_of_turn>', '<|end|>', '<|eot_id|>', '<|im_end|>', '<EOT>']);

const _GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

type PreKind = 'gpt2' | 'digits+gpt2' | 'llama3' | 'qwen2';

/** tokenizer.ggml.pre → how llama.cpp splits text before BPE. */
const PRE_TOKENIZERS: Record<string, PreKind> = {
  // GPT-2 regex (llama.cpp GPT2/MPT/OLMO/JAIS); missing or "default": transformers' choice
  default: 'gpt2',
  'gpt-2': 'gpt2',
  gpt2: 'gpt2',
  mpt: 'gpt2',
  olmo: 'gpt2',
  jais: 'gpt2',
  // "\p{N}" then the GPT-2 regex (llama.cpp STARCODER/REFACT/COMMAND_R/SMOLLM/CODESHELL/EXAONE)
  smollm: 'digits+gpt2',
  starcoder: 'digits+gpt2',
  refact: 'digits+gpt2',
  'command-r': 'digits+gpt2',
  codeshell: 'digits+gpt2',
  exaone: 'digits+gpt2',
  // Llama 3 regex
  'llama3': 'llama3',
  'llama-v3': 'llama3',
  'llama-bpe': 'llama3',
  'falcon3': 'llama3',
  'smaug-bpe': 'llama3',
  dbrx: 'llama3',
  pixtral: 'llama3',
  // Qwen2 regex (digits one by one)
  qwen2: 'qwen2',
  'deepseek-r1-qwen': 'qwen2',
  megrez: 'qwen2',
};

/** llama.cpp's ignore_merges applies to its LLAMA3 pre-type only. */
const IGNORE_MERGES = new Set(['llama3', 'llama-v3', 'llama-bpe']);

let byteAlphabet: string[] | undefined;
/** GPT-2's bytes_to_unicode table: byte → the printable character that spells it. */
function bytesToUnicode(): string[] {
  if (byteAlphabet) return byteAlphabet;
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCodePoint(printable ? b : 256 + extra++);
  }
  byteAlphabet = table;
  return table;
}

function fail(source: string, message: string): never {
  throw new MlxLabError('E_TOKENIZER', `${source}: ${message}`);
}

function stringArray(meta: GgufTokenizerMetadata, key: string, source: string, required: true): string[];
function stringArray(meta: GgufTokenizerMetadata, key: string, source: string, required: false): string[] | undefined;
function stringArray(meta: GgufTokenizerMetadata, key: string, source: string, required: boolean): string[] | undefined {
  const value = meta[key];
  if (value === undefined || value === null) {
    if (required) fail(source, `GGUF metadata has no \`${key}\``);
    return undefined;
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(source, `GGUF metadata \`${key}\` must be a list of strings`);
  return value as string[];
}

function numberArray(meta: GgufTokenizerMetadata, key: string, source: string): number[] | undefined {
  const value = meta[key];
  if (value === undefined || value === null) return undefined;
  const list = ArrayBuffer.isView(value) ? Array.from(value as unknown as ArrayLike<number>) : value;
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'number' && typeof v !== 'bigint')) {
    fail(source, `GGUF metadata \`${key}\` must be a list of numbers`);
  }
  return (list as (number | bigint)[]).map(Number);
}

/** A scalar as MLX reports it: a number, a bigint, a boolean, or a one-element array of those. */
function scalar(meta: GgufTokenizerMetadata, key: string): number | boolean | undefined {
  let value = meta[key];
  if (ArrayBuffer.isView(value)) value = Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value) && value.length === 1) value = value[0];
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  return undefined;
}

function tokenId(meta: GgufTokenizerMetadata, key: string, count: number, source: string): number | undefined {
  const value = scalar(meta, key);
  if (value === undefined || typeof value === 'boolean') return undefined;
  if (!Number.isInteger(value) || value < 0) return undefined; // llama.cpp writes -1 (as u32 max) for "none"
  if (value >= count) {
    if (value >= 0xffffffff) return undefined;
    fail(source, `GGUF metadata \`${key}\` = ${value} is outside the vocabulary (${count} tokens)`);
  }
  return value;
}

function flag(meta: GgufTokenizerMetadata, key: string): boolean | undefined {
  const value = scalar(meta, key);
  return value === undefined ? undefined : Boolean(value);
}

function byteLevel(addPrefixSpace: boolean, useRegex: boolean) {
  return { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: useRegex };
}

function splitRegex(pattern: string) {
  return { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false };
}

/** The parts of tokenizer.json that depend on the tokenizer model. */
interface ModelParts {
  model: TokenizerJSON['model'];
  normalizer: unknown;
  preTokenizer: unknown;
  decoder: unknown;
  /** Added tokens (control, user-defined, ...). */
  added: AddedTokenJSON[];
  /** How the vocabulary spells a token of the list (the post-processor looks special tokens up so). */
  keyOf: (token: string) => string;
  /** The vocabulary: spelling → id (the first id of a spelling). */
  vocab: Record<string, number>;
  /** Whether the file's tokenizer adds BOS when it does not say (llama.cpp: SentencePiece does). */
  defaultAddBos: boolean;
  /** Ids besides EOS that end generation. */
  endIds: number[];
}

function addedToken(id: number, content: string, special: boolean): AddedTokenJSON {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

/** The token types, checked against the token count. */
function tokenTypes(meta: GgufTokenizerMetadata, count: number, source: string): number[] | undefined {
  const types = numberArray(meta, 'tokenizer.ggml.token_type', source);
  if (types && types.length !== count) {
    fail(source, `GGUF \`tokenizer.ggml.token_type\` has ${types.length} entries for ${count} tokens`);
  }
  return types;
}

/** Byte-level BPE (`tokenizer.ggml.model` = "gpt2"): the vocabulary in GPT-2's byte spelling, the file's merges. */
function byteLevelParts(meta: GgufTokenizerMetadata, tokens: string[], source: string): ModelParts {
  const preName = meta['tokenizer.ggml.pre'];
  if (preName !== undefined && typeof preName !== 'string') fail(source, 'GGUF metadata `tokenizer.ggml.pre` must be a string');
  const preKey = preName ?? 'default';
  const pre = PRE_TOKENIZERS[preKey];
  if (!pre) {
    fail(source, `GGUF \`tokenizer.ggml.pre\` = ${JSON.stringify(preKey)} is not supported; supported: ${Object.keys(PRE_TOKENIZERS).join(', ')}`);
  }
  const merges = stringArray(meta, 'tokenizer.ggml.merges', source, true);
  const types = tokenTypes(meta, tokens.length, source);

  // Tokens written with other characters (some files store raw text) are re-spelled from their
  // UTF-8 bytes, as transformers does.
  const alphabet = bytesToUnicode();
  const inAlphabet = new Set(alphabet);
  const spelled = (token: string) => [...token].every((c) => inAlphabet.has(c));
  const encoder = new TextEncoder();
  const keyOf = (token: string) => (spelled(token) ? token : Array.from(encoder.encode(token), (b) => alphabet[b]).join(''));
  // No prototype: tokens such as "constructor" or "__proto__" are vocabulary entries like any other (found by scripts/fuzz.mjs).
  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((token, id) => {
    const key = keyOf(token);
    if (!(key in vocab)) vocab[key] = id;
  });

  const mergePairs = merges.map((m, i) => {
    const space = m.indexOf(' ');
    if (space <= 0 || space === m.length - 1 || m.indexOf(' ', space + 1) >= 0) {
      fail(source, `GGUF \`tokenizer.ggml.merges\`[${i}] = ${JSON.stringify(m)} is not "left right"`);
    }
    return [m.slice(0, space), m.slice(space + 1)];
  });

  // A control token outside the byte alphabet is a mislabel.
  const added: AddedTokenJSON[] = [];
  types?.forEach((type, id) => {
    const content = tokens[id];
    if (type === TOKEN_CONTROL && spelled(content)) added.push(addedToken(id, content, true));
    else if (type === TOKEN_USER_DEFINED) added.push(addedToken(id, content, false));
  });

  const addPrefixSpace = flag(meta, 'tokenizer.ggml.add_space_prefix') ?? false;
  let preTokenizer: unknown;
  switch (pre) {
    case 'gpt2':
      preTokenizer = byteLevel(addPrefixSpace, true);
      break;
    case 'digits+gpt2':
      preTokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(addPrefixSpace, true)] };
      break;
    case 'llama3':
      preTokenizer = { type: 'Sequence', pretokenizers: [splitRegex(LLAMA3_REGEX), byteLevel(false, false)] };
      break;
    case 'qwen2':
      preTokenizer = { type: 'Sequence', pretokenizers: [splitRegex(QWEN2_REGEX), byteLevel(false, false)] };
      break;
  }
  return {
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: IGNORE_MERGES.has(preKey),
      vocab,
      merges: mergePairs,
    },
    normalizer: null,
    preTokenizer,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    added,
    keyOf,
    vocab,
    defaultAddBos: false,
    endIds: [],
  };
}

/**
 * The merges of llama.cpp's SentencePiece tokenizer as BPE merges: every split of a token into
 * two vocabulary tokens, ranked by the token's score (highest first), equal scores by token id,
 * then longer left pieces first. (llama.cpp also merges a character outside the vocabulary when
 * the concatenation is a token; a BPE merge must name vocabulary tokens, and SentencePiece
 * vocabularies hold every character of their pieces.)
 */
export function sentencePieceMerges(tokens: readonly string[], scores: readonly number[], vocab: Record<string, number>): [string, string][] {
  const merges: { left: string; right: string; score: number; id: number }[] = [];
  tokens.forEach((token, id) => {
    if (vocab[token] !== id) return; // a later duplicate spelling: the first id is the token
    const chars = Array.from(token);
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      if (left in vocab && right in vocab) merges.push({ left, right, score: scores[id], id });
    }
  });
  merges.sort((a, b) => b.score - a.score || a.id - b.id || b.left.length - a.left.length);
  return merges.map((m) => [m.left, m.right]);
}

/** SentencePiece (`tokenizer.ggml.model` = "llama"): tokens and scores as a byte-fallback BPE (module comment). */
function sentencePieceParts(meta: GgufTokenizerMetadata, tokens: string[], source: string): ModelParts {
  const scores = numberArray(meta, 'tokenizer.ggml.scores', source) ?? tokens.map(() => 0); // llama.cpp: 0 when absent
  if (scores.length !== tokens.length) fail(source, `GGUF \`tokenizer.ggml.scores\` has ${scores.length} entries for ${tokens.length} tokens`);
  const types = tokenTypes(meta, tokens.length, source);
  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((token, id) => {
    if (!(token in vocab)) vocab[token] = id;
  });
  const added: AddedTokenJSON[] = [];
  const endIds: number[] = [];
  types?.forEach((type, id) => {
    const content = tokens[id];
    if (type === TOKEN_CONTROL || type === TOKEN_UNKNOWN) added.push(addedToken(id, content, true));
    else if (type === TOKEN_USER_DEFINED) added.push(addedToken(id, content, false));
    if (type === TOKEN_CONTROL && SENTENCEPIECE_END_TOKENS.has(content)) endIds.push(id);
  });
  const unkId = tokenId(meta, 'tokenizer.ggml.unknown_token_id', tokens.length, source);
  // llama.cpp prepends a space to every piece of text (after each special token too): a normalizer,
  // which runs on each span between added tokens. Its decoder then drops the first space.
  const prefix = flag(meta, 'tokenizer.ggml.add_space_prefix') ?? true;
  const replace = (from: string, to: string) => ({ type: 'Replace', pattern: { String: from }, content: to });
  const spaces = replace(' ', SPACE);
  return {
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unkId !== undefined ? tokens[unkId] : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: sentencePieceMerges(tokens, scores, vocab),
    },
    normalizer: prefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, spaces] } : spaces,
    preTokenizer: null,
    decoder: {
      type: 'Sequence',
      decoders: [replace(SPACE, ' '), { type: 'ByteFallback' }, { type: 'Fuse' }, ...(prefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : [])],
    },
    added,
    keyOf: (token) => token,
    vocab,
    defaultAddBos: true,
    endIds,
  };
}

/**
 * tokenizer.json / tokenizer_config.json / generation_config.json objects from GGUF metadata.
 * @param source the GGUF path, for error messages
 */
export function tokenizerFromGguf(meta: GgufTokenizerMetadata, source = '<gguf>'): GgufTokenizerFiles {
  const kind = meta['tokenizer.ggml.model'];
  if (kind === undefined) fail(source, 'GGUF metadata has no `tokenizer.ggml.model` (the file carries no tokenizer)');
  if (kind !== 'gpt2' && kind !== 'llama') {
    const what = kind === 'bert' ? ' (WordPiece)' : kind === 't5' ? ' (Unigram)' : '';
    fail(source, `GGUF \`tokenizer.ggml.model\` = ${JSON.stringify(kind)}${what} is not supported; supported: "gpt2" (byte-level BPE), "llama" (SentencePiece)`);
  }
  const tokens = stringArray(meta, 'tokenizer.ggml.tokens', source, true);
  const parts = kind === 'gpt2' ? byteLevelParts(meta, tokens, source) : sentencePieceParts(meta, tokens, source);
  const { added, keyOf, vocab } = parts;

  const count = tokens.length;
  const bosId = tokenId(meta, 'tokenizer.ggml.bos_token_id', count, source);
  const eosId = tokenId(meta, 'tokenizer.ggml.eos_token_id', count, source);
  const eotId = tokenId(meta, 'tokenizer.ggml.eot_token_id', count, source);
  const eomId = tokenId(meta, 'tokenizer.ggml.eom_token_id', count, source);
  const unkId = tokenId(meta, 'tokenizer.ggml.unknown_token_id', count, source);
  const padId = tokenId(meta, 'tokenizer.ggml.padding_token_id', count, source);
  const addBos = flag(meta, 'tokenizer.ggml.add_bos_token') ?? parts.defaultAddBos;
  const addEos = flag(meta, 'tokenizer.ggml.add_eos_token') ?? false;

  // BOS/EOS added on encode (with add_special_tokens) when the file asks for it.
  const specialTokens: Record<string, { id: string; ids: number[]; tokens: string[] }> = {};
  const piece = (id: number | undefined, typeId: number): unknown[] => {
    if (id === undefined) return [];
    // The token as the vocabulary spells it (the post-processor looks it up there); when that
    // spelling belongs to an earlier token, it is added with its own id (found by scripts/fuzz.mjs).
    const content = keyOf(tokens[id]);
    if (vocab[content] !== id && !added.some((a) => a.id === id)) added.push(addedToken(id, content, true));
    specialTokens[content] = { id: content, ids: [id], tokens: [content] };
    return [{ SpecialToken: { id: content, type_id: typeId } }];
  };
  const bos = (typeId: number) => (addBos ? piece(bosId, typeId) : []);
  const eos = (typeId: number) => (addEos ? piece(eosId, typeId) : []);
  const single = [...bos(0), { Sequence: { id: 'A', type_id: 0 } }, ...eos(0)];
  const pair = [...single, ...bos(1), { Sequence: { id: 'B', type_id: 1 } }, ...eos(1)];

  const tokenizer: TokenizerJSON = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: parts.normalizer,
    pre_tokenizer: parts.preTokenizer,
    post_processor: { type: 'TemplateProcessing', single, pair, special_tokens: specialTokens },
    decoder: parts.decoder,
    model: parts.model,
  };

  const tokenizerConfig: TokenizerConfig = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
    tokenizer_class: 'TokenizersBackend',
  };
  if (bosId !== undefined) tokenizerConfig.bos_token = tokens[bosId];
  if (eosId !== undefined) tokenizerConfig.eos_token = tokens[eosId];
  if (unkId !== undefined) tokenizerConfig.unk_token = tokens[unkId];
  if (padId !== undefined) tokenizerConfig.pad_token = tokens[padId];

  // Chat templates: tokenizer.chat_template, plus named ones (tokenizer.chat_templates lists the
  // names, each in tokenizer.chat_template.<name>).
  const main = meta['tokenizer.chat_template'];
  if (main !== undefined && typeof main !== 'string') fail(source, 'GGUF metadata `tokenizer.chat_template` must be a string');
  const names = stringArray(meta, 'tokenizer.chat_templates', source, false) ?? [];
  const named: { name: string; template: string }[] = [];
  for (const name of names) {
    const text = meta[`tokenizer.chat_template.${name}`];
    if (typeof text !== 'string') fail(source, `GGUF metadata lists chat template "${name}" but \`tokenizer.chat_template.${name}\` is missing`);
    named.push({ name, template: text });
  }
  if (named.length > 0) {
    tokenizerConfig.chat_template = main !== undefined ? [{ name: 'default', template: main }, ...named] : named;
  } else if (main !== undefined) {
    tokenizerConfig.chat_template = main;
  }

  const generationConfig: GenerationConfig = {};
  if (bosId !== undefined) generationConfig.bos_token_id = bosId;
  const eosIds = [...new Set([eosId, eotId, eomId, ...parts.endIds].filter((x): x is number => x !== undefined))];
  if (eosIds.length === 1) generationConfig.eos_token_id = eosIds[0];
  else if (eosIds.length > 1) generationConfig.eos_token_id = eosIds;
  if (padId !== undefined) generationConfig.pad_token_id = padId;

  return { tokenizer, tokenizerConfig, generationConfig };
}

/** A Tokenizer straight from GGUF metadata. */
export function tokenizerFromGgufMetadata(meta: GgufTokenizerMetadata, source = '<gguf>'): Tokenizer {
  const files = tokenizerFromGguf(meta, source);
  return Tokenizer.fromJSON(files.tokenizer, files.tokenizerConfig, files.generationConfig, { source });
}
