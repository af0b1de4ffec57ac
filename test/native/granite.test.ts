// granite's four multipliers through the addon: each one matters to the logits of the tiny
// fixture (a decoder that ignored it would fail test/parity/models.test.ts's logits row), and the
// native check names the key of a bad one in a config that did not come through parseModelConfig.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { native } from '../../src/core/native.js';
import type { ModelConfig } from '../../src/core/model-types.js';
import { readModelFolder } from '../../src/model/config.js';
import { readSafetensors } from '../helpers/safetensors.js';
import { modelDir } from '../helpers/paths.js';
import { expectBreaks, expectClose } from '../helpers/close.js';

const DIR = modelDir('granite-f32');
const { config, files } = readModelFolder(DIR);
const expected = readSafetensors(join(DIR, 'expected.safetensors'));
const F32 = 5e-6; // test/parity/models.test.ts's bound for float32 logits

/** The fixture's logits with `config` in place of its own. */
async function logitsWith(c: ModelConfig): Promise<Float32Array> {
  const m = await native().NativeModel.load(c, files, { compute: 'native' });
  try {
    const [b] = expected.input_ids.shape;
    return (await m.forward(Int32Array.from(expected.input_ids.data), b)).data as Float32Array;
  } finally {
    m.dispose();
  }
}

describe('granite multipliers', () => {
  it('the fixture config reaches native code and back with its four multipliers', async () => {
    const m = await native().NativeModel.load(config, files, { compute: 'native' });
    try {
      expect(m.info().config).toMatchObject({ embedding_multiplier: 4, attention_multiplier: 0.0625, residual_multiplier: 0.5, logits_scaling: 2, tie_word_embeddings: false });
    } finally {
      m.dispose();
    }
    expectClose(await logitsWith(config), expected.logits.data, { rel: F32, label: 'granite.logits[granite-f32]' });
  });

  // Each multiplier as a decoder that ignored it would use it (attention: head_dim^-0.5 = 0.25):
  // the logits must leave the parity bound by far, or the parity row would not catch the defect.
  it.each([
    ['embedding_multiplier', 1],
    ['attention_multiplier', 0.25],
    ['residual_multiplier', 1],
    ['logits_scaling', 1],
  ] as const)('%s ignored (%s) breaks the logits bound', async (key, ignored) => {
    const got = await logitsWith({ ...config, [key]: ignored });
    expectBreaks(got, expected.logits.data, { rel: F32, factor: 100, label: `granite.ignored-${key}` });
  });

  it.each(['embedding_multiplier', 'attention_multiplier', 'residual_multiplier', 'logits_scaling'] as const)('a %s of 0 is E_CONFIG naming the key', async (key) => {
    await expect(native().NativeModel.load({ ...config, [key]: 0 }, files)).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining(`${key} must be positive, got 0`) });
  });

  it('a head_dim other than hidden_size / heads is E_CONFIG (granite derives it)', async () => {
    await expect(native().NativeModel.load({ ...config, head_dim: 32 }, files)).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringContaining('granite takes head_dim = hidden_size / num_attention_heads') });
  });
});
