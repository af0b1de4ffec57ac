// The trainer's data-parallel arithmetic, in one process (localShards): a batch split into row
// shards whose token-weighted loss and gradients are summed as the ranks' all_sum sums them gives
// the whole batch's step, also with a shard whose every target is masked and with gradient
// accumulation. (The 2-rank runs over MLX's ring are in test/cli/distributed.test.ts.)
import { describe, expect, it } from 'vitest';
import { loadModel, nativeHandle } from '../../src/model/model.js';
import { MlxLabError } from '../../src/core/errors.js';
import { native, type NativeTrainBatch, type NativeTrainerOptions } from '../../src/core/native.js';
import { modelDir } from '../helpers/paths.js';
import { rng } from '../helpers/train.js';
import { expectClose } from '../helpers/close.js';

/** Rows of random ids, padded to one width; offsets mask each row's first tokens. */
function batch(lengths: number[], offsets: number[], seed: number): NativeTrainBatch {
  const r = rng(seed);
  const width = Math.max(...lengths) + 1;
  const tokens = new Int32Array(lengths.length * width);
  lengths.forEach((n, i) => {
    for (let t = 0; t < n; t++) tokens[i * width + t] = 1 + Math.floor(r() * 250);
  });
  return { tokens, batch: lengths.length, lengths, offsets };
}

// SGD: the weights move linearly with the gradients, so the comparison sees the gradient
// arithmetic itself (Adam's g / sqrt(v) turns 1-ulp differences of near-zero gradients into
// visible ones; the Adam runs over real ranks are in the CLI test). Summing the batch in shards
// orders the float sums differently: ~2e-6 relative per step in the gradients, ~1e-5 in the
// weights after 3 steps; a wrong weighting (a mean of the shards' means) is off by percents.
// Bounds on max|sharded − whole| / max|whole| (test/helpers/close.ts), ≥ 3× the largest over 5 OpenBLAS kernels:
const LOSSES = 5e-6; // measured ≤ 1.2e-6 (4 shards); a mean of the shards' means is off by percents
const ADAPTER = 1e-4; // measured ≤ 1.7e-5 (4 shards)
const OPTIONS: NativeTrainerOptions = { seed: 2, lora: { numLayers: -1, rank: 4, scale: 10 }, optimizer: { name: 'sgd', learningRate: 0.01 } };

/** Losses of `steps` batches, and the adapter after them, with `localShards` shards. */
async function run(batches: NativeTrainBatch[], localShards: number, extra: NativeTrainerOptions = {}) {
  using model = await loadModel(modelDir('llama-f32'), { tokenizer: false });
  const t = await native().NativeTrainer.create(nativeHandle(model), { ...OPTIONS, ...extra, localShards });
  try {
    const losses: number[] = [];
    const tokens: number[] = [];
    for (const b of batches) {
      const s = await t.step(b);
      losses.push(s.loss);
      tokens.push(s.tokens);
    }
    const params = await t.adapterParameters();
    return { losses, tokens, params };
  } finally {
    t.dispose();
  }
}

/** Sharded against whole: losses and the adapter within their bounds. */
function expectSame(whole: Awaited<ReturnType<typeof run>>, sharded: Awaited<ReturnType<typeof run>>, label: string): void {
  expectClose(sharded.losses, whole.losses, { rel: LOSSES, label: `data-parallel.losses[${label}]` });
  expectClose(sharded.params, whole.params, { rel: ADAPTER, label: `data-parallel.adapter[${label}]` });
}

const BATCHES = [batch([9, 7, 12, 5], [2, 0, 3, 1], 1), batch([6, 11, 8, 10], [0, 4, 2, 0], 2), batch([12, 12, 4, 9], [1, 1, 0, 5], 3)];

describe('data-parallel arithmetic (localShards)', () => {
  it('2 and 4 shards give the whole batch: the same token counts, losses and adapter within their bounds', async () => {
    const whole = await run(BATCHES, 1);
    for (const n of [2, 4]) {
      const sharded = await run(BATCHES, n);
      expect(sharded.tokens).toEqual(whole.tokens);
      expectSame(whole, sharded, `${n}-shards`);
    }
  });

  it('a shard whose targets are all masked adds nothing (not NaN)', async () => {
    // Rows 2 and 3 (the second shard) have offsets past their lengths.
    const masked = [batch([9, 7, 6, 5], [2, 0, 7, 6], 4), ...BATCHES.slice(1)];
    const whole = await run(masked, 1);
    const sharded = await run(masked, 2);
    expect(sharded.losses.every(Number.isFinite)).toBe(true);
    expect(sharded.tokens).toEqual(whole.tokens);
    expectSame(whole, sharded, 'masked-shard');
  });

  it('with gradient accumulation too', async () => {
    const whole = await run([...BATCHES, BATCHES[0]], 1, { gradAccumulationSteps: 2 });
    const sharded = await run([...BATCHES, BATCHES[0]], 2, { gradAccumulationSteps: 2 });
    expectSame(whole, sharded, 'grad-accumulation');
  });

  it('a batch that does not split is an E_ARGUMENT', async () => {
    await expect(run([batch([5, 6, 7], [0, 0, 0], 5)], 2)).rejects.toThrow(MlxLabError);
    await expect(run([batch([5, 6, 7], [0, 0, 0], 5)], 2)).rejects.toThrow('a batch of 3 rows does not split into 2 shards');
  });
});
