// The decoder stack shared by llama, qwen3 and qwen3_moe (mlx-lm models/llama.py, qwen3.py,
// qwen3_moe.py): pre-norm blocks of GQA attention (RoPE, optional q/k norm) and a SwiGLU MLP
// or a sparse mixture of experts.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "nn/layers.h"

namespace mlxlab {

struct Attention {
  nn::Linear q_proj, k_proj, v_proj, o_proj;
  std::optional<nn::RMSNorm> q_norm, k_norm;  // qwen3
  nn::Rope rope;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;

  // row_offsets [B] (optional) shift each row's RoPE positions, e.g. by minus its left padding.
  mx::array operator()(const mx::array& x, const std::optional<mx::array>& mask,
                       LayerCache* cache, const std::optional<mx::array>& row_offsets) const;
};

struct Mlp {
  nn::Linear gate_proj, up_proj, down_proj;
  mx::array operator()(const mx::array& x) const;
};

// qwen3_moe sparse block: router, top-k experts, SwitchGLU.
struct SparseMoe {
  nn::Linear gate;  // router [num_experts, hidden]
  nn::SwitchLinear gate_proj, up_proj, down_proj;
  int top_k = 0;
  bool norm_topk_prob = false;

  mx::array operator()(const mx::array& x) const;
  mx::array switch_glu(const mx::array& x, const mx::array& indices) const;
};

struct DecoderBlock {
  nn::RMSNorm input_layernorm, post_attention_layernorm;
  Attention self_attn;
  std::optional<Mlp> mlp;
  std::optional<SparseMoe> moe;

  mx::array operator()(const mx::array& x, const std::optional<mx::array>& mask,
                       LayerCache* cache, const std::optional<mx::array>& row_offsets) const;
};

class DecoderModel : public Model {
 public:
  // Build from a validated config; every weight is taken out of `weights`.
  DecoderModel(const ModelConfig& config, nn::WeightTaker& weights);

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
};

// The decoder behind a Model (all supported model types are one), or nullptr.
DecoderModel* as_decoder(Model& model);

// The config with defaults filled in (head_dim, num_key_value_heads) after checking it.
// Throws Error(E_CONFIG) naming the key at fault.
ModelConfig normalize_config(const ModelConfig& config);

}  // namespace mlxlab
