// Qwen3-MoE (mlx-lm models/qwen3_moe.py): qwen3's attention, and in every decoder_sparse_step-th
// layer not in mlp_only_layers a sparse mixture of experts instead of the dense MLP.
#include <algorithm>

#include "errors.h"
#include "models/registry.h"

namespace mlxlab {

namespace {

std::string str(int v) { return std::to_string(v); }

// Whether `layer` holds experts rather than a dense MLP.
bool is_sparse_layer(const ModelConfig& c, int layer) {
  if (c.num_experts <= 0) return false;
  bool dense_only = std::find(c.mlp_only_layers.begin(), c.mlp_only_layers.end(), layer) !=
                    c.mlp_only_layers.end();
  return !dense_only && (layer + 1) % c.decoder_sparse_step == 0;
}

// Non-traditional RoPE; mlx-lm's qwen3_moe ignores rope_scaling.
nn::Rope make_rope(const ModelConfig& c) {
  return nn::Rope::make(c.head_dim, c.rope_theta, /*traditional=*/false, RopeScaling{});
}

// The expert keys; intermediate_size only when some layer is dense.
void check_config(const ModelConfig& c) {
  require_positive(c.num_experts, "num_experts");
  require_positive(c.decoder_sparse_step, "decoder_sparse_step");
  require_positive(c.moe_intermediate_size, "moe_intermediate_size");
  if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.num_experts) {
    fail(codes::kConfig, "num_experts_per_tok must be in [1, num_experts=" + str(c.num_experts) +
                             "], got " + str(c.num_experts_per_tok));
  }
  bool any_dense = false;
  for (int i = 0; i < c.num_hidden_layers; ++i) any_dense |= !is_sparse_layer(c, i);
  if (any_dense) require_positive(c.intermediate_size, "intermediate_size");
}

// `prefix`.mlp as experts, stacked first when the checkpoint keeps them apart (HF layout).
nn::SparseMoe load_experts(const BlockSource& s) {
  const auto& c = s.config;
  std::string path = s.prefix + ".mlp";
  nn::stack_experts(s.weights, path, c.num_experts);
  nn::MoeSpec spec{c.hidden_size, c.moe_intermediate_size, c.num_experts, c.num_experts_per_tok,
                   c.norm_topk_prob};
  return nn::SparseMoe::load(s.weights, path, spec, c.quantization,
                             s.why + ", sparse (num_experts=" + str(c.num_experts) +
                                 ", decoder_sparse_step=" + str(c.decoder_sparse_step) + ")");
}

// Attention with q/k norms, then experts or a dense MLP; no biases.
void load_block(DecoderBlock& b, const BlockSource& s) {
  b.self_attn = s.attention(/*qkv_bias=*/false, /*o_bias=*/false, /*qk_norm=*/true);
  if (is_sparse_layer(s.config, s.layer)) {
    b.moe = load_experts(s);
  } else {
    b.mlp = s.mlp(/*bias=*/false);
  }
}

// The router keeps 8 bits, group 64, whatever the rest gets (mlx-lm quant_predicate).
QuantSpec quant_spec(const std::string& path, const QuantSpec& spec) {
  return path.ends_with(".mlp.gate") ? QuantSpec{64, 8, "affine"} : spec;
}

}  // namespace

extern const Architecture kQwen3Moe{"qwen3_moe", check_config, make_rope, load_block, quant_spec};

}  // namespace mlxlab
