// `mlx-lab generate --logit-bias / --logprobs / --xtc-*` (the built CLI in a fresh process) on the
// tiny chat model: the flags reach generate(), and bad values fail with the flag named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { modelDir } from '../helpers/paths.js';

const MODEL = modelDir('tiny-chat');
const Z = 'z'.charCodeAt(0); // byte tokens: id = byte value

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-sampling-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('mlx-lab generate: logit bias, logprobs, XTC', () => {
  it('--logit-bias (inline or a file) forces a token; --logprobs adds k alternatives per token to --json', async () => {
    const inline = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--max-tokens', '5', '--logit-bias', `{"${Z}": 1000}`, '--logprobs', '3', '--json']);
    expect(inline.stderr).toBe('');
    const out = JSON.parse(inline.stdout);
    expect(out.text).toBe('zzzzz');
    expect(out.logprobs).toHaveLength(5);
    for (const r of out.logprobs) {
      expect(r.id).toBe(Z);
      expect(r.top).toHaveLength(3);
      expect(r.top[0]).toEqual({ id: Z, text: 'z', logprob: r.logprob });
    }
    const file = join(root, 'bias.json');
    writeFileSync(file, JSON.stringify({ [Z]: 1000 }));
    const fromFile = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--max-tokens', '3', '--logit-bias', file, '--json']);
    expect(JSON.parse(fromFile.stdout).text).toBe('zzz');
  });

  it('--logprobs without --json prints a line per token after the text', async () => {
    const r = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--max-tokens', '2', '--logit-bias', `{"${Z}": 1000}`, '--logprobs', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nzz\n==========\n"z" -?\d+\.\d{4} {2}\| "z" -?\d+\.\d{4}\n"z" .*\nPrompt: /);
  });

  it('--xtc-probability and --xtc-threshold reach the sampler (a seeded run differs from one without)', async () => {
    const args = ['generate', '-m', MODEL, '-p', 'hello there', '--max-tokens', '16', '--temp', '1', '--seed', '3', '--json'];
    const plain = JSON.parse((await runCli(args)).stdout);
    const xtc = JSON.parse((await runCli([...args, '--xtc-probability', '1', '--xtc-threshold', '0'])).stdout);
    expect(xtc.tokens).not.toEqual(plain.tokens);
  });

  it('bad values name the flag: a malformed bias before the model loads, an id past the vocabulary after', async () => {
    const notJson = await runCli(['generate', '-m', '/nonexistent/model', '-p', 'hi', '--logit-bias', '{"17": }']);
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/^mlx-lab: error E_ARGUMENT: --logit-bias: invalid JSON/);
    const badKey = await runCli(['generate', '-m', '/nonexistent/model', '-p', 'hi', '--logit-bias', '{"a": 1}']);
    expect(badKey.stderr).toBe('mlx-lab: error E_ARGUMENT: --logit-bias: token id "a" is not a whole number >= 0\n');
    const missing = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--logit-bias', '/nonexistent/bias.json']);
    expect(missing.stderr).toMatch(/^mlx-lab: error E_ARGUMENT: --logit-bias: "\/nonexistent\/bias\.json" is neither a JSON object nor a readable file/);
    const range = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--logit-bias', '{"999": 1}']);
    expect(range.code).toBe(1);
    expect(range.stdout).toBe('');
    expect(range.stderr).toBe("mlx-lab: error E_ARGUMENT: --logit-bias: token id 999 is out of range: the model's vocabulary has 260 tokens (ids 0 to 259)\n");
    const k = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--logprobs', '21']);
    expect(k.stderr).toMatch(/--logprobs must be <= 20/);
    const t = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--xtc-threshold', '0.6']);
    expect(t.stderr).toMatch(/--xtc-threshold must be <= 0\.5/);
  });
});
