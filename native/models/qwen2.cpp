// Qwen2 (mlx-lm models/qwen2.py; Qwen2.5, Qwen2.5-Coder, DeepSeek-R1-Distill-Qwen): llama's
// block with biases on q/k/v (none on o_proj or the MLP) and head_dim = hidden_size /
// num_attention_heads whatever config.json says.
#include "errors.h"
#include "models/registry.h"

namespace mlxlab {

extern const Architecture kLlama;

namespace {

// A dense MLP, and heads that split hidden_size exactly (mlx-lm derives head_dim from it).
void check_config(const ModelConfig& c) {
  require_positive(c.intermediate_size, "intermediate_size");
  require_split_heads(c, "qwen2");
  kLlama.make_rope(c);
}

// q/k/v with biases, o_proj and the MLP without.
void load_block(DecoderBlock& b, const BlockSource& s) {
  b.self_attn = s.attention(/*qkv_bias=*/true, /*o_bias=*/false, /*qk_norm=*/false);
  b.mlp = s.mlp(/*bias=*/false);
}

}  // namespace

// RoPE with rope_traditional and rope_scaling: llama's.
extern const Architecture kQwen2{"qwen2", check_config, kLlama.make_rope, load_block};

}  // namespace mlxlab
