/**
 * Chat templates: the model's Jinja template rendered with `@huggingface/jinja` the way
 * transformers' `apply_chat_template` renders it, so the text (and, through the tokenizer, the
 * ids) equal what transformers/mlx-lm produce for the same messages.
 *
 * What we reproduce from transformers (v5, as installed with mlx-lm 0.32):
 * - the template comes from chat_template.jinja (plus additional_chat_templates/*.jinja), else
 *   tokenizer_config.json `chat_template` (a string, or a list of {name, template}); with several
 *   templates, "tool_use" is picked when tools are given, else "default";
 * - message keys whose value is null/undefined are dropped; a message's reasoning given as
 *   `reasoning_content`, `thinking` or `reasoning` is passed under both `reasoning_content` and
 *   `thinking`;
 * - the template sees the named special tokens (bos_token, eos_token, ...), `messages`, `tools`
 *   and `documents` (null when not given), `add_generation_prompt`, and any extra variables
 *   (`enable_thinking` only when set); blocks are trimmed (trim_blocks, lstrip_blocks);
 * - `raise_exception(msg)` fails the render; `strftime_now(fmt)` formats the current date;
 * - ids are the rendered text encoded without adding special tokens again.
 * Known difference: JS has one number type, so a float with no fraction in tool arguments or
 * schemas (Python `1.0`) renders through `tojson` as `1`.
 */
import { join } from 'node:path';
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { MlxLabError } from '../core/errors.js';
import { readChatTemplateFiles } from './template-files.js';
import type { Tokenizer, TokenizerConfig } from './tokenizer.js';

/** A tool call in an assistant message (OpenAI style). `arguments` may be an object or a JSON string. */
export interface ToolCall {
  id?: string;
  type?: string;
  function: { name: string; arguments: Record<string, unknown> | string };
  [key: string]: unknown;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content?: string | null | Array<Record<string, unknown>>;
  tool_calls?: ToolCall[] | null;
  reasoning_content?: string | null;
  name?: string;
  tool_call_id?: string;
  [key: string]: unknown;
}

/** A tool, as a JSON schema ({type: "function", function: {name, description, parameters}}). */
export type ToolSchema = Record<string, unknown>;

export interface ChatOptions {
  /** Tool schemas made visible to the template (`tools`). */
  tools?: ToolSchema[] | null;
  /** RAG documents (`documents`), for templates that use them. */
  documents?: Record<string, unknown>[] | null;
  /** Append the header of a new assistant turn (`add_generation_prompt`). Default false. */
  addGenerationPrompt?: boolean;
  /** Passed as `enable_thinking` when set (Qwen3 and others); left undefined otherwise. */
  enableThinking?: boolean;
  /** Leave the last message open so the model continues it (transformers' continue_final_message). */
  continueFinalMessage?: boolean;
  /** Which template to use when the model has several (by name). */
  templateName?: string;
  /** More template variables (override the special tokens; cannot replace messages/tools). */
  extra?: Record<string, unknown>;
}

type TemplateSet = Record<string, string>;

const CONTINUE_TAG = 'CONTINUE_FINAL_MESSAGE_TAG ';
const REASONING_FIELDS = ['reasoning_content', 'thinking', 'reasoning'] as const;

/** A chat template bound to a tokenizer (for the special tokens and for `encode`). */
export class ChatTemplate {
  private readonly templates: TemplateSet;
  private readonly compiled = new Map<string, Template>();

  /**
   * @param template one template, or several by name
   * @param tokenizer gives the special tokens the template sees, and encodes the text
   * @param source where the template came from, for error messages
   */
  constructor(
    template: string | TemplateSet,
    readonly tokenizer: Tokenizer,
    readonly source: string = tokenizer.source,
  ) {
    this.templates = typeof template === 'string' ? { default: template } : { ...template };
    if (Object.keys(this.templates).length === 0) {
      throw new MlxLabError('E_TEMPLATE', `${source}: empty chat template list`);
    }
    for (const [name, text] of Object.entries(this.templates)) {
      if (typeof text !== 'string') throw new MlxLabError('E_TEMPLATE', `${source}: chat template "${name}" is not a string`);
    }
  }

