// The quantized matmul kernel (native/kernels) against mx::quantized_matmul: a fuzzed set of
// shapes, group sizes, bit widths and scale dtypes under every SIMD path this CPU has, the
// gradient, the fallbacks, and the bound failing on real defects.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>

#include "errors.h"
#include "harness.h"
#include "kernels/dequant.h"
#include "kernels/pool.h"
#include "kernels/qmatmul.h"

namespace mx = mlx::core;
namespace k = mlxlab::kernels;

namespace {

struct Quantized {
  mx::array w, scales, biases;
};

// A random N x K weight quantized by MLX, scales and biases stored as `dtype`.
Quantized quantized_weight(int N, int K, int group, int bits, mx::Dtype dtype, uint64_t seed) {
  auto key = mx::random::key(seed);
  auto dense = mx::random::normal({N, K}, mx::float32, 0.0f, 0.05f, key);
  auto q = mx::quantize(dense, group, bits);
  Quantized out{q[0], mx::astype(q[1], dtype), mx::astype(q[2], dtype)};
  mx::eval({out.w, out.scales, out.biases});
  return out;
}

// The output scale: sum_k |x[m, k] * w[n, k]| per output, the size float rounding works on.
mx::array output_scale(const mx::array& x, const Quantized& q, int group, int bits) {
  auto dense =
      mx::dequantize(q.w, q.scales, q.biases, group, bits, "affine", std::nullopt, mx::float32);
  return mx::matmul(mx::abs(mx::astype(x, mx::float32)), mx::transpose(mx::abs(dense)));
}

// Worst |ours - ref| / (tol * scale + floor) over the outputs: <= 1 passes.
double bound_ratio(const mx::array& ours, const mx::array& ref, const mx::array& scale,
                   double tol) {
  auto diff = mx::abs(mx::subtract(mx::astype(ours, mx::float32), mx::astype(ref, mx::float32)));
  auto floor = mx::multiply(mx::max(scale), mx::array(static_cast<float>(tol * 1e-3)));
  auto ratio =
      mx::divide(diff, mx::add(mx::multiply(scale, mx::array(static_cast<float>(tol))), floor));
  return mx::max(ratio).item<float>();
}

// Relative tolerance: float32 accumulation in another order; a half-precision output adds
// its rounding (2^-8 relative for bfloat16).
double tolerance(mx::Dtype out) { return out == mx::float32 ? 2e-5 : 1e-2; }

struct Case {
  int M, K, N, group, bits;
  mx::Dtype param = mx::float32, x = mx::float32;
};

std::vector<Case> fuzz_cases(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int groups[] = {32, 64, 128};
  const mx::Dtype params[] = {mx::float32, mx::bfloat16, mx::float16};
  std::vector<Case> cases;
  for (int i = 0; i < count; ++i) {
    Case c;
    c.group = groups[pick(0, 2)];
    c.bits = pick(0, 1) ? 4 : 8;
    c.M = i < 4 ? 1 + i * 7 : pick(1, 32);
    c.K = c.group * pick(1, 12);  // 32 .. 1536: many not multiples of 64
    c.N = pick(1, 300);           // not multiples of the thread chunks
    c.param = params[pick(0, 2)];
    c.x = pick(0, 4) == 0 ? c.param : mx::float32;  // sometimes a half-precision output
    cases.push_back(c);
  }
  return cases;
}

std::string describe(const Case& c) {
  std::ostringstream s;
  s << "M=" << c.M << " K=" << c.K << " N=" << c.N << " group=" << c.group << " bits=" << c.bits
    << " params=" << c.param << " x=" << c.x;
  return s.str();
}

// Run the fuzzed cases under the active path; the worst bound ratios (float32 outputs, all).
std::pair<double, double> check_cases(const std::vector<Case>& cases, uint64_t seed) {
  double worst = 0, worst32 = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    auto q = quantized_weight(c.N, c.K, c.group, c.bits, c.param, seed + i);
    auto x =
        mx::astype(mx::random::normal({c.M, c.K}, mx::float32, mx::random::key(seed + 7 * i)), c.x);
    auto ours = k::qmatmul(x, q.w, q.scales, q.biases, c.group, c.bits);
    auto ref = mx::quantized_matmul(x, q.w, q.scales, q.biases, true, c.group, c.bits);
    CHECK_MSG(std::string(ours.primitive().name()) == "QuantizedMatmulRows",
              "not routed to our kernel: " << describe(c));
    CHECK_MSG(ours.dtype() == ref.dtype() && ours.shape() == ref.shape(),
              "dtype/shape differ from MLX: " << describe(c));
    double r = bound_ratio(ours, ref, output_scale(x, q, c.group, c.bits), tolerance(ours.dtype()));
    CHECK_MSG(r <= 1.0, "outside the bound (ratio " << r << "): " << describe(c));
    worst = std::max(worst, r);
    if (ours.dtype() == mx::float32) worst32 = std::max(worst32, r);
  }
  return {worst32, worst};
}

}  // namespace

