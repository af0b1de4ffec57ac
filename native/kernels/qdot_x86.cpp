// The x86-64 paths, AVX2+FMA and AVX-512F. Each function carries its own target attribute, so this
// file builds with the baseline flags and the addon still loads on CPUs without these extensions;
// the dispatcher calls a path only after cpuid says the CPU has it.
#include "kernels/qdot.h"

// GCC and Clang only (target attributes); other compilers get the portable path.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 flags the intrinsics' own "__Y = __Y" placeholders as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define MLXLAB_AVX2 __attribute__((target("avx2,fma")))
#define MLXLAB_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace mlxlab::kernels {

namespace {

// Sum of the 8 lanes.
MLXLAB_AVX2 inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Rows m0..m0+MT of y for output n; 32 elements of k per step (4 vectors of 8), C chains per row.
template <int MT, int BITS, ParamType PT>
MLXLAB_AVX2 void tile_avx2(const QArgs& a, int n, int m0) {
  constexpr int C = MT == 1 ? 4 : 2;
  const int g = a.group_size, groups = a.K / g;
  const size_t K = a.K;
  const uint8_t* w = a.w + static_cast<size_t>(n) * K * BITS / 8;
  const float* x = a.x + static_cast<size_t>(m0) * K;
  const __m256i low4 = _mm256_set1_epi32(0x0f);
  __m256 acc[MT][C];
  for (int t = 0; t < MT; ++t)
    for (int c = 0; c < C; ++c) acc[t][c] = _mm256_setzero_ps();
  for (int gi = 0; gi < groups; ++gi) {
    const size_t pi = static_cast<size_t>(n) * groups + gi;
    const __m256 s = _mm256_set1_ps(param(a.scales, pi, PT));
    const __m256 b = _mm256_set1_ps(param(a.biases, pi, PT));
    for (int k = gi * g; k < (gi + 1) * g; k += 32) {
      __m256 wv[4];
      if constexpr (BITS == 4) {
        const uint8_t* p = w + k / 2;
        __m256i v0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
        __m256i v1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)));
        wv[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v0, low4)), s, b);
        wv[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4)), s, b);
        wv[2] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v1, low4)), s, b);
        wv[3] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4)), s, b);
      } else {
        const uint8_t* p = w + k;
        for (int j = 0; j < 4; ++j) {
          __m256i v =
              _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8 * j)));
          wv[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(v), s, b);
        }
      }
      for (int t = 0; t < MT; ++t)
        for (int j = 0; j < 4; ++j)
          acc[t][j % C] =
              _mm256_fmadd_ps(wv[j], _mm256_loadu_ps(x + t * K + k + 8 * j), acc[t][j % C]);
    }
  }
  for (int t = 0; t < MT; ++t) {
    __m256 sum = acc[t][0];
    for (int c = 1; c < C; ++c) sum = _mm256_add_ps(sum, acc[t][c]);
    a.y[static_cast<size_t>(m0 + t) * a.N + n] = hsum256(sum);
  }
}

template <int BITS, ParamType PT>
MLXLAB_AVX2 void rows_avx2_bits(const QArgs& a, int n0, int n1) {
  for (int n = n0; n < n1; ++n) {
    int m = 0;
    for (; m + 4 <= a.M; m += 4) tile_avx2<4, BITS, PT>(a, n, m);
    switch (a.M - m) {
      case 3: tile_avx2<3, BITS, PT>(a, n, m); break;
      case 2: tile_avx2<2, BITS, PT>(a, n, m); break;
      case 1: tile_avx2<1, BITS, PT>(a, n, m); break;
      default: break;
    }
  }
}

