#include "kernels/dequant.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/pool.h"
#include "mlx/backend/cpu/encoder.h"

namespace mlxlab::kernels {

ParamType param_type(mx::Dtype t) {
  if (t == mx::bfloat16) return ParamType::kBFloat16;
  if (t == mx::float16) return ParamType::kFloat16;
  return ParamType::kFloat32;
}

namespace {

// Rows [n0, n1) of the float32 weight: w = scale * q + bias per group, q unpacked low bits first.
template <int Bits>
void dequantize_rows(const uint8_t* w, const void* scales, const void* biases, ParamType t, int K,
                     int group_size, float* out, int n0, int n1) {
  const int groups = K / group_size;
  const size_t row_bytes = static_cast<size_t>(K) * Bits / 8;
  for (int n = n0; n < n1; ++n) {
    const uint8_t* wr = w + n * row_bytes;
    float* o = out + static_cast<size_t>(n) * K;
    for (int g = 0; g < groups; ++g) {
      const size_t i = static_cast<size_t>(n) * groups + g;
      const float s = param(scales, i, t), b = param(biases, i, t);
      const int k0 = g * group_size;
      if constexpr (Bits == 4) {
        for (int k = k0; k < k0 + group_size; k += 2) {
          const uint8_t byte = wr[k / 2];
          o[k] = s * static_cast<float>(byte & 0x0f) + b;
          o[k + 1] = s * static_cast<float>(byte >> 4) + b;
        }
      } else {
        for (int k = k0; k < k0 + group_size; ++k) o[k] = s * static_cast<float>(wr[k]) + b;
      }
    }
  }
}

void run(const mx::array& w, const mx::array& scales, const mx::array& biases, mx::array& out,
         int group_size, int bits) {
  const int N = w.shape(0);
  const int K = w.shape(1) * 32 / bits;
  const auto* wq = reinterpret_cast<const uint8_t*>(w.data<uint32_t>());
  const ParamType t = param_type(scales.dtype());
  float* o = out.data<float>();
  const int parts = std::max(1, std::min(pool_threads(), N));
  pool_run(parts, [&](int p, int count) {
    const int n0 = static_cast<int>(static_cast<long>(N) * p / count);
    const int n1 = static_cast<int>(static_cast<long>(N) * (p + 1) / count);
    if (bits == 4) {
      dequantize_rows<4>(wq, scales.data<void>(), biases.data<void>(), t, K, group_size, o, n0, n1);
    } else {
      dequantize_rows<8>(wq, scales.data<void>(), biases.data<void>(), t, K, group_size, o, n0, n1);
    }
  });
}

}  // namespace

mx::array dequantize_f32(const mx::array& w, const mx::array& scales, const mx::array& biases,
                         int group_size, int bits, mx::StreamOrDevice s) {
  auto stream = mx::to_stream(s);
  mx::Shape shape = {w.shape(0), w.shape(1) * 32 / bits};
  return mx::array(std::move(shape), mx::float32,
                   std::make_shared<DequantizeF32>(stream, group_size, bits), {w, scales, biases});
}

void DequantizeF32::eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) {
  for (auto& in : inputs) {
    if (!in.flags().row_contiguous)
      throw std::runtime_error("DequantizeF32: inputs must be row-contiguous");
  }
  out.set_data(mx::allocator::malloc(out.nbytes()));
  auto& encoder = mx::cpu::get_command_encoder(stream());
  for (auto& in : inputs) encoder.set_input_array(in);
  encoder.set_output_array(out);
  encoder.dispatch(
      [w = mx::array::unsafe_weak_copy(inputs[0]), scales = mx::array::unsafe_weak_copy(inputs[1]),
       biases = mx::array::unsafe_weak_copy(inputs[2]), out = mx::array::unsafe_weak_copy(out),
       g = group_size_, bits = bits_]() mutable { run(w, scales, biases, out, g, bits); });
}

void DequantizeF32::eval_gpu(const std::vector<mx::array>&, mx::array&) {
  throw std::runtime_error("DequantizeF32 has no GPU path: qmatmul keeps GPU streams on MLX");
}

bool DequantizeF32::is_equivalent(const mx::Primitive& other) const {
  auto& o = static_cast<const DequantizeF32&>(other);
  return group_size_ == o.group_size_ && bits_ == o.bits_;
}

std::vector<mx::Shape> DequantizeF32::output_shapes(const std::vector<mx::array>& inputs) {
  return {{inputs[0].shape(0), inputs[0].shape(1) * 32 / bits_}};
}

}  // namespace mlxlab::kernels