TEST(kernels_qmatmul_every_isa) {
  auto cases = fuzz_cases(60, 19);
  const k::Isa before = k::active_isa();
  for (k::Isa isa : k::available_isas()) {
    k::set_isa(isa);
    for (int threads : {1, 3}) {
      k::set_pool_threads(threads);
      auto [worst32, worst] = check_cases(cases, 1000);
      std::cout << "  " << k::isa_name(isa) << " threads=" << threads << ": " << cases.size()
                << " cases, worst error " << worst32 << " of the bound (float32 outputs), " << worst
                << " (all)" << std::endl;
    }
  }
  k::set_pool_threads(0);
  k::set_isa(before);
}

TEST(kernels_qmatmul_leading_dims_and_strided_x) {
  const k::Isa before = k::active_isa();
  auto q = quantized_weight(70, 192, 64, 4, mx::bfloat16, 5);
  // [2, 3, K] rows and a transposed (non-contiguous) x.
  auto x3 = mx::random::normal({2, 3, 192}, mx::float32, mx::random::key(6));
  auto xt = mx::transpose(mx::random::normal({192, 5}, mx::float32, mx::random::key(7)));
  for (const auto& x : {x3, xt}) {
    for (k::Isa isa : k::available_isas()) {
      k::set_isa(isa);
      auto ours = k::qmatmul(x, q.w, q.scales, q.biases, 64, 4);
      auto ref = mx::quantized_matmul(x, q.w, q.scales, q.biases, true, 64, 4);
      CHECK(ours.shape() == ref.shape());
      auto scale = mx::reshape(output_scale(mx::reshape(x, {-1, 192}), q, 64, 4), ref.shape());
      CHECK(bound_ratio(ours, ref, scale, 2e-5) <= 1.0);
    }
  }
  k::set_isa(before);
}

TEST(kernels_qmatmul_bound_catches_defects) {
  // The same bound must fail on a swapped nibble order and on the scales of the wrong group.
  const k::Isa before = k::active_isa();
  const int M = 3, K = 256, N = 40, group = 64;
  auto q = quantized_weight(N, K, group, 4, mx::float32, 11);
  auto x = mx::random::normal({M, K}, mx::float32, mx::random::key(12));
  auto ref = mx::quantized_matmul(x, q.w, q.scales, q.biases, true, group, 4);
  auto scale = output_scale(x, q, group, 4);
  auto mask = mx::array(0x0f0f0f0fu, mx::uint32);
  auto four = mx::array(4u, mx::uint32);
  auto swapped = mx::bitwise_or(mx::left_shift(mx::bitwise_and(q.w, mask), four),
                                mx::bitwise_and(mx::right_shift(q.w, four), mask));
  auto rolled_scales = mx::roll(q.scales, 1, 1);
  mx::eval({swapped, rolled_scales});
  for (k::Isa isa : k::available_isas()) {
    k::set_isa(isa);
    double good = bound_ratio(k::qmatmul(x, q.w, q.scales, q.biases, group, 4), ref, scale, 2e-5);
    double nibbles =
        bound_ratio(k::qmatmul(x, swapped, q.scales, q.biases, group, 4), ref, scale, 2e-5);
    double groups =
        bound_ratio(k::qmatmul(x, q.w, rolled_scales, q.biases, group, 4), ref, scale, 2e-5);
    std::cout << "  " << k::isa_name(isa) << ": correct " << good << ", swapped nibbles " << nibbles
              << ", wrong group's scales " << groups << " (of the bound)" << std::endl;
    CHECK(good <= 1.0);
    CHECK(nibbles > 100.0);
    CHECK(groups > 100.0);
  }
  k::set_isa(before);
}

