// The supported architectures by model_type. Each is one file, models/<model_type>.cpp (as
// mlx-lm has models/<model_type>.py), defining an Architecture over the shared decoder stack
// and nn/ layers; adding one is that file plus its line in registry.cpp.
#pragma once

#include <optional>
#include <string>

#include "models/config.h"
#include "models/decoder.h"
#include "nn/rope.h"

namespace mlxlab {

// Where a block's weights are and what it needs to load them.
struct BlockSource {
  nn::WeightTaker& weights;
  const ModelConfig& config;
  const nn::Rope& rope;
  int layer = 0;
  std::string prefix;        // "model.layers.N"
  std::string why;           // context for error messages
  float norm_offset = 0.0f;  // the architecture's RMSNorm offset (Architecture::norm_offset)

  // `prefix`.self_attn shaped by the config, with q/k/v and o_proj biases and per-head q/k norms
  // or not, q/k/v as one fused qkv_proj or not; `spec` may set scale and window.
  nn::Attention attention(bool qkv_bias, bool o_bias, bool qk_norm, bool fused_qkv = false,
                          nn::AttentionSpec spec = {}) const;
  // `prefix`.mlp: hidden_size -> intermediate_size -> hidden_size, gate and up fused or not.
  nn::Mlp mlp(bool bias, bool fused = false,
              nn::Activation activation = nn::Activation::kSilu) const;
  // `prefix`.`name`, an RMSNorm over hidden_size with the architecture's offset.
  nn::RMSNorm norm(const std::string& name) const;
};

// What one architecture adds to the shared decoder stack.
struct Architecture {
  const char* model_type;
  // Check the keys only this architecture reads, after the shared ones (normalize_config).
  void (*check_config)(const ModelConfig& config);
  // The RoPE every layer uses.
  nn::Rope (*make_rope)(const ModelConfig& config);
  // Load a block's self_attn and mlp (or moe); its norms are loaded by the stack.
  void (*load_block)(DecoderBlock& block, const BlockSource& source);
  // mlx-lm's quant_predicate: the spec a full-precision layer gets when converting with `spec`
  // (nullptr: `spec` for every layer).
  QuantSpec (*quant_spec)(const std::string& path, const QuantSpec& spec) = nullptr;
  // Every RMSNorm scales by norm_offset + weight (gemma3: 1).
  float norm_offset = 0.0f;
  // The factor the embeddings are multiplied by, in their dtype (nullptr: none; gemma3:
  // sqrt(hidden_size) rounded to bfloat16; granite: embedding_multiplier).
  float (*embed_scale)(const ModelConfig& config) = nullptr;
  // Tied embeddings exactly when the checkpoint has no lm_head.weight (gemma3), whatever the
  // config says.
  bool tie_from_weights = false;
  // The factor each block's attention and MLP outputs are multiplied by before their residual
  // add (nullptr: none; granite: residual_multiplier).
  float (*residual_scale)(const ModelConfig& config) = nullptr;
  // The number the logits are divided by (nullptr: none; granite: logits_scaling).
  float (*logits_divisor)(const ModelConfig& config) = nullptr;
};

// The architecture of a model_type; throws Error(E_CONFIG) listing the supported ones.
const Architecture& architecture(const std::string& model_type);

// The supported model_types, in registry order: "llama, qwen3, ...".
std::string supported_architectures();

// The architecture of a model_type, or nullptr.
const Architecture* find_architecture(const std::string& model_type);

}  // namespace mlxlab
