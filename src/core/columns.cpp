// Built with -ffp-contract=off: every product and sum below is rounded as written (the fused
// multiply-adds are explicit), so the order stated in columns.hpp is the order computed.
#include "core/columns.hpp"

#ifdef ADAMGN_EIGEN_REDUX_ORDER
#include <immintrin.h>
#endif

namespace adamgn::columns_detail {
#ifdef ADAMGN_EIGEN_REDUX_ORDER
namespace {

// The halving additions of 16 accumulators at once: lane 4q + m of the result is the total of
// t[4m + q], reached by the same additions as Eigen's predux of each t[j] alone.
[[gnu::always_inline]] inline __m512 halve_16(const __m512 (&t)[16]) {
  // Lanes i and i + 8: u[a] holds column 2a in lanes 0-7 and column 2a + 1 in lanes 8-15.
  __m512 u[8];
  for (int a = 0; a < 8; ++a)
    u[a] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * a], t[2 * a + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_f32x4(t[2 * a], t[2 * a + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  // Lanes i and i + 4: 128-bit block q of w[b] holds column 4b + q.
  __m512 w[4];
  for (int b = 0; b < 4; ++b)
    w[b] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * b], u[2 * b + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(u[2 * b], u[2 * b + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  // Lanes i and i + 2: block q of y[c] holds column 8c + q in lanes 0-1 and 8c + 4 + q in 2-3.
  __m512 y[2];
  for (int c = 0; c < 2; ++c) {
    const __m512d lo = _mm512_castps_pd(w[2 * c]), hi = _mm512_castps_pd(w[2 * c + 1]);
    y[c] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi)), _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi)));
  }
  // The last two.
  return _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_ps(y[0], y[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

}  // namespace

void sum_16_columns(const float* col0, Index ld, Index len, double* out) {
  __m512 t[16];
  for (int j = 0; j < 16; ++j) {
    const float* c = col0 + j * ld;
    __m512 r0 = _mm512_load_ps(c), r1 = _mm512_load_ps(c + 16);
    for (Index i = 32; i < len; i += 32) {
      r0 = _mm512_add_ps(r0, _mm512_load_ps(c + i));
      r1 = _mm512_add_ps(r1, _mm512_load_ps(c + i + 16));
    }
    t[j] = _mm512_add_ps(r0, r1);
  }
  alignas(64) float sums[16];
  _mm512_store_ps(sums, halve_16(t));
  for (int q = 0; q < 4; ++q)
    for (int m = 0; m < 4; ++m) out[4 * m + q] = static_cast<double>(sums[4 * q + m]);
}

void dot_16_columns(const float* v, const float* col0, Index ld, Index len, float* out, Index out_stride) {
  __m512 t[16];
  for (int j = 0; j < 16; ++j) {
    const float* c = col0 + j * ld;
    __m512 r0 = _mm512_mul_ps(_mm512_loadu_ps(v), _mm512_loadu_ps(c));
    __m512 r1 = _mm512_mul_ps(_mm512_loadu_ps(v + 16), _mm512_loadu_ps(c + 16));
    for (Index i = 32; i < len; i += 32) {
      r0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + i), _mm512_loadu_ps(c + i), r0);
      r1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + i + 16), _mm512_loadu_ps(c + i + 16), r1);
    }
    t[j] = _mm512_add_ps(r0, r1);
  }
  alignas(64) float dots[16];
  _mm512_store_ps(dots, halve_16(t));
  for (int q = 0; q < 4; ++q)
    for (int m = 0; m < 4; ++m) out[(4 * m + q) * out_stride] = dots[4 * q + m];
}
#endif
}  // namespace adamgn::columns_detail
