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
// order).
#pragma once

#include "core/columns.hpp"
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
// sized blocks and a register tile (src/core/gemm.cpp); with `subtract`, c -= a * b. Each entry
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

// c(:, j0 .. j0 + NR) over MP packets of rows = a (packed, column-major, leading dimension lda)
// times b(:, j0 .. j0 + NR); of the last packet only the first `last_rows` rows are written.
template <class T, int MP, int NR>
inline void kernel(const T* a, Index lda, Index k, const Strided<T>& b, Index j0, T* c, Index ldc, Index last_rows) {
  using namespace Eigen::internal;
  using P = typename packet_traits<T>::type;
  constexpr int L = packet_traits<T>::size;
  P acc[MP][NR];
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
  for (int q = 0; q < NR; ++q) {
    for (int p = 0; p + 1 < MP; ++p) pstoreu(c + (j0 + q) * ldc + p * L, acc[p][q]);
    store_rows(c + (j0 + q) * ldc + (MP - 1) * L, acc[MP - 1][q], last_rows);
  }
}

// All columns of c for MP packets of rows (the last one holding `last_rows` rows of c).
template <class T, int MP>
void panel(const T* a, Index lda, Index k, const Strided<T>& b, Index n, T* c, Index ldc, Index last_rows) {
  constexpr int NR = MP == 1 ? 8 : MP == 2 ? 6 : MP == 3 ? 4 : 2;  // accumulators and operands fit 16 registers
  Index j = 0;
  for (; j + NR <= n; j += NR) kernel<T, MP, NR>(a, lda, k, b, j, c, ldc, last_rows);
  for (; j < n; ++j) kernel<T, MP, 1>(a, lda, k, b, j, c, ldc, last_rows);
}

}  // namespace gemm_detail

template <class C, class A, class B>
void gemm_into(C&& c, const A& a, const B& b) {
  using S = typename std::decay_t<C>::Scalar;
  using namespace gemm_detail;
  static_assert(!std::decay_t<C>::IsRowMajor, "gemm_into writes a column-major result");
  static_assert(std::is_same_v<S, typename A::Scalar> && std::is_same_v<S, typename B::Scalar>);
  constexpr Index L = Eigen::internal::packet_traits<S>::size;
  const Index m = c.rows(), n = c.cols(), k = a.cols();
  if (m == 0 || n == 0) return;
  if (k == 0) {
    c.setZero();
    return;
  }
  eigen_assert(a.innerStride() == 1 && b.innerStride() == 1 && c.innerStride() == 1);
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
    const Index full = m / L * L, tail = m - full, padded = tail ? full + L : full;
    thread_local std::vector<S> pack;
    const S* ap = a.data();
    Index lda = a.outerStride();
    if (A::IsRowMajor || tail) {
      pack.assign(static_cast<std::size_t>(padded * k), S(0));
      for (Index kk = 0; kk < k; ++kk)
        for (Index i = 0; i < m; ++i) pack[static_cast<std::size_t>(kk * padded + i)] = a(i, kk);
      ap = pack.data();
      lda = padded;
    }
    const Strided<S> bs{b.data(), B::IsRowMajor ? b.outerStride() : 1, B::IsRowMajor ? 1 : b.outerStride()};
    S* cp = c.data();
    const Index ldc = c.outerStride();
    for (Index i = 0; i < padded;) {
      const Index packets = std::min<Index>((padded - i) / L, 4);
      const Index last_rows = i + packets * L == padded && tail ? tail : L;
      if (packets == 4) panel<S, 4>(ap + i, lda, k, bs, n, cp + i, ldc, last_rows);
      else if (packets == 3) panel<S, 3>(ap + i, lda, k, bs, n, cp + i, ldc, last_rows);
      else if (packets == 2) panel<S, 2>(ap + i, lda, k, bs, n, cp + i, ldc, last_rows);
      else panel<S, 1>(ap + i, lda, k, bs, n, cp + i, ldc, last_rows);
      i += packets * L;
    }
    return;
  }
  if constexpr (std::is_same_v<S, float> && kBlockedFloat) {
    const Strided<S> as{a.data(), A::IsRowMajor ? a.outerStride() : 1, A::IsRowMajor ? 1 : a.outerStride()};
    const Strided<S> bs{b.data(), B::IsRowMajor ? b.outerStride() : 1, B::IsRowMajor ? 1 : b.outerStride()};
    blocked_sgemm(m, n, k, as, bs, c.data(), c.outerStride());
    return;
  }
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

// c -= a * b, through blocked_sgemm where gemm_into would use it, else through Eigen (BLAS).
template <class C, class A, class B>
void gemm_subtract(C&& c, const A& a, const B& b) {
  using S = typename std::decay_t<C>::Scalar;
  using namespace gemm_detail;
  if constexpr (std::is_same_v<S, float> && kBlockedFloat) {
    static_assert(!std::decay_t<C>::IsRowMajor, "gemm_subtract writes a column-major result");
    const Index m = c.rows(), n = c.cols(), k = a.cols();
    if (m * n * k > kSmallWork) {
      eigen_assert(a.innerStride() == 1 && b.innerStride() == 1 && c.innerStride() == 1);
      const Strided<S> as{a.data(), A::IsRowMajor ? a.outerStride() : 1, A::IsRowMajor ? 1 : a.outerStride()};
      const Strided<S> bs{b.data(), B::IsRowMajor ? b.outerStride() : 1, B::IsRowMajor ? 1 : b.outerStride()};
      blocked_sgemm(m, n, k, as, bs, c.data(), c.outerStride(), true);
      return;
    }
  }
  c.noalias() -= a * b;
}

}  // namespace adamgn
