// `mlx-lab generate` end to end, in a fresh process, on the real SmolLM2 GGUF and bad input.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { SMOLLM2_GGUF, SMOLLM2_MISSING } from '../helpers/smollm2.js';
import { modelDir } from '../helpers/paths.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseToolCalls } from '../../src/model/tool-calls/index.js';

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

  it('--tools with --json prints the parsed calls (toolCalls, toolCallErrors) and the raw text', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-tools-'));
    const tools = join(dir, 'tools.json');
    writeFileSync(tools, JSON.stringify([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }]));
    const r = await runCli(['generate', '-m', modelDir('tiny-chat'), '-p', 'weather?', '--max-tokens', '8', '--tools', tools, '--json']);
    rmSync(dir, { recursive: true, force: true });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.toolCalls).toEqual(parseToolCalls(out.rawText, 'hermes').calls);
    expect(Array.isArray(out.toolCallErrors)).toBe(true);
  });

  it('rejects an unknown --tool-format and a --tools file that is not JSON', async () => {
    const bad = await runCli(['generate', '-m', modelDir('tiny-chat'), '-p', 'hi', '--tool-format', 'xml']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--tool-format: "xml" is not a tool-call format; use one of auto, none, hermes/);
    const missing = await runCli(['generate', '-m', modelDir('tiny-chat'), '-p', 'hi', '--tools', '/nonexistent/tools.json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--tools: .*\/nonexistent\/tools\.json/);
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
