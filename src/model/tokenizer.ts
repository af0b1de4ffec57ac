/**
 * Hugging Face tokenizers (tokenizer.json + tokenizer_config.json) for mlx-lab, plus the pieces
 * generation needs: special token ids, an incremental detokenizer and a stop-string matcher.
 *
 * Library choice: `@huggingface/tokenizers` (pure JS, no dependencies, maintained by the HF team
 * next to `tokenizers`/`transformers`/`@huggingface/jinja`). We compared it with
 * `@lenml/tokenizers` (a one-person fork of transformers.js' tokenizer code) on the fixtures that
 * transformers made (test/fixtures/chat): both gave the same ids on every conversation, with the
 * same speed, but `@lenml/tokenizers` split `\u0085`/`\uFEFF` differently from the Rust library in
 * Qwen3's pre-tokenizer regex (Oniguruma semantics, which `@huggingface/tokenizers` translates
 * explicitly) and exposes its components only untyped. `@huggingface/tokenizers` exposes typed,
 * replaceable components, which lets us fix the one divergence both share: the `Digits`
 * pre-tokenizer matched only ASCII `\d`, while the Rust library splits on every Unicode number
 * (`char::is_numeric`: Nd, Nl, No). See `UnicodeDigits` below.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import * as hfTokenizers from '@huggingface/tokenizers';
import { MlxLabError } from '../core/errors.js';
import { readJsonFile } from '../core/json.js';
import { readChatTemplateFiles } from './template-files.js';
import { isPlainObject } from '../core/suggest.js';

type HfTokenizer = hfTokenizers.Tokenizer;
const HfTokenizer = hfTokenizers.Tokenizer;

/** The library's pre-tokenizer classes (its .d.ts re-exports use extensionless paths that
 * `moduleResolution: nodenext` cannot follow, so they are typed here). */
interface PreTokenizerLike {
  pre_tokenize_text(text: string, options?: unknown): string[];
}
const lib = hfTokenizers as unknown as {
  PreTokenizer: abstract new () => PreTokenizerLike;
  DigitsPreTokenizer: new (config: unknown) => PreTokenizerLike & { config?: { individual_digits?: boolean } };
  SequencePreTokenizer: new (config: unknown) => PreTokenizerLike & { tokenizers: (PreTokenizerLike | null)[] };
};

/** An entry of tokenizer.json's `added_tokens`. */
export interface AddedTokenJSON {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

/** tokenizer.json as the `tokenizers` library writes it (only the parts we read are typed). */
export interface TokenizerJSON {
  version?: string;
  added_tokens?: AddedTokenJSON[];
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  post_processor?: unknown;
  decoder?: unknown;
  model: { type?: string; vocab?: unknown; merges?: unknown; [key: string]: unknown };
  [key: string]: unknown;
}

/** A special token in tokenizer_config.json: a string, or a serialized AddedToken. */
export type TokenSpec = string | { content: string; [key: string]: unknown } | null;

/** tokenizer_config.json (only the parts we read are typed). */
export interface TokenizerConfig {
  bos_token?: TokenSpec;
  eos_token?: TokenSpec;
  unk_token?: TokenSpec;
  sep_token?: TokenSpec;
  pad_token?: TokenSpec;
  cls_token?: TokenSpec;
  mask_token?: TokenSpec;
  additional_special_tokens?: TokenSpec[];
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  clean_up_tokenization_spaces?: boolean;
  chat_template?: string | { name: string; template: string }[] | Record<string, string>;
  added_tokens_decoder?: Record<string, unknown>;
  [key: string]: unknown;
}

/** generation_config.json (only the parts we read are typed). */
export interface GenerationConfig {
  bos_token_id?: number | number[] | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | number[] | null;
  [key: string]: unknown;
}

export interface EncodeOptions {
  /** Add the special tokens of the tokenizer's post-processor (e.g. BOS). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (added tokens marked special). Default false. */
  skipSpecialTokens?: boolean;
}

/** The named special tokens transformers passes to chat templates, in its order. */
export const SPECIAL_TOKEN_NAMES = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
export type SpecialTokenName = (typeof SPECIAL_TOKEN_NAMES)[number];

export interface TokenizerSource {
  /** Where the files came from, for error messages (a folder, a GGUF file, ...). */
  source?: string;
  /** Contents of chat_template.jinja (and additional_chat_templates/*.jinja), when read from a folder. */
  chatTemplateFiles?: Record<string, string>;
}

function tokenContent(spec: unknown): string | null {
  if (typeof spec === 'string') return spec;
  if (spec && typeof spec === 'object' && typeof (spec as { content?: unknown }).content === 'string') {
    return (spec as { content: string }).content;
  }
  return null;
}

function idList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number' && Number.isInteger(v));
  return [];
}

