// The decoder stack every architecture shares: embedding, pre-norm blocks of attention and an
// MLP (or a mixture of experts), final norm and LM head. What differs per architecture (which
// options each block has, config checks) is in models/<model_type>.cpp, found through
// models/registry.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "nn/attention.h"
#include "nn/layers.h"
#include "nn/mlp.h"
#include "nn/moe.h"

namespace mlxlab {

struct Architecture;

struct DecoderBlock {
  nn::RMSNorm input_layernorm, post_attention_layernorm;
  // gemma3: post_attention_layernorm normalizes the attention's output, these the MLP's input and
  // output (a "sandwich" block); absent, post_attention_layernorm is the MLP's input norm.
  std::optional<nn::RMSNorm> pre_feedforward_layernorm, post_feedforward_layernorm;
  nn::Attention self_attn;
  std::optional<nn::Mlp> mlp;
  std::optional<nn::SparseMoe> moe;
  // Attention and MLP outputs times this before their residual add (granite); none: as they are.
  std::optional<float> residual_scale;

  mx::array operator()(const mx::array& x, const std::optional<mx::array>& mask, LayerCache* cache,
                       const std::optional<mx::array>& row_offsets) const;
  void collect(Weights& out) const;
};

class DecoderModel : public Model {
 public:
  // Build from a validated config; every weight is taken out of `weights`, each block's
  // attention and MLP by `arch`.
  DecoderModel(const ModelConfig& config, nn::WeightTaker& weights, const Architecture& arch);

  mx::array forward(const mx::array& tokens, KVCache* cache = nullptr,
                    const std::optional<mx::array>& mask = std::nullopt) override;
  KVCache make_cache() const override;
  const ModelConfig& config() const override { return config_; }
  Weights parameters() const override;

  // forward() with each row's positions shifted by row_offsets [B] int32: a row left-padded by
  // n positions passes -n, so its tokens get the positions (and numerics) of an unpadded run.
  mx::array forward_rows(const mx::array& tokens, KVCache* cache,
                         const std::optional<mx::array>& mask,
                         const std::optional<mx::array>& row_offsets);

  // The final hidden states [B, L, hidden] (before the LM head).
  mx::array hidden_states(const mx::array& tokens, KVCache* cache,
                          const std::optional<mx::array>& mask,
                          const std::optional<mx::array>& row_offsets = std::nullopt);
  mx::array lm_head(const mx::array& hidden) const;
  // The token embeddings [B, L, hidden] as the first block takes them (scaled for gemma3, granite).
  mx::array embed(const mx::array& tokens) const;

  // Every linear layer, by its module path (for LoRA, training and fusing).
  std::vector<nn::Linear*> linears();
  std::vector<nn::SwitchLinear*> switch_linears();
  std::vector<DecoderBlock>& layers() { return layers_; }
  nn::Embedding& embed_tokens() { return embed_tokens_; }
  const nn::RMSNorm& norm() const { return norm_; }

 private:
  ModelConfig config_;
  nn::Embedding embed_tokens_;
  std::vector<DecoderBlock> layers_;
  nn::RMSNorm norm_;
  std::optional<nn::Linear> lm_head_;
  std::optional<float> embed_scale_;
  std::optional<float> logits_divisor_;  // lm_head() divides by it (granite)
};

// The decoder behind a Model (all supported model types are one), or nullptr.
DecoderModel* as_decoder(Model& model);

// The config with defaults filled in (head_dim, num_key_value_heads) after checking the shared
// keys, then the architecture's own. Throws Error(E_CONFIG) naming the key at fault.
ModelConfig normalize_config(const ModelConfig& config);

// Throws Error(E_CONFIG) unless value > 0.
void require_positive(int value, const char* key);

// The same for a float key (NaN fails too).
void require_positive_float(float value, const char* key);

// Throws Error(E_CONFIG) unless head_dim * num_attention_heads == hidden_size (mlx-lm derives
// head_dim so for qwen2 and phi3); `type` names the model type in the message.
void require_split_heads(const ModelConfig& c, const char* type);

}  // namespace mlxlab
