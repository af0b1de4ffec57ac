// The bad-input corpus (test/fixtures/bad/cases.yaml): every case must fail with its MlxLabError
// code and message, in process (CLI cases in a child process), and never crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MlxLabError } from '../../src/core/errors.js';
import { loadTrainConfig } from '../../src/config/config.js';
import { loadData } from '../../src/data/index.js';
import { loadSuite } from '../../src/eval/suite.js';
import { loadModel, nativeHandle, type Model } from '../../src/model/model.js';
import { attachAdapter } from '../../src/model/adapters.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { ChatTemplate } from '../../src/model/chat.js';
import { tokenizerFromGgufMetadata } from '../../src/model/gguf-tokenizer.js';
import { native } from '../../src/core/native.js';
import { runCli } from '../helpers/cli.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
// @ts-expect-error: a plain ESM module without types
import { RECIPES } from '../fixtures/bad/make.mjs';

interface BadCase {
  id: string;
  call: string;
  input?: string;
  make?: { recipe: string; [arg: string]: unknown };
  args?: string[];
  scenario?: string;
  code: string;
  message?: string;
  contains?: string[];
}

const CASES: BadCase[] = parse(readFileSync(join(FIXTURES, 'bad', 'cases.yaml'), 'utf8'));

const tmp = mkdtempSync(join(tmpdir(), 'mlxlab-bad-'));
let tinyChat: Tokenizer;
let model: Model; // models/llama-f32, for adapters