/**
 * `Digits` as the Rust library does it: a number is any char with `char::is_numeric()` (Unicode
 * categories Nd, Nl, No = `\p{N}`), not only ASCII 0-9. Each digit stands alone when
 * `individual_digits`, else runs of digits stay together; text between digits is kept whole.
 */
class UnicodeDigits extends lib.PreTokenizer {
  private readonly pattern: RegExp;

  constructor(individual: boolean) {
    super();
    this.pattern = individual ? /\p{N}|[^\p{N}]+/gu : /\p{N}+|[^\p{N}]+/gu;
  }

  override pre_tokenize_text(text: string): string[] {
    return text.match(this.pattern) ?? [];
  }
}

/** Replace the library's ASCII-only Digits pre-tokenizers, wherever they sit in a Sequence. */
function fixDigits(pre: PreTokenizerLike | null): PreTokenizerLike | null {
  if (pre instanceof lib.DigitsPreTokenizer) return new UnicodeDigits(pre.config?.individual_digits === true);
  if (pre instanceof lib.SequencePreTokenizer) pre.tokenizers = pre.tokenizers.map(fixDigits);
  return pre;
}

/** A tokenizer JSON file of a folder, undefined when missing; E_TOKENIZER naming it otherwise. */
function readOptionalJson(path: string, what: string): unknown {
  return readJsonFile(path, { code: 'E_TOKENIZER', what, optional: true });
}

export class Tokenizer {
  /** The underlying @huggingface/tokenizers instance. */
  readonly hf: HfTokenizer;
  readonly tokenizerJson: TokenizerJSON;
  readonly config: TokenizerConfig;
  readonly generationConfig: GenerationConfig;
  /** Where the files came from (for error messages). */
  readonly source: string;
  /** chat_template.jinja and additional_chat_templates/*.jinja (name → text), when loaded from a folder. */
  readonly chatTemplateFiles: Readonly<Record<string, string>>;

  readonly bosToken: string | null;
  readonly bosId: number | null;
  readonly eosToken: string | null;
  /** The tokenizer's own EOS id (tokenizer_config eos_token). */
  readonly eosId: number | null;
  /** Every id that ends generation: tokenizer_config's eos_token plus generation_config's eos_token_id(s). */
  readonly eosIds: ReadonlySet<number>;
  readonly padToken: string | null;
  readonly padId: number | null;
  readonly unkId: number | null;
  /** Named special tokens (bos_token, eos_token, ...) as transformers' special_tokens_map. */
  readonly specialTokensMap: Readonly<Partial<Record<SpecialTokenName, string>>>;
  /** Every special token: content → id (added tokens marked special, plus the named ones). */
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly specialIds: ReadonlySet<number>;
  /** Number of ids (vocabulary plus added tokens), as transformers' len(tokenizer). */
  readonly vocabSize: number;
  /** The largest token id the tokenizer can produce (its vocabulary and added tokens). */
  readonly maxId: number;

  private readonly vocab: (string | undefined)[];
  private readonly cleanUpSpaces: boolean;

