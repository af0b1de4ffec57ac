// Random-weight models of each architecture (llama, qwen3, qwen3_moe) in three sizes, written
// on the fly as mlx-lm folders (config.json + model.safetensors, float32, mlx-lm key names, no
// tokenizer: load them with { tokenizer: false } and generate from token ids). Weights are drawn
// from a seeded PRNG at MLX's default scales (linear U(±1/sqrt(in)), norms 1); a folder is
// reused when its config.json matches, so the cost of writing it is paid once per machine.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFloat32 } from './safetensors.mjs';

/** Dimensions per size; ~1M, ~40-60M and ~150M parameters (the large size: llama and qwen3 only). */
const SIZES = {
  tiny: { hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, intermediate_size: 384, vocab_size: 2048, num_experts: 8, moe_intermediate_size: 128 },
  mid: { hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 64, intermediate_size: 1536, vocab_size: 16384, num_experts: 8, moe_intermediate_size: 384 },
  large: { hidden_size: 768, num_hidden_layers: 16, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 64, intermediate_size: 2048, vocab_size: 32768 },
  // ~1.1B (TinyLlama's shape): not in the scaling sweep (4.4 GB as float32); compute-modes.mjs --random-1b.
  '1b': { hidden_size: 2048, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4, head_dim: 64, intermediate_size: 5632, vocab_size: 32000 },
};
export const ARCHITECTURES = ['llama', 'qwen3', 'qwen3_moe'];
/** The sizes the scaling sweep takes by default. */
export const SIZE_NAMES = ['tiny', 'mid', 'large'];

/** Which (architecture, size) pairs exist: no ~150M MoE (its experts alone would be ~0.5B), 1b for llama only. */
export const hasSize = (arch, size) => !(arch === 'qwen3_moe' && size === 'large') && (size !== '1b' || arch === 'llama');

/** config.json of a random model, as mlx-lm reads it. */
export function randomConfig(arch, size) {
  const { num_experts, moe_intermediate_size, ...d } = SIZES[size];
  const common = { ...d, max_position_embeddings: 4096, rms_norm_eps: 1e-6, hidden_act: 'silu', model_type: arch };
  if (arch === 'llama') return { ...common, architectures: ['LlamaForCausalLM'], rope_theta: 10000, tie_word_embeddings: false, attention_bias: false, mlp_bias: false };
  if (arch === 'qwen3') return { ...common, architectures: ['Qwen3ForCausalLM'], rope_theta: 1e6, tie_word_embeddings: true };
  return {
    ...common,
    architectures: ['Qwen3MoeForCausalLM'],
    rope_theta: 1e6,
    tie_word_embeddings: false,
    num_experts,
    num_experts_per_tok: 2,
    moe_intermediate_size,
    norm_topk_prob: true,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
  };
}

/** Shapes of every weight, mlx-lm names. */
function weightShapes(c) {
  const h = c.hidden_size;
  const shapes = { 'model.embed_tokens.weight': [c.vocab_size, h], 'model.norm.weight': [h] };
  if (!c.tie_word_embeddings) shapes['lm_head.weight'] = [c.vocab_size, h];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    Object.assign(shapes, {
      [`${p}.input_layernorm.weight`]: [h],
      [`${p}.post_attention_layernorm.weight`]: [h],
      [`${a}.q_proj.weight`]: [c.num_attention_heads * c.head_dim, h],
      [`${a}.k_proj.weight`]: [c.num_key_value_heads * c.head_dim, h],
      [`${a}.v_proj.weight`]: [c.num_key_value_heads * c.head_dim, h],
      [`${a}.o_proj.weight`]: [h, c.num_attention_heads * c.head_dim],
    });
    if (c.model_type !== 'llama') Object.assign(shapes, { [`${a}.q_norm.weight`]: [c.head_dim], [`${a}.k_norm.weight`]: [c.head_dim] });
    if (c.model_type === 'qwen3_moe') {
      const [e, m] = [c.num_experts, c.moe_intermediate_size];
      Object.assign(shapes, {
        [`${p}.mlp.gate.weight`]: [e, h],
        [`${p}.mlp.switch_mlp.gate_proj.weight`]: [e, m, h],
        [`${p}.mlp.switch_mlp.up_proj.weight`]: [e, m, h],
        [`${p}.mlp.switch_mlp.down_proj.weight`]: [e, h, m],
      });
    } else {
      const m = c.intermediate_size;
      Object.assign(shapes, { [`${p}.mlp.gate_proj.weight`]: [m, h], [`${p}.mlp.up_proj.weight`]: [m, h], [`${p}.mlp.down_proj.weight`]: [h, m] });
    }
  }
  return shapes;
}

/** Number of parameters of a config. */
export function parameterCount(config) {
  return Object.values(weightShapes(config)).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
}

/** A fast seeded uniform [0, 1) generator (mulberry32). */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How to fill a weight: norms 1, the rest uniform ±1/sqrt(fan-in). */
function filler(name, shape, rand) {
  if (name.endsWith('norm.weight')) return (d) => d.fill(1);
  const bound = 1 / Math.sqrt(shape.at(-1));
  return (d) => {
    for (let i = 0; i < d.length; i++) d[i] = (2 * rand() - 1) * bound;
  };
}

/** The folder of a random model under `root`, written if missing or stale; returns its path. */
export function ensureRandomModel(root, arch, size, log = () => {}) {
  const config = randomConfig(arch, size);
  const dir = join(root, `${arch}-${size}`);
  const configText = JSON.stringify(config, null, 2) + '\n';
  const done = join(dir, 'config.json');
  if (existsSync(done) && readFileSync(done, 'utf8') === configText && existsSync(join(dir, 'model.safetensors'))) return dir;
  log(`writing ${dir} (${(parameterCount(config) / 1e6).toFixed(1)}M parameters, float32)`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (!SIZES[size] || !hasSize(arch, size)) throw new Error(`no random ${arch} model of size ${size}`);
  const rand = prng(0x5eed + ARCHITECTURES.indexOf(arch) * 97 + Object.keys(SIZES).indexOf(size));
  const tensors = Object.entries(weightShapes(config)).map(([name, shape]) => ({ name, shape, fill: filler(name, shape, rand) }));
  writeFloat32(join(tmp, 'model.safetensors'), tensors);
  writeFileSync(join(tmp, 'config.json'), configText); // written last: its presence marks a complete folder
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}
