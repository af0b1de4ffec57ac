// GRPO through the addon against what mlx-lm-lora's own GRPO code computed (test/fixtures/grpo,
// made by scripts/fixtures/make_grpo_fixtures.py): the group-normalised advantages of fixed
// rewards, then for each loss variant (grpo, bnpo, dr_grpo, beta 0, sequence-level importance
// sampling, DAPO's epsilon_high) the loss, the KL to the reference (the base model: here the
// adapter bypassed, there a second copy of the model) and the LoRA gradients of one step on fixed
// completions. Bounds as test/parity/lora.test.ts (README, "Parity bounds"); the wrong variants
// at the end (advantages not normalised, the KL term dropped, the completion mask one token
// early, another loss type) must break them.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Model } from '../../src/model/model.js';
import { native, type NativeGrpoBatch, type NativeGrpoConfig, type NativeTrainer } from '../../src/core/native.js';
import { readSafetensors, type Tensor } from '../helpers/safetensors.js';
import { expectBreaks, expectClose } from '../helpers/close.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

const GRPO = join(FIXTURES, 'grpo');
const MODELS = ['llama-f32', 'qwen3-f32'];
const NATIVE = { tokenizer: false, compute: 'native' } as const;

interface Case {
  grpo_loss_type: 'grpo' | 'bnpo' | 'dr_grpo';
  beta: number;
  epsilon: number;
  epsilon_high: number | null;
  max_completion_length: number;
  importance_sampling_level: 'token' | 'sequence';
}
const CASES = JSON.parse(readFileSync(join(GRPO, 'cases.json'), 'utf8')) as { group_size: number; rewards: number[]; cases: Record<string, Case> };
const INPUTS = readSafetensors(join(GRPO, 'inputs.safetensors'));

// Bounds on max|ours − mlx-lm-lora| / max|mlx-lm-lora| (README, "Parity bounds"): ≥ 3× the
// largest ratio measured, rounded up to 1/2/5.
const BOUND = {
  advantages: 1e-6, // float64 host math on both sides, the fixture's stored as float32: measured 2.0e-8
  loss: 5e-5, // losses and KL (exp(d) − d − 1 magnifies the log-probs' rounding): measured ≤ 9.6e-6 (llama-f32 grpo_sequence)
  grads: 2e-4, // LoRA gradients: measured ≤ 2.7e-5 (qwen3-f32 grpo)
};

/** The fixture's batch with the given advantages (default: mlx-lm-lora's). */
function batch(advantages: ArrayLike<number> = INPUTS.advantages.data, shift = 0): NativeGrpoBatch {
  const [rows] = INPUTS.tokens.shape;
  const prompts = Array.from(INPUTS.prompt_lengths.data, (p) => p - shift);
  return {
    tokens: INPUTS.tokens.data as Int32Array,
    batch: rows,
    promptLengths: prompts,
    completionLengths: Array.from(INPUTS.completion_lengths.data),
    advantages: Array.from(advantages),
  };
}

/** A fixture case as NativeGrpoConfig. */
function config(c: Case): NativeGrpoConfig {
  return {
    lossType: c.grpo_loss_type,
    beta: c.beta,
    epsilon: c.epsilon,
    epsilonHigh: c.epsilon_high,
    maxCompletionLength: c.max_completion_length,
    importanceSamplingLevel: c.importance_sampling_level,
  };
}

