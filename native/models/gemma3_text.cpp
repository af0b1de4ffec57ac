// Gemma 3 text (mlx-lm models/gemma3_text.py): every RMSNorm scales by 1 + weight, embeddings are
// multiplied by sqrt(hidden_size), each block normalizes the attention's output and the MLP's
// input and output ("sandwich" norms), q/k norms, GELU (tanh) instead of silu, attention scaled by
// query_pre_attn_scalar^-0.5, and layers in groups of sliding_window_pattern: the last of each
// group global (rope_theta, rope_scaling), the others local (a sliding_window of the latest
// positions, rope_local_base_freq). Tied embeddings exactly when the checkpoint has no lm_head.
#include <cmath>

#include "errors.h"
#include "models/registry.h"

namespace mlxlab {

namespace {

// Local (sliding-window) layers are all but the last of each group of sliding_window_pattern.
bool is_sliding(const ModelConfig& c, int layer) {
  return (layer + 1) % c.sliding_window_pattern != 0;
}

// The global layers' RoPE: rope_theta with the config's rope_scaling, never traditional.
nn::Rope make_rope(const ModelConfig& c) {
  return nn::Rope::make(c.head_dim, c.rope_theta, /*traditional=*/false, c.rope_scaling);
}

// The keys only gemma3_text reads; make_rope checks rope_scaling.
void check_config(const ModelConfig& c) {
  require_positive(c.intermediate_size, "intermediate_size");
  require_positive(c.sliding_window_pattern, "sliding_window_pattern");
  require_positive(c.sliding_window, "sliding_window");
  if (!(c.query_pre_attn_scalar > 0))
    fail(codes::kConfig, "query_pre_attn_scalar must be positive");
  if (!(c.rope_local_base_freq > 0)) fail(codes::kConfig, "rope_local_base_freq must be positive");
  make_rope(c);
}

// Attention with q/k norms, its layer's RoPE and window; a GELU MLP; the four block norms.
void load_block(DecoderBlock& b, const BlockSource& s) {
  const auto& c = s.config;
  bool local = is_sliding(c, s.layer);
  nn::Rope rope =
      local ? nn::Rope::make(c.head_dim, c.rope_local_base_freq, false, RopeScaling{}) : s.rope;
  BlockSource with_rope{s.weights, c, rope, s.layer, s.prefix, s.why, s.norm_offset};
  nn::AttentionSpec spec;
  spec.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.query_pre_attn_scalar)));
  spec.window = local ? c.sliding_window : 0;
  b.self_attn = with_rope.attention(false, false, /*qk_norm=*/true, /*fused_qkv=*/false, spec);
  b.mlp = s.mlp(/*bias=*/false, /*fused=*/false, nn::Activation::kGeluApprox);
  b.pre_feedforward_layernorm = s.norm("pre_feedforward_layernorm");
  b.post_feedforward_layernorm = s.norm("post_feedforward_layernorm");
}

// sqrt(hidden_size) rounded to bfloat16, as mlx-lm's gemma3_text.py rounds it.
float embed_scale(const ModelConfig& c) {
  auto exact = static_cast<float>(std::sqrt(static_cast<double>(c.hidden_size)));
  return static_cast<float>(mx::bfloat16_t(exact));
}

}  // namespace

extern const Architecture kGemma3Text{"gemma3_text",
                                      check_config,
                                      make_rope,
                                      load_block,
                                      /*quant_spec=*/nullptr,
                                      /*norm_offset=*/1.0f,
                                      embed_scale,
                                      /*tie_from_weights=*/true};

}  // namespace mlxlab
