#include "kernels/qmatmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "errors.h"
#include "kernels/dequant.h"
#include "kernels/pool.h"
#include "kernels/qdot.h"
#include "mlx/backend/cpu/encoder.h"

namespace mlxlab::kernels {

namespace {

bool cpu_has(Isa isa) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  if (isa == Isa::kAvx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == Isa::kAvx512) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
  }
#elif defined(__aarch64__)
  if (isa == Isa::kNeon) return true;
#endif
  return isa == Isa::kScalar;
}

// -1 until first use, then an Isa.
std::atomic<int> g_isa{-1};

Isa best_isa() {
  auto all = available_isas();
  return all.back();
}

struct Path {
  RowKernel rows;
  int (*x_block)(int bits);
};

Path path_of(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return {rows_avx2, x_block_avx2};
    case Isa::kAvx512: return {rows_avx512, x_block_avx512};
    case Isa::kNeon: return {rows_neon, x_block_neon};
    default: return {rows_scalar, x_block_scalar};
  }
}

bool float_dtype(mx::Dtype t) { return t == mx::float32 || t == mx::bfloat16 || t == mx::float16; }

// Offset in elements of x's flat (row-major) element i, for any strides.
size_t strided_offset(const mx::array& x, size_t i) {
  size_t off = 0;
  for (int d = static_cast<int>(x.ndim()) - 1; d >= 0; --d) {
    size_t dim = static_cast<size_t>(x.shape(d));
    off += (i % dim) * static_cast<size_t>(x.strides()[d]);
    i /= dim;
  }
  return off;
}

// x as M x K float32, permuted within blocks of `block` elements (evens then odds; 0: as is).
void gather_x(const mx::array& x, int M, int K, int block, float* dst) {
  const ParamType t = param_type(x.dtype());
  const bool contiguous = x.flags().row_contiguous;
  const void* base = x.data<void>();
  for (int m = 0; m < M; ++m) {
    for (int k = 0; k < K; ++k) {
      size_t i = static_cast<size_t>(m) * K + k;
      size_t src = contiguous ? i : strided_offset(x, i);
      int dk = k;
      if (block > 0) {
        int j = k % block, half = block / 2;
        dk = k - j + (j % 2 == 0 ? j / 2 : half + j / 2);
      }
      dst[static_cast<size_t>(m) * K + dk] = param(base, src, t);
    }
  }
}

void run(const mx::array& x, const mx::array& w, const mx::array& scales, const mx::array& biases,
         mx::array& out, int group_size, int bits, Isa isa) {
  const int K = x.shape(-1);
  const int M = static_cast<int>(x.size() / K);
  const int N = w.shape(0);
  const Path path = path_of(isa);
  std::vector<float> xf(static_cast<size_t>(M) * K);
  gather_x(x, M, K, path.x_block(bits), xf.data());
  std::vector<float> yf;
  float* y = out.dtype() == mx::float32 ? out.data<float>() : nullptr;
  if (!y) {
    yf.resize(static_cast<size_t>(M) * N);
    y = yf.data();
  }
  QArgs a;
  a.x = xf.data();
  a.w = reinterpret_cast<const uint8_t*>(w.data<uint32_t>());
  a.scales = scales.data<void>();
  a.biases = biases.data<void>();
  a.param_type = param_type(scales.dtype());
  a.M = M;
  a.K = K;
  a.N = N;
  a.group_size = group_size;
  a.bits = bits;
  a.y = y;
  // Output rows in chunks of 16 (at least), one chunk per thread.
  const int parts = std::max(1, std::min(pool_threads(), (N + 15) / 16));
  pool_run(parts, [&](int p, int count) {
    int n0 = static_cast<int>(static_cast<long>(N) * p / count) & ~15;
    int n1 = p + 1 == count ? N : static_cast<int>(static_cast<long>(N) * (p + 1) / count) & ~15;
    path.rows(a, n0, n1);
  });
  if (!yf.empty()) {
    const size_t size = yf.size();
    if (out.dtype() == mx::bfloat16) {
      auto* o = out.data<mx::bfloat16_t>();
      for (size_t i = 0; i < size; ++i) o[i] = static_cast<mx::bfloat16_t>(yf[i]);
    } else {
      auto* o = out.data<mx::float16_t>();
      for (size_t i = 0; i < size; ++i) o[i] = static_cast<mx::float16_t>(yf[i]);
    }
  }
}