// Rows m0..m0+MT of y for output n; 32 elements of k per step (2 vectors of 16).
template <int MT, int BITS, ParamType PT>
MLXLAB_AVX512 void tile_avx512(const QArgs& a, int n, int m0) {
  constexpr int C = MT == 1 ? 2 : 1;
  const int g = a.group_size, groups = a.K / g;
  const size_t K = a.K;
  const uint8_t* w = a.w + static_cast<size_t>(n) * K * BITS / 8;
  const float* x = a.x + static_cast<size_t>(m0) * K;
  const __m512i low4 = _mm512_set1_epi32(0x0f);
  __m512 acc[MT][C];
  for (int t = 0; t < MT; ++t)
    for (int c = 0; c < C; ++c) acc[t][c] = _mm512_setzero_ps();
  for (int gi = 0; gi < groups; ++gi) {
    const size_t pi = static_cast<size_t>(n) * groups + gi;
    const __m512 s = _mm512_set1_ps(param(a.scales, pi, PT));
    const __m512 b = _mm512_set1_ps(param(a.biases, pi, PT));
    for (int k = gi * g; k < (gi + 1) * g; k += 32) {
      __m512 wv[2];
      if constexpr (BITS == 4) {
        __m512i v =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k / 2)));
        wv[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, low4)), s, b);
        wv[1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)), s, b);
      } else {
        for (int j = 0; j < 2; ++j) {
          __m512i v = _mm512_cvtepu8_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + k + 16 * j)));
          wv[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), s, b);
        }
      }
      for (int t = 0; t < MT; ++t)
        for (int j = 0; j < 2; ++j)
          acc[t][j % C] =
              _mm512_fmadd_ps(wv[j], _mm512_loadu_ps(x + t * K + k + 16 * j), acc[t][j % C]);
    }
  }
  for (int t = 0; t < MT; ++t) {
    __m512 sum = acc[t][0];
    for (int c = 1; c < C; ++c) sum = _mm512_add_ps(sum, acc[t][c]);
    a.y[static_cast<size_t>(m0 + t) * a.N + n] = _mm512_reduce_add_ps(sum);
  }
}

template <int BITS, ParamType PT>
MLXLAB_AVX512 void rows_avx512_bits(const QArgs& a, int n0, int n1) {
  for (int n = n0; n < n1; ++n) {
    int m = 0;
    for (; m + 8 <= a.M; m += 8) tile_avx512<8, BITS, PT>(a, n, m);
    switch (a.M - m) {
      case 7: tile_avx512<7, BITS, PT>(a, n, m); break;
      case 6: tile_avx512<6, BITS, PT>(a, n, m); break;
      case 5: tile_avx512<5, BITS, PT>(a, n, m); break;
      case 4: tile_avx512<4, BITS, PT>(a, n, m); break;
      case 3: tile_avx512<3, BITS, PT>(a, n, m); break;
      case 2: tile_avx512<2, BITS, PT>(a, n, m); break;
      case 1: tile_avx512<1, BITS, PT>(a, n, m); break;
      default: break;
    }
  }
}

struct RowsAvx2 {
  template <int BITS, ParamType PT>
  static void run(const QArgs& a, int n0, int n1) {
    rows_avx2_bits<BITS, PT>(a, n0, n1);
  }
};

struct RowsAvx512 {
  template <int BITS, ParamType PT>
  static void run(const QArgs& a, int n0, int n1) {
    rows_avx512_bits<BITS, PT>(a, n0, n1);
  }
};

}  // namespace

int x_block_avx2(int bits) { return bits == 4 ? 16 : 0; }
int x_block_avx512(int bits) { return bits == 4 ? 32 : 0; }

void rows_avx2(const QArgs& a, int n0, int n1) { dispatch_rows<RowsAvx2>(a, n0, n1); }

void rows_avx512(const QArgs& a, int n0, int n1) { dispatch_rows<RowsAvx512>(a, n0, n1); }

}  // namespace mlxlab::kernels

#else

namespace mlxlab::kernels {
int x_block_avx2(int) { return 0; }
int x_block_avx512(int) { return 0; }
void rows_avx2(const QArgs& a, int n0, int n1) { rows_scalar(a, n0, n1); }
void rows_avx512(const QArgs& a, int n0, int n1) { rows_scalar(a, n0, n1); }
}  // namespace mlxlab::kernels

#endif