  constructor(
    tokenizerJson: TokenizerJSON,
    tokenizerConfig: TokenizerConfig = {},
    generationConfig: GenerationConfig = {},
    options: TokenizerSource = {},
  ) {
    this.source = options.source ?? '<tokenizer>';
    if (!isPlainObject(tokenizerJson) || !isPlainObject(tokenizerJson.model)) {
      throw new MlxLabError('E_TOKENIZER', `${this.source}: tokenizer.json has no "model" object`);
    }
    if (!isPlainObject(tokenizerConfig)) {
      throw new MlxLabError('E_TOKENIZER', `${this.source}: tokenizer_config.json must hold a JSON object`);
    }
    this.tokenizerJson = tokenizerJson;
    this.config = tokenizerConfig;
    this.generationConfig = isPlainObject(generationConfig) ? generationConfig : {};
    this.chatTemplateFiles = options.chatTemplateFiles ?? {};
    // transformers >= 5 defaults clean_up_tokenization_spaces to false; the JS library to true.
    this.cleanUpSpaces = tokenizerConfig.clean_up_tokenization_spaces === true;

    const libConfig: Record<string, unknown> = {
      ...tokenizerConfig,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
      additional_special_tokens: (tokenizerConfig.additional_special_tokens ?? []).map(tokenContent).filter((t): t is string => t !== null),
    };
    for (const name of SPECIAL_TOKEN_NAMES) libConfig[name] = tokenContent(tokenizerConfig[name]) ?? undefined;
    const libJson = {
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...tokenizerJson,
    };
    try {
      this.hf = new HfTokenizer(libJson, libConfig);
    } catch (err) {
      throw new MlxLabError('E_TOKENIZER', `${this.source}: unsupported or invalid tokenizer.json: ${(err as Error).message}`, { cause: err });
    }
    const hfMutable = this.hf as unknown as { pre_tokenizer: PreTokenizerLike | null };
    hfMutable.pre_tokenizer = fixDigits(hfMutable.pre_tokenizer);

    const model = (this.hf as unknown as { model: { vocab: (string | undefined)[] } }).model;
    this.vocab = model.vocab;
    this.vocabSize = this.vocab.length;

    const named: Partial<Record<SpecialTokenName, string>> = {};
    for (const name of SPECIAL_TOKEN_NAMES) {
      const content = tokenContent(tokenizerConfig[name]);
      if (content !== null) named[name] = content;
    }
    this.specialTokensMap = named;

    const special = new Map<string, number>();
    for (const t of tokenizerJson.added_tokens ?? []) if (t.special) special.set(t.content, t.id);
    for (const content of [...Object.values(named), ...(libConfig.additional_special_tokens as string[])]) {
      const id = this.tokenToId(content);
      if (id !== undefined && !special.has(content)) special.set(content, id);
    }
    this.specialTokens = special;
    this.specialIds = new Set(special.values());
    this.maxId = (tokenizerJson.added_tokens ?? []).reduce((m, t) => (Number.isInteger(t.id) ? Math.max(m, t.id) : m), this.vocabSize - 1);

    const idOf = (content: string | undefined) => (content === undefined ? null : (this.tokenToId(content) ?? null));
    this.bosToken = named.bos_token ?? null;
    this.bosId = idOf(named.bos_token);
    this.eosToken = named.eos_token ?? null;
    this.eosId = idOf(named.eos_token);
    this.padToken = named.pad_token ?? null;
    this.padId = idOf(named.pad_token);
    this.unkId = idOf(named.unk_token);
    const eos = new Set<number>();
    if (this.eosId !== null) eos.add(this.eosId);
    for (const id of idList(this.generationConfig.eos_token_id)) eos.add(id);
    this.eosIds = eos;
  }

