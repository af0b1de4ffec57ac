// Taking named weights out of a loaded map with shape and dtype checks, so that a model build
// can report exactly which weight is missing, mis-shaped or left over.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "models/config.h"
#include "models/model.h"

namespace mlxlab::nn {

// What a weight may hold.
enum class WeightKind {
  kFloat,   // f32 / f16 / bf16 parameters
  kPacked,  // uint32 packed quantized values
  kScales,  // quantization scales: floating, or uint8 for the mx/nv fp modes
};

// "[64,32]"
std::string shape_string(const mx::Shape& shape);

class WeightTaker {
 public:
  explicit WeightTaker(Weights weights) : weights_(std::move(weights)) {}

  bool has(const std::string& name) const { return weights_.count(name) > 0; }
  const mx::array& peek(const std::string& name) const;

  // Remove and return a weight. Throws Error(E_WEIGHTS) when it is missing (the message says
  // `why` the config needs it), has another shape or a dtype that does not fit `kind`.
  mx::array take(const std::string& name, const mx::Shape& shape, const std::string& why,
                 WeightKind kind = WeightKind::kFloat);

  // Like take, but nullopt when absent.
  std::optional<mx::array> take_optional(const std::string& name, const mx::Shape& shape,
                                         WeightKind kind = WeightKind::kFloat);

  // Forget a weight the model does not use (e.g. rotary inv_freq buffers).
  void drop(const std::string& name) { weights_.erase(name); }

  // Throws Error(E_WEIGHTS) naming the first few weights nobody took.
  void expect_empty() const;

  Weights& remaining() { return weights_; }

 private:
  void check(const std::string& name, const mx::array& a, const mx::Shape& shape,
             WeightKind kind) const;
  Weights weights_;
};

// The quantization of the module at `path` with `input_dims` inputs: the config's override
// when it names the path, else what the saved .weight/.scales shapes imply (as mlx-lm infers
// it), else nullopt (full precision).
std::optional<QuantSpec> resolve_quant(const WeightTaker& weights, const std::string& path,
                                       int input_dims, const QuantConfig& config);

}  // namespace mlxlab::nn
