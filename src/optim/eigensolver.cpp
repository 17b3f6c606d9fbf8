#include "optim/eigensolver.hpp"

#include <algorithm>
#include <numeric>

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

bool symmetric_eigen(const Mat& s, Vec& values, Mat& vectors) {
  if (!s.allFinite()) return false;
  Vec w(s.rows());
  Mat v;
#ifdef ADAMGN_LAPACK
  v = s;
  const lapack_int n = static_cast<lapack_int>(s.rows());
  if (LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', n, v.data(), n, w.data()) != 0) return false;
#else
  Eigen::SelfAdjointEigenSolver<Mat> solver(s);
  if (solver.info() != Eigen::Success) return false;
  w = solver.eigenvalues();
  v = solver.eigenvectors();
#endif
  if (!w.allFinite() || !v.allFinite()) return false;
  sort_and_fix_signs(w, v);
  values = std::move(w);
  vectors = std::move(v);
  return true;
}

}  // namespace adamgn
