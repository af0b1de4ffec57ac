// Rotary position embedding with the scalings mlx-lm supports (default, linear, llama3, longrope).
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
  std::optional<mx::array> freqs;  // llama3 and longrope scaling
  float input_scale = 1.0f;        // longrope: the rotated dims are multiplied by this first

  // Throws Error(E_CONFIG) for an unknown rope_scaling.type or bad longrope keys.
  // max_position_embeddings: the extended context, which sets longrope's attention factor.
  static Rope make(int dims, float base, bool traditional, const RopeScaling& scaling,
                   int max_position_embeddings = 0);
  mx::array operator()(const mx::array& x, int offset) const;
  mx::array operator()(const mx::array& x, const mx::array& offsets) const;  // one per row

 private:
  mx::array scaled(const mx::array& x) const;
};

}  // namespace mlxlab::nn