TEST(kernels_qmatmul_vjp) {
  // LoRA over a frozen quantized base: the gradient flows to x, as through MLX's kernel.
  auto q = quantized_weight(48, 128, 32, 8, mx::bfloat16, 21);
  auto x = mx::random::normal({4, 128}, mx::float32, mx::random::key(22));
  auto r = mx::random::normal({4, 48}, mx::float32, mx::random::key(23));
  auto loss = [&](bool ours) {
    return [&, ours](const mx::array& xi) {
      auto y = ours ? k::qmatmul(xi, q.w, q.scales, q.biases, 32, 8)
                    : mx::quantized_matmul(xi, q.w, q.scales, q.biases, true, 32, 8);
      return mx::sum(mx::multiply(y, r));
    };
  };
  auto g_ours = mx::grad(std::function<mx::array(const mx::array&)>(loss(true)))(x);
  auto g_ref = mx::grad(std::function<mx::array(const mx::array&)>(loss(false)))(x);
  CHECK(g_ours.shape() == x.shape());
  double diff = testing::max_abs_diff(g_ours, g_ref);
  double size = mx::max(mx::abs(g_ref)).item<float>();
  CHECK_MSG(diff <= 1e-5 * size, "gradient differs by " << diff << " (max " << size << ")");
}

TEST(kernels_qmatmul_compiled_grad) {
  // Training compiles its gradient function (native/train.cpp): the primitive inside mx::compile.
  auto q = quantized_weight(40, 96, 32, 4, mx::float32, 41);
  auto r = mx::random::normal({2, 40}, mx::float32, mx::random::key(42));
  auto x = mx::random::normal({2, 96}, mx::float32, mx::random::key(43));
  auto loss = [&](const mx::array& xi) {
    return mx::sum(mx::multiply(k::qmatmul(xi, q.w, q.scales, q.biases, 32, 4), r));
  };
  std::function<std::vector<mx::array>(const std::vector<mx::array>&)> step =
      [&](const std::vector<mx::array>& in) {
        auto [value, g] =
            mx::value_and_grad(std::function<mx::array(const mx::array&)>(loss))(in[0]);
        return std::vector<mx::array>{value, g};
      };
  auto compiled = mx::compile(step);
  auto plain = step({x});
  auto fast = compiled({x});
  auto again = compiled({mx::multiply(x, mx::array(2.0f))});
  CHECK(testing::max_abs_diff(plain[0], fast[0]) <= 1e-4 * std::abs(plain[0].item<float>()) + 1e-5);
  CHECK(testing::max_abs_diff(plain[1], fast[1]) <= 1e-6);
  CHECK(testing::max_abs_diff(again[1], plain[1]) <= 1e-6);  // linear in x: same gradient
}

TEST(kernels_qmatmul_falls_back) {
  auto q = quantized_weight(16, 64, 32, 4, mx::float32, 31);
  // 2 bits, a lazy (unevaluated) weight: MLX's own kernel.
  auto q2 = mx::quantize(mx::random::normal({16, 64}, mx::float32, mx::random::key(33)), 32, 2);
  mx::eval(q2);
  auto one = mx::random::normal({1, 64}, mx::float32, mx::random::key(34));
  CHECK(std::string(k::qmatmul(one, q2[0], q2[1], q2[2], 32, 2).primitive().name()) ==
        "QuantizedMatmul");
  auto lazy = mx::add(q.w, mx::array(0u, mx::uint32));
  CHECK(std::string(k::qmatmul(one, lazy, q.scales, q.biases, 32, 4).primitive().name()) ==
        "QuantizedMatmul");
  CHECK(!k::qmatmul_supported(one, q.w, q.scales, std::nullopt, 32, 4, "affine"));
}

