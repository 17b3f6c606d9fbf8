// c = a * b for the network's products, written straight into c (column-major).
//
// Large products go to BLAS (EIGEN_USE_BLAS) or Eigen, except float products where vectors hold
// 16 floats: those take blocked_sgemm below. On an AVX-512 machine whose OpenBLAS ran its AVX2
// (Haswell) kernel, one 1024 x 256 x 3072 piece of the CIFAR step took 9.7 ms there against 17.0
// in BLAS, on one thread. Small ones, as at batch 32 with 20 inputs, take a register-blocked
// kernel here: there a BLAS call spends about as much on zeroing c and packing panels as on the
// arithmetic (perf, one-thread parity step at batch 32: OpenBLAS's zero-fill and packing 23% of
// the step, its kernel 27%). The kernel sums each entry of c over k in increasing order from
// zero; neither path depends on the thread count.
//
// a and b are blocks of plain matrices or their transposes (unit inner stride, either storage
// order). A portable build (ADAMGN_KERNELS_PORTABLE) sends every product to BLAS (or Eigen) and
// relu_layer declines, so its callers take their plain path.
#pragma once

#include "kernels/choice.hpp"
#include "kernels/columns.hpp"
#include "core/types.hpp"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace adamgn {
namespace gemm_detail {

// Products with at most this many multiply-adds and at least one full packet of rows use the
// kernel below.
constexpr Index kSmallWork = Index(1) << 20;

// b(k, j) for a column-major (or, via the strides, row-major) matrix.
template <class T>
struct Strided {
  const T* data;
  Index sk, sj;
  T operator()(Index k, Index j) const { return data[k * sk + j * sj]; }
};

// c (m x n, column-major, leading dimension ldc) = a (m x k) * b (k x n) through packed, cache-
// sized blocks and a register tile (src/kernels/gemm.cpp); with `subtract`, c -= a * b. Each entry
// of c is summed over k in increasing order, in blocks of 256 added to (or subtracted from) c
// one after the other; nothing depends on the thread count.
void blocked_sgemm(Index m, Index n, Index k, const Strided<float>& a, const Strided<float>& b, float* c, Index ldc,
                   bool subtract = false);

// With 8-float vectors (built without AVX-512) the same code took 16.6-16.8 ms on that piece
// against BLAS's 15.3-15.7: no faster, so BLAS is kept there.
constexpr bool kBlockedFloat = Eigen::internal::packet_traits<float>::size >= 16;

// Stores the first `rows` entries of packet v at out (all of them when rows is the packet size).
template <class T, class P>
inline void store_rows(T* out, const P& v, Index rows) {
  using namespace Eigen::internal;
  constexpr Index L = packet_traits<T>::size;
  if (rows == L) {
    pstoreu(out, v);
    return;
  }
#ifdef EIGEN_VECTORIZE_AVX512
  if constexpr (std::is_same_v<T, float> && L == 16) {  // a masked store
    pstoreu(out, v, static_cast<std::uint16_t>((1u << rows) - 1u));
    return;
  }
#endif
  T tmp[L];
  pstoreu(tmp, v);
  std::copy(tmp, tmp + rows, out);
}

// The register tile acc = a (MP packets of rows; packed, column-major, leading dimension lda)
// times b(:, j0 .. j0 + NR): each entry summed over k in increasing order from zero with fused
// multiply-adds.
template <class T, int MP, int NR>
inline void tile_product(const T* a, Index lda, Index k, const Strided<T>& b, Index j0,
                         typename Eigen::internal::packet_traits<T>::type (&acc)[MP][NR]) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr int L = packet_traits<T>::size;
  for (int p = 0; p < MP; ++p)
    for (int q = 0; q < NR; ++q) acc[p][q] = pset1<P>(T(0));
  for (Index kk = 0; kk < k; ++kk) {
    P av[MP];
    for (int p = 0; p < MP; ++p) av[p] = ploadu<P>(a + kk * lda + p * L);
    for (int q = 0; q < NR; ++q) {
      const P bq = pset1<P>(b(kk, j0 + q));
      for (int p = 0; p < MP; ++p) acc[p][q] = pmadd(av[p], bq, acc[p][q]);
    }
  }
}

