// Rotary position embedding with the scalings mlx-lm supports (default, linear, llama3).
#pragma once

#include <optional>

#include "models/config.h"
#include "models/model.h"

namespace mlxlab::nn {

// Rotary position embedding over the last axis of [B, H, L, D] (mlx-lm initialize_rope).
struct Rope {
  int dims = 0;
  bool traditional = false;
  std::optional<float> base;
  float scale = 1.0f;
  std::optional<mx::array> freqs;  // llama3 scaling

  // Throws Error(E_CONFIG) for a rope_scaling.type other than default, linear, llama3.
  static Rope make(int dims, float base, bool traditional, const RopeScaling& scaling);
  mx::array operator()(const mx::array& x, int offset) const;
  mx::array operator()(const mx::array& x, const mx::array& offsets) const;  // one per row
};

}  // namespace mlxlab::nn
