// Bytes a decode step must read from memory, for the memory-bandwidth bound of decoding: every
// weight a matmul uses once per token (under the compute policy: the float32 copy when the model
// runs on float32 copies, else the stored weight, scales and biases), plus the KV cache up to
// that position. Batch 1: a MoE layer reads only its top-k experts; an untied embedding reads one
// row (a tied one is read whole, as the LM head).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readHeader, storedBytes } from './safetensors.mjs';

const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, U32: 4, I32: 4, U8: 1, I8: 1 };

/** Every tensor of a model folder: name → header entry (all shards). */
function folderTensors(dir) {
  const files = readdirSync(dir).filter((f) => /^model.*\.safetensors$/.test(f));
  return Object.assign({}, ...files.map((f) => readHeader(join(dir, f))));
}

/** Modules (name without .weight/.scales/.biases) with their tensors. */
function modules(tensors) {
  const out = new Map();
  for (const [name, t] of Object.entries(tensors)) {
    const m = name.match(/^(.*)\.(weight|scales|biases|bias)$/);
    const [key, part] = m ? [m[1], m[2]] : [name, 'weight'];
    if (!out.has(key)) out.set(key, {});
    out.get(key)[part] = t;
  }
  return out;
}

/** Bytes of one module's weight as a matmul reads it: float32 copy or as stored. */
function matmulBytes(mod, groupSizeOf, float32) {
  const count = (t) => t.shape.reduce((a, b) => a * b, 1);
  const stored = storedBytes(mod.weight) + (mod.scales ? storedBytes(mod.scales) : 0) + (mod.biases ? storedBytes(mod.biases) : 0);
  const isFloat32 = !mod.scales && mod.weight.dtype === 'F32';
  if (!float32 || isFloat32) return stored;
  return mod.scales ? count(mod.scales) * groupSizeOf() * 4 : count(mod.weight) * 4;
}

/**
 * { weights, kv, total } bytes read per decoded token at KV position `position` (batch 1).
 * computeMode: "float32" (float32 copies of every non-f32 matmul weight), "kernels" (the stored
 * weights, float32 activations) or "native" (the stored weights, activations in their dtype).
 */
export function decodeBytesPerToken(dir, { computeMode, position }) {
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`${dir}: no config.json`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const float32 = computeMode === 'float32';
  const q = config.quantization ?? {};
  const mods = modules(folderTensors(dir));
  const tied = config.tie_word_embeddings !== false && !mods.has('lm_head');
  const expertShare = config.num_experts ? config.num_experts_per_tok / config.num_experts : 1;
  let weights = 0;
  let activationDtype = 'F32';
  for (const [name, mod] of mods) {
    if (!mod.weight) continue;
    const groupSizeOf = () => q[name]?.group_size ?? q.group_size;
    let bytes = matmulBytes(mod, groupSizeOf, float32);
    if (name.endsWith('embed_tokens') && !tied) bytes /= mod.weight.shape[0]; // one row looked up
    if (name.includes('switch_mlp')) bytes *= expertShare; // top-k experts of num_experts
    weights += bytes;
    if (mod.scales) activationDtype = mod.scales.dtype;
    else if (mod.weight.dtype !== 'F32' && DTYPE_BYTES[mod.weight.dtype] === 2) activationDtype = mod.weight.dtype;
  }
  // The KV cache holds activations: float32 under float32 or kernels compute (whose embedding rows
  // come out float32), else the model's float dtype.
  const kvElement = float32 || computeMode === 'kernels' ? 4 : DTYPE_BYTES[activationDtype];
  const headDim = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  const kvHeads = config.num_key_value_heads ?? config.num_attention_heads;
  const kv = 2 * config.num_hidden_layers * kvHeads * headDim * position * kvElement;
  return { weights, kv, total: weights + kv, kv_element_bytes: kvElement };
}
