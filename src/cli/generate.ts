/** `mlx-lab generate`: one prompt or conversation through a model, like mlx_lm.generate. */
import { Command } from 'commander';
import { MlxLabError } from '../core/errors.js';
import { loadModel, type ChatMessage, type GeneratedTokenLogprob, type GenerateOptions, type Model, type PromptCache } from '../model/model.js';
import { logitBiasArrays, MAX_TOP_LOGPROBS } from '../model/sampling-options.js';
import { describeBlas, runtime } from '../core/runtime.js';
import { computeOption, inlineOrFile, number } from './options.js';
import { onInterrupt } from './signals.js';
import { parseJson } from '../core/json.js';
import { isPlainObject } from '../core/suggest.js';
import type { ToolSchema } from '../model/chat.js';
import { checkToolFormat, type ParsedCall } from '../model/tool-calls/index.js';
import { toNativeGrammar, type GrammarOption } from '../model/grammar.js';
import { adapterFiles, type AttachedAdapter } from '../model/adapters.js';
import { resolveModelPath } from '../hub/resolve.js';
import { RUN_FILES } from '../core/run-files.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** --messages takes a JSON array or a path to a JSON file holding one. */
export function readMessages(arg: string): ChatMessage[] {
  const { text, where } = inlineOrFile(arg, '--messages', startsWith('['), 'E_ARGUMENT', 'a JSON array');
  const value = parseJson(text, where, { code: 'E_ARGUMENT' });
  if (!Array.isArray(value) || !value.every((m) => typeof m === 'object' && m && typeof m.role === 'string')) {
    throw new MlxLabError('E_ARGUMENT', `${where} must be a JSON array of {role, content} objects`);
  }
  return value as ChatMessage[];
}

/** Whether an argument is inline JSON opening with `open` (else it names a file). */
function startsWith(open: string): (arg: string) => boolean {
  return (arg) => arg.trim().startsWith(open);
}

/** --tools takes a JSON array of tool schemas or a path to a JSON file holding one; errors name the file and entry. */
export function readTools(arg: string): ToolSchema[] {
  const { text, where } = inlineOrFile(arg, '--tools', startsWith('['), 'E_ARGUMENT', 'a JSON array');
  const value = parseJson(text, where, { code: 'E_ARGUMENT' });
  if (!Array.isArray(value)) throw new MlxLabError('E_ARGUMENT', `${where}: expected a JSON array of tool schemas ({type: "function", function: {name, parameters}})`);
  value.forEach((tool, i) => {
    const fn = isPlainObject(tool) && isPlainObject(tool.function) ? tool.function : tool;
    if (!isPlainObject(fn) || typeof fn.name !== 'string' || fn.name === '') {
      throw new MlxLabError('E_ARGUMENT', `${where}: entry ${i} is not a tool schema with a function name`);
    }
  });
  return value as ToolSchema[];
}

