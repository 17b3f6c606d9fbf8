#include "optim/eigensolver.hpp"

#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "kernels/tridiagonal.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#ifdef ADAMGN_LAPACK
#include <lapacke.h>

extern "C" void openblas_set_num_threads(int);
#endif

namespace adamgn {

namespace {

// Eigenpairs (w, v) in decreasing order of eigenvalue (stable for ties), each vector with its
// largest-magnitude entry (the first of equals) positive, widened to double; one pass over v, in
// fixed pieces of columns on the run's spare threads.
// `vectors` keeps its storage when it already has the size (callers that decompose a factor of
// the same size every step reuse it).
template <class S>
void order_and_widen(const DenseVector<S>& w, const DenseMatrix<S>& v, Vec& values, Mat& vectors) {
  const Index n = w.size();
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return w[a] > w[b]; });
  values.resize(n);
  resize_huge(vectors, v.rows(), n);
  parallel_pieces(column_pieces(n), [&](Index p) {
    for (Index k = p * kPieceColumns; k < std::min(n, (p + 1) * kPieceColumns); ++k) {
      const Index j = order[static_cast<std::size_t>(k)];
      values[k] = static_cast<double>(w[j]);
      Index arg = 0;
      v.col(j).cwiseAbs().maxCoeff(&arg);
      if (v(arg, j) < S(0)) vectors.col(k) = -v.col(j).template cast<double>();
      else vectors.col(k) = v.col(j).template cast<double>();
    }
  });
}

// The solver's scratch matrices, kept per thread from one call to the next: at n = 3072 they
// are about 110 MB, and allocations that large are fresh pages every time, each one faulted in
// and zeroed (on the 2-core development machine that overhead alone took about 600 ms per
// decomposition at n = 3072, against about 1500 ms for the solver's arithmetic).
#ifdef ADAMGN_LAPACK
template <class S>
struct Scratch {
  DenseMatrix<S> reduced, vectors;
  DenseVector<S> values, work;
  std::vector<lapack_int> iwork;
};
template <class S>
Scratch<S>& scratch() {
  thread_local Scratch<S> s;
  return s;
}
#endif

}  // namespace

void set_blas_threads(int threads) {
  Eigen::setNbThreads(threads);
#ifdef ADAMGN_LAPACK
  openblas_set_num_threads(threads);
#endif
}

