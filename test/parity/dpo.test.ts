// DPO and ORPO through the addon against what mlx-lm-lora's own code computed (test/fixtures/dpo,
// made by scripts/fixtures/make_dpo_fixtures.py): for each DPO loss type (sigmoid at two betas,
// hinge, ipo, dpop) and ORPO (with and without per-pair preference scores) the loss, mlx-lm-lora's
// metrics and the LoRA gradients of one step on three fixed pairs. DPO's reference is the base
// model: here the adapter bypassed, there a second copy of the model. Bounds as
// test/parity/grpo.test.ts; the wrong variants at the end (beta wrong, chosen and rejected
// swapped, the reply mask one token early, another loss type, ORPO for DPO) must break them.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, nativeHandle, type Model } from '../../src/model/model.js';
import { native, type NativePreferenceBatch, type NativePreferenceConfig, type NativeTrainer } from '../../src/core/native.js';
import { readSafetensors, type Tensor } from '../helpers/safetensors.js';
import { expectBreaks, expectClose } from '../helpers/close.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';

const DPO = join(FIXTURES, 'dpo');
const MODELS = ['llama-f32', 'qwen3-f32'];
const NATIVE = { tokenizer: false, compute: 'native' } as const;

interface Case {
  train_mode: 'dpo' | 'orpo';
  dpo_cpo_loss_type: 'sigmoid' | 'hinge' | 'ipo' | 'dpop';
  beta: number;
  delta: number;
  preference_scores: boolean;
}
const CASES = JSON.parse(readFileSync(join(DPO, 'cases.json'), 'utf8')) as { preference_scores: number[]; cases: Record<string, Case> };
const INPUTS = readSafetensors(join(DPO, 'inputs.safetensors'));
const METRICS = [
  ['chosen_reward', 'chosenReward'],
  ['rejected_reward', 'rejectedReward'],
  ['margins', 'margins'],
  ['policy_chosen_logps', 'policyChosenLogps'],
  ['policy_rejected_logps', 'policyRejectedLogps'],
] as const;

// Bounds on max|ours − mlx-lm-lora| / max|mlx-lm-lora| (README, "Parity bounds"): ≥ 3× the
// largest ratio measured, rounded up to 1/2/5.
const BOUND = {
  // Losses and metrics: the rewards and dpop's penalty are differences of summed log-probs of two
  // passes, whose cancellation magnifies rounding (× delta 50 in dpop): measured ≤ 4.4e-5 (llama-f32 dpop).
  loss: 2e-4,
  grads: 2e-4, // LoRA gradients: measured ≤ 3.1e-5 (llama-f32 sigmoid_beta05)
};

/** The fixture's pairs as one native batch: the chosen rows, then the rejected ones. */
function batch(options: { swap?: boolean; dropLast?: boolean; scores?: boolean } = {}): NativePreferenceBatch {
  const [pairs, width] = INPUTS.chosen.shape;
  const sides = options.swap ? [INPUTS.rejected, INPUTS.chosen] : [INPUTS.chosen, INPUTS.rejected];
  const lengths = options.swap ? [INPUTS.rejected_lengths, INPUTS.chosen_lengths] : [INPUTS.chosen_lengths, INPUTS.rejected_lengths];
  const tokens = new Int32Array(2 * pairs * width);
  tokens.set(sides[0].data as Int32Array, 0);
  tokens.set(sides[1].data as Int32Array, pairs * width);
  const prompts = Array.from(INPUTS.prompt_lengths.data);
  const promptLengths = [...prompts, ...prompts];
  const reply = (n: number, i: number) => n - prompts[i] - (options.dropLast && n - prompts[i] > 1 ? 1 : 0);
  const completionLengths = [...Array.from(lengths[0].data, reply), ...Array.from(lengths[1].data, reply)];
  return { tokens, pairs, promptLengths, completionLengths, preferenceScores: options.scores ? CASES.preference_scores : undefined };
}

/** A fixture case as NativePreferenceConfig. */
function config(c: Case): NativePreferenceConfig {
  return { method: c.train_mode, lossType: c.dpo_cpo_loss_type, beta: c.beta, delta: c.delta };
}

