#include "nn/layers.h"

#include <cmath>

#include "errors.h"
#include "kernels/qmatmul.h"

namespace mlxlab::nn {

namespace {

// Shapes of a quantized [.., out, in] weight: packed values and per-group scales.
mx::Shape packed_shape(mx::Shape lead, int out, int in, const QuantSpec& q) {
  lead.push_back(out);
  lead.push_back(in * q.bits / 32);
  return lead;
}
mx::Shape scales_shape(mx::Shape lead, int out, int in, const QuantSpec& q) {
  lead.push_back(out);
  lead.push_back(in / q.group_size);
  return lead;
}

void check_spec(const std::string& path, int in, const QuantSpec& q) {
  if (q.group_size <= 0 || q.bits <= 0 || in % q.group_size != 0 || (in * q.bits) % 32 != 0) {
    fail(codes::kWeights, "\"" + path + "\": quantization group_size=" +
                              std::to_string(q.group_size) + " bits=" + std::to_string(q.bits) +
                              " does not divide its " + std::to_string(in) + " input dims");
  }
}

// Weight, scales and (affine) biases of a possibly quantized [lead.., out, in] weight.
struct LoadedWeight {
  mx::array weight;
  std::optional<mx::array> scales, biases;
  std::optional<QuantSpec> quant;
};

LoadedWeight load_weight(WeightTaker& w, const std::string& path, const mx::Shape& lead, int out,
                         int in, const QuantConfig& quantization, const std::string& why) {
  auto quant = resolve_quant(w, path, in, quantization);
  const std::string weight_name = path + ".weight";
  if (!quant) {
    // A packed weight without scales: say what is missing rather than a shape mismatch.
    if (w.has(weight_name) && w.peek(weight_name).dtype() == mx::uint32) {
      fail(codes::kWeights,
           "missing weight \"" + path + ".scales\" (\"" + weight_name + "\" is quantized)");
    }
    mx::Shape shape = lead;
    shape.push_back(out);
    shape.push_back(in);
    return {w.take(weight_name, shape, why), std::nullopt, std::nullopt, std::nullopt};
  }
  check_spec(path, in, *quant);
  auto weight = w.take(weight_name, packed_shape(lead, out, in, *quant), why, WeightKind::kPacked);
  auto scales = w.take(path + ".scales", scales_shape(lead, out, in, *quant),
                       "quantized " + weight_name, WeightKind::kScales);
  std::optional<mx::array> biases;
  if (quant->mode == "affine") {
    biases = w.take(path + ".biases", scales_shape(lead, out, in, *quant),
                    "affine-quantized " + weight_name, WeightKind::kScales);
  }
  return {weight, scales, biases, quant};
}

void put(Weights& out, const std::string& name, const std::optional<mx::array>& a) {
  if (a) out.insert_or_assign(name, *a);
}

}  // namespace

// ---- Linear

Linear Linear::load(WeightTaker& w, const std::string& path, int input_dims, int output_dims,
                    bool has_bias, const QuantConfig& quantization, const std::string& why) {
  auto loaded = load_weight(w, path, {}, output_dims, input_dims, quantization, why);
  Linear l;
  l.path = path;
  l.input_dims = input_dims;
  l.output_dims = output_dims;
  l.weight = loaded.weight;
  l.scales = loaded.scales;
  l.biases = loaded.biases;
  l.quant = loaded.quant;
  if (has_bias) l.bias = w.take(path + ".bias", {output_dims}, why + ", with bias");
  return l;
}

mx::array Linear::base(const mx::array& x) const {
  if (compute_weight) {
    auto w = mx::transpose(*compute_weight);
    return bias ? mx::addmm(*bias, x, w) : mx::matmul(x, w);
  }
  if (quant) {
    // Our kernel takes few rows of a supported layout and hands the rest to quantized_matmul.
    auto y = use_kernels ? kernels::qmatmul(x, weight, *scales, biases, quant->group_size,
                                            quant->bits, quant->mode)
                         : mx::quantized_matmul(x, weight, *scales, biases, true, quant->group_size,
                                                quant->bits, quant->mode);
    return bias ? mx::add(y, *bias) : y;
  }
  if (bias) return mx::addmm(*bias, x, mx::transpose(weight));
  return mx::matmul(x, mx::transpose(weight));
}

mx::array Linear::operator()(const mx::array& x) const {
  auto y = base(x);
  return lora ? lora->apply(x, y) : y;
}

mx::array Linear::dense_weight() const {
  if (!quant) return weight;
  return mx::dequantize(weight, *scales, biases, quant->group_size, quant->bits, quant->mode);
}

void Linear::collect(Weights& out) const {
  out.insert_or_assign(path + ".weight", weight);
  put(out, path + ".scales", scales);
  put(out, path + ".biases", biases);
  put(out, path + ".bias", bias);
}

// ---- SwitchLinear

SwitchLinear SwitchLinear::load(WeightTaker& w, const std::string& path, int num_experts,
                                int input_dims, int output_dims, bool has_bias,
                                const QuantConfig& quantization, const std::string& why) {
  auto loaded = load_weight(w, path, {num_experts}, output_dims, input_dims, quantization, why);
  SwitchLinear l;
  l.path = path;
  l.num_experts = num_experts;
  l.input_dims = input_dims;
  l.output_dims = output_dims;
  l.weight = loaded.weight;
  l.scales = loaded.scales;
  l.biases = loaded.biases;
  l.quant = loaded.quant;
  if (has_bias) l.bias = w.take(path + ".bias", {num_experts, output_dims}, why + ", with bias");
  return l;
}

mx::array SwitchLinear::base(const mx::array& x, const mx::array& indices, bool sorted) const {
  mx::array y =
      compute_weight
          ? mx::gather_mm(x, mx::swapaxes(*compute_weight, -1, -2), std::nullopt, indices, sorted)
      : quant ? mx::gather_qmm(x, weight, *scales, biases, std::nullopt, indices, true,
                               quant->group_size, quant->bits, quant->mode, std::nullopt, sorted)
              : mx::gather_mm(x, mx::swapaxes(weight, -1, -2), std::nullopt, indices, sorted);
  if (bias) y = mx::add(y, mx::expand_dims(mx::take(*bias, indices, 0), -2));
  return y;
}

mx::array SwitchLinear::operator()(const mx::array& x, const mx::array& indices,
                                   bool sorted) const {
  auto y = base(x, indices, sorted);
  return lora ? lora->apply(x, indices, sorted, y) : y;
}

void SwitchLinear::collect(Weights& out) const {
  out.insert_or_assign(path + ".weight", weight);
  put(out, path + ".scales", scales);
  put(out, path + ".biases", biases);
  put(out, path + ".bias", bias);
}

// ---- Embedding

Embedding Embedding::load(WeightTaker& w, const std::string& path, int num_embeddings, int dims,
                          const QuantConfig& quantization, const std::string& why) {
  auto loaded = load_weight(w, path, {}, num_embeddings, dims, quantization, why);
  Embedding e;
  e.path = path;
  e.num_embeddings = num_embeddings;
  e.dims = dims;
  e.weight = loaded.weight;
  e.scales = loaded.scales;
  e.biases = loaded.biases;
  e.quant = loaded.quant;
  return e;
}

mx::array Embedding::operator()(const mx::array& tokens) const {
  if (compute_weight) return mx::take(*compute_weight, tokens, 0);
  if (!quant) return mx::take(weight, tokens, 0);
  std::optional<mx::array> rows_biases;
  if (biases) rows_biases = mx::take(*biases, tokens, 0);
  // With our kernels the rows come out float32, so the activations are float32 as with copies.
  std::optional<mx::Dtype> dtype;
  if (use_kernels) dtype = mx::float32;
  return mx::dequantize(mx::take(weight, tokens, 0), mx::take(*scales, tokens, 0), rows_biases,
                        quant->group_size, quant->bits, quant->mode, std::nullopt, dtype);
}

mx::array Embedding::as_linear(const mx::array& x) const {
  if (compute_weight) return mx::matmul(x, mx::transpose(*compute_weight));
  if (!quant) return mx::matmul(x, mx::transpose(weight));
  if (use_kernels) {
    return kernels::qmatmul(x, weight, *scales, biases, quant->group_size, quant->bits,
                            quant->mode);
  }
  return mx::quantized_matmul(x, weight, *scales, biases, true, quant->group_size, quant->bits,
                              quant->mode);
}

void Embedding::collect(Weights& out) const {
  out.insert_or_assign(path + ".weight", weight);
  put(out, path + ".scales", scales);
  put(out, path + ".biases", biases);
}

// ---- RMSNorm

RMSNorm RMSNorm::load(WeightTaker& w, const std::string& path, int dims, float eps,
                      const std::string& why, float offset) {
  RMSNorm n;
  n.path = path;
  n.weight = w.take(path + ".weight", {dims}, why);
  n.eps = eps;
  n.offset = offset;
  return n;
}

mx::array RMSNorm::operator()(const mx::array& x) const {
  if (offset == 0.0f) return mx::fast::rms_norm(x, weight, eps);
  return mx::fast::rms_norm(x, mx::add(mx::array(offset, weight.dtype()), weight), eps);
}

void RMSNorm::collect(Weights& out) const { out.insert_or_assign(path + ".weight", weight); }

mx::array swiglu(const mx::array& gate, const mx::array& x) {
  return mx::multiply(mx::multiply(gate, mx::sigmoid(gate)), x);
}

mx::array gelu_approx(const mx::array& x) {
  auto t = x.dtype();
  auto cubic = mx::multiply(mx::array(0.044715f, t), mx::power(x, mx::array(3.0f, t)));
  auto inner =
      mx::multiply(mx::array(static_cast<float>(std::sqrt(2.0 / M_PI)), t), mx::add(x, cubic));
  auto half_x = mx::multiply(mx::array(0.5f, t), x);
  return mx::multiply(half_x, mx::add(mx::array(1.0f, t), mx::tanh(inner)));
}

}  // namespace mlxlab::nn