  /**
   * Load tokenizer.json, tokenizer_config.json and the optional generation_config.json,
   * special_tokens_map.json, chat_template.jinja and additional_chat_templates/*.jinja of a folder.
   */
  static fromFolder(dir: string): Tokenizer {
    let isDir = false;
    try {
      isDir = statSync(dir).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) throw new MlxLabError('E_TOKENIZER', `${dir}: tokenizer.json not found (no such folder)`);
    const tokenizerPath = join(dir, 'tokenizer.json');
    const json = readOptionalJson(tokenizerPath, 'tokenizer.json');
    if (json === undefined) {
      throw new MlxLabError('E_TOKENIZER', `${dir}: tokenizer.json not found (mlx-lab needs the Hugging Face tokenizer.json in the model folder)`);
    }
    if (!isPlainObject(json)) throw new MlxLabError('E_TOKENIZER', `${tokenizerPath}: tokenizer.json must hold a JSON object`);
    const rawConfig = readOptionalJson(join(dir, 'tokenizer_config.json'), 'tokenizer_config.json') ?? {};
    if (!isPlainObject(rawConfig)) throw new MlxLabError('E_TOKENIZER', `${join(dir, 'tokenizer_config.json')}: tokenizer_config.json must hold a JSON object`);
    let config: Record<string, unknown> = rawConfig;
    const generation = readOptionalJson(join(dir, 'generation_config.json'), 'generation_config.json') ?? {};
    const specialMap = readOptionalJson(join(dir, 'special_tokens_map.json'), 'special_tokens_map.json');
    // transformers reads special_tokens_map.json only for configs without added_tokens_decoder
    // (older saves), and then its named tokens win over tokenizer_config's.
    if (isPlainObject(specialMap) && !('added_tokens_decoder' in config)) {
      config = { ...config };
      for (const [key, value] of Object.entries(specialMap)) {
        if ((SPECIAL_TOKEN_NAMES as readonly string[]).includes(key) || key === 'additional_special_tokens') config[key] = value;
      }
    }
    return new Tokenizer(json as TokenizerJSON, config as TokenizerConfig, generation as GenerationConfig, {
      source: dir,
      chatTemplateFiles: readChatTemplateFiles(dir),
    });
  }

  /** Build from parsed tokenizer.json / tokenizer_config.json / generation_config.json objects. */
  static fromJSON(
    tokenizerJson: TokenizerJSON,
    tokenizerConfig: TokenizerConfig = {},
    generationConfig: GenerationConfig = {},
    options: TokenizerSource = {},
  ): Tokenizer {
    return new Tokenizer(tokenizerJson, tokenizerConfig, generationConfig, options);
  }

  /** Token ids of a text. Special tokens written in the text (e.g. `<|im_end|>`) become their ids. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /**
   * Text of token ids (byte-level pieces are joined before UTF-8 decoding; invalid bytes become
   * U+FFFD). Ids that have no token are left out.
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    // Ids without a token (past the tokenizer's vocabulary, e.g. a model's padded embedding rows)
    // are left out, as the Rust library does.
    const known = ids.filter((id) => {
      if (!Number.isInteger(id)) throw new MlxLabError('E_ARGUMENT', `${this.source}: token id ${id} is not an integer`);
      return this.vocab[id] !== undefined;
    });
    if (known.length === 0) return '';
    return this.hf.decode(known, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  /** The vocabulary string of an id (byte-level spelling, e.g. "Ġhello"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.vocab[id];
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** A fresh incremental detokenizer for one sequence. */
  streamDecoder(options: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder(this, options);
  }
}

const REPLACEMENT = '\uFFFD';

/**
 * Incremental detokenizer: push one id at a time, get the new text. The concatenation of all
 * deltas plus `flush()` equals `tokenizer.decode(allIds)`. Text whose last UTF-8 character is
 * still incomplete (a byte-level token carrying only part of its bytes) is held back rather than
 * emitted as U+FFFD; `flush()` returns whatever is left at the end.
 *
 * It decodes a short window of recent tokens (the last emitted token as context, plus the new
 * ones) and emits what that window adds, so each push costs O(window), not O(sequence).
 */
export class StreamDecoder {
  private readonly tokens: number[] = [];
  /** Start of the decode window in `tokens`. */
  private start = 0;
  /** Characters of decode(tokens[start..]) already emitted. */
  private emitted = 0;
  private readonly skipSpecial: boolean;
  /** All ids pushed so far. */
  get ids(): readonly number[] {
    return this.tokens;
  }

