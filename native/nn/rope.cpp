// RoPE variants (mlx-lm rope_utils.py initialize_rope): default, linear and llama3 scaling.
#include "nn/rope.h"

#include <cmath>

#include "errors.h"

namespace mlxlab::nn {

namespace {

// mlx-lm Llama3RoPE: long wavelengths slowed by `factor`, a smooth ramp between.
mx::array llama3_freqs(int dims, float base, const RopeScaling& s) {
  float low_freq_wavelen =
      static_cast<float>(s.original_max_position_embeddings) / s.low_freq_factor;
  float high_freq_wavelen =
      static_cast<float>(s.original_max_position_embeddings) / s.high_freq_factor;
  auto exponents = mx::divide(mx::arange(0.0, static_cast<double>(dims), 2.0, mx::float32),
                              mx::array(static_cast<float>(dims)));
  auto freqs = mx::power(mx::array(base, mx::float32), exponents);
  auto wavelens = mx::multiply(mx::array(static_cast<float>(2 * M_PI)), freqs);
  freqs = mx::where(mx::greater(wavelens, mx::array(low_freq_wavelen)),
                    mx::multiply(freqs, mx::array(s.factor)), freqs);
  auto is_medium = mx::logical_and(mx::greater(wavelens, mx::array(high_freq_wavelen)),
                                   mx::less(wavelens, mx::array(low_freq_wavelen)));
  auto smooth = mx::divide(
      mx::subtract(
          mx::divide(mx::array(static_cast<float>(s.original_max_position_embeddings)), wavelens),
          mx::array(s.low_freq_factor)),
      mx::array(s.high_freq_factor - s.low_freq_factor));
  auto smooth_freqs = mx::divide(
      freqs,
      mx::add(mx::divide(mx::subtract(mx::array(1.0f), smooth), mx::array(s.factor)), smooth));
  auto out = mx::where(is_medium, smooth_freqs, freqs);
  mx::eval(out);
  return out;
}

}  // namespace

Rope Rope::make(int dims, float base, bool traditional, const RopeScaling& scaling) {
  Rope r;
  r.dims = dims;
  r.traditional = traditional;
  if (scaling.type == "default" || scaling.type.empty()) {
    r.base = base;
  } else if (scaling.type == "linear") {
    r.base = base;
    r.scale = 1.0f / scaling.factor;
  } else if (scaling.type == "llama3") {
    r.freqs = llama3_freqs(dims, base, scaling);
  } else {
    fail(codes::kConfig,
         "rope_scaling.type \"" + scaling.type + "\" is not supported (default, linear, llama3)");
  }
  return r;
}

mx::array Rope::operator()(const mx::array& x, int offset) const {
  return mx::fast::rope(x, dims, traditional, base, scale, offset, freqs);
}

mx::array Rope::operator()(const mx::array& x, const mx::array& offsets) const {
  return mx::fast::rope(x, dims, traditional, base, scale, offsets, freqs);
}

}  // namespace mlxlab::nn
