// The arm64 path (NEON is always there on AArch64). 32 elements of k per step.
#include "kernels/qdot.h"

#if defined(__aarch64__)
#include <arm_neon.h>

namespace mlxlab::kernels {

namespace {

// 8 bytes widened to two vectors of 4 floats, scaled: s * q + b.
inline void dequant8(uint8x8_t q, float32x4_t s, float32x4_t b, float32x4_t* out) {
  uint16x8_t w = vmovl_u8(q);
  out[0] = vfmaq_f32(b, vcvtq_f32_u32(vmovl_u16(vget_low_u16(w))), s);
  out[1] = vfmaq_f32(b, vcvtq_f32_u32(vmovl_u16(vget_high_u16(w))), s);
}

template <int MT, int BITS, ParamType PT>
void tile_neon(const QArgs& a, int n, int m0) {
  const int g = a.group_size, groups = a.K / g;
  const size_t K = a.K;
  const uint8_t* w = a.w + static_cast<size_t>(n) * K * BITS / 8;
  const float* x = a.x + static_cast<size_t>(m0) * K;
  float32x4_t acc[MT][2];
  for (int t = 0; t < MT; ++t) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
  for (int gi = 0; gi < groups; ++gi) {
    const size_t pi = static_cast<size_t>(n) * groups + gi;
    const float32x4_t s = vdupq_n_f32(param(a.scales, pi, PT));
    const float32x4_t b = vdupq_n_f32(param(a.biases, pi, PT));
    for (int k = gi * g; k < (gi + 1) * g; k += 32) {
      float32x4_t wv[8];
      if constexpr (BITS == 4) {
        // Two blocks of 16: low nibbles (evens) then high nibbles (odds), as x is permuted.
        for (int h = 0; h < 2; ++h) {
          uint8x8_t q = vld1_u8(w + k / 2 + 8 * h);
          dequant8(vand_u8(q, vdup_n_u8(0x0f)), s, b, wv + 4 * h);
          dequant8(vshr_n_u8(q, 4), s, b, wv + 4 * h + 2);
        }
      } else {
        for (int h = 0; h < 4; ++h) dequant8(vld1_u8(w + k + 8 * h), s, b, wv + 2 * h);
      }
      for (int t = 0; t < MT; ++t)
        for (int j = 0; j < 8; ++j)
          acc[t][j & 1] = vfmaq_f32(acc[t][j & 1], wv[j], vld1q_f32(x + t * K + k + 4 * j));
    }
  }
  for (int t = 0; t < MT; ++t)
    a.y[static_cast<size_t>(m0 + t) * a.N + n] = vaddvq_f32(vaddq_f32(acc[t][0], acc[t][1]));
}

template <int BITS, ParamType PT>
void rows_neon_bits(const QArgs& a, int n0, int n1) {
  for (int n = n0; n < n1; ++n) {
    int m = 0;
    for (; m + 4 <= a.M; m += 4) tile_neon<4, BITS, PT>(a, n, m);
    switch (a.M - m) {
      case 3: tile_neon<3, BITS, PT>(a, n, m); break;
      case 2: tile_neon<2, BITS, PT>(a, n, m); break;
      case 1: tile_neon<1, BITS, PT>(a, n, m); break;
      default: break;
    }
  }
}

struct RowsNeon {
  template <int BITS, ParamType PT>
  static void run(const QArgs& a, int n0, int n1) {
    rows_neon_bits<BITS, PT>(a, n0, n1);
  }
};

}  // namespace

int x_block_neon(int bits) { return bits == 4 ? 16 : 0; }

void rows_neon(const QArgs& a, int n0, int n1) { dispatch_rows<RowsNeon>(a, n0, n1); }

}  // namespace mlxlab::kernels

#else

namespace mlxlab::kernels {
int x_block_neon(int) { return 0; }
void rows_neon(const QArgs& a, int n0, int n1) { rows_scalar(a, n0, n1); }
}  // namespace mlxlab::kernels

#endif