  /**
   * The template of a model folder: chat_template.jinja (and additional_chat_templates/*.jinja)
   * or tokenizer_config.json's chat_template. undefined when the folder has none.
   */
  static fromFolder(dir: string, tokenizer: Tokenizer): ChatTemplate | undefined {
    const files = { ...tokenizer.chatTemplateFiles };
    if (Object.keys(files).length === 0 && dir !== tokenizer.source) Object.assign(files, readChatTemplateFiles(dir));
    if (Object.keys(files).length > 0) {
      // As transformers: template files replace tokenizer_config's chat_template.
      return new ChatTemplate(Object.keys(files).length === 1 && 'default' in files ? files.default : files, tokenizer, dir);
    }
    return ChatTemplate.fromConfig(tokenizer.config, tokenizer, join(dir, 'tokenizer_config.json'));
  }

  /** The template in a tokenizer_config object; undefined when it has none. */
  static fromConfig(config: TokenizerConfig, tokenizer: Tokenizer, source: string = tokenizer.source): ChatTemplate | undefined {
    const raw = config.chat_template;
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw === 'string') return new ChatTemplate(raw, tokenizer, source);
    if (Array.isArray(raw)) {
      const set: TemplateSet = {};
      for (const entry of raw) {
        if (!entry || typeof entry !== 'object' || typeof entry.name !== 'string' || typeof entry.template !== 'string') {
          throw new MlxLabError('E_TEMPLATE', `${source}: chat_template list entries must be {name, template} strings`);
        }
        set[entry.name] = entry.template;
      }
      return new ChatTemplate(set, tokenizer, source);
    }
    if (typeof raw === 'object') return new ChatTemplate(raw as TemplateSet, tokenizer, source);
    throw new MlxLabError('E_TEMPLATE', `${source}: chat_template must be a string or a list of {name, template}`);
  }

  /** The template for a tokenizer (its folder's files or its config); E_TEMPLATE when it has none. */
  static forTokenizer(tokenizer: Tokenizer): ChatTemplate {
    const files = tokenizer.chatTemplateFiles;
    const template =
      Object.keys(files).length > 0
        ? new ChatTemplate(Object.keys(files).length === 1 && 'default' in files ? files.default : { ...files }, tokenizer)
        : ChatTemplate.fromConfig(tokenizer.config, tokenizer);
    if (!template) {
      throw new MlxLabError(
        'E_TEMPLATE',
        `${tokenizer.source}: no chat template (tokenizer_config.json has no chat_template and there is no chat_template.jinja)`,
      );
    }
    return template;
  }

  /** Template names (a single template is "default"). */
  get names(): string[] {
    return Object.keys(this.templates);
  }

  /** The template text that `render` would use for these options. */
  templateText(options: Pick<ChatOptions, 'tools' | 'templateName'> = {}): string {
    return this.templates[this.pick(options)];
  }

  /** Whether the template knows about thinking (mentions enable_thinking or `<think>`). */
  templateCanThink(): boolean {
    return Object.values(this.templates).some((t) => t.includes('enable_thinking') || t.includes('<think>'));
  }

  /** The prompt text, as transformers' apply_chat_template(..., tokenize=False). */
  render(messages: readonly ChatMessage[], options: ChatOptions = {}): string {
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new MlxLabError('E_TEMPLATE', `${this.source}: cannot apply a chat template to an empty conversation`);
    }
    const name = this.pick(options);
    const template = this.compile(name);
    let chat = messages.map((m, i) => normalizeMessage(m, i, this.source));

    let continueField: string | undefined;
    let finalText = '';
    if (options.continueFinalMessage) {
      if (options.addGenerationPrompt) {
        throw new MlxLabError('E_TEMPLATE', `${this.source}: continueFinalMessage and addGenerationPrompt cannot be used together`);
      }
      const last = chat[chat.length - 1];
      if (typeof last.content !== 'string') {
        throw new MlxLabError('E_TEMPLATE', `${this.source}: continueFinalMessage needs a final message with string content`);
      }
      continueField = 'content';
      finalText = last.content;
      chat = [...chat.slice(0, -1), { ...last, content: last.content + CONTINUE_TAG }];
    }

    const variables: Record<string, unknown> = {
      // The globals @huggingface/jinja's Template.render sets, with transformers' versions of
      // raise_exception (our error) and strftime_now (C locale, like Python).
      true: true,
      false: false,
      none: null,
      True: true,
      False: false,
      None: null,
      range: pythonRange,
      raise_exception: (message: unknown) => {
        throw new MlxLabError('E_TEMPLATE', `${this.source}: the chat template raised an exception: ${String(message)}`);
      },
      strftime_now: (format: unknown) => strftime(new Date(), String(format)),
      ...this.tokenizer.specialTokensMap,
    };
    if (options.enableThinking !== undefined) variables.enable_thinking = options.enableThinking;
    Object.assign(variables, options.extra ?? {});
    variables.messages = chat;
    variables.tools = options.tools ?? null;
    variables.documents = options.documents ?? null;
    variables.add_generation_prompt = options.addGenerationPrompt ?? false;

    let text: string;
    try {
      const env = new Environment();
      for (const [key, value] of Object.entries(variables)) env.set(key, value);
      text = budgetedInterpreter(env, templateBudget()).run(template.parsed).value as string;
    } catch (err) {
      if (err instanceof MlxLabError) throw err;
      const why = err instanceof RangeError ? `${err.message} (a runaway template: endless recursion or a huge value)` : (err as Error).message;
      throw new MlxLabError('E_TEMPLATE', `${this.source}: chat template "${name}" failed to render: ${why}`, { cause: err });
    }

    if (continueField !== undefined) {
      const tag = CONTINUE_TAG.trim();
      const at = text.lastIndexOf(tag);
      if (at < 0 || !text.includes(finalText.trim())) {
        throw new MlxLabError('E_TEMPLATE', `${this.source}: continueFinalMessage: the final message does not appear in the rendered chat`);
      }
      text = text.startsWith(CONTINUE_TAG, at) ? text.slice(0, at) : text.slice(0, at).trimEnd();
    }
    return text;
  }

  /** Same as `render` (transformers' name). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatOptions = {}): string {
    return this.render(messages, options);
  }

  /** Prompt token ids, as transformers' apply_chat_template(..., tokenize=True). */
  encode(messages: readonly ChatMessage[], options: ChatOptions = {}): number[] {
    return this.tokenizer.encode(this.render(messages, options), { addSpecialTokens: false });
  }

  private pick(options: Pick<ChatOptions, 'tools' | 'templateName'>): string {
    const names = Object.keys(this.templates);
    if (options.templateName !== undefined) {
      if (!(options.templateName in this.templates)) {
        throw new MlxLabError('E_TEMPLATE', `${this.source}: no chat template named "${options.templateName}" (have: ${names.join(', ')})`);
      }
      return options.templateName;
    }
    if (names.length === 1) return names[0];
    if (options.tools != null && 'tool_use' in this.templates) return 'tool_use';
    if ('default' in this.templates) return 'default';
    throw new MlxLabError(
      'E_TEMPLATE',
      `${this.source}: the model has several chat templates and none is "default"; pick one with templateName (have: ${names.join(', ')})`,
    );
  }

  private compile(name: string): Template {
    let template = this.compiled.get(name);
    if (!template) {
      try {
        template = new Template(this.templates[name]);
      } catch (err) {
        throw new MlxLabError('E_TEMPLATE', `${this.source}: chat template "${name}" does not parse: ${(err as Error).message}`, { cause: err });
      }
      this.compiled.set(name, template);
    }
    return template;
  }
}

