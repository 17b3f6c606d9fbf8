// The two ends of a symmetric eigendecomposition that carry O(n^3) work outside LAPACK's
// divide-and-conquer tridiagonal solver: the Householder reduction A = Q T Q^T and the
// back-transformation Z -> Q Z. Both follow LAPACK's blocked algorithms (sytrd and ormtr, lower
// triangle), with the heavy products split into pieces of a fixed number of columns that run on
// the run's spare threads and are combined in a fixed order, so that every bit of the result is
// the same for any thread count (LAPACK's own threaded versions sum partial products per thread).
#pragma once

#include "kernels/choice.hpp"
#include "core/types.hpp"

namespace adamgn {

// From this size on symmetric_eigen uses reduce_to_tridiagonal (below it LAPACK's sytrd, 10-30%
// faster than ours on one thread at n = 512-1024), and the Kronecker basis decomposes such
// factors one at a time with the run's threads. Fixed, so neither choice depends on the thread
// count.
constexpr Index kThreadedReduction = 1024;

template <class S>
using DenseMatrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
template <class S>
using DenseVector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

// T = Q^T A Q in the layout of LAPACK's sytrd('L'): on entry the lower triangle of `a` holds A
// (the strict upper triangle is scratch); on exit d (n) and e (n - 1) hold T's diagonal and
// subdiagonal, the reflector H(i) = I - tau_i v v^T of Q = H(0) H(1) ... H(n-2) acts on rows
// i + 1 .. n - 1 with v_{i+1} = 1 and the rest of v below the subdiagonal in column i of `a`.
template <class S>
void reduce_to_tridiagonal(DenseMatrix<S>& a, DenseVector<S>& d, DenseVector<S>& e, DenseVector<S>& tau);

// z <- Q z for the Q left in `a` and `tau` by reduce_to_tridiagonal (z has a.rows() rows).
template <class S>
void apply_reduction(const DenseMatrix<S>& a, const DenseVector<S>& tau, DenseMatrix<S>& z);

}  // namespace adamgn