namespace {
// BLAS and Eigen run single-threaded from the start of the program, before any task is built.
// Their threaded products split sums differently for different thread counts, so a problem built
// before the runner set one thread (a teacher's test labels, say) had last bits that depended on
// the machine's core count and on whether it was the process's first experiment: the same
// experiment run twice in one process gave different test losses (tests/test_runner.cpp).
const bool g_single_threaded_blas = [] {
  set_blas_threads(1);
  return true;
}();

#if defined(ADAMGN_LAPACK) && ADAMGN_KERNELS_PORTABLE
// A portable build calls LAPACK's syevd as it is: `a` holds the lower triangle on entry and the
// eigenvectors on exit, w the eigenvalues (increasing).
lapack_int lapack_syevd(lapack_int n, float* a, float* w) {
  return LAPACKE_ssyevd(LAPACK_COL_MAJOR, 'V', 'L', n, a, n, w);
}
lapack_int lapack_syevd(lapack_int n, double* a, double* w) {
  return LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', n, a, n, w);
}
#elif defined(ADAMGN_LAPACK)
// The workspace is sized here: a float32 workspace query rounds sizes above 2^24 down.
template <class S, class F>
lapack_int with_stedc_workspace(lapack_int n, F&& call) {
  DenseVector<S>& work = scratch<S>().work;
  std::vector<lapack_int>& iwork = scratch<S>().iwork;
  if (work.size() < 1 + 4 * Index{n} + Index{n} * n) resize_huge(work, 1 + 4 * Index{n} + Index{n} * n, 1);
  iwork.resize(std::max(iwork.size(), static_cast<std::size_t>(3 + 5 * n)));
  return call(work.data(), static_cast<lapack_int>(work.size()), iwork.data(), static_cast<lapack_int>(iwork.size()));
}
lapack_int stedc(lapack_int n, float* d, float* e, float* z) {
  return with_stedc_workspace<float>(n, [&](float* work, lapack_int lwork, lapack_int* iwork, lapack_int liwork) {
    return LAPACKE_sstedc_work(LAPACK_COL_MAJOR, 'I', n, d, e, z, n, work, lwork, iwork, liwork);
  });
}
lapack_int stedc(lapack_int n, double* d, double* e, double* z) {
  return with_stedc_workspace<double>(n, [&](double* work, lapack_int lwork, lapack_int* iwork, lapack_int liwork) {
    return LAPACKE_dstedc_work(LAPACK_COL_MAJOR, 'I', n, d, e, z, n, work, lwork, iwork, liwork);
  });
}

lapack_int sytrd(lapack_int n, float* a, float* d, float* e, float* tau) {
  return LAPACKE_ssytrd(LAPACK_COL_MAJOR, 'L', n, a, n, d, e, tau);
}
lapack_int sytrd(lapack_int n, double* a, double* d, double* e, double* tau) {
  return LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', n, a, n, d, e, tau);
}

// LAPACK's syevd in three stages: the reduction to tridiagonal form, LAPACK's divide and conquer
// on the tridiagonal matrix, our back-transformation (kernels/tridiagonal.hpp). `s` holds the lower
// triangle on entry; on success w holds the eigenvalues (increasing) and vectors the eigenvectors.
template <class S>
bool syevd(DenseMatrix<S>& s, DenseVector<S>& w, DenseMatrix<S>& vectors) {
  const Index n = s.rows();
  DenseVector<S> e, tau;
  if (n >= kThreadedReduction) {
    reduce_to_tridiagonal(s, w, e, tau);
  } else {
    w.resize(n);
    e.resize(std::max<Index>(n - 1, 1));
    tau.resize(std::max<Index>(n - 1, 1));
    if (sytrd(static_cast<lapack_int>(n), s.data(), w.data(), e.data(), tau.data()) != 0) return false;
  }
  if (n > 1 && !(w.allFinite() && e.allFinite())) return false;
  resize_huge(vectors, n, n);
  if (stedc(static_cast<lapack_int>(n), w.data(), e.data(), vectors.data()) != 0) return false;
  apply_reduction(s, tau, vectors);
  return true;
}
#endif

template <class M>
bool decompose(const M& s, Vec& values, Mat& vectors) {
  using S = typename M::Scalar;
  if (!s.allFinite()) return false;
#ifdef ADAMGN_LAPACK
  Scratch<S>& work = scratch<S>();
  DenseVector<S>& w = work.values;
  DenseMatrix<S>& v = work.vectors;
  resize_huge(work.reduced, s.rows(), s.cols());
  work.reduced = s;
#if ADAMGN_KERNELS_PORTABLE
  w.resize(s.rows());
  if (lapack_syevd(static_cast<lapack_int>(s.rows()), work.reduced.data(), w.data()) != 0) return false;
  v.swap(work.reduced);
#else
  if (!syevd(work.reduced, w, v)) return false;
#endif
#else
  Eigen::SelfAdjointEigenSolver<M> solver(s);
  if (solver.info() != Eigen::Success) return false;
  const DenseVector<S>& w = solver.eigenvalues();
  const DenseMatrix<S>& v = solver.eigenvectors();
#endif
  if (!w.allFinite() || !v.allFinite()) return false;
  order_and_widen(w, v, values, vectors);
  return true;
}

template <class M>
bool timed_decompose(const M& s, Vec& values, Mat& vectors, double* seconds) {
  const auto start = std::chrono::steady_clock::now();
  const bool ok = decompose(s, values, vectors);
  if (seconds) *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ok;
}

}  // namespace

bool symmetric_eigen(const Mat& s, Vec& values, Mat& vectors, double* seconds) {
  return timed_decompose(s, values, vectors, seconds);
}
bool symmetric_eigen(const MatF& s, Vec& values, Mat& vectors, double* seconds) {
  return timed_decompose(s, values, vectors, seconds);
}

}  // namespace adamgn
