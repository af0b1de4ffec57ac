// A causal language model over MLX: every architecture (models/registry.h) is the shared decoder
// stack (models/decoder.h) whose pieces (q/k norm, MoE blocks, tied embeddings, quantized
// linears) its own file switches on.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "mlx/mlx.h"
#include "models/config.h"

namespace mlxlab {

namespace mx = mlx::core;
using Weights = std::unordered_map<std::string, mx::array>;

// Keys and values of one attention layer, grown in steps to avoid a copy per token.
class LayerCache {
 public:
  // Append keys/values [B, H, L, D]; return all cached ones up to the new offset.
  std::pair<mx::array, mx::array> update(const mx::array& keys, const mx::array& values);
  int offset() const { return offset_; }
  void trim(int n);         // drop the last n positions
  void repeat_rows(int n);  // a batch-1 cache becomes n identical rows (a shared prefix)
  void take_rows(const mx::array& index);  // keep these batch rows, in this order
  // The cached keys and values up to offset() ([B, H, offset, D] each); nullopt when empty.
  std::optional<std::pair<mx::array, mx::array>> state() const;
  // Hold keys/values [B, H, T, D] of which the first `offset` positions are valid (T >= offset).
  void set_state(mx::array keys, mx::array values, int offset);

 private:
  std::optional<mx::array> keys_, values_;
  int offset_ = 0;
};

struct KVCache {
  std::vector<LayerCache> layers;
  int offset() const { return layers.empty() ? 0 : layers[0].offset(); }
  void repeat_rows(int n) {
    for (auto& layer : layers) layer.repeat_rows(n);
  }
  void take_rows(const mx::array& index) {
    for (auto& layer : layers) layer.take_rows(index);
  }
  // Keep the first n positions of every layer (drop the rest).
  void trim_to(int n) {
    for (auto& layer : layers) layer.trim(layer.offset() - n);
  }
};

class Model {
 public:
  virtual ~Model() = default;

  // Build the model from its config and weights (mlx-lm names). Checks that every weight the
  // config needs is present with the right shape, and that none is left over.
  // Throws Error(E_WEIGHTS) naming the weight, or Error(E_CONFIG) naming the key.
  static std::unique_ptr<Model> create(const ModelConfig& config, Weights weights);

  // Logits [B, L, vocab] for tokens [B, L] (int32). With a cache, positions continue from
  // cache->offset() and the cache is extended. `mask` is an additive [B, 1, L, T] mask
  // (T = cached + L) for left-padded batches; without one a causal mask is used.
  virtual mx::array forward(const mx::array& tokens, KVCache* cache = nullptr,
                            const std::optional<mx::array>& mask = std::nullopt) = 0;

  virtual KVCache make_cache() const = 0;
  virtual const ModelConfig& config() const = 0;

  // Every parameter by its mlx-lm name (quantized linears give .weight, .scales, .biases).
  virtual Weights parameters() const = 0;

  // Bytes of all parameters (for memory reports).
  size_t parameter_bytes() const;

  // Throws Error(E_ARGUMENT) naming `what` and the first id outside [0, vocab_size): MLX does
  // not bounds-check the embedding lookup, so such an id would read outside the table.
  void check_token_ids(const int32_t* ids, size_t count, const std::string& what) const;
};

}  // namespace mlxlab
