// mlxlab_qmatvec_bench: GB/s of weight bytes for y = x . W^T with few rows, three ways: our
// quantized kernel (native/kernels) at 1 and 2 threads, mx::quantized_matmul, and a float32
// matmul (BLAS). Reps are interleaved across the ways; each call reads a different copy of the
// weights (at least 64 MiB in all) so the numbers are memory reads, not cache hits.
// Prints one JSON object per (shape, M, way, rep). benchmarks/qmatvec.mjs runs and summarises it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "kernels/pool.h"
#include "kernels/qmatmul.h"

namespace mx = mlx::core;
namespace k = mlxlab::kernels;

namespace {

struct Way {
  std::string name;
  int threads;  // our pool's threads (0: not ours)
  size_t bytes;
  std::function<mx::array(const mx::array& x, int copy)> call;
  int copies;
};

// Seconds per call, over at least `min_s` of calls cycling through the copies.
double time_call(const Way& way, const mx::array& x, double min_s) {
  mx::eval(way.call(x, 0));
  auto start = std::chrono::steady_clock::now();
  int calls = 0;
  double elapsed = 0;
  do {
    mx::eval(way.call(x, calls % way.copies));
    ++calls;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < min_s || calls < 3);
  return elapsed / calls;
}

int copies_for(size_t bytes) {
  return static_cast<int>(std::max<size_t>(1, (64u << 20) / bytes + 1));
}

}  // namespace

int main(int argc, char** argv) {
  const int bits = argc > 1 ? std::atoi(argv[1]) : 4;
  const int group = argc > 2 ? std::atoi(argv[2]) : 64;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 3;
  const double min_s = argc > 4 ? std::atof(argv[4]) : 0.3;
  mx::set_default_device(mx::Device::cpu);
  const std::vector<std::pair<int, int>> shapes = {
      {576, 576}, {1536, 576}, {576, 1536}, {49152, 576}, {8192, 2048}};  // {N, K}
  std::printf("{\"isa\":\"%s\",\"bits\":%d,\"group\":%d}\n", k::isa_name(k::active_isa()), bits,
              group);
  for (auto [N, K] : shapes) {
    auto dense = mx::random::normal({N, K}, mx::float32, 0.0f, 0.05f, mx::random::key(N + K));
    auto q = mx::quantize(dense, group, bits);
    auto scales = mx::astype(q[1], mx::bfloat16), biases = mx::astype(q[2], mx::bfloat16);
    const size_t qbytes = q[0].nbytes() + scales.nbytes() + biases.nbytes();
    const size_t fbytes = static_cast<size_t>(N) * K * 4;
    const int qc = copies_for(qbytes), fc = copies_for(fbytes);
    std::vector<mx::array> qw, qs, qb, fw;
    for (int c = 0; c < qc; ++c) {
      qw.push_back(mx::add(q[0], mx::array(0u, mx::uint32)));
      qs.push_back(mx::add(scales, mx::array(0.0f, mx::bfloat16)));
      qb.push_back(mx::add(biases, mx::array(0.0f, mx::bfloat16)));
    }
    auto deq =
        mx::dequantize(q[0], scales, biases, group, bits, "affine", std::nullopt, mx::float32);
    for (int c = 0; c < fc; ++c) fw.push_back(mx::add(deq, mx::array(0.0f)));
    mx::eval(qw);
    mx::eval(qs);
    mx::eval(qb);
    mx::eval(fw);
    std::vector<Way> ways;
    for (int t : {1, 2}) {
      ways.push_back({"ours", t, qbytes,
                      [&, t](const mx::array& x, int c) {
                        return k::qmatmul(x, qw[c], qs[c], qb[c], group, bits);
                      },
                      qc});
    }
    ways.push_back({"mlx_quantized", 0, qbytes,
                    [&](const mx::array& x, int c) {
                      return mx::quantized_matmul(x, qw[c], qs[c], qb[c], true, group, bits);
                    },
                    qc});
    ways.push_back({"float32_blas", 0, fbytes,
                    [&](const mx::array& x, int c) { return mx::matmul(x, mx::transpose(fw[c])); },
                    fc});
    for (int M : {1, 8}) {
      auto x = mx::random::normal({M, K}, mx::float32, mx::random::key(M));
      mx::eval(x);
      for (int rep = 0; rep < reps; ++rep) {
        for (auto& way : ways) {
          if (way.threads > 0) k::set_pool_threads(way.threads);
          double s = time_call(way, x, min_s);
          std::printf(
              "{\"N\":%d,\"K\":%d,\"M\":%d,\"way\":\"%s\",\"threads\":%d,\"rep\":%d,\"us\":%.2f,"
              "\"bytes\":%zu,\"gbps\":%.3f}\n",
              N, K, M, way.name.c_str(), way.threads, rep, s * 1e6, way.bytes, way.bytes / s / 1e9);
          std::fflush(stdout);
        }
      }
    }
  }
  return 0;
}