bool ready(const mx::array& a) {
  return a.status() != mx::array::Status::unscheduled && a.flags().row_contiguous;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
    default: return "scalar";
  }
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon})
    if (cpu_has(isa)) out.push_back(isa);
  return out;
}

Isa parse_isa(const std::string& name) {
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon})
    if (name == isa_name(isa)) return isa;
  fail(codes::kArgument,
       "MLX_LAB_KERNEL_ISA must be scalar, avx2, avx512 or neon, got \"" + name + "\"");
}

void set_isa(Isa isa) {
  if (!cpu_has(isa)) {
    fail(codes::kArgument, std::string("this CPU cannot run the ") + isa_name(isa) + " kernels");
  }
  g_isa.store(static_cast<int>(isa));
}

Isa active_isa() {
  int v = g_isa.load();
  if (v >= 0) return static_cast<Isa>(v);
  const char* env = std::getenv("MLX_LAB_KERNEL_ISA");
  if (env && *env) {
    set_isa(parse_isa(env));
  } else {
    g_isa.store(static_cast<int>(best_isa()));
  }
  return static_cast<Isa>(g_isa.load());
}

bool layout_supported(int group_size, int bits, const std::string& mode, bool has_biases) {
  if (mode != "affine" || (bits != 4 && bits != 8) || !has_biases) return false;
  return group_size == 32 || group_size == 64 || group_size == 128;
}

bool qmatmul_layout_supported(const mx::array& x, const mx::array& w, const mx::array& scales,
                              const std::optional<mx::array>& biases, int group_size, int bits,
                              const std::string& mode, mx::StreamOrDevice s) {
  if (!layout_supported(group_size, bits, mode, biases.has_value())) return false;
  if (mx::to_stream(s).device != mx::Device::cpu) return false;
  if (x.ndim() < 1 || !float_dtype(x.dtype())) return false;
  const int K = x.shape(-1);
  if (K <= 0 || K % group_size != 0 || x.size() == 0) return false;
  if (w.ndim() != 2 || w.dtype() != mx::uint32 || w.shape(1) * 32 / bits != K) return false;
  const mx::Shape params = {w.shape(0), K / group_size};
  if (scales.shape() != params || biases->shape() != params) return false;
  return float_dtype(scales.dtype()) && biases->dtype() == scales.dtype();
}

namespace {

// Whether x's rows fit our row kernel (at most kMaxRows).
bool few_rows(const mx::array& x) {
  return x.size() / x.shape(-1) <= static_cast<size_t>(kMaxRows);
}

}  // namespace

bool qmatmul_supported(const mx::array& x, const mx::array& w, const mx::array& scales,
                       const std::optional<mx::array>& biases, int group_size, int bits,
                       const std::string& mode, mx::StreamOrDevice s) {
  return qmatmul_layout_supported(x, w, scales, biases, group_size, bits, mode, s) && few_rows(x) &&
         ready(w) && ready(scales) && ready(*biases);
}

mx::array dense_qmatmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                        const mx::array& biases, int group_size, int bits, mx::StreamOrDevice s) {
  auto stream = mx::to_stream(s);
  auto dtype = mx::promote_types(x.dtype(), scales.dtype());
  // The float32 weight, made where it is used and dropped after: no copy outlives the call.
  auto dense = [=](const mx::array& wq, const mx::array& sc, const mx::array& bi) {
    return dequantize_f32(wq, sc, bi, group_size, bits, stream);
  };
  auto forward = [=](const std::vector<mx::array>& in) -> std::vector<mx::array> {
    auto xf = mx::astype(in[0], mx::float32, stream);
    auto y = mx::matmul(xf, mx::transpose(dense(in[1], in[2], in[3]), stream), stream);
    return {mx::astype(y, dtype, stream)};
  };
  // The backward pass dequantizes again instead of keeping the forward's float32 weight alive.
  auto backward = [=](const std::vector<mx::array>& in, const std::vector<mx::array>& cot,
                      const std::vector<mx::array>&) -> std::vector<mx::array> {
    auto g = mx::astype(cot[0], mx::float32, stream);
    auto dx = mx::astype(mx::matmul(g, dense(in[1], in[2], in[3]), stream), in[0].dtype(), stream);
    return {dx, mx::zeros_like(in[1], stream), mx::zeros_like(in[2], stream),
            mx::zeros_like(in[3], stream)};
  };
  return mx::custom_vjp(forward, backward)({x, w, scales, biases})[0];
}

