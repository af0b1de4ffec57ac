// The portable path: each group is dequantized into a small buffer (at most 128 floats, never the
// whole matrix), then dotted with every row of x.
#include "kernels/qdot.h"

namespace mlxlab::kernels {

int x_block_scalar(int) { return 0; }

void rows_scalar(const QArgs& a, int n0, int n1) {
  const int g = a.group_size, groups = a.K / g;
  const size_t row_bytes = static_cast<size_t>(a.K) * a.bits / 8;
  float wd[128];
  for (int n = n0; n < n1; ++n) {
    const uint8_t* w = a.w + n * row_bytes;
    float acc[32] = {};
    for (int gi = 0; gi < groups; ++gi) {
      size_t pi = static_cast<size_t>(n) * groups + gi;
      float s = param(a.scales, pi, a.param_type), b = param(a.biases, pi, a.param_type);
      const int k0 = gi * g;
      if (a.bits == 4) {
        const uint8_t* p = w + k0 / 2;
        for (int i = 0; i < g / 2; ++i) {
          wd[2 * i] = s * static_cast<float>(p[i] & 0x0f) + b;
          wd[2 * i + 1] = s * static_cast<float>(p[i] >> 4) + b;
        }
      } else {
        const uint8_t* p = w + k0;
        for (int i = 0; i < g; ++i) wd[i] = s * static_cast<float>(p[i]) + b;
      }
      for (int m = 0; m < a.M; ++m) {
        const float* x = a.x + static_cast<size_t>(m) * a.K + k0;
        float d = 0.0f;
        for (int i = 0; i < g; ++i) d += wd[i] * x[i];
        acc[m] += d;
      }
    }
    for (int m = 0; m < a.M; ++m) a.y[static_cast<size_t>(m) * a.N + n] = acc[m];
  }
}

}  // namespace mlxlab::kernels
