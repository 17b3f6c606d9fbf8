// Column sums and dot products of float matrices with Eigen's own bits, 16 columns at a time.
//
// Eigen sums a column (or the products of two columns) in a fixed order; where that order is
// known, the functions below repeat it for 16 columns at once, sharing the shuffles of the final
// additions, so the results are Eigen's bit for bit and a network's gradient does not depend on
// which form computed it. Everything else takes Eigen's own reductions.
#pragma once

#include "kernels/choice.hpp"
#include "core/types.hpp"

#include <cstdint>
#include <type_traits>

// Eigen versions and instruction sets whose float reduction order the 16-column forms repeat (a
// portable build takes Eigen's own reductions everywhere).
#if defined(EIGEN_VECTORIZE_AVX512DQ) && EIGEN_WORLD_VERSION == 3 && EIGEN_MAJOR_VERSION == 4 && !ADAMGN_KERNELS_PORTABLE
#define ADAMGN_EIGEN_REDUX_ORDER 1
#endif

namespace adamgn {
namespace columns_detail {
#ifdef ADAMGN_EIGEN_REDUX_ORDER
// Eigen 3.4's order with AVX-512DQ for a column of `len` floats, len a multiple of 32: two
// 16-float accumulators take the packets in turn (even packets in one, odd in the other) and are
// added; then lanes i and i + 8 are added, then i and i + 4, i and i + 2, and the last two.
//
// out[j] = sum of column j (columns ld apart from col0), for j < 16. A column sum starts its
// accumulators at the first two packets.
void sum_16_columns(const float* col0, Index ld, Index len, double* out);
// out[j * out_stride] = v . column j, for j < 16. A dot product starts its accumulators at the
// products of the first two packets and adds every further product with a fused multiply-add
// (how GCC compiles Eigen's dot), so its bits are those of Eigen's v.dot(col) built that way.
void dot_16_columns(const float* v, const float* col0, Index ld, Index len, float* out, Index out_stride);
#endif
}  // namespace columns_detail

// The backward pass of a ReLU layer with one output, for hidden units in groups of 16: for each
// unit j (columns ld apart in h and z, len rows, and weights a[j] into the output),
//   dh(:, j) = (h(:, j) > 0 ? df a[j] : 0)   (written to dh, columns ld_dh apart),
//   db[j] = dh(:, j).sum(),   da[j] = df.dot(z(:, j)),
// with the bits of the product and mask entry by entry, column_sums() and row_column_dots(), in
// one pass over each group. Returns the number of units done: a multiple of 16, 0 when the order
// of Eigen's reductions is not known here, len is not a multiple of 32, or dh's columns are not
// 64-byte aligned; the caller does the rest.
Index relu_backward_columns(const float* df, const float* h, const float* z, Index ld, Index len, Index width,
                            const float* a, float* dh, Index ld_dh, double* da, double* db);

// out[j] = a.col(j).sum() for every column of a (column-major). Eigen's sum of a column of a
// plain matrix starts at its first 64-byte boundary, so the 16-column form takes only aligned
// columns.
template <class M>
void column_sums(const M& a, double* out) {
  static_assert(!M::IsRowMajor, "column_sums reads columns");
  Index j = 0;
#ifdef ADAMGN_EIGEN_REDUX_ORDER
  if constexpr (std::is_same_v<typename M::Scalar, float>) {
    const Index len = a.rows(), ld = a.outerStride();
    if (len % 32 == 0 && ld % 16 == 0 && reinterpret_cast<std::uintptr_t>(a.data()) % 64 == 0)
      for (; j + 16 <= a.cols(); j += 16) columns_detail::sum_16_columns(a.data() + j * ld, ld, len, out + j);
  }
#endif
  for (; j < a.cols(); ++j) out[j] = static_cast<double>(a.col(j).sum());
}

// c(i, j) = a.row(i).dot(b.col(j)) for a row-major a (m x k) and a column-major b (k x n), into
// column-major c. Eigen's dot of two such expressions starts at their first entry whatever the
// alignment, so the 16-column form needs only k to be a multiple of 32.
template <class C, class A, class B>
void row_column_dots(C& c, const A& a, const B& b) {
  static_assert(A::IsRowMajor && !B::IsRowMajor && !C::IsRowMajor, "row_column_dots: rows of a, columns of b and c");
  const Index m = a.rows(), n = b.cols(), k = a.cols();
  Index j0 = 0;
#ifdef ADAMGN_EIGEN_REDUX_ORDER
  if constexpr (std::is_same_v<typename C::Scalar, float>) {
    if (k >= 32 && k % 32 == 0) {
      for (; j0 + 16 <= n; j0 += 16)
        for (Index i = 0; i < m; ++i)
          columns_detail::dot_16_columns(a.data() + i * a.outerStride(), b.data() + j0 * b.outerStride(), b.outerStride(), k,
                                         c.data() + i + j0 * c.outerStride(), c.outerStride());
    }
  }
#endif
  for (Index j = j0; j < n; ++j)
    for (Index i = 0; i < m; ++i) c(i, j) = a.row(i).dot(b.col(j));
}

}  // namespace adamgn