/** Render messages with a tokenizer's chat template (see ChatTemplate.render). */
export function applyChatTemplate(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): string {
  return ChatTemplate.forTokenizer(tokenizer).render(messages, options);
}

/** Prompt ids of messages with a tokenizer's chat template (see ChatTemplate.encode). */
export function encodeChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], options: ChatOptions = {}): number[] {
  return ChatTemplate.forTokenizer(tokenizer).encode(messages, options);
}

/** The roles chat templates know (OpenAI's, plus Llama 3's ipython and the older function). */
export const KNOWN_ROLES: readonly string[] = ['system', 'developer', 'user', 'assistant', 'tool', 'ipython', 'function'];

/**
 * Content given as a list of parts (OpenAI style): the text parts joined, as one string. Other
 * parts (images, audio) cannot be rendered by a text model: E_TEMPLATE naming the part.
 */
function joinTextParts(parts: unknown[], index: number, source: string): string {
  return parts
    .map((part, i) => {
      if (typeof part === 'string') return part;
      const p = part as { type?: unknown; text?: unknown } | null;
      if (p && typeof p === 'object' && (p.type === 'text' || p.type === undefined) && typeof p.text === 'string') return p.text;
      const type = p && typeof p === 'object' && typeof p.type === 'string' ? `of type ${JSON.stringify(p.type)}` : 'not a {type: "text", text} part';
      throw new MlxLabError('E_TEMPLATE', `${source}: message ${index}: content part ${i} is ${type}; only text parts are supported (a text model cannot take images or audio)`);
    })
    .join('');
}

