// `mlx-lab generate` end to end, in a fresh process, on the real SmolLM2 GGUF and bad input.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { modelDir } from '../helpers/paths.js';

describe('mlx-lab generate', () => {
  it('answers a factual question and prints speeds like mlx_lm.generate', async (ctx) => {
    ctx.skip(SMOLLM2_MISSING !== undefined, SMOLLM2_MISSING);
    const r = await runCli(['generate', '-m', SMOLLM2_GGUF, '-p', 'What is the capital of France?', '--max-tokens', '24']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Paris/);
    expect(r.stdout).toMatch(/Prompt: \d+ tokens, [\d.]+ tokens-per-sec/);
    expect(r.stdout).toMatch(/Generation: \d+ tokens, [\d.]+ tokens-per-sec/);
    expect(r.stdout).toMatch(/Peak memory: [\d.]+ GB/);
  });

  it('--json prints one object with the text and stats', async (ctx) => {
    ctx.skip(SMOLLM2_MISSING !== undefined, SMOLLM2_MISSING);
    const r = await runCli(['generate', '-m', SMOLLM2_GGUF, '--messages', '[{"role":"user","content":"What is the capital of France?"}]', '--max-tokens', '24', '--stop', 'Paris', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.finishReason).toBe('stop');
    expect(out.text).toBe('The capital of France is ');
  });

  it('names the missing model folder', async () => {
    const r = await runCli(['generate', '-m', '/nonexistent/model', '-p', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('mlx-lab: error E_MODEL_LOAD: /nonexistent/model: model folder not found\n');
  });

  it('names the missing tokenizer', async () => {
    const r = await runCli(['generate', '-m', modelDir('llama-f32'), '-p', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_TOKENIZER: .*llama-f32.*tokenizer\.json/);
  });

  it('rejects a bad option value', async () => {
    const r = await runCli(['generate', '-m', 'x', '-p', 'hi', '--top-p', '2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--top-p must be <= 1/);
  });

  it('needs a prompt', async () => {
    const r = await runCli(['generate', '-m', modelDir('llama-f32')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/give --prompt or --messages/);
  });
});