  constructor(
    private readonly tokenizer: Tokenizer,
    options: DecodeOptions = {},
    /** Stop holding back an incomplete character after this many tokens (e.g. skipped special tokens). */
    private readonly maxPending = 16,
  ) {
    this.skipSpecial = options.skipSpecialTokens ?? false;
  }

  /** Add one token; returns the text it completes (often '', e.g. mid-way through a multi-byte char). */
  push(id: number): string {
    this.tokens.push(id);
    const text = this.tokenizer.decode(this.tokens.slice(this.start), { skipSpecialTokens: this.skipSpecial });
    // An incomplete UTF-8 sequence at the end decodes to exactly one U+FFFD (an earlier one next
    // to it is final: a later byte already broke it), so only the last one is held back.
    const pending = text.endsWith(REPLACEMENT) && this.tokens.length - this.start <= this.maxPending;
    const stable = pending ? text.slice(0, -1) : text;
    let delta = '';
    if (stable.length > this.emitted) {
      delta = stable.slice(this.emitted);
      this.emitted = stable.length;
    }
    if (!pending) {
      // Slide the window: keep the last token as context (a leading-space rule of a decoder then
      // applies the same way to the window and to what follows it).
      this.start = this.tokens.length - 1;
      this.emitted = this.tokenizer.decode(this.tokens.slice(this.start), { skipSpecialTokens: this.skipSpecial }).length;
    }
    return delta;
  }

  /** The text still held back (an incomplete character at the end); resets nothing else. */
  flush(): string {
    if (this.tokens.length === 0) return '';
    const text = this.tokenizer.decode(this.tokens.slice(this.start), { skipSpecialTokens: this.skipSpecial });
    const delta = text.length > this.emitted ? text.slice(this.emitted) : '';
    this.emitted = Math.max(this.emitted, text.length);
    return delta;
  }
}

export interface StopMatch {
  /** Text that is safe to emit now (never part of a stop string). */
  text: string;
  /** The stop string that matched, when one did; the stream should end here. */
  stop?: string;
  /** Where the stop string starts, in characters of the whole text pushed so far. */
  index?: number;
}

/**
 * Finds stop strings in streamed text across token boundaries. Text that could still become a
 * stop string (e.g. "<thi" when "<think>" is a stop) is held back until the next push decides it.
 * After a match, further pushes return nothing.
 */
export class StopMatcher {
  private readonly stops: string[];
  private held = '';
  /** Characters emitted so far (the offset of `held` in the whole text). */
  private offset = 0;
  private done = false;

  constructor(stops: Iterable<string>) {
    this.stops = [...new Set([...stops].filter((s) => typeof s === 'string' && s.length > 0))];
  }

  get stopped(): boolean {
    return this.done;
  }

  push(delta: string): StopMatch {
    if (this.done) return { text: '' };
    const buffer = this.held + delta;
    if (this.stops.length === 0) {
      this.offset += buffer.length;
      this.held = '';
      return { text: buffer };
    }
    // The earliest stop wins; at the same position the longest one.
    let best = -1;
    let bestStop = '';
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (best < 0 || at < best || (at === best && stop.length > bestStop.length))) {
        best = at;
        bestStop = stop;
      }
    }
    if (best >= 0) {
      this.done = true;
      const text = buffer.slice(0, best);
      const index = this.offset + best;
      this.offset += text.length;
      this.held = '';
      return { text, stop: bestStop, index };
    }
    // Hold back the longest tail of the buffer that is a proper prefix of some stop string.
    let keep = 0;
    for (const stop of this.stops) {
      const most = Math.min(stop.length - 1, buffer.length);
      for (let n = most; n > keep; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    const text = buffer.slice(0, buffer.length - keep);
    this.held = buffer.slice(buffer.length - keep);
    this.offset += text.length;
    return { text };
  }

  /** At the end of the stream: the held-back text (it did not become a stop string). */
  flush(): string {
    if (this.done) return '';
    const text = this.held;
    this.offset += text.length;
    this.held = '';
    return text;
  }
}
