// `mlx-lab cache-prompt` and `mlx-lab generate --prompt-cache-file` (the built CLI in a fresh
// process), as mlx_lm.cache_prompt and mlx_lm.generate --prompt-cache-file: the cached prompt is
// not prefilled again, `--prompt` continues the cached user message, and the tokens are those of
// the whole prompt without a cache. A cache of mlx-lm's (no token ids) is refused with a way out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

const MODEL = modelDir('tiny-chat');
const DOCUMENT = 'Here is a long document to ask about: the quick brown fox jumps over the lazy dog. ';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mlx-lab-cli-prompt-cache-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('mlx-lab cache-prompt / generate --prompt-cache-file', () => {
  it('caches a prompt, then generates from it the tokens of the whole prompt', async () => {
    const file = join(root, 'doc.safetensors');
    const made = await runCli(['cache-prompt', '-m', MODEL, '--prompt', DOCUMENT, '--prompt-cache-file', file]);
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^Processed 89 tokens/m);
    const cached = await runCli(['generate', '-m', MODEL, '--prompt-cache-file', file, '-p', 'What is it about?', '--max-tokens', '8', '--json']);
    expect(cached.code, cached.stderr).toBe(0);
    const whole = await runCli(['generate', '-m', MODEL, '-p', `${DOCUMENT}What is it about?`, '--max-tokens', '8', '--json']);
    const [a, b] = [JSON.parse(cached.stdout), JSON.parse(whole.stdout)];
    expect(a.tokens).toEqual(b.tokens);
    expect(a.promptTokens).toBe(b.promptTokens);
    expect(a.reusedTokens).toBe(89);
    expect(a.prefilledTokens).toBe(b.promptTokens - 89);
    const text = await runCli(['generate', '-m', MODEL, '--prompt-cache-file', file, '-p', 'What is it about?', '--max-tokens', '4']);
    expect(text.stdout).toMatch(/^Prompt: 119 tokens \(89 from the prompt cache\), /m);
  });

  it("refuses mlx-lm's cache (no token ids), a missing file, and two prompts", async () => {
    const mlxLm = join(FIXTURES, 'prompt-cache', 'mlx-lm-tiny-chat.safetensors');
    const r = await runCli(['generate', '-m', MODEL, '--prompt-cache-file', mlxLm, '-p', 'x', '--max-tokens', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`mlx-lab: error E_PROMPT_CACHE: --prompt-cache-file ${mlxLm}: the file holds no token ids (a cache made by mlx-lm): make it with mlx-lab cache-prompt, which stores them`);
    const missing = join(root, 'none.safetensors');
    const m = await runCli(['generate', '-m', MODEL, '--prompt-cache-file', missing, '-p', 'x']);
    expect(m.stderr).toContain(`mlx-lab: error E_PROMPT_CACHE: ${missing}: file not found`);
    const tokens = await runCli(['cache-prompt', '-m', MODEL, '--prompt', 'x', '--messages', '[]', '--prompt-cache-file', join(root, 'x.safetensors')]);
    expect(tokens.stderr).toContain('mlx-lab: error E_ARGUMENT: give --prompt or --messages');
  });
});
