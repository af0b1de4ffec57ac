/**
 * `mlx-lab cache-prompt`: prefill a prompt once and save its keys and values (mlx-lm's
 * prompt-cache safetensors format, with the token ids), like mlx_lm.cache_prompt; `mlx-lab
 * generate --prompt-cache-file` starts from it.
 */
import { Command } from 'commander';
import { MlxLabError } from '../core/errors.js';
import { loadModel, type ChatMessage, type PrefixInput } from '../model/model.js';
import { computeOption } from './options.js';
import { CACHED_PROMPT_KEY, readMessages, readTools } from './generate.js';

export function cachePromptCommand(): Command {
  return new Command('cache-prompt')
    .description("prefill a prompt once and save its keys and values for generate --prompt-cache-file (mlx-lm's prompt-cache format)")
    .requiredOption('-m, --model <path>', 'model folder (mlx-lm layout) or .gguf file')
    .requiredOption('--prompt-cache-file <file>', 'the .safetensors file to write')
    .option('-p, --prompt <text>', "the start of a user message ('-' reads stdin); generate --prompt continues it, as with mlx_lm.cache_prompt")
    .option('--messages <json|file>', 'a conversation (e.g. a system prompt) as a JSON array of {role, content}, rendered without a generation prompt')
    .option('-s, --system <text>', 'system prompt')
    .option('--tools <json|file>', 'tool schemas for the chat template, as a JSON array or a file holding one')
    .option('--no-chat', 'use the prompt as plain text, without the chat template')
    .addOption(computeOption())
    .action(async (opts) => {
      if ((opts.prompt === undefined) === (opts.messages === undefined)) throw new MlxLabError('E_ARGUMENT', 'give --prompt or --messages');
      const prompt: string | undefined = opts.prompt === '-' ? await readStdin() : opts.prompt;
      const messages = opts.messages !== undefined ? readMessages(opts.messages) : undefined;
      const tools = opts.tools ? readTools(opts.tools) : undefined;
      const model = await loadModel(opts.model, { compute: opts.compute });
      try {
        const start = performance.now();
        let input: PrefixInput;
        if (messages) input = messages;
        else if (opts.chat === false || !model.template) input = { tokens: model.tokenizer.encode(prompt ?? '', { addSpecialTokens: true }) };
        else {
          const turn: ChatMessage[] = [...(opts.system ? [{ role: 'system', content: opts.system }] : []), { role: 'user', content: prompt ?? '' }];
          input = { tokens: model.encodePrompt(turn, { tools, continueFinalMessage: true, addGenerationPrompt: false }) };
        }
        using cache = await model.cachePrefix(input, { tools, system: opts.system });
        const seconds = (performance.now() - start) / 1000;
        await cache.save(opts.promptCacheFile, { metadata: prompt !== undefined && opts.chat !== false && model.template ? { [CACHED_PROMPT_KEY]: prompt } : {} });
        process.stdout.write(`Processed ${cache.length} tokens (${(cache.length / seconds).toFixed(2)} tok/s)\n`);
        process.stdout.write(`Saved ${opts.promptCacheFile}\n`);
      } finally {
        model.dispose();
      }
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
