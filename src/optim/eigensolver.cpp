#include "optim/eigensolver.hpp"

#include "core/parallel.hpp"

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
  return "lapack sytrd + stedc";
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
// LAPACK's three stages of a symmetric eigendecomposition, overloaded on precision.
lapack_int sytrd(lapack_int n, float* a, float* d, float* e, float* tau) {
  return LAPACKE_ssytrd(LAPACK_COL_MAJOR, 'L', n, a, n, d, e, tau);
}
lapack_int sytrd(lapack_int n, double* a, double* d, double* e, double* tau) {
  return LAPACKE_dsytrd(LAPACK_COL_MAJOR, 'L', n, a, n, d, e, tau);
}
// The workspace is sized here: a float32 workspace query rounds sizes above 2^24 down.
template <class S, class F>
lapack_int with_stedc_workspace(lapack_int n, F&& call) {
  std::vector<S> work(static_cast<std::size_t>(1 + 4 * n + n * n));
  std::vector<lapack_int> iwork(static_cast<std::size_t>(3 + 5 * n));
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
lapack_int larft(lapack_int m, lapack_int k, const float* v, const float* tau, float* t) {
  return LAPACKE_slarft(LAPACK_COL_MAJOR, 'F', 'C', m, k, v, m, tau, t, k);
}
lapack_int larft(lapack_int m, lapack_int k, const double* v, const double* tau, double* t) {
  return LAPACKE_dlarft(LAPACK_COL_MAJOR, 'F', 'C', m, k, v, m, tau, t, k);
}

// Reflectors per block and columns per piece of the back-transformation. Both fixed, so the
// result is the same bit for bit on any number of threads.
constexpr Index kReflectors = 64;
constexpr Index kPieceColumns = 256;

// z <- Q z, where Q = H(0) H(1) ... H(n-2) is the orthogonal factor of the tridiagonal reduction
// sytrd('L') left in `a` and `tau` (H(i) = I - tau_i v v^T acts on rows i+1.., v_{i+1} = 1 and
// the rest of v below it in column i of a). LAPACK's ormtr does the same with blocks of 32
// reflectors on one thread; here blocks of kReflectors are applied as I - V T V^T with three
// products, and the columns of z are split into pieces that run on the spare threads of the run.
template <class S>
bool apply_reduction(const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& a, const Eigen::Matrix<S, Eigen::Dynamic, 1>& tau,
                     Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& z) {
  using M = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  const Index n = a.rows(), reflectors = n - 1;
  if (reflectors <= 0) return true;
  const Index blocks = (reflectors + kReflectors - 1) / kReflectors;
  std::vector<M> v(static_cast<std::size_t>(blocks)), t(static_cast<std::size_t>(blocks));
  for (Index b = 0; b < blocks; ++b) {
    const Index k0 = b * kReflectors, kb = std::min(kReflectors, reflectors - k0), m = n - 1 - k0;
    M& vb = v[static_cast<std::size_t>(b)];
    vb = M::Zero(m, kb);
    for (Index c = 0; c < kb; ++c) {
      vb(c, c) = S(1);
      vb.col(c).tail(m - c - 1) = a.col(k0 + c).tail(m - c - 1);
    }
    M& tb = t[static_cast<std::size_t>(b)];
    tb = M::Zero(kb, kb);
    if (larft(static_cast<lapack_int>(m), static_cast<lapack_int>(kb), vb.data(), tau.data() + k0, tb.data()) != 0) return false;
  }
  const Index pieces = (z.cols() + kPieceColumns - 1) / kPieceColumns;
  parallel_pieces(pieces, [&](Index p) {
    const Index c0 = p * kPieceColumns, w = std::min(kPieceColumns, z.cols() - c0);
    M work;
    for (Index b = blocks - 1; b >= 0; --b) {
      const M& vb = v[static_cast<std::size_t>(b)];
      const M& tb = t[static_cast<std::size_t>(b)];
      const Index k0 = b * kReflectors, m = vb.rows();
      auto zs = z.block(k0 + 1, c0, m, w);
      work.noalias() = vb.transpose() * zs;
      work = tb.template triangularView<Eigen::Upper>() * work;
      zs.noalias() -= vb * work;
    }
  });
  return true;
}

// Divide and conquer (LAPACK's syevd up to the last stage): `s` holds the lower triangle on
// entry; on success w holds the eigenvalues (increasing) and vectors the eigenvectors.
template <class S>
bool syevd(Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& s, Eigen::Matrix<S, Eigen::Dynamic, 1>& w,
           Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& vectors) {
  const Index n = s.rows();
  const auto ln = static_cast<lapack_int>(n);
  Eigen::Matrix<S, Eigen::Dynamic, 1> e(std::max<Index>(n - 1, 1)), tau(std::max<Index>(n - 1, 1));
  w.resize(n);
  if (sytrd(ln, s.data(), w.data(), e.data(), tau.data()) != 0) return false;
  vectors.resize(n, n);
  if (stedc(ln, w.data(), e.data(), vectors.data()) != 0) return false;
  return apply_reduction(s, tau, vectors);
}
#endif

template <class M>
bool decompose(const M& s, Vec& values, Mat& vectors) {
  using S = typename M::Scalar;
  if (!s.allFinite()) return false;
  Eigen::Matrix<S, Eigen::Dynamic, 1> w(s.rows());
  M v;
#ifdef ADAMGN_LAPACK
  M reduced = s;
  if (!syevd(reduced, w, v)) return false;
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
