// Phi-3 (mlx-lm models/phi3.py; Phi-3 and Phi-3.5 mini, Phi-4-mini): llama's block with q/k/v
// fused into one qkv_proj and gate/up into one gate_up_proj, no biases, head_dim = hidden_size /
// num_attention_heads, and RoPE over the first head_dim * partial_rotary_factor dims (plain,
// linear or longrope/su as Phi-3-mini-128k and Phi-3.5-mini use it). LoRA adapts
// the fused layers as they are (self_attn.qkv_proj, mlp.gate_up_proj), as mlx-lm does.
#include "errors.h"
#include "models/registry.h"

namespace mlxlab {

namespace {

// The RoPE dims: head_dim scaled by partial_rotary_factor, truncated as Python's int().
int rope_dims(const ModelConfig& c) {
  return static_cast<int>(static_cast<float>(c.head_dim) * c.partial_rotary_factor);
}

// mlx-lm's phi3 ModelArgs default for a config without max_position_embeddings.
constexpr int kDefaultMaxPositions = 131072;

// nn.RoPE with rope_traditional, scaled by 1 / factor for linear rope_scaling; longrope (su) as
// mlx-lm's SuScaledRoPE, its attention factor from max_position_embeddings.
nn::Rope make_rope(const ModelConfig& c) {
  const auto& type = c.rope_scaling.type;
  if (type != "default" && type != "linear" && type != "longrope" && type != "su") {
    fail(codes::kConfig, "phi3: rope_scaling.type \"" + type +
                             "\" is not supported (none, linear, longrope or su)");
  }
  int max_positions =
      c.max_position_embeddings > 0 ? c.max_position_embeddings : kDefaultMaxPositions;
  return nn::Rope::make(rope_dims(c), c.rope_theta, c.rope_traditional, c.rope_scaling,
                        max_positions);
}

// A dense MLP, heads that split hidden_size exactly, and an even number of RoPE dims.
void check_config(const ModelConfig& c) {
  require_positive(c.intermediate_size, "intermediate_size");
  require_split_heads(c, "phi3");
  int dims = rope_dims(c);
  if (!(c.partial_rotary_factor > 0 && c.partial_rotary_factor <= 1) || dims % 2 != 0) {
    fail(codes::kConfig,
         "partial_rotary_factor must be in (0, 1] and give an even number of "
         "RoPE dims, got " +
             std::to_string(c.partial_rotary_factor) + " (" + std::to_string(dims) +
             " of head_dim " + std::to_string(c.head_dim) + ")");
  }
  make_rope(c);
}

// Fused qkv_proj and gate_up_proj, no biases.
void load_block(DecoderBlock& b, const BlockSource& s) {
  b.self_attn = s.attention(false, false, /*qk_norm=*/false, /*fused_qkv=*/true);
  b.mlp = s.mlp(/*bias=*/false, /*fused=*/true);
}

}  // namespace

extern const Architecture kPhi3{"phi3", check_config, make_rope, load_block};

}  // namespace mlxlab
