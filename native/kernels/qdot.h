// The row kernels behind the quantized matmul primitive: y[m, n] = sum_k x[m, k] * w[n, k] for
// rows n in [n0, n1), w dequantized on the fly (w = scale * q + bias per group), one per SIMD path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mlxlab::kernels {

enum class ParamType { kFloat32, kBFloat16, kFloat16 };

struct QArgs {
  const float* x = nullptr;      // M x K float32, in the path's block order (see x_block)
  const uint8_t* w = nullptr;    // N rows of K * bits / 8 packed bytes
  const void* scales = nullptr;  // N x K / group_size
  const void* biases = nullptr;  // N x K / group_size
  ParamType param_type = ParamType::kFloat32;
  int M = 0, K = 0, N = 0, group_size = 0, bits = 0;
  float* y = nullptr;  // M x N float32
};

using RowKernel = void (*)(const QArgs& a, int n0, int n1);

// A scale or bias as float.
inline float param(const void* p, size_t i, ParamType t) {
  if (t == ParamType::kFloat32) return static_cast<const float*>(p)[i];
  uint16_t h = static_cast<const uint16_t*>(p)[i];
  if (t == ParamType::kBFloat16) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  // IEEE half: sign, 5-bit exponent, 10-bit mantissa.
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man == 0) {
    bits = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      man <<= 1;
      ++e;
    } while ((man & 0x400u) == 0);
    bits = sign | static_cast<uint32_t>(112 - e) << 23 | ((man & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Call Rows::run<bits, param type>(a, n0, n1): the scale dtype and bit width as constants in the
// loop.
template <typename Rows>
void dispatch_rows(const QArgs& a, int n0, int n1) {
  switch (a.param_type) {
    case ParamType::kFloat32:
      return a.bits == 4 ? Rows::template run<4, ParamType::kFloat32>(a, n0, n1)
                         : Rows::template run<8, ParamType::kFloat32>(a, n0, n1);
    case ParamType::kBFloat16:
      return a.bits == 4 ? Rows::template run<4, ParamType::kBFloat16>(a, n0, n1)
                         : Rows::template run<8, ParamType::kBFloat16>(a, n0, n1);
    case ParamType::kFloat16:
      return a.bits == 4 ? Rows::template run<4, ParamType::kFloat16>(a, n0, n1)
                         : Rows::template run<8, ParamType::kFloat16>(a, n0, n1);
  }
}

// 4-bit packed bytes hold element 2i in the low nibble of byte i and 2i+1 in the high nibble. The
// SIMD paths unpack a block of x_block elements as its low nibbles then its high nibbles, so x is
// given to them permuted within each block: evens first, then odds (x_block 0: natural order).
int x_block_scalar(int bits);
int x_block_avx2(int bits);
int x_block_avx512(int bits);
int x_block_neon(int bits);

void rows_scalar(const QArgs& a, int n0, int n1);
void rows_avx2(const QArgs& a, int n0, int n1);
void rows_avx512(const QArgs& a, int n0, int n1);
void rows_neon(const QArgs& a, int n0, int n1);

}  // namespace mlxlab::kernels
