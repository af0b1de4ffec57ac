// `mlx-lab generate --adapter-path` and `--compute` (the built CLI in a fresh process) on the tiny
// chat model, with the llama-f32 LoRA fixture (the same architecture, so it fits), and adapters
// that do not fit: each error names the file at fault, and nothing is generated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { FIXTURES, modelDir } from '../helpers/paths.js';
import { loadModel } from '../../src/model/model.js';

const MODEL = modelDir('tiny-chat');
const PROMPT = ['-p', 'hello there', '--max-tokens', '12'];
const LORA = { fine_tune_type: 'lora', num_layers: 2, lora_parameters: { rank: 8, scale: 20.0, dropout: 0.0 } };

let root: string;
/** An adapter folder under the test's temp folder: `weights` (a fixture file) + `config` (none when null). */
function adapterDir(name: string, weights: string, config: object | null = LORA): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(FIXTURES, weights), join(dir, 'adapters.safetensors'));
  if (config) writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
  return dir;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mlx-lab-gen-adapter-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('mlx-lab generate --adapter-path', () => {
  it('generates with the adapter: the tokens of model.attachAdapter() in process, not the base model', async () => {
    const dir = adapterDir('good', 'lora/llama-f32/adapters_adam.safetensors');
    const withAdapter = await runCli(['generate', '-m', MODEL, ...PROMPT, '--adapter-path', dir, '--json']);
    expect(withAdapter.stderr).toBe('');
    const base = await runCli(['generate', '-m', MODEL, ...PROMPT, '--json']);
    using model = await loadModel(MODEL);
    const reference = await model.generate('hello there', { maxTokens: 12 });
    await using _adapter = await model.attachAdapter(dir);
    const adapted = await model.generate('hello there', { maxTokens: 12 });
    // Fails if the flag is ignored (base tokens) or attaches something else (other tokens).
    expect(JSON.parse(withAdapter.stdout).tokens).toEqual(adapted.tokens);
    expect(JSON.parse(base.stdout).tokens).toEqual(reference.tokens);
    expect(adapted.tokens).not.toEqual(reference.tokens); // the adapter changes this reply
  });

  it('takes the adapter file itself, and --verbose names it', async () => {
    const dir = adapterDir('file', 'lora/llama-f32/adapters_adam.safetensors');
    const r = await runCli(['generate', '-m', MODEL, ...PROMPT, '--adapter-path', join(dir, 'adapters.safetensors'), '--verbose']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`[mlx-lab] adapter: ${join(dir, 'adapters.safetensors')} (lora, rank 8, last 2 layers)`);
  });

  it('a missing folder fails before the model loads, naming it', async () => {
    const r = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--adapter-path', '/nonexistent/adapter']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('mlx-lab: error E_ARGUMENT: /nonexistent/adapter: adapter not found\n');
  });

  it('a folder without adapter_config.json, or without adapters.safetensors, is named', async () => {
    const noConfig = adapterDir('no-config', 'lora/llama-f32/adapters_adam.safetensors', null);
    const a = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--adapter-path', noConfig]);
    expect(a.code).toBe(1);
    expect(a.stderr).toBe(`mlx-lab: error E_CONFIG: ${noConfig}: adapter_config.json not found (it says which layers the adapter covers)\n`);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    const b = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--adapter-path', empty]);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`mlx-lab: error E_ARGUMENT: ${empty}: no adapters.safetensors\n`);
  });

  it('an adapter of another architecture (phi3: fused qkv_proj and gate_up_proj) names the file and the first foreign tensor', async () => {
    const dir = adapterDir('phi3', 'lora/phi3-f32/adapters_adam.safetensors');
    const r = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--adapter-path', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^mlx-lab: error E_WEIGHTS: .*\/phi3\/adapters\.safetensors: "model\.layers\.0\.mlp\.gate_up_proj\.lora_a" is not an adapter parameter of this model \(the model has no layer "model\.layers\.0\.mlp\.gate_up_proj"\)\n$/);
  });

  it('an adapter of another shape (rank 8 weights, rank 4 config) names the file, the tensor and both shapes', async () => {
    const dir = adapterDir('rank', 'lora/llama-f32/adapters_adam.safetensors', { ...LORA, lora_parameters: { rank: 4, scale: 20.0 } });
    const r = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--adapter-path', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`mlx-lab: error E_WEIGHTS: ${dir}/adapters.safetensors: "model.layers.0.mlp.down_proj.lora_a" has shape [128,8], the adapter expects [128,4] (rank 4)\n`);
  });

  it('a layout the model lacks (num_layers past its 2 blocks) names adapter_config.json', async () => {
    const dir = adapterDir('layers', 'lora/llama-f32/adapters_adam.safetensors', { ...LORA, num_layers: 5 });
    const r = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--adapter-path', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^mlx-lab: error E_CONFIG: ${dir}/adapter_config\\.json: num_layers=5 but the model only has 2`));
  });
});

describe('mlx-lab generate --compute', () => {
  it('passes the compute policy to the model (--verbose reports what it chose)', async () => {
    const auto = await runCli(['generate', '-m', MODEL, ...PROMPT, '--verbose']);
    expect(auto.stderr).toContain('[mlx-lab] compute: native (all weights are float32 already)');
    const f32 = await runCli(['generate', '-m', MODEL, ...PROMPT, '--verbose', '--compute', 'float32']);
    expect(f32.code).toBe(0);
    expect(f32.stderr).toContain('[mlx-lab] compute: float32 (requested)'); // fails if the flag is not passed on
  });

  it('refuses an unknown mode, listing the modes', async () => {
    const r = await runCli(['generate', '-m', MODEL, '-p', 'hi', '--compute', 'gpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/E_ARGUMENT: option '--compute <mode>' argument 'gpu' is invalid\. Allowed choices are auto, native, float32, kernels\./);
  });
});