// c(:, j0 .. j0 + NR) over MP packets of rows = a times b(:, j0 .. j0 + NR) (tile_product); of
// the last packet only the first `last_rows` rows are written.
template <class T, int MP, int NR>
inline void kernel(const T* a, Index lda, Index k, const Strided<T>& b, Index j0, T* c, Index ldc, Index last_rows) {
  using P = typename Eigen::internal::packet_traits<T>::type;
  constexpr int L = Eigen::internal::packet_traits<T>::size;
  P acc[MP][NR];
  tile_product<T, MP, NR>(a, lda, k, b, j0, acc);
  for (int q = 0; q < NR; ++q) {
    for (int p = 0; p + 1 < MP; ++p) Eigen::internal::pstoreu(c + (j0 + q) * ldc + p * L, acc[p][q]);
    store_rows(c + (j0 + q) * ldc + (MP - 1) * L, acc[MP - 1][q], last_rows);
  }
}

// Accumulator tile columns for MP packets of rows: accumulators and operands fit 16 registers.
template <int MP>
constexpr int kTileColumns = MP == 1 ? 8 : MP == 2 ? 6 : MP == 3 ? 4 : 2;

// All columns of c for MP packets of rows (the last one holding `last_rows` rows of c).
template <class T, int MP>
void panel(const T* a, Index lda, Index k, const Strided<T>& b, Index n, T* c, Index ldc, Index last_rows) {
  constexpr int NR = kTileColumns<MP>;
  Index j = 0;
  for (; j + NR <= n; j += NR) kernel<T, MP, NR>(a, lda, k, b, j, c, ldc, last_rows);
  for (; j < n; ++j) kernel<T, MP, 1>(a, lda, k, b, j, c, ldc, last_rows);
}

// kernel() for a ReLU layer with one output: the tile of h = a b gets bias[j] added per column,
// is written to h, and z = (h < 0 ? 0 : h) (std::max(h, 0), NaN kept) to z; then each column
// in turn, j increasing, adds z(:, j) v[j] to the output accumulators f with a fused
// multiply-add, as kernel<T, MP, 1> sums z v^T over its k = columns.
template <class T, int MP, int NR>
inline void kernel_relu(const T* a, Index lda, Index k, const Strided<T>& b, Index j0, const T* bias, const T* v, T* h,
                        T* z, Index ld, Index last_rows, typename Eigen::internal::packet_traits<T>::type (&f)[MP]) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr int L = packet_traits<T>::size;
  P acc[MP][NR];
  tile_product<T, MP, NR>(a, lda, k, b, j0, acc);
  const P zero = pset1<P>(T(0));
  for (int q = 0; q < NR; ++q) {
    const P bias_q = pset1<P>(bias[j0 + q]), v_q = pset1<P>(v[j0 + q]);
    T* hq = h + (j0 + q) * ld;
    T* zq = z + (j0 + q) * ld;
    for (int p = 0; p < MP; ++p) {
      const P hp = padd(acc[p][q], bias_q);
      const P zp = pselect(pcmp_lt(hp, zero), zero, hp);
      const Index rows = p + 1 < MP ? L : last_rows;
      store_rows(hq + p * L, hp, rows);
      store_rows(zq + p * L, zp, rows);
      f[p] = pmadd(zp, v_q, f[p]);
    }
  }
}

// panel() for a ReLU layer with one output (kernel_relu): h and z over all n columns and the
// MP packets of rows of f.
template <class T, int MP>
void panel_relu(const T* a, Index lda, Index k, const Strided<T>& b, Index n, const T* bias, const T* v, T* h, T* z,
                Index ld, T* f, Index last_rows) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr int L = packet_traits<T>::size;
  constexpr int NR = kTileColumns<MP>;
  P acc[MP];
  for (int p = 0; p < MP; ++p) acc[p] = pset1<P>(T(0));
  Index j = 0;
  for (; j + NR <= n; j += NR) kernel_relu<T, MP, NR>(a, lda, k, b, j, bias, v, h, z, ld, last_rows, acc);
  for (; j < n; ++j) kernel_relu<T, MP, 1>(a, lda, k, b, j, bias, v, h, z, ld, last_rows, acc);
  for (int p = 0; p < MP; ++p) store_rows(f + p * L, acc[p], p + 1 < MP ? L : last_rows);
}

