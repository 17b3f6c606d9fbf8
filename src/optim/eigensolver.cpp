#include "optim/eigensolver.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#ifdef ADAMGN_LAPACK
#include <lapacke.h>

extern "C" void openblas_set_num_threads(int);
#endif

namespace adamgn {

void sort_and_fix_signs(Vec& values, Mat& vectors) {
  const Index n = values.size();
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return values[a] > values[b]; });
  Vec sorted_values(n);
  Mat sorted_vectors(vectors.rows(), n);
  for (Index k = 0; k < n; ++k) {
    const Index j = order[static_cast<std::size_t>(k)];
    sorted_values[k] = values[j];
    Index arg = 0;
    vectors.col(j).cwiseAbs().maxCoeff(&arg);
    sorted_vectors.col(k) = vectors(arg, j) < 0 ? Vec(-vectors.col(j)) : Vec(vectors.col(j));
  }
  values = std::move(sorted_values);
  vectors = std::move(sorted_vectors);
}

const char* eigensolver_name() {
#ifdef ADAMGN_LAPACK
  return "lapack dsyevd";
#else
  return "eigen";
#endif
}

void set_blas_threads(int threads) {
  Eigen::setNbThreads(threads);
#ifdef ADAMGN_LAPACK
  openblas_set_num_threads(threads);
#endif
}

namespace {

#ifdef ADAMGN_LAPACK
// Divide and conquer with a workspace we size ourselves: LAPACKE_ssyevd's own workspace query
// under-allocates for n near 3072 with the OpenBLAS build of Debian 12.
lapack_int syevd(lapack_int n, double* a, double* w) {
  return LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', n, a, n, w);
}
lapack_int syevd(lapack_int n, float* a, float* w) {
  const lapack_int lwork = 1 + 6 * n + 2 * n * n, liwork = 3 + 5 * n;
  std::vector<float> work(static_cast<std::size_t>(lwork));
  std::vector<lapack_int> iwork(static_cast<std::size_t>(liwork));
  return LAPACKE_ssyevd_work(LAPACK_COL_MAJOR, 'V', 'L', n, a, n, w, work.data(), lwork, iwork.data(), liwork);
}
#endif

template <class M>
bool decompose(const M& s, Vec& values, Mat& vectors) {
  using S = typename M::Scalar;
  if (!s.allFinite()) return false;
  Eigen::Matrix<S, Eigen::Dynamic, 1> w(s.rows());
  M v;
#ifdef ADAMGN_LAPACK
  v = s;
  if (syevd(static_cast<lapack_int>(s.rows()), v.data(), w.data()) != 0) return false;
#else
  Eigen::SelfAdjointEigenSolver<M> solver(s);
  if (solver.info() != Eigen::Success) return false;
  w = solver.eigenvalues();
  v = solver.eigenvectors();
#endif
  if (!w.allFinite() || !v.allFinite()) return false;
  Vec wd = w.template cast<double>();
  Mat vd = v.template cast<double>();
  sort_and_fix_signs(wd, vd);
  values = std::move(wd);
  vectors = std::move(vd);
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
