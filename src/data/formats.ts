/**
 * mlx-lm's data formats and how each example becomes tokens (mlx_lm/tuner/datasets.py, 0.32).
 *
 * Format detection, per file, from its first record (as `create_dataset`):
 *   completions: has the prompt and the completion keys (`prompt_feature`, `completion_feature`);
 *   chat:        else has the chat key (`chat_feature`, default "messages");
 *   text:        else has the text key (`text_feature`, default "text").
 * Every other record must have the same format's keys (mlx-lm would fail with a KeyError).
 *
 * Tokenization, as mlx-lm's dataset classes (tokens, offset = prompt tokens to mask):
 *   chat:        tokens = apply_chat_template(messages, tools) (add_generation_prompt false);
 *                with mask_prompt, offset = len(apply_chat_template(messages[:-1], tools,
 *                add_generation_prompt = last message is the assistant's)).
 *   completions: messages = [user: prompt, assistant: completion], then as chat with
 *                add_generation_prompt true for the offset. Needs a chat template (so does
 *                mlx-lm 0.32: transformers raises without one).
 *   text:        tokens = encode(text) (with the tokenizer's special tokens, e.g. BOS), then the
 *                EOS id appended unless already last; offset 0. mask_prompt is an error.
 * mlx-lm's tokenizer wrapper passes `enable_thinking = has_thinking` (the vocabulary has
 * <think>/</think> or another think-token pair) to every template call; we do the same.
 *
 * Stricter than mlx-lm, on purpose (each an E_DATA error naming file:line):
 *   a chat example with no assistant message (nothing to learn); with mask_prompt, a chat whose
 *   last message is not the assistant's (mlx-lm would train on that user/tool message) or that
 *   has no message before it (mlx-lm fails: empty conversation); non-string prompt, completion
 *   or text values; an empty text.
 */
import { MlxLabError } from '../core/errors.js';
import { typeName } from '../core/suggest.js';
import { ChatTemplate, type ChatMessage, type ToolSchema } from '../model/chat.js';
import type { Tokenizer } from '../model/tokenizer.js';