// a (m x k) as column-major packets for the small kernels: a itself when it already is, else a
// copy, transposed where a is row-major, with its rows zero-padded to `padded`, a multiple of L.
template <class S, class A>
const S* packed_rows(const A& a, Index& lda, Index& padded, std::vector<S>& pack) {
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  const Index m = a.rows(), k = a.cols(), full = m / L * L;
  padded = m > full ? full + L : full;
  if (!A::IsRowMajor && padded == m) {
    lda = a.outerStride();
    return a.data();
  }
  pack.assign(static_cast<std::size_t>(padded * k), S(0));
  for (Index kk = 0; kk < k; ++kk)
    for (Index i = 0; i < m; ++i) pack[static_cast<std::size_t>(kk * padded + i)] = a(i, kk);
  lda = padded;
  return pack.data();
}

// The padded rows (m of them real) in panels of at most 4 packets: fn(MP, first row, rows of the
// panel's last packet to write), MP as a std::integral_constant so that each panel size is its
// own kernel.
template <class S, class Fn>
void row_panels(Index m, Index padded, Fn&& fn) {
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  const Index tail = m % L;
  for (Index i = 0; i < padded;) {
    const Index packets = std::min<Index>((padded - i) / L, 4);
    const Index last_rows = i + packets * L == padded && tail ? tail : L;
    if (packets == 4) fn(std::integral_constant<int, 4>{}, i, last_rows);
    else if (packets == 3) fn(std::integral_constant<int, 3>{}, i, last_rows);
    else if (packets == 2) fn(std::integral_constant<int, 2>{}, i, last_rows);
    else fn(std::integral_constant<int, 1>{}, i, last_rows);
    i += packets * L;
  }
}

// An operand of the kernels as Strided.
template <class B>
Strided<typename B::Scalar> strided(const B& b) {
  return {b.data(), B::IsRowMajor ? b.outerStride() : 1, B::IsRowMajor ? 1 : b.outerStride()};
}

}  // namespace gemm_detail

template <class C, class A, class B>
void gemm_into(C&& c, const A& a, const B& b) {
  using S = typename std::decay_t<C>::Scalar;
  using namespace gemm_detail;
  static_assert(!std::decay_t<C>::IsRowMajor, "gemm_into writes a column-major result");
  static_assert(std::is_same_v<S, typename A::Scalar> && std::is_same_v<S, typename B::Scalar>);
  [[maybe_unused]] constexpr Index L = Eigen::internal::packet_traits<S>::size;
  const Index m = c.rows(), n = c.cols(), k = a.cols();
  if (m == 0 || n == 0) return;
  if (k == 0) {
    c.setZero();
    return;
  }
  eigen_assert(a.innerStride() == 1 && b.innerStride() == 1 && c.innerStride() == 1);
#if !ADAMGN_KERNELS_PORTABLE
  const bool small = m * n * k <= kSmallWork;
  if constexpr (A::IsRowMajor && !B::IsRowMajor) {
    if (small && m < L) {
      // Fewer rows than a packet (a batch's outputs times hidden units): contiguous dot products.
      row_column_dots(c, a, b);
      return;
    }
  }
  if (small && m >= L) {
    // a as column-major packets: used in place when it is already, else a transposed copy.
    // Rows beyond the last full packet come from a zero-padded copy and are not written to c.
    thread_local std::vector<S> pack;
    Index lda = 0, padded = 0;
    const S* ap = packed_rows(a, lda, padded, pack);
    const Strided<S> bs = strided(b);
    S* cp = c.data();
    const Index ldc = c.outerStride();
    row_panels<S>(m, padded, [&](auto mp, Index i, Index last_rows) {
      panel<S, decltype(mp)::value>(ap + i, lda, k, bs, n, cp + i, ldc, last_rows);
    });
    return;
  }
  if constexpr (std::is_same_v<S, float> && kBlockedFloat) {
    const Strided<S> as = strided(a);
    const Strided<S> bs = strided(b);
    blocked_sgemm(m, n, k, as, bs, c.data(), c.outerStride());
    return;
  }
#endif
#ifdef EIGEN_USE_BLAS
  // A row-major r x k block is, in memory, the column-major k x r matrix: BLAS transposes it.
  const char ta = A::IsRowMajor ? 'T' : 'N', tb = B::IsRowMajor ? 'T' : 'N';
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  const int lda = static_cast<int>(a.outerStride()), ldb = static_cast<int>(b.outerStride());
  const int ldc = static_cast<int>(c.outerStride());
  const S one = 1, zero = 0;
  if constexpr (std::is_same_v<S, float>)
    sgemm_(&ta, &tb, &mi, &ni, &ki, &one, a.data(), &lda, b.data(), &ldb, &zero, c.data(), &ldc);
  else
    dgemm_(&ta, &tb, &mi, &ni, &ki, &one, a.data(), &lda, b.data(), &ldb, &zero, c.data(), &ldc);
#else
  c.noalias() = a * b;
#endif
}

