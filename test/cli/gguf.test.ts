// `mlx-lab convert` and `mlx-lab generate` on a qwen3 and a gemma3 GGUF (test/fixtures/gguf,
// written by scripts/fixtures/make_gguf_fixtures.py), in fresh processes: the GGUF and the folder
// converted from it must give the same greedy reply through the chat template (a tokenizer,
// template or weight lost in the conversion would change it), and a GGUF of another architecture
// is refused naming the ones supported.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/paths.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { ChatTemplate } from '../../src/model/chat.js';

const GGUF = join(FIXTURES, 'gguf', 'qwen3-q4_0.gguf');

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-cli-gguf-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('mlx-lab convert / generate on a qwen3 GGUF', () => {
  it('the converted folder replies as the GGUF does', async () => {
    const out = join(tmp, 'qwen3');
    const c = await runCli(['convert', '--model', GGUF, '--mlx-path', out]);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model_type).toBe('qwen3');
    const args = ['-p', 'the theme in', '--max-tokens', '12', '--json'];
    const a = await runCli(['generate', '-m', GGUF, ...args]);
    const b = await runCli(['generate', '-m', out, ...args]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const [ra, rb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(ra.generationTokens).toBe(12);
    // the chat template applied: 26 ids, not the 7 of the bare text
    expect(ra.promptTokens).toBe(26);
    expect([rb.promptTokens, rb.tokens, rb.text]).toEqual([ra.promptTokens, ra.tokens, ra.text]);
  });

  it('a GGUF of another architecture is refused with the supported ones', async () => {
    const file = join(tmp, 'gemma3.gguf');
    const bytes = readFileSync(GGUF);
    const at = bytes.indexOf('qwen3');
    writeFileSync(file, Buffer.concat([bytes.subarray(0, at), Buffer.from('gemm3'), bytes.subarray(at + 5)]));
    const r = await runCli(['convert', '--model', file, '--mlx-path', join(tmp, 'g')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(`${file}: GGUF architecture "gemm3" is not supported (supported: llama, qwen2, qwen3, gemma3)`);
  });
});

describe('mlx-lab convert / generate on a gemma3 GGUF', () => {
  it('the converted folder replies as the GGUF does', async () => {
    const gemma = join(FIXTURES, 'gguf', 'gemma3-q4_0.gguf');
    const out = join(tmp, 'gemma3');
    const c = await runCli(['convert', '--model', gemma, '--mlx-path', out]);
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).model_type).toBe('gemma3_text');
    const args = ['-p', 'the theme in', '--max-tokens', '12', '--json'];
    const a = await runCli(['generate', '-m', gemma, ...args]);
    const b = await runCli(['generate', '-m', out, ...args]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const [ra, rb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    expect(ra.generationTokens).toBe(12);
    // Gemma's template through the SentencePiece tokenizer: its own <bos>, no second one
    const original = Tokenizer.fromFolder(join(FIXTURES, 'gguf', 'gemma3-tokenizer'));
    const prompt = ChatTemplate.fromFolder(join(FIXTURES, 'gguf', 'gemma3-tokenizer'), original)!.render([{ role: 'user', content: 'the theme in' }], { addGenerationPrompt: true });
    const ids = original.encode(prompt, { addSpecialTokens: false });
    expect(ids.filter((id) => id === 2)).toEqual([2]);
    expect(ra.promptTokens).toBe(ids.length);
    expect([rb.promptTokens, rb.tokens, rb.text]).toEqual([ra.promptTokens, ra.tokens, ra.text]);
  });
});