/** The fixture's gradients of one case by parameter name. */
function expectedGrads(expected: Record<string, Tensor>, name: string): Record<string, Tensor> {
  const prefix = `${name}.grad.`;
  return Object.fromEntries(Object.entries(expected).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

async function trainer(model: Model, name: string): Promise<NativeTrainer> {
  const t = await native().NativeTrainer.create(nativeHandle(model), { seed: 0, lora: { rank: 8, scale: 20, dropout: 0, numLayers: 2 } });
  await t.loadAdapter(join(GRPO, name, 'adapter.safetensors'));
  return t;
}

describe('GRPO advantages match mlx-lm-lora', () => {
  it('group-normalised advantages of the fixed rewards', () => {
    const got = native().NativeTrainer.grpoAdvantages(CASES.rewards, CASES.group_size);
    expectClose(got, INPUTS.advantages.data, { rel: BOUND.advantages, label: 'grpo.advantages' });
  });

  it('a group whose rewards are all equal gets advantage 0 (no NaN)', () => {
    expect(native().NativeTrainer.grpoAdvantages([0.5, 0.5, 0.5, 1, 0, 1], 3).slice(0, 3)).toEqual([0, 0, 0]);
  });

  it('rewards that do not split into groups, a bad group size or a non-finite reward fail with E_ARGUMENT', () => {
    const adv = native().NativeTrainer.grpoAdvantages;
    expect(() => adv([1, 2, 3], 2)).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', message: expect.stringMatching(/3 rewards do not split into groups of 2/) }));
    expect(() => adv([1, 2], 0)).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', message: expect.stringMatching(/groupSize/) }));
    expect(() => adv([1, Number.NaN], 2)).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', message: expect.stringMatching(/reward 1 is not finite/) }));
    expect(() => adv([], 1)).toThrow(expect.objectContaining({ code: 'E_ARGUMENT' }));
  });
});

describe.each(MODELS)('GRPO on %s matches mlx-lm-lora', (name) => {
  const expected = readSafetensors(join(GRPO, name, 'expected.safetensors'));

  it.each(Object.keys(CASES.cases))('%s: loss, KL and LoRA gradients within their bounds', async (caseName) => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, name);
    try {
      const c = CASES.cases[caseName];
      const g = await t.grpoGradients(batch(), config(c));
      expect(g.tokens).toBe(expected[`${caseName}.tokens`].data[0]);
      const want = expectedGrads(expected, caseName);
      expect(Object.keys(g.grads).sort()).toEqual(Object.keys(want).sort());
      expectClose(g.grads, want, { rel: BOUND.grads, label: `grpo.grads[${name}.${caseName}]` });
      expectClose(g.kl, expected[`${caseName}.kl`].data[0], { rel: BOUND.loss, label: `grpo.kl[${name}.${caseName}]` });
      if (c.beta === 0) {
        // The loss is the advantages' sum times a ratio of 1: 0 up to rounding on both sides.
        expect(Math.abs(g.loss)).toBeLessThan(1e-6);
        expect(g.kl).toBe(0);
      } else {
        expectClose(g.loss, expected[`${caseName}.loss`].data[0], { rel: BOUND.loss, label: `grpo.loss[${name}.${caseName}]` });
      }
    } finally {
      t.dispose();
    }
  });
});

describe('GRPO wrong variants break the bounds (llama-f32)', () => {
  const name = 'llama-f32';
  const expected = readSafetensors(join(GRPO, name, 'expected.safetensors'));
  const grpo = config(CASES.cases.grpo);

  /** Our gradients and loss for a mutated batch or config against the fixture's grpo case. */
  async function mutant(b: NativeGrpoBatch, c: NativeGrpoConfig, label: string, factor = 100): Promise<void> {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, name);
    try {
      const g = await t.grpoGradients(b, c);
      expectBreaks(g.grads, expectedGrads(expected, 'grpo'), { rel: BOUND.grads, label: `mutant.${label}.grads`, factor });
    } finally {
      t.dispose();
    }
  }

  it('advantages not normalised (raw rewards)', () => mutant(batch(CASES.rewards), grpo, 'raw-rewards'));
  it('advantages with the sign flipped', () => mutant(batch(Array.from(INPUTS.advantages.data, (a) => -a)), grpo, 'advantage-sign'));
  it('the KL term dropped (beta 0)', () => mutant(batch(), { ...grpo, beta: 0 }, 'no-kl'));
  it('the completion mask one token early (last prompt token scored)', () => mutant(batch(undefined, 1), grpo, 'mask-off-by-one'));
  it('bnpo computed where grpo was asked', () => mutant(batch(), { ...grpo, lossType: 'bnpo' }, 'loss-type'));
});
