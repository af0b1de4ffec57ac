// The model configuration, as parsed and validated from config.json (or GGUF metadata) by the
// TS layer (src/model-config.ts) and handed to native code. Field names follow config.json.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlxlab {

// How one linear layer is quantized (mlx-lm's `quantization` block).
struct QuantSpec {
  int group_size = 64;
  int bits = 4;
  std::string mode = "affine";
};

// The default spec plus per-layer overrides keyed by module path, as mlx-lm writes them:
// "model.layers.0.mlp.down_proj": {"group_size":..,"bits":..} or false (not quantized).
struct QuantConfig {
  std::optional<QuantSpec> base;
  std::map<std::string, std::optional<QuantSpec>> overrides;

  // The spec for a module path, or nullopt when that module is full precision.
  std::optional<QuantSpec> for_path(const std::string& path) const {
    auto it = overrides.find(path);
    if (it != overrides.end()) return it->second;
    return base;
  }
};

struct RopeScaling {
  std::string type = "default";  // default | linear | llama3 | longrope (also spelled su)
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_max_position_embeddings = 8192;
  // longrope: one frequency factor per rotated pair (dims / 2 each)
  std::vector<float> short_factor;
  std::vector<float> long_factor;
};

struct ModelConfig {
  std::string model_type;  // an architecture of models/registry.cpp
  int hidden_size = 0;
  int num_hidden_layers = 0;
  int intermediate_size = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;
  int head_dim = 0;  // hidden_size / num_attention_heads when config.json has none
  int vocab_size = 0;
  int max_position_embeddings = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool rope_traditional = false;
  RopeScaling rope_scaling;
  float partial_rotary_factor = 1.0f;  // phi3: RoPE over the first head_dim * this dims
  // gemma3_text
  float query_pre_attn_scalar = 0.0f;  // attention scale = this^-0.5 (0: head_dim)
  float rope_local_base_freq = 10000.0f;
  int sliding_window = 0;
  int sliding_window_pattern = 0;
  // granite
  float embedding_multiplier = 1.0f;  // embeddings times this
  float attention_multiplier = 0.0f;  // attention scale (0: head_dim^-0.5)
  float residual_multiplier = 1.0f;   // each block's attention and MLP output times this
  float logits_scaling = 1.0f;        // logits divided by this
  bool tie_word_embeddings = false;
  bool attention_bias = false;
  bool mlp_bias = false;
  // qwen3_moe
  int num_experts = 0;
  int num_experts_per_tok = 0;
  int moe_intermediate_size = 0;
  int decoder_sparse_step = 1;
  std::vector<int> mlp_only_layers;
  bool norm_topk_prob = false;
  QuantConfig quantization;
};

}  // namespace mlxlab
