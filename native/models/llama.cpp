// Llama (mlx-lm models/llama.py): q/k/v/o and MLP biases from attention_bias and mlp_bias, RoPE
// with rope_traditional and rope_scaling (default, linear, llama3).
#include "models/registry.h"

namespace mlxlab {

namespace {

// RoPE as the config asks.
nn::Rope make_rope(const ModelConfig& c) {
  return nn::Rope::make(c.head_dim, c.rope_theta, c.rope_traditional, c.rope_scaling);
}

// Every block has a dense MLP; make_rope checks rope_scaling.
void check_config(const ModelConfig& c) {
  require_positive(c.intermediate_size, "intermediate_size");
  make_rope(c);
}

// Attention without q/k norms; biases as configured.
void load_block(DecoderBlock& b, const BlockSource& s) {
  b.self_attn = s.attention(s.config.attention_bias, s.config.attention_bias, /*qk_norm=*/false);
  b.mlp = s.mlp(s.config.mlp_bias);
}

}  // namespace

extern const Architecture kLlama{"llama", check_config, make_rope, load_block};

}  // namespace mlxlab