/** The fixture's gradients of one case by parameter name. */
function expectedGrads(expected: Record<string, Tensor>, name: string): Record<string, Tensor> {
  const prefix = `${name}.grad.`;
  return Object.fromEntries(Object.entries(expected).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

async function trainer(model: Model, name: string): Promise<NativeTrainer> {
  const t = await native().NativeTrainer.create(nativeHandle(model), { seed: 0, lora: { rank: 8, scale: 20, dropout: 0, numLayers: 2 } });
  await t.loadAdapter(join(FIXTURES, 'grpo', name, 'adapter.safetensors'));
  return t;
}

describe.each(MODELS)('DPO and ORPO on %s match mlx-lm-lora', (name) => {
  const expected = readSafetensors(join(DPO, name, 'expected.safetensors'));

  it.each(Object.keys(CASES.cases))('%s: loss, metrics and LoRA gradients within their bounds', async (caseName) => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, name);
    try {
      const c = CASES.cases[caseName];
      const g = await t.preferenceGradients(batch({ scores: c.preference_scores }), config(c));
      expect(g.tokens).toBe(expected[`${caseName}.tokens`].data[0]);
      expect(g.accuracies).toBe(expected[`${caseName}.accuracies`].data[0]);
      const want = expectedGrads(expected, caseName);
      expect(Object.keys(g.grads).sort()).toEqual(Object.keys(want).sort());
      expectClose(g.grads, want, { rel: BOUND.grads, label: `dpo.grads[${name}.${caseName}]` });
      expectClose(g.loss, expected[`${caseName}.loss`].data[0], { rel: BOUND.loss, label: `dpo.loss[${name}.${caseName}]` });
      for (const [theirs, ours] of METRICS) {
        expectClose(g[ours], expected[`${caseName}.${theirs}`].data[0], { rel: BOUND.loss, label: `dpo.${theirs}[${name}.${caseName}]` });
      }
    } finally {
      t.dispose();
    }
  });

  it('evaluate gives the loss and metrics of the same batch without changing anything', async () => {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, name);
    try {
      const c = CASES.cases.sigmoid;
      const e = await t.preferenceEvaluate([batch(), batch()], config(c));
      expectClose(e.loss, expected['sigmoid.loss'].data[0], { rel: BOUND.loss, label: `dpo.eval.loss[${name}]` });
      expectClose(e.margins, expected['sigmoid.margins'].data[0], { rel: BOUND.loss, label: `dpo.eval.margins[${name}]` });
      expect(e.tokens).toBe(2 * expected['sigmoid.tokens'].data[0]);
    } finally {
      t.dispose();
    }
  });
});

describe('DPO wrong variants break the bounds (llama-f32)', () => {
  const name = 'llama-f32';
  const expected = readSafetensors(join(DPO, name, 'expected.safetensors'));
  const sigmoid = config(CASES.cases.sigmoid);

  /** Our gradients for a mutated batch or config against the fixture's sigmoid case. */
  async function mutant(b: NativePreferenceBatch, c: NativePreferenceConfig, label: string, factor = 100): Promise<void> {
    using model = await loadModel(modelDir(name), NATIVE);
    const t = await trainer(model, name);
    try {
      const g = await t.preferenceGradients(b, c);
      expectBreaks(g.grads, expectedGrads(expected, 'sigmoid'), { rel: BOUND.grads, label: `mutant.${label}.grads`, factor });
    } finally {
      t.dispose();
    }
  }

  it('beta wrong (0.2 for 0.1)', () => mutant(batch(), { ...sigmoid, beta: 0.2 }, 'beta'));
  it('chosen and rejected swapped', () => mutant(batch({ swap: true }), sigmoid, 'swapped'));
  // (A mask one token early would score the last prompt token, the same on both sides of a pair:
  // it cancels in DPO's logits, so it is no mutant here. One token short at the end does not.)
  it('the reply mask one token short (last reply token not scored)', () => mutant(batch({ dropLast: true }), sigmoid, 'mask-short'));
  it('ipo computed where sigmoid was asked', () => mutant(batch(), { ...sigmoid, lossType: 'ipo' }, 'loss-type'));
  it('ORPO computed where DPO was asked', () => mutant(batch(), { ...sigmoid, method: 'orpo' }, 'orpo-for-dpo'));
});

describe('preference batches and settings are checked', () => {
  it('bad settings fail with E_CONFIG naming the key, a bad batch with E_ARGUMENT naming the pair', async () => {
    using model = await loadModel(modelDir('llama-f32'), NATIVE);
    const t = await trainer(model, 'llama-f32');
    try {
      const b = batch();
      await expect(t.preferenceGradients(b, { lossType: 'kto' as 'ipo' })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/dpo_cpo_loss_type/) });
      await expect(t.preferenceGradients(b, { beta: 0 })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/beta/) });
      await expect(t.preferenceGradients(b, { delta: -1 })).rejects.toMatchObject({ code: 'E_CONFIG', message: expect.stringMatching(/delta/) });
      const empty = { ...b, completionLengths: [...Array.from(b.completionLengths).slice(0, 4), 0, 1] };
      await expect(t.preferenceGradients(empty, {})).rejects.toMatchObject({ code: 'E_ARGUMENT', message: expect.stringMatching(/pair 1 \(rejected\): the reply has no tokens/) });
      const long = { ...b, completionLengths: [99, ...Array.from(b.completionLengths).slice(1)] };
      await expect(t.preferenceGradients(long, {})).rejects.toMatchObject({ code: 'E_ARGUMENT', message: expect.stringMatching(/pair 0 \(chosen\): prompt 4 \+ reply 99 tokens do not fit/) });
      expect(() => t.preferenceGradients({ ...b, promptLengths: [1, 2] }, {})).toThrow(expect.objectContaining({ code: 'E_ARGUMENT', message: expect.stringMatching(/one entry per row \(6/) }));
      await expect(t.preferenceGradients({ ...b, preferenceScores: [1, Number.NaN, 1] }, { method: 'orpo' })).rejects.toMatchObject({ code: 'E_ARGUMENT', message: expect.stringMatching(/pair 1: the preference score is not finite/) });
      await expect(t.preferenceEvaluate([], {})).rejects.toMatchObject({ code: 'E_ARGUMENT', message: expect.stringMatching(/at least one batch/) });
    } finally {
      t.dispose();
    }
  });
});
