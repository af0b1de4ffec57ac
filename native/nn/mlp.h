// The SwiGLU feed-forward block: down_proj(silu(gate_proj(x)) * up_proj(x)) (mlx-lm llama.py MLP),
// or with gate and up fused into one gate_up_proj whose outputs are gate then up (phi3.py MLP),
// or with GELU (tanh approximation) for silu (gemma3_text.py MLP).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nn/layers.h"

namespace mlxlab::nn {

// The gate's activation: silu (SwiGLU) or the tanh approximation of GELU (gemma3's GeGLU).
enum class Activation { kSilu, kGeluApprox };

struct Mlp {
  Linear gate_proj, up_proj, down_proj;  // gate/up unused when gate_up_proj is set
  std::optional<Linear> gate_up_proj;    // phi3
  Activation activation = Activation::kSilu;

  // Take `path`.{gate,up,down}_proj (or gate_up_proj, down_proj when `fused`) out of `weights`:
  // dims -> hidden_dims -> dims.
  static Mlp load(WeightTaker& weights, const std::string& path, int dims, int hidden_dims,
                  bool bias, const QuantConfig& quantization, const std::string& why,
                  bool fused = false, Activation activation = Activation::kSilu);
  mx::array operator()(const mx::array& x) const;
  void collect(Weights& out) const;
  // The projections in the order the mlx-lm module defines them: gate, down, up (or gate_up,
  // down).
  std::vector<Linear*> projections();
  std::vector<const Linear*> projections() const;
};

}  // namespace mlxlab::nn
