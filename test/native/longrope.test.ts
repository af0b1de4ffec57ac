// phi3's rope_scaling "longrope" (native/nn/rope.cpp): the spelling "su" is the same RoPE, and the
// shared rope layer checks the keys itself (a config that reaches it without the TS checks of
// src/model/rope-scaling.ts gets an error naming the key, not a crash or a silent broadcast).
// Parity with mlx-lm is in test/parity/models.test.ts (phi3-longrope-f32).
import { afterAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlxLabError } from '../../src/core/errors.js';
import { native } from '../../src/core/native.js';
import { parseModelConfig, weightFiles, type ModelConfig } from '../../src/model/config.js';
import { loadModel } from '../../src/model/model.js';
import { modelDir } from '../helpers/paths.js';
import { readSafetensors } from '../helpers/safetensors.js';

const DIR = modelDir('phi3-longrope-f32');
const tmp = mkdtempSync(join(tmpdir(), 'mlx-lab-longrope-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const RAW = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
const CONFIG = parseModelConfig(RAW, join(DIR, 'config.json'));

/** The native load's error for a config that skips the TS checks. */
async function nativeError(config: ModelConfig): Promise<MlxLabError> {
  try {
    const m = await native().NativeModel.load(config, weightFiles(DIR));
    m.dispose();
  } catch (e) {
    expect(e).toBeInstanceOf(MlxLabError);
    return e as MlxLabError;
  }
  throw new Error('the native load did not fail');
}

const withScaling = (o: Record<string, unknown>): ModelConfig => ({ ...CONFIG, rope_scaling: { ...CONFIG.rope_scaling!, ...o } as ModelConfig['rope_scaling'] });

describe('longrope', () => {
  it('"su" (the older spelling) gives the same logits as "longrope"', async () => {
    const su = join(tmp, 'su');
    cpSync(DIR, su, { recursive: true });
    writeFileSync(join(su, 'config.json'), JSON.stringify({ ...RAW, rope_scaling: { ...(RAW.rope_scaling as object), type: 'su' } }));
    const ids = readSafetensors(join(DIR, 'expected.safetensors')).input_ids;
    const row = Array.from(ids.data.subarray(0, ids.shape[1]));
    using a = await loadModel(DIR, { tokenizer: false, compute: 'native' });
    using b = await loadModel(su, { tokenizer: false, compute: 'native' });
    // Exactly equal: the same RoPE (short factors or no attention factor move these logits by
    // 1e-1 of their scale or more: test/parity/models.test.ts).
    expect(Array.from((await b.logits([row])).data)).toEqual(Array.from((await a.logits([row])).data));
  });

  it("a config without max_position_embeddings takes mlx-lm's phi3 default, 131072", async () => {
    const { max_position_embeddings: _, ...noMax } = RAW;
    const folder = (name: string, raw: Record<string, unknown>) => {
      const dir = join(tmp, name);
      cpSync(DIR, dir, { recursive: true });
      writeFileSync(join(dir, 'config.json'), JSON.stringify(raw));
      return dir;
    };
    const ids = readSafetensors(join(DIR, 'expected.safetensors')).input_ids;
    const row = Array.from(ids.data.subarray(0, ids.shape[1]));
    const logits = async (dir: string) => {
      using m = await loadModel(dir, { tokenizer: false, compute: 'native' });
      return Array.from((await m.logits([row])).data);
    };
    const missing = await logits(folder('no-max', noMax));
    // The same as 131072 stated (attention factor sqrt(1 + ln(16384) / ln 8)), not as the fixture's 512.
    expect(missing).toEqual(await logits(folder('max-131072', { ...RAW, max_position_embeddings: 131072 })));
    expect(missing).not.toEqual(await logits(DIR));
  });

  it('the native layer names a factor list of the wrong length, a bad factor and a bad original_max', async () => {
    let e = await nativeError(withScaling({ long_factor: [1, 2, 3] }));
    expect(e.code).toBe('E_CONFIG');
    expect(e.message).toContain('rope_scaling.long_factor must have 6 entries (one per pair of the 12 RoPE dims), got 3');
    e = await nativeError(withScaling({ short_factor: [] }));
    expect(e.message).toContain('rope_scaling.short_factor must have 6 entries');
    e = await nativeError(withScaling({ short_factor: [1, 1, 1, -2, 1, 1] }));
    expect(e.message).toContain('rope_scaling.short_factor[3] must be a positive number');
    e = await nativeError(withScaling({ original_max_position_embeddings: 1 }));
    expect(e.message).toContain('rope_scaling.original_max_position_embeddings must be at least 2 for longrope, got 1');
  });

  it('a factor that is not a number is refused at the binding, naming the entry', async () => {
    const e = await nativeError(withScaling({ long_factor: [1, 2, 'x', 4, 5, 6] }));
    expect(e.code).toBe('E_ARGUMENT');
    expect(e.message).toContain('rope_scaling.long_factor[2] must be a number');
  });
});
