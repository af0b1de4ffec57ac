// Grouped-query self-attention with RoPE and optional per-head q/k RMSNorm (mlx-lm llama.py,
// qwen3.py Attention).
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "models/model.h"
#include "nn/layers.h"
#include "nn/rope.h"

namespace mlxlab::nn {

// The shape and options of one attention layer.
struct AttentionSpec {
  int hidden_size = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  float norm_eps = 1e-6f;    // for q_norm/k_norm
  bool qkv_bias = false;     // q/k/v biases (llama attention_bias, qwen2)
  bool o_bias = false;       // o_proj bias (llama attention_bias)
  bool qk_norm = false;      // RMSNorm over each head's queries and keys (qwen3)
  bool fused_qkv = false;    // one qkv_proj whose outputs are queries, keys, values (phi3)
  float norm_offset = 0.0f;  // q_norm/k_norm scale by offset + weight (gemma3: 1)
  float scale = 0.0f;        // softmax scale (0: head_dim^-0.5)
  int window = 0;            // attend only to the last `window` positions, self included (0: all)
};

struct Attention {
  Linear q_proj, k_proj, v_proj, o_proj;  // q/k/v unused when qkv_proj is set
  std::optional<Linear> qkv_proj;         // phi3
  std::optional<RMSNorm> q_norm, k_norm;  // qwen3
  Rope rope;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;
  int window = 0;  // sliding window (gemma3's local layers), 0: none

  // Take `path`.{q,k,v,o}_proj (and q_norm, k_norm) out of `weights`, checking shapes.
  static Attention load(WeightTaker& weights, const std::string& path, const AttentionSpec& spec,
                        const Rope& rope, const QuantConfig& quantization, const std::string& why);

  // Queries, keys and values [B, L, heads * head_dim], from one fused projection or three.
  std::tuple<mx::array, mx::array, mx::array> project(const mx::array& x) const;
  // The mask for queries [.., L, ..] over T keys: `mask` (or causal) with the sliding window, which
  // counts visible keys, so padding inside a row does not shrink it.
  mx::array window_mask(const std::optional<mx::array>& mask, int L, int T, mx::Dtype dtype) const;
  // row_offsets [B] (optional) shift each row's RoPE positions, e.g. by minus its left padding.
  mx::array operator()(const mx::array& x, const std::optional<mx::array>& mask, LayerCache* cache,
                       const std::optional<mx::array>& row_offsets) const;
  void collect(Weights& out) const;
  // The projections in the order the mlx-lm module defines them: q, k, v, o (or qkv, o).
  std::vector<Linear*> projections();
  std::vector<const Linear*> projections() const;
};

}  // namespace mlxlab::nn
