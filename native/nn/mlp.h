// The SwiGLU feed-forward block: down_proj(silu(gate_proj(x)) * up_proj(x)) (mlx-lm llama.py MLP).
#pragma once

#include <string>

#include "nn/layers.h"

namespace mlxlab::nn {

struct Mlp {
  Linear gate_proj, up_proj, down_proj;

  // Take `path`.{gate,up,down}_proj out of `weights`: dims -> hidden_dims -> dims.
  static Mlp load(WeightTaker& weights, const std::string& path, int dims, int hidden_dims,
                  bool bias, const QuantConfig& quantization, const std::string& why);
  mx::array operator()(const mx::array& x) const;
  void collect(Weights& out) const;
};

}  // namespace mlxlab::nn