// A ReLU layer with one output: h = a b + bias (bias[j] added to column j), z = max(h, 0) entry
// by entry (as std::max: h < 0 gives 0, NaN stays), f = z v (v[j] the output weight of column j),
// in one pass over h's register tiles, for products that gemm_into gives its small kernel (at
// least one packet of rows, m n k <= kSmallWork). The bits are those of gemm_into(h, a, b), the
// bias and ReLU entry by entry, then gemm_into(f, z, v^T): each entry of h summed over k, and f
// over the columns in increasing order from zero, with the same fused multiply-adds. Returns
// false, writing nothing, for other shapes. h and z are column-major with the same leading
// dimension, f a column of m entries.
template <class H, class Z, class F, class A, class B>
bool relu_layer(H&& h, Z&& z, F&& f, const A& a, const B& b, const typename A::Scalar* bias, const typename A::Scalar* v) {
  using S = typename A::Scalar;
  using namespace gemm_detail;
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  const Index m = h.rows(), n = h.cols(), k = a.cols();
#if ADAMGN_KERNELS_PORTABLE
  return false;
#endif
  if (m < L || n == 0 || k == 0 || m * n * k > kSmallWork || h.outerStride() != z.outerStride() || f.cols() != 1)
    return false;
  eigen_assert(a.innerStride() == 1 && b.innerStride() == 1 && h.innerStride() == 1 && z.innerStride() == 1);
  thread_local std::vector<S> pack;
  Index lda = 0, padded = 0;
  const S* ap = packed_rows(a, lda, padded, pack);
  const Index ld = h.outerStride();
  const Strided<S> bs = strided(b);
  row_panels<S>(m, padded, [&](auto mp, Index i, Index last_rows) {
    panel_relu<S, decltype(mp)::value>(ap + i, lda, k, bs, n, bias, v, h.data() + i, z.data() + i, ld, f.data() + i,
                                       last_rows);
  });
  return true;
}

// c -= a * b, through blocked_sgemm where gemm_into would use it, else through Eigen (BLAS).
template <class C, class A, class B>
void gemm_subtract(C&& c, const A& a, const B& b) {
  using S = typename std::decay_t<C>::Scalar;
  using namespace gemm_detail;
#if !ADAMGN_KERNELS_PORTABLE
  if constexpr (std::is_same_v<S, float> && kBlockedFloat) {
    static_assert(!std::decay_t<C>::IsRowMajor, "gemm_subtract writes a column-major result");
    const Index m = c.rows(), n = c.cols(), k = a.cols();
    if (m * n * k > kSmallWork) {
      eigen_assert(a.innerStride() == 1 && b.innerStride() == 1 && c.innerStride() == 1);
      const Strided<S> as = strided(a);
      const Strided<S> bs = strided(b);
      blocked_sgemm(m, n, k, as, bs, c.data(), c.outerStride(), true);
      return;
    }
  }
#endif
  c.noalias() -= a * b;
}

}  // namespace adamgn