beforeAll(async () => {
  tinyChat = Tokenizer.fromFolder(modelDir('tiny-chat'));
  model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
});
afterAll(() => {
  model?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

/** The input path of a case: a fixture path, or what its make.mjs recipe built. */
function inputOf(c: BadCase): string {
  if (c.make) {
    const { recipe, ...args } = c.make;
    const dir = join(tmp, c.id.replace(/\//g, '_'));
    return (RECIPES as Record<string, (dir: string, args: object) => string>)[recipe](dir, args);
  }
  return join(FIXTURES, c.input ?? '');
}

/** Run a native-misuse scenario on a fresh llama-f32 model. */
async function scenario(name: string): Promise<unknown> {
  const addon = native();
  const m = await loadModel(modelDir('llama-f32'), { tokenizer: false });
  const h = nativeHandle(m);
  const control = () => new addon.NativeControl(1);
  try {
    switch (name) {
      case 'logits-after-dispose':
        m.dispose();
        return await m.logits([[1, 2, 3]]);
      case 'generate-after-double-dispose':
        m.dispose();
        m.dispose();
        return await h.generate({ prompts: [[1, 2]], maxTokens: 2 }, control());
      case 'step-after-trainer-dispose': {
        const trainer = await addon.NativeTrainer.create(h, { lora: { rank: 2, numLayers: 1 } });
        trainer.dispose();
        return await trainer.step({ tokens: [1, 2, 3, 4], batch: 1, lengths: [4] });
      }
      case 'forward-with-a-string':
        return await h.forward('1 2 3' as unknown as Int32Array, 1);
      case 'forward-token-outside-vocab':
        return await h.forward(Int32Array.from([1, 2, 99999]), 1);
      case 'step-token-outside-vocab': {
        const trainer = await addon.NativeTrainer.create(h, { lora: { rank: 2, numLayers: 1 } });
        try {
          return await trainer.step({ tokens: [1, 2, -3, 4], batch: 1, lengths: [4] });
        } finally {
          trainer.dispose();
        }
      }
      case 'generate-nan-max-tokens':
        return await h.generate({ prompts: [[1, 2]], maxTokens: NaN }, control());
      case 'generate-huge-max-tokens':
        return await h.generate({ prompts: [[1, 2]], maxTokens: 1e12 }, control());
      case 'generate-without-control':
        return await h.generate({ prompts: [[1, 2]], maxTokens: 2 }, {} as never);
      case 'load-config-not-object':
        return await addon.NativeModel.load(5 as never, ['model.safetensors']);
      case 'load-files-not-strings':
        return await addon.NativeModel.load(m.config, [5] as never);
      case 'trainer-on-plain-object':
        return await addon.NativeTrainer.create({} as never);
      case 'dispose-while-generating': {
        // The running generation finishes (it holds the weights); the next call is refused.
        const running = h.generate({ prompts: [[1, 2]], maxTokens: 8 }, control());
        m.dispose();
        expect((await running).sequences[0].tokens.length).toBe(8);
        return await h.generate({ prompts: [[1, 2]], maxTokens: 2 }, control());
      }
      case 'concurrent-forward-and-dispose': {
        // Many calls queued at once on the one engine thread, then a dispose: all queued ones settle.
        const queued = Array.from({ length: 8 }, (_, i) => h.forward(Int32Array.from([1, 2, i + 3]), 1));
        m.dispose();
        const shapes = (await Promise.all(queued)).map((r) => r.shape.join('x'));
        expect(new Set(shapes)).toEqual(new Set(['1x3x256']));
        return await h.forward(Int32Array.from([1]), 1);
      }
      default:
        throw new Error(`unknown scenario ${name}`);
    }
  } finally {
    m.dispose();
  }
}

/** Call the case's entry point; resolve with what it returned (a bad case should throw). */
async function call(c: BadCase, input: string): Promise<unknown> {
  switch (c.call) {
    case 'loadTrainConfig':
      return loadTrainConfig(input);
    case 'loadData':
      return loadData(input, tinyChat);
    case 'loadSuite':
      return loadSuite(input);
    case 'loadModel': {
      const m = await loadModel(input, { tokenizer: input.endsWith('.gguf') });
      m.dispose();
      return m;
    }
    case 'loadTokenizer': {
      const tok = Tokenizer.fromFolder(input);
      return ChatTemplate.fromFolder(input, tok)?.encode([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
    }
    case 'tokenizerFromGguf':
      return tokenizerFromGgufMetadata(JSON.parse(readFileSync(input, 'utf8')), input);
    case 'loadPromptCache': {
      const cache = await model.loadPromptCache(input);
      cache.dispose();
      return cache;
    }
    case 'attachAdapter': {
      const a = await attachAdapter(model, input);
      await a.detach();
      return a;
    }
    case 'native':
      return scenario(c.scenario!);
    default:
      throw new Error(`unknown call ${c.call}`);
  }
}

/** The error a case gives: thrown in process, or printed by the CLI as "mlx-lab: error CODE: message". */
async function errorOf(c: BadCase, input: string): Promise<{ code: string; message: string }> {
  if (c.call === 'cli') {
    const args = (c.args ?? []).map((a) => a.replace('{input}', input));
    const r = await runCli(args, { timeoutMs: 60_000 });
    expect(r.signal, 'the CLI was killed by a signal').toBeNull();
    expect(r.code).toBe(1);
    const line = /^mlx-lab: error (E_[A-Z_]+): (.*)$/m.exec(r.stderr);
    expect(line, `stderr: ${r.stderr}`).not.toBeNull();
    return { code: line![1], message: line![2] };
  }
  try {
    await call(c, input);
  } catch (err) {
    expect(err, String((err as Error)?.stack)).toBeInstanceOf(MlxLabError);
    return err as MlxLabError;
  }
  throw new Error(`${c.id}: no error`);
}

describe('bad-input corpus', () => {
  it('has at least 30 cases, unique ids, across every category of issue 8', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.id)).size).toBe(CASES.length);
    const categories = new Set(CASES.map((c) => c.id.split('/')[0]));
    for (const cat of ['config', 'yaml', 'data', 'suite', 'safetensors', 'gguf', 'tokenizer', 'adapter', 'cli', 'native']) {
      expect(categories, cat).toContain(cat);
    }
  });

  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    const input = inputOf(c);
    const e = await errorOf(c, input);
    // BAD_INPUT_PRINT=1: print each case's actual error (to refresh the README table).
    if (process.env.BAD_INPUT_PRINT) process.stderr.write(`${c.id}\t${e.code}\t${e.message.replaceAll(input, '<input>')}\n`);
    const expand = (s: string) => s.replaceAll('{input}', input);
    expect(e.code).toBe(c.code);
    if (c.message !== undefined) expect(e.message).toBe(expand(c.message));
    for (const part of c.contains ?? []) expect(e.message).toContain(expand(part));
    expect(c.message ?? c.contains, 'a case states its message').toBeDefined();
  });
});