/** --json-schema <json|file>, --regex <re>, --lark <file>, --tool-calls <mode>: at most one, checked before the model loads. */
export function readGrammar(opts: { jsonSchema?: string; regex?: string; lark?: string; toolCalls?: string }): GrammarOption | undefined {
  const given = (['jsonSchema', 'regex', 'lark', 'toolCalls'] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 1) throw new MlxLabError('E_ARGUMENT', 'give one of --json-schema, --regex, --lark, --tool-calls');
  if (opts.toolCalls !== undefined) {
    if (opts.toolCalls !== 'auto' && opts.toolCalls !== 'required') throw new MlxLabError('E_GRAMMAR', `--tool-calls must be auto or required, got "${opts.toolCalls}"`);
    return { toolCalls: opts.toolCalls };
  }
  let grammar: GrammarOption | undefined;
  if (opts.jsonSchema !== undefined) grammar = { jsonSchema: inlineOrFile(opts.jsonSchema, '--json-schema', (t) => /^\s*[{]/.test(t) || /^\s*(true|false)\s*$/.test(t), 'E_GRAMMAR', 'inline text').text };
  if (opts.regex !== undefined) grammar = { regex: opts.regex };
  if (opts.lark !== undefined) grammar = { lark: inlineOrFile(opts.lark, '--lark', (t) => t.includes('\n') || t.includes(':'), 'E_GRAMMAR', 'inline text').text };
  const flag = { jsonSchema: '--json-schema', regex: '--regex', lark: '--lark', toolCalls: '--tool-calls' }[given[0]];
  if (grammar) toNativeGrammar(grammar, flag);
  return grammar;
}

/** An error about the grammar or logitBias option (found once the model is known), named after its flag. */
function renameOptionError(err: unknown): never {
  if (err instanceof MlxLabError && err.code === 'E_GRAMMAR') {
    const flags: Record<string, string> = { jsonSchema: '--json-schema', regex: '--regex', lark: '--lark', toolCalls: '--tool-calls' };
    const flag = flags[/^grammar\.(\w+)/.exec(err.message)?.[1] ?? ''];
    if (flag) throw new MlxLabError('E_GRAMMAR', `${flag}: ${err.message.replace(/^grammar\.\w+( \(\w+\))?: /, '')}`, { cause: err });
  }
  if (err instanceof MlxLabError && err.code === 'E_ARGUMENT' && err.message.startsWith('logitBias: ')) {
    throw new MlxLabError('E_ARGUMENT', `--logit-bias: ${err.message.slice('logitBias: '.length)}`, { cause: err });
  }
  throw err;
}

/**
 * --logit-bias takes a JSON object of token id → bias ({"17": -100}) or a file holding one. Its
 * form is checked before the model loads; the ids against the model's vocabulary after.
 */
export function readLogitBias(arg: string): Record<string, number> {
  const { text, where } = inlineOrFile(arg, '--logit-bias', startsWith('{'), 'E_ARGUMENT', 'a JSON object');
  const value = parseJson(text, where, { code: 'E_ARGUMENT' });
  try {
    logitBiasArrays(value, Number.MAX_SAFE_INTEGER);
  } catch (err) {
    renameOptionError(err);
  }
  return value as Record<string, number>;
}

/** Per token: its text, log-probability and the alternatives, for --logprobs without --json. */
function logprobLines(records: readonly GeneratedTokenLogprob[]): string {
  const show = (r: { text: string; logprob: number }) => `${JSON.stringify(r.text)} ${r.logprob.toFixed(4)}`;
  return records.map((r) => `${show(r)}${r.top.length > 0 ? `  | ${r.top.map(show).join(', ')}` : ''}\n`).join('');
}

/** The parsed calls, one line each, after the streamed text. */
function callLines(calls: readonly ParsedCall[]): string {
  return calls.map((c) => `Tool call: ${c.name} ${JSON.stringify(c.arguments)}\n`).join('');
}

/**
 * --adapter-path: the adapter folder (or its file, or a Hub id), found and checked before the
 * model loads, so that a missing folder or adapter_config.json fails at once.
 */
async function findAdapter(arg: string): Promise<string> {
  const path = await resolveModelPath(arg);
  adapterFiles(path);
  return path;
}

const GiB = 1024 ** 3;

/** The metadata key that keeps `cache-prompt --prompt`'s text, which generate continues (as mlx_lm.generate does). */
export const CACHED_PROMPT_KEY = 'mlx_lab_prompt';

/**
 * --prompt-cache-file: a cache saved by `mlx-lab cache-prompt` or a chat session. The prompt is
 * given in full and the cached tokens serve where it begins with them; a cache of
 * `cache-prompt --prompt TEXT` is continued the way mlx_lm.generate continues mlx_lm.cache_prompt's:
 * `--prompt` is appended to TEXT in the one user message.
 */
async function loadCache(model: Model, file: string, input: string | ChatMessage[]): Promise<{ cache: PromptCache; input: string | ChatMessage[] }> {
  let cache: PromptCache;
  try {
    cache = await model.loadPromptCache(file);
  } catch (err) {
    if (err instanceof MlxLabError && err.message.includes('holds no token ids')) {
      throw new MlxLabError('E_PROMPT_CACHE', `--prompt-cache-file ${file}: the file holds no token ids (a cache made by mlx-lm): make it with mlx-lab cache-prompt, which stores them`, { cause: err });
    }
    throw err;
  }
  const cachedPrompt = cache.metadata[CACHED_PROMPT_KEY];
  return { cache, input: cachedPrompt !== undefined && typeof input === 'string' ? cachedPrompt + input : input };
}

/** What runs, for --verbose: MLX and its device, the BLAS and kernel, the compute policy, the adapter. */
function verboseHeader(compute: { mode: string; reason: string }, adapter?: AttachedAdapter): string {
  const r = runtime();
  const c = adapter?.config;
  return [
    `MLX ${r.mlxVersion} on ${r.device}`,
    `BLAS: ${describeBlas(r.blas)}`,
    `compute: ${compute.mode} (${compute.reason})`,
    ...(adapter && c ? [`adapter: ${adapter.file} (${c.fineTuneType ?? 'lora'}, rank ${c.rank}, last ${c.numLayers} layers)`] : []),
  ].map((l) => `[mlx-lab] ${l}\n`).join('');
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('generate text from a model folder or GGUF file')
    .requiredOption('-m, --model <path>', 'model folder (mlx-lm layout) or .gguf file')
    .option('-p, --prompt <text>', 'the prompt (a user message when the model has a chat template)')
    .option('--messages <json|file>', 'a conversation as a JSON array of {role, content}')
    .option('-s, --system <text>', 'system prompt')
    .option('--max-tokens <n>', 'tokens to generate at most', number('--max-tokens', { int: true, min: 0 }), 256)
    .option('--temp <t>', 'sampling temperature (0 = greedy)', number('--temp', { min: 0 }), 0)
    .option('--top-p <p>', 'nucleus sampling', number('--top-p', { min: 0, max: 1 }), 1)
    .option('--top-k <k>', 'top-k sampling (0 = off)', number('--top-k', { int: true, min: 0 }), 0)
    .option('--min-p <p>', 'min-p sampling (0 = off)', number('--min-p', { min: 0, max: 1 }), 0)
    .option('--repetition-penalty <r>', 'repetition penalty (1 = off)', number('--repetition-penalty', { min: 0 }))
    .option('--seed <n>', 'random seed for sampling', number('--seed', { int: true, min: 0 }))
    .option('--xtc-probability <p>', 'XTC sampling: the chance per token that the top choices are excluded (0 = off; needs --temp > 0)', number('--xtc-probability', { min: 0, max: 1 }))
    .option('--xtc-threshold <t>', 'XTC sampling: tokens above this probability but the least likely of them are excluded (default 0.1)', number('--xtc-threshold', { min: 0, max: 0.5 }))
    .option('--logit-bias <json|file>', 'add to token logits before sampling: a JSON object of token id to bias, e.g. \'{"17": -100}\' (inline or a file)')
    .option('--logprobs <k>', `report each token's log-probability and its k most likely alternatives (0 to ${MAX_TOP_LOGPROBS})`, number('--logprobs', { int: true, min: 0, max: MAX_TOP_LOGPROBS }))
    .option('--stop <text>', 'stop string (repeatable)', collect)
    .option('--no-chat', 'use the prompt as plain text, without the chat template')
    .option('--enable-thinking', 'let thinking models think (templates with enable_thinking)')
    .option('--tools <json|file>', 'tool schemas for the chat template, as a JSON array or a file holding one')
    .option('--tool-format <format>', 'how tool calls are parsed: auto (from the chat template), hermes, qwen3_xml, llama3_json, mistral, pythonic, none', (v: string) => checkToolFormat(v, '--tool-format'), 'auto')
    .option('--json-schema <json|file>', 'constrain the reply to a JSON Schema (inline JSON or a file)')
    .option('--regex <re>', 'constrain the reply to a regular expression (Rust regex syntax)')
    .option('--tool-calls <mode>', 'constrain the reply to calls of --tools in the call syntax (hermes or qwen3_xml): auto (text, and a valid call after each <tool_call>) or required (calls only)')
    .option('--lark <grammar|file>', 'constrain the reply to a Lark grammar (llguidance syntax; inline or a file)')
    .option('--prompt-cache-file <file>', 'start from a prompt cache saved by mlx-lab cache-prompt (or a chat session): its tokens are not prefilled again')
    .option('--adapter-path <path>', `generate with a trained adapter: its folder (${RUN_FILES.adapter} + ${RUN_FILES.adapterConfig}), its file, or a Hugging Face id`)
    .addOption(computeOption())
    .option('--json', 'print one JSON object (text, toolCalls, stats) instead of streaming text')
    .option('-v, --verbose', 'say what runs: MLX, the device, the BLAS and its kernel, the compute policy (on stderr)')
    .action(async (opts) => {
      if (!opts.prompt && !opts.messages) throw new MlxLabError('E_ARGUMENT', 'give --prompt or --messages');
      let input: string | ChatMessage[] = opts.messages ? readMessages(opts.messages) : (opts.prompt as string);
      const tools = opts.tools ? readTools(opts.tools) : undefined;
      const grammar = readGrammar(opts);
      const logitBias = opts.logitBias !== undefined ? readLogitBias(opts.logitBias) : undefined;
      if (opts.toolCalls !== undefined && !tools) throw new MlxLabError('E_ARGUMENT', '--tool-calls needs --tools (the tools the calls may name)');
      const adapterPath = opts.adapterPath !== undefined ? await findAdapter(opts.adapterPath) : undefined;
      const controller = new AbortController();
      const interrupt = onInterrupt(controller, 'generation stops after the current token');
      const model = await loadModel(opts.model, { compute: opts.compute });
      let adapter: AttachedAdapter | undefined;
      let promptCache: PromptCache | undefined;
      try {
        if (opts.promptCacheFile !== undefined) ({ cache: promptCache, input } = await loadCache(model, opts.promptCacheFile, input));
        // A layout or shapes that do not fit the model fail here, naming adapter_config.json or the file.
        if (adapterPath !== undefined) adapter = await model.attachAdapter(adapterPath);
        if (opts.verbose) process.stderr.write(verboseHeader(model.compute, adapter));
        const options: GenerateOptions = {
          maxTokens: opts.maxTokens,
          temperature: opts.temp,
          topP: opts.topP,
          topK: opts.topK,
          minP: opts.minP,
          repetitionPenalty: opts.repetitionPenalty,
          seed: opts.seed,
          stop: opts.stop,
          system: opts.system,
          chat: opts.chat,
          enableThinking: opts.enableThinking,
          tools,
          toolFormat: opts.toolFormat,
          grammar,
          logitBias,
          logprobs: opts.logprobs,
          xtcProbability: opts.xtcProbability,
          xtcThreshold: opts.xtcThreshold,
          signal: controller.signal,
          promptCache,
        };
        if (opts.json) {
          const g = await model.generate(input, options).catch((err: unknown) => renameOptionError(err));
          process.stdout.write(JSON.stringify(g) + '\n');
          return;
        }
        const stream = model.stream(input, options);
        stream.result.catch(() => {}); // errors surface through next()
        // The first step before the banner: a grammar the engine refuses fails before any output.
        let step = await stream.next().catch((err: unknown) => renameOptionError(err));
        process.stdout.write('==========\n');
        while (!step.done) {
          process.stdout.write(step.value.text);
          step = await stream.next();
        }
        const g = step.value;
        process.stdout.write('\n==========\n');
        process.stdout.write(callLines(g.toolCalls));
        if (g.logprobs) process.stdout.write(logprobLines(g.logprobs));
        const fromCache = g.reusedTokens !== undefined ? ` (${g.reusedTokens} from the prompt cache)` : '';
        process.stdout.write(`Prompt: ${g.promptTokens} tokens${fromCache}, ${g.promptTps.toFixed(3)} tokens-per-sec\n`);
        process.stdout.write(`Generation: ${g.generationTokens} tokens, ${g.generationTps.toFixed(3)} tokens-per-sec\n`);
        process.stdout.write(`Peak memory: ${(g.peakMemory / GiB).toFixed(3)} GB\n`);
      } catch (err) {
        if (!controller.signal.aborted) throw err;
        process.stdout.write('\n');
        process.stderr.write('mlx-lab: generation interrupted\n');
        process.exitCode = interrupt.exitCode();
      } finally {
        interrupt.dispose();
        adapter?.dispose();
        promptCache?.dispose();
        model.dispose();
      }
    });
}