function normalizeMessage(message: ChatMessage, index: number, source: string): ChatMessage {
  if (!message || typeof message !== 'object' || Array.isArray(message)) {
    throw new MlxLabError('E_TEMPLATE', `${source}: message ${index} is not an object`);
  }
  if (typeof message.role !== 'string' || !KNOWN_ROLES.includes(message.role)) {
    const got = typeof message.role === 'string' ? `an unknown role ${JSON.stringify(message.role)}` : 'no "role" string';
    throw new MlxLabError('E_TEMPLATE', `${source}: message ${index} has ${got} (known: ${KNOWN_ROLES.join(', ')}); a template would drop it silently`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) if (value !== null && value !== undefined) out[key] = value;
  if (Array.isArray(out.content)) out.content = joinTextParts(out.content, index, source);
  let reasoning: unknown;
  for (const field of REASONING_FIELDS) {
    if (out[field] !== undefined) {
      reasoning = out[field];
      break;
    }
  }
  if (reasoning !== undefined) return { thinking: reasoning, ...out, reasoning_content: reasoning } as unknown as ChatMessage;
  return out as ChatMessage;
}

/**
 * Templates come with model folders, so they are untrusted code: rendering has a budget. The
 * time limit (MLX_LAB_TEMPLATE_TIMEOUT_MS, default 2000 ms per render) is checked every 64
 * evaluation steps and at every loop; strings above 16 M characters, more than 256 M characters produced in one
 * render, and lists (range() included) above 20,000 items fail at once (a for loop prepares
 * all its items before the first step, about 15 µs each). A runaway gets E_TEMPLATE instead of a V8
 * heap abort (range(10**9)) or a hang (nested loops). Rendering stays in the main thread (it is
 * synchronous, per example, in data loading), so it holds the thread at most the time limit.
 */
export interface TemplateBudget {
  deadline: number;
  timeoutMs: number;
}

export const TEMPLATE_LIMITS = { timeoutMs: 2000, maxString: 16 * 2 ** 20, maxProduced: 256 * 2 ** 20, maxItems: 20_000 };

function templateBudget(): TemplateBudget {
  const env = Number(process.env.MLX_LAB_TEMPLATE_TIMEOUT_MS);
  const timeoutMs = Number.isFinite(env) && env > 0 ? env : TEMPLATE_LIMITS.timeoutMs;
  return { deadline: performance.now() + timeoutMs, timeoutMs };
}

class TemplateBudgetError extends Error {}

/** An interpreter whose every evaluation step counts against `budget` (see TemplateBudget). */
function budgetedInterpreter(env: Environment, budget: TemplateBudget): Interpreter {
  const interpreter = new Interpreter(env);
  const evaluate = interpreter.evaluate.bind(interpreter);
  let steps = 0;
  let produced = 0;
  // Recursive evaluation goes through this.evaluate, so the instance property sees every step.
  interpreter.evaluate = (...args: Parameters<Interpreter['evaluate']>) => {
    // Loops are checked at every entry (an empty loop body evaluates nothing per item).
    if (((++steps & 63) === 0 || (args[0] as { type?: string } | undefined)?.type === 'For') && performance.now() > budget.deadline) {
      throw new TemplateBudgetError(`rendering ran past its ${budget.timeoutMs} ms budget after ${steps} steps (a huge or endless loop?); MLX_LAB_TEMPLATE_TIMEOUT_MS sets the budget`);
    }
    const value = evaluate(...args);
    const text = (value as { value?: unknown }).value;
    // A for loop prepares every item before its body runs (no step to check in between): lists are capped.
    if (Array.isArray(text) && text.length > TEMPLATE_LIMITS.maxItems) {
      throw new TemplateBudgetError(`a list of ${text.length} items is over the limit of ${TEMPLATE_LIMITS.maxItems}`);
    }
    if (typeof text === 'string') {
      produced += text.length;
      if (text.length > TEMPLATE_LIMITS.maxString || produced > TEMPLATE_LIMITS.maxProduced) {
        const what = text.length > TEMPLATE_LIMITS.maxString ? `a string of more than ${TEMPLATE_LIMITS.maxString} characters` : `more than ${TEMPLATE_LIMITS.maxProduced} characters`;
        throw new TemplateBudgetError(`rendering produced ${what} (a runaway template?)`);
      }
    }
    return value;
  };
  return interpreter;
}

function pythonRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const count = Math.ceil((stop - start) / step);
  if (count > TEMPLATE_LIMITS.maxItems) throw new TemplateBudgetError(`range() of ${count} items is over the limit of ${TEMPLATE_LIMITS.maxItems}`);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Python's datetime.strftime in the C locale (local time), for the directives templates use. */
export function strftime(date: Date, format: string): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const dayOfYear = Math.floor((Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) - Date.UTC(date.getFullYear(), 0, 1)) / 86_400_000) + 1;
  const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
  return format.replace(/%([a-zA-Z%])/g, (whole, d: string) => {
    switch (d) {
      case 'a': return DAYS[date.getDay()].slice(0, 3);
      case 'A': return DAYS[date.getDay()];
      case 'w': return String(date.getDay());
      case 'd': return pad(date.getDate());
      case 'b': return MONTHS[date.getMonth()].slice(0, 3);
      case 'B': return MONTHS[date.getMonth()];
      case 'm': return pad(date.getMonth() + 1);
      case 'y': return pad(date.getFullYear() % 100);
      case 'Y': return String(date.getFullYear());
      case 'H': return pad(date.getHours());
      case 'I': return pad(hour12);
      case 'p': return date.getHours() < 12 ? 'AM' : 'PM';
      case 'M': return pad(date.getMinutes());
      case 'S': return pad(date.getSeconds());
      case 'f': return pad(date.getMilliseconds() * 1000, 6);
      case 'j': return pad(dayOfYear, 3);
      case 'e': return String(date.getDate()).padStart(2, ' ');
      case '%': return '%';
      default: return whole;
    }
  });
}