TEST(kernels_dequantize_f32) {
  // Our float32 dequantization equals MLX's float32 one over fuzzed layouts (scale * q + bias,
  // one rounding or a fused one: within 1 ulp of the value's scale); a wrong nibble order or
  // group misses by far.
  std::mt19937_64 rng(5);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int groups[] = {32, 64, 128};
  const mx::Dtype params[] = {mx::float32, mx::bfloat16, mx::float16};
  for (int threads : {1, 3}) {
    k::set_pool_threads(threads);
    for (int i = 0; i < 30; ++i) {
      const int group = groups[pick(0, 2)], bits = pick(0, 1) ? 4 : 8;
      const int N = pick(1, 200), K = group * pick(1, 8);
      auto q = quantized_weight(N, K, group, bits, params[pick(0, 2)], 300 + i);
      auto ours = k::dequantize_f32(q.w, q.scales, q.biases, group, bits);
      // MLX with float32 scales: with half-precision ones it rounds to their precision first.
      auto ref =
          mx::dequantize(q.w, mx::astype(q.scales, mx::float32), mx::astype(q.biases, mx::float32),
                         group, bits, "affine", std::nullopt, mx::float32);
      CHECK(ours.dtype() == mx::float32 && ours.shape() == ref.shape());
      const double size = mx::max(mx::abs(ref)).item<float>();
      const double diff = testing::max_abs_diff(ours, ref);
      CHECK_MSG(diff <= 1.2e-7 * size, "dequantize_f32 differs by "
                                           << diff << " (max " << size << ") N=" << N << " K=" << K
                                           << " group=" << group << " bits=" << bits);
    }
  }
  k::set_pool_threads(0);
}

TEST(kernels_qmatmul_many_rows) {
  // Above kMaxRows: a float32 weight made for the call, an f32 matmul; gradients to x as MLX's.
  for (auto [group, bits] : {std::pair{32, 4}, std::pair{64, 8}, std::pair{128, 4}}) {
    auto q = quantized_weight(72, 256, group, bits, mx::bfloat16, 50 + bits);
    auto x = mx::random::normal({k::kMaxRows + 9, 256}, mx::float32, mx::random::key(51));
    auto r = mx::random::normal({k::kMaxRows + 9, 72}, mx::float32, mx::random::key(52));
    CHECK(!k::qmatmul_supported(x, q.w, q.scales, q.biases, group, bits, "affine"));
    CHECK(k::qmatmul_layout_supported(x, q.w, q.scales, q.biases, group, bits, "affine"));
    auto ours = k::qmatmul(x, q.w, q.scales, q.biases, group, bits);
    auto ref = mx::quantized_matmul(x, q.w, q.scales, q.biases, true, group, bits);
    CHECK(ours.dtype() == mx::float32 && ours.shape() == ref.shape());
    double ratio = bound_ratio(ours, ref, output_scale(x, q, group, bits), 2e-5);
    CHECK_MSG(ratio <= 1.0, "many rows outside the bound (ratio " << ratio << ")");
    auto loss = [&](bool mine) {
      return [&, mine](const mx::array& xi) {
        auto y = mine ? k::qmatmul(xi, q.w, q.scales, q.biases, group, bits)
                      : mx::quantized_matmul(xi, q.w, q.scales, q.biases, true, group, bits);
        return mx::sum(mx::multiply(y, r));
      };
    };
    auto g_ours = mx::grad(std::function<mx::array(const mx::array&)>(loss(true)))(x);
    auto g_ref = mx::grad(std::function<mx::array(const mx::array&)>(loss(false)))(x);
    double diff = testing::max_abs_diff(g_ours, g_ref);
    double size = mx::max(mx::abs(g_ref)).item<float>();
    CHECK_MSG(diff <= 1e-5 * size,
              "many-rows gradient differs by " << diff << " (max " << size << ")");
  }
}

TEST(kernels_isa_choice) {
  testing::expect_error([] { k::parse_isa("sse9"); }, mlxlab::codes::kArgument,
                        "MLX_LAB_KERNEL_ISA must be scalar, avx2, avx512 or neon");
  auto all = k::available_isas();
  CHECK(!all.empty() && all.front() == k::Isa::kScalar);
  // MLX_LAB_KERNEL_ISA, when this process was started with it, names the path in use.
  if (const char* env = std::getenv("MLX_LAB_KERNEL_ISA")) {
    CHECK(std::string(k::isa_name(k::active_isa())) == env);
  }
  std::cout << "  paths on this CPU:";
  for (auto isa : all) std::cout << " " << k::isa_name(isa);
  std::cout << std::endl;
}
