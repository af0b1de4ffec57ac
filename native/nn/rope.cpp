// RoPE variants (mlx-lm rope_utils.py initialize_rope): default, linear, llama3 and longrope
// scaling.
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

// One factor per rotated pair, each a positive finite number.
void check_factors(const std::vector<float>& f, int dims, const std::string& key) {
  if (static_cast<int>(f.size()) != dims / 2) {
    fail(codes::kConfig, "rope_scaling." + key + " must have " + std::to_string(dims / 2) +
                             " entries (one per pair of the " + std::to_string(dims) +
                             " RoPE dims), got " + std::to_string(f.size()));
  }
  for (size_t i = 0; i < f.size(); ++i) {
    if (!(std::isfinite(f[i]) && f[i] > 0)) {
      fail(codes::kConfig, "rope_scaling." + key + "[" + std::to_string(i) +
                               "] must be a positive number, got " + std::to_string(f[i]));
    }
  }
}

// mlx-lm SuScaledRoPE (Phi-3 "longrope", once "su"): the default periods base^(2i/dims) times
// long_factor, whatever the sequence length (mlx-lm never rotates with short_factor; it is
// checked, not used), and the rotated dims scaled by sqrt(1 + ln(s) / ln(original_max)) where
// s = max_position_embeddings / original_max exceeds 1.
Rope longrope(int dims, float base, const RopeScaling& s, int max_position_embeddings) {
  int original = s.original_max_position_embeddings;
  if (original < 2) {
    fail(codes::kConfig,
         "rope_scaling.original_max_position_embeddings must be at least 2 for longrope, got " +
             std::to_string(original));
  }
  check_factors(s.short_factor, dims, "short_factor");
  check_factors(s.long_factor, dims, "long_factor");
  Rope r;
  r.dims = dims;
  r.traditional = false;  // as mlx-lm, whatever rope_traditional says
  auto exponents = mx::divide(mx::arange(0.0, static_cast<double>(dims), 2.0, mx::float32),
                              mx::array(static_cast<float>(dims)));
  auto periods = mx::power(mx::array(base, mx::float32), exponents);
  auto factors = mx::array(s.long_factor.data(), {static_cast<int>(s.long_factor.size())});
  r.freqs = mx::multiply(factors, periods);
  mx::eval(*r.freqs);
  double extension = static_cast<double>(max_position_embeddings) / original;
  if (extension > 1.0) {
    r.input_scale = static_cast<float>(std::sqrt(1.0 + std::log(extension) / std::log(original)));
  }
  return r;
}

}  // namespace

Rope Rope::make(int dims, float base, bool traditional, const RopeScaling& scaling,
                int max_position_embeddings) {
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
  } else if (scaling.type == "longrope" || scaling.type == "su") {
    return longrope(dims, base, scaling, max_position_embeddings);
  } else {
    fail(codes::kConfig, "rope_scaling.type \"" + scaling.type +
                             "\" is not supported (default, linear, llama3, longrope)");
  }
  return r;
}

// x with its first `dims` features multiplied by input_scale (in x's dtype, as mlx-lm's scalar).
mx::array Rope::scaled(const mx::array& x) const {
  if (input_scale == 1.0f) return x;
  auto s = mx::array(input_scale, x.dtype());
  if (dims == x.shape(-1)) return mx::multiply(x, s);
  auto parts = mx::split(x, mx::Shape{dims}, -1);
  return mx::concatenate({mx::multiply(parts[0], s), parts[1]}, -1);
}

mx::array Rope::operator()(const mx::array& x, int offset) const {
  return mx::fast::rope(scaled(x), dims, traditional, base, scale, offset, freqs);
}

mx::array Rope::operator()(const mx::array& x, const mx::array& offsets) const {
  return mx::fast::rope(scaled(x), dims, traditional, base, scale, offsets, freqs);
}

}  // namespace mlxlab::nn
