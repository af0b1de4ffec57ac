#include "nn/weights.h"

#include <algorithm>
#include <sstream>

#include "errors.h"

namespace mlxlab::nn {

std::string shape_string(const mx::Shape& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << "]";
  return out.str();
}

namespace {

std::string dtype_name(mx::Dtype t) {
  std::ostringstream out;
  out << t;
  return out.str();
}

bool fits(WeightKind kind, mx::Dtype t) {
  switch (kind) {
    case WeightKind::kFloat: return mx::issubdtype(t, mx::floating);
    case WeightKind::kPacked: return t == mx::uint32;
    case WeightKind::kScales: return mx::issubdtype(t, mx::floating) || t == mx::uint8;
  }
  return false;
}

const char* kind_name(WeightKind kind) {
  switch (kind) {
    case WeightKind::kFloat: return "a floating type (float32, float16, bfloat16)";
    case WeightKind::kPacked: return "uint32 (packed quantized values)";
    case WeightKind::kScales: return "a floating type or uint8 (quantization scales)";
  }
  return "";
}

}  // namespace

const mx::array& WeightTaker::peek(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) fail(codes::kWeights, "missing weight \"" + name + "\"");
  return it->second;
}

void WeightTaker::check(const std::string& name, const mx::array& a, const mx::Shape& shape,
                        WeightKind kind) const {
  if (a.shape() != shape) {
    fail(codes::kWeights, "weight \"" + name + "\" has shape " + shape_string(a.shape()) +
                              ", expected " + shape_string(shape));
  }
  if (!fits(kind, a.dtype())) {
    fail(codes::kWeights, "weight \"" + name + "\" has dtype " + dtype_name(a.dtype()) +
                              ", expected " + kind_name(kind));
  }
}

mx::array WeightTaker::take(const std::string& name, const mx::Shape& shape, const std::string& why,
                            WeightKind kind) {
  auto it = weights_.find(name);
  if (it == weights_.end()) {
    fail(codes::kWeights, "missing weight \"" + name + "\" of shape " + shape_string(shape) +
                              (why.empty() ? "" : " (" + why + ")"));
  }
  check(name, it->second, shape, kind);
  mx::array a = it->second;
  weights_.erase(it);
  return a;
}

std::optional<mx::array> WeightTaker::take_optional(const std::string& name, const mx::Shape& shape,
                                                    WeightKind kind) {
  if (!has(name)) return std::nullopt;
  return take(name, shape, "", kind);
}

void WeightTaker::expect_empty() const {
  if (weights_.empty()) return;
  std::vector<std::string> names;
  for (auto& [name, a] : weights_) names.push_back(name);
  std::sort(names.begin(), names.end());
  std::string list;
  for (size_t i = 0; i < names.size() && i < 5; ++i) list += (i ? ", \"" : "\"") + names[i] + "\"";
  if (names.size() > 5) list += " and " + std::to_string(names.size() - 5) + " more";
  fail(codes::kWeights,
       std::to_string(names.size()) + " unexpected weight(s) the config does not use: " + list);
}

std::optional<QuantSpec> resolve_quant(const WeightTaker& weights, const std::string& path,
                                       int input_dims, const QuantConfig& config) {
  auto it = config.overrides.find(path);
  if (it != config.overrides.end()) return it->second;
  if (!weights.has(path + ".scales")) return std::nullopt;
  const auto& scales = weights.peek(path + ".scales");
  if (!weights.has(path + ".weight")) return config.base;  // take() reports the missing weight
  const auto& weight = weights.peek(path + ".weight");
  int groups = scales.ndim() ? scales.shape(-1) : 0;
  int packed = weight.ndim() ? weight.shape(-1) : 0;
  if (groups <= 0 || input_dims % groups != 0 || (packed * 32) % input_dims != 0) {
    fail(codes::kWeights, "weights \"" + path + ".weight\" " + shape_string(weight.shape()) +
                              " and \"" + path + ".scales\" " + shape_string(scales.shape()) +
                              " fit no quantization of " + std::to_string(input_dims) +
                              " input dims");
  }
  QuantSpec spec;
  spec.group_size = input_dims / groups;
  spec.bits = packed * 32 / input_dims;
  if (config.base && config.base->group_size == spec.group_size && config.base->bits == spec.bits) {
    return config.base;
  }
  if (scales.dtype() != mx::uint8) {
    spec.mode = "affine";
  } else if (spec.bits == 4 && spec.group_size == 16) {
    spec.mode = "nvfp4";
  } else if (spec.bits == 4 && spec.group_size == 32) {
    spec.mode = "mxfp4";
  } else if (spec.bits == 8 && spec.group_size == 32) {
    spec.mode = "mxfp8";
  } else {
    fail(codes::kWeights, "cannot infer the quantization mode of \"" + path +
                              "\": " + std::to_string(spec.bits) + " bits with group size " +
                              std::to_string(spec.group_size));
  }
  return spec;
}

}  // namespace mlxlab::nn
