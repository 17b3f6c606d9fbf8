// Built with -ffp-contract=off: every product and sum below is rounded as written (the fused
// multiply-adds are explicit), so the order stated in columns.hpp is the order computed.
#include "kernels/columns.hpp"

#include <cstdint>

#ifdef ADAMGN_EIGEN_REDUX_ORDER
#include <immintrin.h>
#endif

namespace adamgn::columns_detail {
#ifdef ADAMGN_EIGEN_REDUX_ORDER

// The halving additions of 16 accumulators at once: lane 4q + m of the result is the total of
// t[4m + q], reached by the same additions as Eigen's predux of each t[j] alone.
[[gnu::always_inline]] static inline __m512 halve_16(const __m512 (&t)[16]) {
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

namespace adamgn {

Index relu_backward_columns(const float* df, const float* h, const float* z, Index ld, Index len, Index width,
                            const float* a, float* dh, Index ld_dh, double* da, double* db) {
#ifdef ADAMGN_EIGEN_REDUX_ORDER
  if (len < 32 || len % 32 != 0 || ld_dh % 16 != 0 || reinterpret_cast<std::uintptr_t>(dh) % 64 != 0) return 0;
  // The sums and dot products of sum_16_columns and dot_16_columns, taken while each column's dh
  // is still in registers: computing dh for a group and then calling those two took 0.2-1.5 us
  // more per parity step at batch 32 (7 interleaved pairs).
  const __m512 zero = _mm512_setzero_ps();
  Index j0 = 0;
  for (; j0 + 16 <= width; j0 += 16) {
    __m512 sums[16], dots[16];
    for (int j = 0; j < 16; ++j) {
      const float* hj = h + (j0 + j) * ld;
      const float* zj = z + (j0 + j) * ld;
      float* out = dh + (j0 + j) * ld_dh;
      const __m512 aj = _mm512_set1_ps(a[j0 + j]);
      // dh = df a_j where the unit is on (h > 0, false for NaN), else 0.
      auto grad = [&](Index i) {
        const __m512 d = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(zero, _mm512_loadu_ps(hj + i), _CMP_LT_OQ),
                                             _mm512_mul_ps(_mm512_loadu_ps(df + i), aj));
        _mm512_store_ps(out + i, d);
        return d;
      };
      __m512 s0 = grad(0), s1 = grad(16);
      __m512 d0 = _mm512_mul_ps(_mm512_loadu_ps(df), _mm512_loadu_ps(zj));
      __m512 d1 = _mm512_mul_ps(_mm512_loadu_ps(df + 16), _mm512_loadu_ps(zj + 16));
      for (Index i = 32; i < len; i += 32) {
        s0 = _mm512_add_ps(s0, grad(i));
        s1 = _mm512_add_ps(s1, grad(i + 16));
        d0 = _mm512_fmadd_ps(_mm512_loadu_ps(df + i), _mm512_loadu_ps(zj + i), d0);
        d1 = _mm512_fmadd_ps(_mm512_loadu_ps(df + i + 16), _mm512_loadu_ps(zj + i + 16), d1);
      }
      sums[j] = _mm512_add_ps(s0, s1);
      dots[j] = _mm512_add_ps(d0, d1);
    }
    alignas(64) float s[16], d[16];
    _mm512_store_ps(s, columns_detail::halve_16(sums));
    _mm512_store_ps(d, columns_detail::halve_16(dots));
    for (int q = 0; q < 4; ++q)
      for (int m = 0; m < 4; ++m) {
        db[j0 + 4 * m + q] = static_cast<double>(s[4 * q + m]);
        da[j0 + 4 * m + q] = static_cast<double>(d[4 * q + m]);
      }
  }
  return j0;
#else
  (void)df, (void)h, (void)z, (void)ld, (void)len, (void)width, (void)a, (void)dh, (void)ld_dh, (void)da, (void)db;
  return 0;
#endif
}

}  // namespace adamgn