export const DATA_FORMATS = ['chat', 'completions', 'text'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** The record keys of each format (mlx-lm's *_feature config keys). */
export interface FeatureKeys {
  prompt: string;
  completion: string;
  chat: string;
  text: string;
}

export const DEFAULT_FEATURES: Readonly<FeatureKeys> = { prompt: 'prompt', completion: 'completion', chat: 'messages', text: 'text' };

export interface DataOptions {
  /** Mask the prompt part in the loss (chat and completions only). Default false. */
  maskPrompt?: boolean;
  /** Record keys; defaults "prompt", "completion", "messages", "text". */
  features?: Partial<FeatureKeys>;
  /** The chat template to use; default the tokenizer's own (needed by chat and completions). */
  chatTemplate?: ChatTemplate;
  /** `enable_thinking` for the template; default as mlx-lm: whether the vocabulary has think tokens. */
  enableThinking?: boolean;
}

/** One tokenized example. */
export interface EncodedExample {
  tokens: number[];
  /** Tokens at the start to leave out of the loss (0 unless mask_prompt). */
  offset: number;
}

/** The keys a record of a format must have. */
export function formatKeys(format: DataFormat, features: FeatureKeys): string[] {
  switch (format) {
    case 'completions':
      return [features.prompt, features.completion];
    case 'chat':
      return [features.chat];
    case 'text':
      return [features.text];
  }
}

/** The format of a record by its keys, in mlx-lm's order; undefined when it matches none. */
export function detectFormat(record: Record<string, unknown>, features: FeatureKeys = DEFAULT_FEATURES): DataFormat | undefined {
  if (features.prompt in record && features.completion in record) return 'completions';
  if (features.chat in record) return 'chat';
  if (features.text in record) return 'text';
  return undefined;
}

/** mlx-lm's `has_thinking`: the vocabulary has a think start/end pair. */
export function vocabHasThinking(tokenizer: Tokenizer): boolean {
  const has = (t: string) => tokenizer.tokenToId(t) !== undefined;
  const pairs: [string, string][] = [
    ['<think>', '</think>'],
    ['<longcat_think>', '</longcat_think>'],
    ['<|think:start|>', '<|think:end|>'],
    ['<|channel>', '<channel|>'],
  ];
  if (pairs.some(([a, b]) => has(a) && has(b))) return true;
  return ['<|open|>', '<|close|>', '<|sep|>', '<|end_of_msg|>'].every(has);
}

function describeKeys(record: Record<string, unknown>): string {
  const keys = Object.keys(record);
  return keys.length === 0 ? 'no keys' : `keys ${keys.map((k) => JSON.stringify(k)).join(', ')}`;
}

/** Tokenizes records of the mlx-lm formats with one tokenizer and one set of options. */
export class ExampleEncoder {
  readonly features: FeatureKeys;
  readonly maskPrompt: boolean;
  readonly enableThinking: boolean;
  private template: ChatTemplate | undefined;

  constructor(
    readonly tokenizer: Tokenizer,
    options: DataOptions = {},
  ) {
    this.features = { ...DEFAULT_FEATURES, ...options.features };
    this.maskPrompt = options.maskPrompt ?? false;
    this.template = options.chatTemplate;
    this.enableThinking = options.enableThinking ?? vocabHasThinking(tokenizer);
  }

  /** The format of a file's first record; E_DATA naming `where` (file:line) and the keys found. */
  detect(record: Record<string, unknown>, where: string): DataFormat {
    const format = detectFormat(record, this.features);
    if (format === undefined) {
      const f = this.features;
      throw new MlxLabError(
        'E_DATA',
        `${where}: unknown data format: found ${describeKeys(record)}; expected "${f.chat}" (chat), "${f.prompt}" and "${f.completion}" (completions) or "${f.text}" (text)`,
      );
    }
    return format;
  }

  /** Check that a record has the keys of the file's format (set by its first record). */
  checkKeys(record: Record<string, unknown>, format: DataFormat, where: string, firstLine: number): void {
    const keys = formatKeys(format, this.features);
    if (keys.every((k) => k in record)) return;
    const other = detectFormat(record, this.features);
    const found = other ? `a ${other} example` : 'an example of no known format';
    throw new MlxLabError(
      'E_DATA',
      `${where}: mixed formats: line ${firstLine} made this a ${format} file (keys ${keys.map((k) => JSON.stringify(k)).join(', ')}), but this line is ${found} (${describeKeys(record)})`,
    );
  }

  /** Tokenize one record of a known format. `where` (file:line) prefixes errors. */
  encode(record: Record<string, unknown>, format: DataFormat, where: string): EncodedExample {
    switch (format) {
      case 'chat':
        return this.encodeChat(record, where);
      case 'completions':
        return this.encodeCompletions(record, where);
      case 'text':
        return this.encodeText(record, where);
    }
  }

  /** The chat template, loaded on first use; an E_DATA error when the tokenizer has none. */
  private chatTemplate(where: string, format: DataFormat): ChatTemplate {
    if (!this.template) {
      try {
        this.template = ChatTemplate.forTokenizer(this.tokenizer);
      } catch (err) {
        throw new MlxLabError(
          'E_DATA',
          `${where}: the ${format} format needs a chat template and the tokenizer has none (${(err as Error).message}); use the text format instead`,
          { cause: err },
        );
      }
    }
    return this.template;
  }

  private tools(record: Record<string, unknown>, where: string): ToolSchema[] | null {
    const tools = record.tools;
    if (tools === undefined || tools === null) return null;
    if (!Array.isArray(tools) || tools.some((t) => typeof t !== 'object' || t === null || Array.isArray(t))) {
      throw new MlxLabError('E_DATA', `${where}: "tools" must be a list of tool schemas (objects), got ${typeName(tools)}`);
    }
    return tools as ToolSchema[];
  }

  private render(messages: ChatMessage[], tools: ToolSchema[] | null, addGenerationPrompt: boolean, where: string, format: DataFormat): number[] {
    const template = this.chatTemplate(where, format);
    try {
      return template.encode(messages, { tools, addGenerationPrompt, enableThinking: this.enableThinking });
    } catch (err) {
      if (err instanceof MlxLabError && err.code === 'E_DATA') throw err;
      throw new MlxLabError('E_DATA', `${where}: ${(err as Error).message}`, { cause: err });
    }
  }

  private encodeChat(record: Record<string, unknown>, where: string): EncodedExample {
    const key = this.features.chat;
    const messages = record[key];
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new MlxLabError('E_DATA', `${where}: "${key}" must be a non-empty list of messages, got ${Array.isArray(messages) ? 'an empty list' : typeName(messages)}`);
    }
    messages.forEach((m, i) => {
      if (typeof m !== 'object' || m === null || Array.isArray(m)) {
        throw new MlxLabError('E_DATA', `${where}: message ${i} is ${typeName(m)}, not an object`);
      }
      if (typeof (m as { role?: unknown }).role !== 'string') {
        throw new MlxLabError('E_DATA', `${where}: message ${i} has no "role" string`);
      }
    });
    const chat = messages as ChatMessage[];
    const roles = chat.map((m) => m.role);
    if (!roles.includes('assistant')) {
      throw new MlxLabError('E_DATA', `${where}: chat example without an assistant message (roles: ${roles.join(', ')}): there is nothing to learn`);
    }
    const tools = this.tools(record, where);
    const tokens = this.render(chat, tools, false, where, 'chat');
    if (!this.maskPrompt) return { tokens, offset: 0 };
    const last = chat[chat.length - 1];
    if (last.role !== 'assistant') {
      throw new MlxLabError(
        'E_DATA',
        `${where}: with mask_prompt the last message must be the assistant's (the part trained on), but it is "${last.role}"`,
      );
    }
    if (chat.length < 2) {
      throw new MlxLabError('E_DATA', `${where}: with mask_prompt a chat example needs at least one message before the assistant's reply`);
    }
    const offset = this.render(chat.slice(0, -1), tools, true, where, 'chat').length;
    return { tokens, offset };
  }

  private encodeCompletions(record: Record<string, unknown>, where: string): EncodedExample {
    const { prompt: pk, completion: ck } = this.features;
    const prompt = record[pk];
    const completion = record[ck];
    if (typeof prompt !== 'string') throw new MlxLabError('E_DATA', `${where}: "${pk}" must be a string, got ${typeName(prompt)}`);
    if (typeof completion !== 'string') throw new MlxLabError('E_DATA', `${where}: "${ck}" must be a string, got ${typeName(completion)}`);
    const tools = this.tools(record, where);
    const messages: ChatMessage[] = [
      { role: 'user', content: prompt },
      { role: 'assistant', content: completion },
    ];
    const tokens = this.render(messages, tools, false, where, 'completions');
    if (!this.maskPrompt) return { tokens, offset: 0 };
    const offset = this.render(messages.slice(0, 1), tools, true, where, 'completions').length;
    return { tokens, offset };
  }

  private encodeText(record: Record<string, unknown>, where: string): EncodedExample {
    const key = this.features.text;
    if (this.maskPrompt) {
      throw new MlxLabError('E_DATA', `${where}: mask_prompt is not supported for the text format (there is no prompt to mask)`);
    }
    const text = record[key];
    if (typeof text !== 'string') throw new MlxLabError('E_DATA', `${where}: "${key}" must be a string, got ${typeName(text)}`);
    if (text === '') throw new MlxLabError('E_DATA', `${where}: empty text`);
    const eos = this.tokenizer.eosId;
    if (eos === null) {
      throw new MlxLabError('E_DATA', `${where}: the text format appends the EOS token, but the tokenizer has none (${this.tokenizer.source})`);
    }
    const tokens = this.tokenizer.encode(text);
    if (tokens.length === 0 || tokens[tokens.length - 1] !== eos) tokens.push(eos);
    return { tokens, offset: 0 };
  }
}