mx::array qmatmul(const mx::array& x, const mx::array& w, const mx::array& scales,
                  const std::optional<mx::array>& biases, int group_size, int bits,
                  const std::string& mode, mx::StreamOrDevice s) {
  if (!qmatmul_layout_supported(x, w, scales, biases, group_size, bits, mode, s) || !ready(w) ||
      !ready(scales) || !ready(*biases)) {
    return mx::quantized_matmul(x, w, scales, biases, true, group_size, bits, mode, s);
  }
  if (!few_rows(x)) return dense_qmatmul(x, w, scales, *biases, group_size, bits, s);
  auto stream = mx::to_stream(s);
  auto dtype = mx::promote_types(x.dtype(), scales.dtype());
  auto xin = x.dtype() == dtype ? x : mx::astype(x, dtype, stream);
  auto shape = x.shape();
  shape.back() = w.shape(0);
  return mx::array(std::move(shape), dtype,
                   std::make_shared<QuantizedMatmulRows>(stream, group_size, bits),
                   {xin, w, scales, *biases});
}

void QuantizedMatmulRows::eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) {
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (!inputs[i].flags().row_contiguous)
      throw std::runtime_error("QuantizedMatmulRows: weights must be row-contiguous");
  }
  out.set_data(mx::allocator::malloc(out.nbytes()));
  const Isa isa = active_isa();
  auto& encoder = mx::cpu::get_command_encoder(stream());
  for (auto& in : inputs) encoder.set_input_array(in);
  encoder.set_output_array(out);
  encoder.dispatch([x = mx::array::unsafe_weak_copy(inputs[0]),
                    w = mx::array::unsafe_weak_copy(inputs[1]),
                    scales = mx::array::unsafe_weak_copy(inputs[2]),
                    biases = mx::array::unsafe_weak_copy(inputs[3]),
                    out = mx::array::unsafe_weak_copy(out), g = group_size_, bits = bits_,
                    isa]() mutable { run(x, w, scales, biases, out, g, bits, isa); });
}

void QuantizedMatmulRows::eval_gpu(const std::vector<mx::array>&, mx::array&) {
  throw std::runtime_error("QuantizedMatmulRows has no GPU path: use kernels::qmatmul");
}

std::vector<mx::array> QuantizedMatmulRows::vjp(const std::vector<mx::array>& primals,
                                                const std::vector<mx::array>& cotangents,
                                                const std::vector<int>& argnums,
                                                const std::vector<mx::array>&) {
  std::vector<mx::array> grads;
  for (int arg : argnums) {
    if (arg != 0) throw std::invalid_argument("QuantizedMatmulRows: no gradient for the weights");
    // g [.., N] . dequantize(w) [N, K]: MLX's kernel with transpose=false (any row count).
    auto dx = mx::quantized_matmul(cotangents[0], primals[1], primals[2], primals[3], false,
                                   group_size_, bits_, "affine", stream());
    grads.push_back(mx::astype(dx, primals[0].dtype(), stream()));
  }
  return grads;
}

std::vector<mx::array> QuantizedMatmulRows::jvp(const std::vector<mx::array>& primals,
                                                const std::vector<mx::array>& tangents,
                                                const std::vector<int>& argnums) {
  for (int arg : argnums) {
    if (arg != 0) throw std::invalid_argument("QuantizedMatmulRows: no gradient for the weights");
  }
  return {qmatmul(tangents[0], primals[1], primals[2], primals[3], group_size_, bits_, "affine",
                  stream())};
}

bool QuantizedMatmulRows::is_equivalent(const mx::Primitive& other) const {
  auto& o = static_cast<const QuantizedMatmulRows&>(other);
  return group_size_ == o.group_size_ && bits_ == o.bits_;
}

std::vector<mx::Shape> QuantizedMatmulRows::output_shapes(const std::vector<mx::array>& inputs) {
  auto shape = inputs[0].shape();
  shape.back() = inputs[1].shape(0);
  return {shape};
}

}  // namespace mlxlab::kernels
