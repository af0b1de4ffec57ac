// What the config schema refuses at validation that used to fail only later (when training or
// planning a sweep started), each with the key and its line.
import { describe, expect, it } from 'vitest';
import { defaultTrainConfig, mergeConfig, parseTrainConfig } from '../../src/config/config.js';
import { planSweep } from '../../src/sweep/plan.js';
import { expectError } from '../helpers/errors.js';

const yaml = (text: string) => parseTrainConfig(text, 'run.yaml');

describe('the config refuses what the trainer cannot run', () => {
  it('muon and adafactor (the trainer runs adam, adamw, sgd), in the file and on the command line', () => {
    expectError(() => yaml('optimizer: muon\n'), 'E_CONFIG', 'run.yaml:1:12: optimizer: "muon" is not supported yet (mlx-lab trains with adam, adamw, sgd)');
    expectError(() => yaml('optimizer: Adafactor\n'), 'E_CONFIG', 'optimizer: "adafactor" is not supported yet');
    expectError(() => mergeConfig(defaultTrainConfig(), { optimizer: 'muon' as never }), 'E_CONFIG', 'command line: optimizer: "muon" is not supported yet');
    expect(yaml('optimizer_config: {muon: {momentum: 0.9}}\n').optimizer_config.muon).toEqual({ momentum: 0.9 }); // options of an unused optimizer: accepted, as mlx-lm
  });

  it('SGD with Nesterov momentum but no momentum or with dampening (as mlx)', () => {
    expectError(() => yaml('optimizer: sgd\noptimizer_config:\n  sgd: {nesterov: true}\n'), 'E_CONFIG', 'run.yaml:3:19: optimizer_config.sgd.nesterov: Nesterov momentum needs momentum > 0 and dampening 0');
    expect(yaml('optimizer_config: {sgd: {momentum: 0.9, nesterov: true}}\n').optimizer_config.sgd).toEqual({ momentum: 0.9, nesterov: true });
  });

  it('keeps the optimizer options in the order the file gives them (adapter_config.json is written from it)', () => {
    expect(Object.keys(yaml('optimizer_config: {adamw: {weight_decay: 0.1, betas: [0.9, 0.99]}}\n').optimizer_config.adamw)).toEqual(['weight_decay', 'betas']);
  });
});

describe('sweep grid values are checked as the keys they vary', () => {
  it('lora_parameters.keys: [] in a grid fails like the key itself', () => {
    expectError(() => yaml('sweep:\n  grid:\n    lora_parameters.keys: [[]]\n'), 'E_CONFIG', 'run.yaml:3:28: sweep.grid.lora_parameters.keys[0]: must not be an empty list');
    expect(yaml('sweep:\n  grid:\n    lora_parameters.keys: [[self_attn.q_proj], null]\n').sweep?.grid).toEqual({ 'lora_parameters.keys': [['self_attn.q_proj'], null] });
  });

  it('seed and adapter_path cannot be grid keys, in the file and in a plan', () => {
    expectError(() => yaml('sweep:\n  grid:\n    seed: [1, 2]\n'), 'E_CONFIG', 'run.yaml:3:5: sweep.grid.seed: a sweep cannot vary seed in the grid (list the seeds in sweep.seeds)');
    expectError(() => yaml('sweep:\n  grid:\n    adapter_path: [a]\n'), 'E_CONFIG', 'sweep.grid.adapter_path: a sweep cannot vary adapter_path');
    const config = { ...defaultTrainConfig(), sweep: { seeds: [1], grid: { lora_parameters: [{ rnak: 2 }] }, lock_threshold: 0.8 } };
    expectError(() => planSweep(config), 'E_CONFIG', /unknown key "rnak" in lora_parameters/);
  });

  it('grid values come out as the keys parse them, in the file order', () => {
    const grid = yaml('sweep:\n  grid:\n    num_layers: [4]\n    clear_cache_threshold: [512M]\n    learning_rate: [1e-4]\n').sweep?.grid;
    expect(grid).toEqual({ num_layers: [4], clear_cache_threshold: [512e6], learning_rate: [1e-4] });
    expect(Object.keys(grid ?? {})).toEqual(['num_layers', 'clear_cache_threshold', 'learning_rate']);
  });
});
