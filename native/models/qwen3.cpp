// Qwen3 (mlx-lm models/qwen3.py): llama's block with an RMSNorm over each head's queries and
// keys, no biases, and non-traditional RoPE.
#include "models/registry.h"

namespace mlxlab {

namespace {

// Non-traditional RoPE with the config's rope_scaling.
nn::Rope make_rope(const ModelConfig& c) {
  return nn::Rope::make(c.head_dim, c.rope_theta, /*traditional=*/false, c.rope_scaling);
}

// Every block has a dense MLP; make_rope checks rope_scaling.
void check_config(const ModelConfig& c) {
  require_positive(c.intermediate_size, "intermediate_size");
  make_rope(c);
}

// Attention with q/k norms, a dense MLP, no biases.
void load_block(DecoderBlock& b, const BlockSource& s) {
  b.self_attn = s.attention(/*qkv_bias=*/false, /*o_bias=*/false, /*qk_norm=*/true);
  b.mlp = s.mlp(/*bias=*/false);
}

}  // namespace

extern const Architecture kQwen3{"qwen3", check_config, make_rope, load_block};

}  // namespace mlxlab
