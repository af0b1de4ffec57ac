// IBM Granite 3.x dense (mlx-lm models/granite.py): llama's block with four multipliers from
// config.json: embeddings times embedding_multiplier, attention scaled by attention_multiplier
// (instead of head_dim^-0.5), each block's attention and MLP outputs times residual_multiplier
// before their residual add, and logits divided by logits_scaling. Biases from attention_bias and
// mlp_bias, head_dim = hidden_size / num_attention_heads, RoPE never traditional. Converting keeps
// o_proj, down_proj and lm_head at 8 bits, group 64 (mlx-lm's quant_predicate).
#include "errors.h"
#include "models/registry.h"

namespace mlxlab {

namespace {

// RoPE with rope_scaling, never traditional (granite.py passes False whatever the config says).
nn::Rope make_rope(const ModelConfig& c) {
  return nn::Rope::make(c.head_dim, c.rope_theta, /*traditional=*/false, c.rope_scaling);
}

// A dense MLP, heads that split hidden_size exactly, and four positive multipliers.
void check_config(const ModelConfig& c) {
  require_positive(c.intermediate_size, "intermediate_size");
  require_split_heads(c, "granite");
  require_positive_float(c.embedding_multiplier, "embedding_multiplier");
  require_positive_float(c.attention_multiplier, "attention_multiplier");
  require_positive_float(c.residual_multiplier, "residual_multiplier");
  require_positive_float(c.logits_scaling, "logits_scaling");
  make_rope(c);
}

// llama's attention and MLP, the attention scaled by attention_multiplier.
void load_block(DecoderBlock& b, const BlockSource& s) {
  const auto& c = s.config;
  nn::AttentionSpec spec;
  spec.scale = c.attention_multiplier;
  b.self_attn = s.attention(c.attention_bias, c.attention_bias, /*qk_norm=*/false,
                            /*fused_qkv=*/false, spec);
  b.mlp = s.mlp(c.mlp_bias);
}

// o_proj, down_proj and lm_head keep 8 bits, group 64, whatever the rest gets (mlx-lm
// quant_predicate: their small weights would underflow low-bit float scales).
QuantSpec quant_spec(const std::string& path, const QuantSpec& spec) {
  bool kept =
      path.ends_with(".self_attn.o_proj") || path.ends_with(".mlp.down_proj") || path == "lm_head";
  return kept ? QuantSpec{64, 8, "affine"} : spec;
}

float embed_scale(const ModelConfig& c) { return c.embedding_multiplier; }
float residual_scale(const ModelConfig& c) { return c.residual_multiplier; }
float logits_divisor(const ModelConfig& c) { return c.logits_scaling; }

}  // namespace

extern const Architecture kGranite{"granite",
                                   check_config,
                                   make_rope,
                                   load_block,
                                   quant_spec,
                                   /*norm_offset=*/0.0f,
                                   embed_scale,
                                   /*tie_from_weights=*/false,
                                   residual_scale,
                                   logits_divisor};

}  // namespace mlxlab
