#include "optim/kronecker.hpp"

#include "kernels/gemm.hpp"
#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "optim/config.hpp"
#include "optim/eigensolver.hpp"
#include "optim/registry.hpp"
#include "kernels/tridiagonal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace adamgn {
namespace {

// w sum_s M_s^T C_s M_s for grouped terms (task.hpp): M_s stacks the R rows of `main` of sample s
// and C_s is the R x R Gram of its rows of `other`: the Kronecker factor E[G G^T] (main = left)
// or E[G^T G] (main = right) with every cross term between a sample's terms.
template <class M>
M grouped_gram(const M& main, const M& other, Index group, double w) {
  using S = typename M::Scalar;
  const Index n = main.rows() / group;
  M out = M::Zero(main.cols(), main.cols());
  for (Index r = 0; r < group; ++r)
    for (Index q = 0; q < group; ++q) {
      const Eigen::Matrix<S, Eigen::Dynamic, 1> c =
          other.middleRows(r * n, n).cwiseProduct(other.middleRows(q * n, n)).rowwise().sum();
      out.noalias() += (main.middleRows(r * n, n).array().colwise() * c.array()).matrix().transpose() * main.middleRows(q * n, n);
    }
  return out * static_cast<S>(w);
}

// |row|^2 of every row of a column-major matrix, accumulated column by column (contiguous, so it
// vectorizes; Eigen's rowwise().squaredNorm() walks each row with the column stride).
template <class M>
Vec row_squared_norms(const M& a) {
  Eigen::Matrix<typename M::Scalar, Eigen::Dynamic, 1> acc = Eigen::Matrix<typename M::Scalar, Eigen::Dynamic, 1>::Zero(a.rows());
  for (Index j = 0; j < a.cols(); ++j) acc += a.col(j).cwiseAbs2();
  return acc.template cast<double>();
}

// A Gram matrix in the factors' precision: the weighted rows (rows times sqrt(weight), when the
// rows carry weights) and the lower triangle of the Gram, which is all the eigensolver reads.
template <class M>
struct GramWork {
  M scaled;
  M gram;
};

// A factor job's matrices: its Gram and the Gram's eigenvectors.
struct JobBuffers {
  GramWork<Mat> f64;
  GramWork<MatF> f32;
  Mat vectors;
};

}  // namespace

// Matrices handed from one refresh to the next: the jobs' buffers (the same jobs every time) and
// the factors replaced by the last refresh, which the next one overwrites.
struct KroneckerStorage {
  std::vector<JobBuffers> jobs;
  std::vector<std::vector<Mat>> q;
  std::vector<std::vector<MatF>> qf;
};

namespace {

// One Kronecker factor to decompose: scale * row_weight * sum_r w_r a_r a_r^T over the rows a_r
// of one pseudo-gradient factor (w = 1 when `weights` is empty).
struct FactorJob {
  std::size_t block = 0, side = 0;
  const PseudoGradients* source = nullptr;
  bool use_right = false;  // rows of `right` (else of `left`)
  Vec weights;             // per-row weights (empty: 1)
  double scale = 1.0;      // a weight shared by every row, pulled out of the Gram
  std::size_t same_as = ~std::size_t{0};  // an earlier job with the same Gram, if any
  Index dim = 0, rows = 0;  // the factor's columns and rows
  const ReluMask* mask = nullptr;  // E[G G^T] from on-unit bits (left rows a_j o m_s)
  JobBuffers buffers;  // the Gram and its eigenvectors
  bool ok = false;
  Vec values;
  Mat powered;  // the geodesic point exp(gamma log Q) of the eigenvectors, when gamma < 1
  double eigen_seconds = 0.0;

  template <class M>
  GramWork<M>& work() {
    if constexpr (std::is_same_v<M, MatF>) return buffers.f32;
    else return buffers.f64;
  }
};

// The job's dimension and per-row weights: for a matrix block's E[G G^T] the squared norms of
// the right factor's rows, for E[G^T G] those of the left factor's terms folded onto samples.
// Weights that are all equal (inputs on the hypercube, one output direction) become the scale.
void find_weights(FactorJob& j, const Block& blk) {
  const PseudoGradients& g = *j.source;
  visit_factors(g, [&](const auto& left, const auto* right) {
    j.dim = j.use_right ? right->cols() : left.cols();
    j.rows = j.use_right ? right->rows() : left.rows();
    if (!j.use_right && g.mask && g.group == 1) {
      j.mask = g.mask.get();
      j.rows = j.mask->samples;
    }
    if (!blk.matrix || g.group > 1) return;
    if (j.use_right) j.weights = fold_directions(row_squared_norms(left), g.samples());
    else j.weights = row_squared_norms(*right).replicate(g.terms() / g.samples(), 1);
  });
  if (j.weights.size() > 0 && j.weights.minCoeff() == j.weights.maxCoeff()) {
    j.scale = j.weights[0];
    j.weights.resize(0);
  }
}

void prepare_gram(FactorJob& j) {
  visit_factors(*j.source, [&](const auto& left, const auto* right) {
    using M = std::decay_t<decltype(left)>;
    using S = typename M::Scalar;
    GramWork<M>& w = j.work<M>();
    if (j.mask && j.weights.size() > 0) {
      // sqrt(w_s) m_s: the weights repeat per direction, so the first `samples` serve.
      const ReluMask& mk = *j.mask;
      const Eigen::Matrix<S, Eigen::Dynamic, 1> root = j.weights.head(mk.samples).cwiseSqrt().cast<S>();
      resize_huge(w.scaled, mk.samples, mk.units);
      w.scaled.setZero();
      for (Index u = 0; u < mk.units; ++u)
        for (Index s = 0; s < mk.samples; ++s)
          if (mk.on(s, u)) w.scaled(s, u) = root[s];
    } else if (j.weights.size() > 0) {
      resize_huge(w.scaled, j.use_right ? right->rows() : left.rows(), j.dim);
      w.scaled = (j.use_right ? *right : left).array().colwise() * j.weights.cast<S>().array().sqrt();
    }
    if (j.source->group == 1) {
      resize_huge(w.gram, j.dim, j.dim);
      w.gram.setZero();
    }
  });
}

// A piece of a job's Gram: the lower triangle of the square on the diagonal at columns
// [c0, c0 + width) (a symmetric rank update) or the rectangle below that square (a general
// product), or a whole grouped Gram. Every piece runs on one thread with one-thread BLAS, so the
// bits do not depend on the thread count.
struct GramTile {
  enum Kind { square, below, grouped };
  std::size_t job = 0;
  Kind kind = square;
  Index c0 = 0, width = 0;
  double work = 0.0;  // multiply-adds, to start the largest pieces first
};

std::vector<GramTile> gram_tiles(const std::vector<FactorJob>& jobs, const std::vector<std::size_t>& unique) {
  std::vector<GramTile> tiles;
  for (std::size_t u : unique) {
    const FactorJob& j = jobs[u];
    const double rows = static_cast<double>(j.rows), dim = static_cast<double>(j.dim);
    if (j.source->group > 1) {
      tiles.push_back({u, GramTile::grouped, 0, j.dim, rows * dim * dim});
      continue;
    }
    // A word of 64 bits takes about as long as a few multiply-adds.
    const double per_row = j.mask && j.weights.size() == 0 ? 1.0 / 16.0 : 1.0;
    for (Index c0 = 0; c0 < j.dim; c0 += kPieceColumns) {
      const Index width = std::min(kPieceColumns, j.dim - c0), below = j.dim - c0 - width;
      const double w = static_cast<double>(width);
      tiles.push_back({u, GramTile::square, c0, width, per_row * rows * w * (w + 1) / 2});
      if (below > 0) tiles.push_back({u, GramTile::below, c0, width, per_row * rows * w * static_cast<double>(below)});
    }
  }
  std::stable_sort(tiles.begin(), tiles.end(), [](const GramTile& a, const GramTile& b) { return a.work > b.work; });
  return tiles;
}

// acc[p][q] = number of samples on in both unit p of `a` and unit q of `b` (NU, NV units of
// `words` words each, consecutive).
template <int NU, int NV>
void count_pairs(const std::uint64_t* a, const std::uint64_t* b, Index words, std::uint64_t (&acc)[4][4]) {
  for (Index w = 0; w < words; ++w) {
    std::uint64_t x[NU], y[NV];
    for (int p = 0; p < NU; ++p) x[p] = a[p * words + w];
    for (int q = 0; q < NV; ++q) y[q] = b[q * words + w];
    for (int p = 0; p < NU; ++p)
      for (int q = 0; q < NV; ++q) acc[p][q] += static_cast<std::uint64_t>(__builtin_popcountll(x[p] & y[q]));
  }
}

// (A^T A)(r0 .. r0 + rows, c0 .. c0 + cols): the output-weight factor of a hidden-layer Gram.
Mat out_weight_block(const ReluMask& mk, Index r0, Index rows, Index c0, Index cols) {
  return mk.out.middleCols(r0, rows).transpose() * mk.out.middleCols(c0, cols);
}

// out(i, j) = w * count(r0 + i, c0 + j) * (A^T A)(r0 + i, c0 + j) for the units' on-bits, where
// `lower` (a square on the diagonal, r0 = c0) keeps to i >= j. Counts are exact integers, so the
// entry is rounded once.
template <class Out>
void mask_counts(const ReluMask& mk, Index r0, Index rows, Index c0, Index cols, bool lower, double w, Out& out) {
  using S = typename std::decay_t<Out>::Scalar;
  const Index words = mk.words;
  const std::uint64_t* bits = mk.bits.data();
  const Mat c = out_weight_block(mk, r0, rows, c0, cols);
  for (Index v = 0; v < cols; v += 4) {
    const Index nv = std::min<Index>(4, cols - v);
    for (Index u = lower ? v : 0; u < rows; u += 4) {
      const Index nu = std::min<Index>(4, rows - u);
      std::uint64_t acc[4][4] = {};
      const std::uint64_t* a = bits + (r0 + u) * words;
      const std::uint64_t* b = bits + (c0 + v) * words;
      if (nu == 4 && nv == 4) {
        count_pairs<4, 4>(a, b, words, acc);
      } else {
        for (Index p = 0; p < nu; ++p)
          for (Index q = 0; q < nv; ++q) {
            std::uint64_t n = 0;
            for (Index k = 0; k < words; ++k) n += static_cast<std::uint64_t>(__builtin_popcountll(a[p * words + k] & b[q * words + k]));
            acc[p][q] = n;
          }
      }
      for (Index p = 0; p < nu; ++p)
        for (Index q = 0; q < nv; ++q)
          if (!lower || u + p >= v + q)
            out(u + p, v + q) = static_cast<S>(w * static_cast<double>(acc[p][q]) * c(u + p, v + q));
    }
  }
}

void build_tile(FactorJob& j, const GramTile& t, double row_weight) {
  visit_factors(*j.source, [&](const auto& left, const auto* right) {
    using M = std::decay_t<decltype(left)>;
    using S = typename M::Scalar;
    GramWork<M>& w = j.work<M>();
    if (t.kind == GramTile::grouped) {
      w.gram = grouped_gram(j.use_right ? *right : left, j.use_right ? left : *right, j.source->group, row_weight);
      return;
    }
    const Index r0 = t.kind == GramTile::square ? t.c0 : t.c0 + t.width, height = j.dim - r0;
    const Index h = t.kind == GramTile::square ? t.width : height;
    auto out = w.gram.block(r0, t.c0, h, t.width);
    if (j.mask && j.weights.size() == 0) {
      mask_counts(*j.mask, r0, h, t.c0, t.width, t.kind == GramTile::square, row_weight, out);
      return;
    }
    const M& rows = j.weights.size() > 0 ? w.scaled : (j.use_right ? *right : left);
    const S alpha = static_cast<S>(row_weight);
    if (t.kind == GramTile::square) {
      out.template selfadjointView<Eigen::Lower>().rankUpdate(rows.middleCols(t.c0, t.width).transpose(), alpha);
    } else {
      gemm_into(out, rows.middleCols(r0, h).transpose(), rows.middleCols(t.c0, t.width));
      out *= alpha;
    }
    if (j.mask) {
      // (sum_s w_s m_s m_s^T) o (A^T A) on this piece.
      out.array() *= out_weight_block(*j.mask, r0, h, t.c0, t.width).cast<S>().array();
    }
  });
}

// Decomposes the job's Gram (kept for the next refresh to write into). Factors of
// kThreadedReduction rows or more spread their tridiagonal reduction and back-transformation
// over the run's threads (one at a time); smaller ones are decomposed side by side, one per
// thread.
void decompose_job(FactorJob& j) {
  visit_factors(*j.source, [&](const auto& left, const auto*) {
    using M = std::decay_t<decltype(left)>;
    GramWork<M>& w = j.work<M>();
    j.ok = symmetric_eigen(w.gram, j.values, j.buffers.vectors, &j.eigen_seconds);
  });
}

// out = A^T G B (rotate) or A G B^T (unrotate) for a row-major rows x cols block G held in double,
// computed in A's scalar type, one piece of columns at a time; a null factor is the identity. out
// may alias g.
template <class MS>
void two_sided(const MS* a, const MS* b, bool rotate, const double* g, Index rows, Index cols, double* out) {
  using S = typename MS::Scalar;
  Eigen::Map<const RowMat> gm(g, rows, cols);
  Eigen::Map<RowMat> om(out, rows, cols);
  if (!a && !b) {
    if (out != g) om = gm;
    return;
  }
  const Index pieces = column_pieces(cols);
  // Blocks with a full piece of rows and of columns or more take gemm_into (CIFAR's first layer:
  // update 139 -> 90-100 ms per step); others keep Eigen's product, which measured faster on
  // parity's blocks (512 x 20 and 1 x 512: 0.63 against 1.0-1.1 ms per update).
  const bool wide = rows >= kPieceColumns && cols >= kPieceColumns;
  MS t(rows, cols);
  parallel_pieces(pieces, [&](Index p) {
    const Index c0 = p * kPieceColumns, w = std::min(kPieceColumns, cols - c0);
    const MS gs = gm.middleCols(c0, w).template cast<S>();
    if (!a) t.middleCols(c0, w) = gs;
    else if (!wide && rotate) t.middleCols(c0, w).noalias() = a->transpose() * gs;
    else if (!wide) t.middleCols(c0, w).noalias() = *a * gs;
    else if (rotate) gemm_into(t.middleCols(c0, w), a->transpose(), gs);
    else gemm_into(t.middleCols(c0, w), *a, gs);
  });
  if (!b) {
    om = t.template cast<double>();
    return;
  }
  parallel_pieces(pieces, [&](Index p) {
    const Index c0 = p * kPieceColumns, w = std::min(kPieceColumns, cols - c0);
    MS piece(rows, w);
    if (!wide && rotate) piece.noalias() = t * b->middleCols(c0, w);
    else if (!wide) piece.noalias() = t * b->middleRows(c0, w).transpose();
    else if (rotate) gemm_into(piece, t, b->middleCols(c0, w));
    else gemm_into(piece, t, b->middleRows(c0, w).transpose());
    om.middleCols(c0, w) = piece.template cast<double>();
  });
}

// (next^T old) squared elementwise, one piece of columns at a time: how much of each old basis
// direction each new one sees.
template <class MS>
MS squared_overlap(const MS& next, const MS& old) {
  MS r(next.cols(), old.cols());
  parallel_pieces(column_pieces(old.cols()), [&](Index p) {
    const Index c0 = p * kPieceColumns, w = std::min(kPieceColumns, old.cols() - c0);
    auto piece = r.middleCols(c0, w);
    gemm_into(piece, next.transpose(), old.middleCols(c0, w));
    piece = piece.cwiseAbs2();
  });
  return r;
}

// v_new = R_L^2 V (R_R^2)^T for a matrix block, with R = Q_new^T Q_old per factor.
template <class MS>
void carry_block(const MS& next_l, const MS& old_l, const MS& next_r, const MS& old_r, const Block& blk, Vec& v) {
  const MS rl = squared_overlap(next_l, old_l), rr = squared_overlap(next_r, old_r);
  two_sided(&rl, &rr, false, v.data() + blk.offset, blk.rows, blk.cols, v.data() + blk.offset);
}

bool exactly_identity(const Mat& q) {
  for (Index j = 0; j < q.cols(); ++j)
    for (Index i = 0; i < q.rows(); ++i)
      if (q(i, j) != (i == j ? 1.0 : 0.0)) return false;
  return true;
}

}  // namespace

Mat geodesic_from_identity(const Mat& q, double gamma) {
  const Index n = q.rows();
  if (gamma == 0.0) return Mat::Identity(n, n);
  // The update does not change when a column of Q flips sign (D depends on squares), so the
  // alignment below is only needed for the log.
  if (gamma == 1.0) return q;
  Mat u = q;
  for (Index j = 0; j < n; ++j)
    if (u(j, j) < 0.0) u.col(j) = -u.col(j);
  if (u.determinant() < 0.0) {
    Index j;
    u.diagonal().cwiseAbs().minCoeff(&j);
    u.col(j) = -u.col(j);
  }
  return rotation_power(u, gamma);
}

namespace {

// exp(gamma log u) from the real Schur form u = Z T Z^T, block diagonal for a rotation: 2 x 2
// rotations, +1s, and -1s in pairs (det u = +1), each pair a rotation by pi in its plane.
// Accurate at every angle, but Eigen's RealSchur of a 512 x 512 factor took about 0.5 s, so
// rotation_power gives it only the planes where its own formula loses accuracy.
Mat schur_power(const Mat& u, double gamma) {
  const Index n = u.rows();
  const Eigen::RealSchur<Mat> schur(u);
  const Mat& t = schur.matrixT();
  Mat tg = Mat::Zero(n, n);
  auto rotation = [&](Index i, Index j, double angle) {
    tg(i, i) = tg(j, j) = std::cos(gamma * angle);
    tg(j, i) = std::sin(gamma * angle);
    tg(i, j) = -tg(j, i);
  };
  Index pending = -1;  // an unpaired -1 eigenvalue
  for (Index i = 0; i < n; ++i) {
    if (i + 1 < n && t(i + 1, i) != 0.0) {
      // Eigen standardizes 2 x 2 blocks to [[a, b], [c, a]]; for a rotation b = -c = -sin(theta).
      rotation(i, i + 1, std::atan2(0.5 * (t(i + 1, i) - t(i, i + 1)), t(i, i)));
      ++i;
    } else if (t(i, i) > 0.0) {
      tg(i, i) = 1.0;
    } else if (pending < 0) {
      pending = i;
    } else {
      rotation(pending, i, M_PI);
      pending = -1;
    }
  }
  if (pending >= 0) tg(pending, pending) = -1.0;  // only when det u = -1 numerically; keep it
  return schur.matrixU() * tg * schur.matrixU().transpose();
}

}  // namespace

Mat rotation_power(const Mat& u, double gamma) {
  const Index n = u.rows();
  // u is a rotation: rotations by angles theta in [0, pi] in orthogonal planes, and +1s. Its
  // symmetric part S = (u + u^T)/2 has eigenvalue cos(theta) on each plane, and on that
  // eigenspace u = cos(theta) I + K with K = (u - u^T)/2 = sin(theta) J, J a quarter turn.
  // Hence u^gamma = exp(gamma log u) = f(S) + g(S) K with f(c) = cos(gamma theta) and
  // g(c) = sin(gamma theta) / sin(theta), theta = arccos(c): one symmetric eigendecomposition.
  const Mat sym = 0.5 * (u + u.transpose()), skew = 0.5 * (u - u.transpose());
  Vec c;
  Mat v;
  if (!symmetric_eigen(sym, c, v)) return schur_power(u, gamma);
  // Near a half turn K no longer tells the planes apart and g grows like 1 / (pi - theta). Those
  // planes are taken apart: the trailing eigenvalues (c is sorted decreasingly) within 3e-2 of
  // -1 (angles within about 0.25 of pi, where g <= 4), then every further eigenvalue closer than
  // 1e-4 to the last one taken, so that the split falls in a gap and the span P of their
  // eigenvectors is invariant under u to about 1e-12. On P, u^gamma = P B^gamma P^T with the
  // small rotation B = P^T u P taken through its real Schur form. (With the split at 1e-6 of -1
  // instead, a test rotation with planes at pi - 0.05 and 3.0 came out orthogonal only to 1e-12;
  // at 3e-2, to 1.5e-14 as with the Schur form of the whole matrix.)
  constexpr double kNearPi = 3e-2, kGap = 1e-4;
  Index far = n;
  while (far > 0 && c[far - 1] <= -1.0 + kNearPi) --far;
  if (far < n)
    while (far > 0 && c[far - 1] - c[far] < kGap) --far;
  if (2 * (n - far) > n) return schur_power(u, gamma);  // mostly half turns: Schur is as cheap
  Vec f(far), g(far);
  for (Index i = 0; i < far; ++i) {
    const double theta = std::acos(std::clamp(c[i], -1.0, 1.0));
    f[i] = std::cos(gamma * theta);
    g[i] = theta < 1e-8 ? gamma : std::sin(gamma * theta) / std::sin(theta);
  }
  // V_far (diag(f) V_far^T + diag(g) (V_far^T K)): two products of the factor's size.
  const auto vf = v.leftCols(far);
  Mat inner = vf.transpose() * skew;
  inner = g.asDiagonal() * inner;
  inner.noalias() += f.asDiagonal() * vf.transpose();
  Mat out = vf * inner;
  if (far < n) {
    const auto p = v.rightCols(n - far);
    const Mat b = p.transpose() * u * p;
    out.noalias() += p * schur_power(b, gamma) * p.transpose();
  }
  return out;
}

KroneckerBasis::KroneckerBasis(const Layout& layout, double gamma, bool vectors_identity)
    : layout_(layout),
      gamma_(gamma),
      vectors_identity_(vectors_identity),
      eigen_diag_(layout.blocks.size()),
      reused_(std::make_unique<KroneckerStorage>()) {
  for (const Block& b : layout_.blocks) {
    if (b.matrix) q_.push_back({Mat::Identity(b.rows, b.rows), Mat::Identity(b.cols, b.cols)});
    else q_.push_back({Mat::Identity(b.rows, b.rows)});
    identity_.push_back(std::vector<bool>(q_.back().size(), true));
    qf_.push_back(std::vector<MatF>(q_.back().size()));
  }
  reused_->q.resize(layout_.blocks.size());
  reused_->qf.resize(layout_.blocks.size());
}

KroneckerBasis::~KroneckerBasis() = default;

namespace {

// One job per factor to decompose: Q_L (and Q_R for a matrix block) of every block the basis
// rotates, with the buffers the previous refresh left.
std::vector<FactorJob> factor_jobs(const Layout& layout, bool vectors_identity, const Curvature& c,
                                   std::vector<JobBuffers>& reused) {
  std::vector<FactorJob> jobs;
  for (std::size_t b = 0; b < layout.blocks.size(); ++b) {
    const Block& blk = layout.blocks[b];
    if (!blk.matrix && vectors_identity) continue;  // stays I; its GN diagonal is diag(H_b)
    FactorJob left;
    left.block = b;
    left.source = &c.pseudo[b];
    jobs.push_back(left);
    if (blk.matrix) {
      FactorJob right = left;
      right.side = 1;
      right.use_right = true;
      jobs.push_back(right);
    }
  }
  for (std::size_t i = 0; i < jobs.size() && i < reused.size(); ++i) jobs[i].buffers = std::move(reused[i]);
  return jobs;
}

// Every job's eigenvectors and eigenvalues (and, with gamma < 1, its geodesic point), in passes
// on the run's threads: the weights, the pieces of every distinct Gram (largest first), then the
// decompositions. A job whose Gram equals an earlier one's (a bias sharing its weight's left
// factor) points at it through same_as. Returns the seconds spent in eigendecompositions.
double decompose_factors(std::vector<FactorJob>& jobs, const Layout& layout, double row_weight, double gamma) {
  parallel_pieces(static_cast<Index>(jobs.size()), [&](Index i) {
    FactorJob& j = jobs[static_cast<std::size_t>(i)];
    find_weights(j, layout.blocks[j.block]);
  });
  std::vector<std::size_t> unique;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    for (std::size_t u : unique)
      if (!jobs[i].use_right && !jobs[u].use_right && jobs[i].weights.size() == 0 && jobs[u].weights.size() == 0 &&
          jobs[i].source->group == 1 && jobs[u].source->group == 1 &&
          jobs[i].source->left_id() == jobs[u].source->left_id()) {
        jobs[i].same_as = u;
        break;
      }
    if (jobs[i].same_as == ~std::size_t{0}) unique.push_back(i);
  }
  parallel_pieces(static_cast<Index>(unique.size()), [&](Index i) { prepare_gram(jobs[unique[static_cast<std::size_t>(i)]]); });
  const std::vector<GramTile> tiles = gram_tiles(jobs, unique);
  parallel_pieces(static_cast<Index>(tiles.size()), [&](Index i) {
    const GramTile& t = tiles[static_cast<std::size_t>(i)];
    build_tile(jobs[t.job], t, row_weight);
  });
  std::vector<std::size_t> side_by_side;
  for (std::size_t u : unique) {
    if (jobs[u].dim >= kThreadedReduction) decompose_job(jobs[u]);
    else side_by_side.push_back(u);
  }
  const auto larger_first = [&](std::size_t a, std::size_t b) { return jobs[a].dim > jobs[b].dim; };
  std::stable_sort(side_by_side.begin(), side_by_side.end(), larger_first);
  parallel_pieces(static_cast<Index>(side_by_side.size()),
                  [&](Index i) { decompose_job(jobs[side_by_side[static_cast<std::size_t>(i)]]); });
  double seconds = 0.0;
  for (std::size_t u : unique) seconds += jobs[u].eigen_seconds;
  // Interpolated bases: each factor's geodesic point on its own thread (largest first).
  if (gamma != 1.0) {
    std::vector<std::size_t> by_size = unique;
    std::stable_sort(by_size.begin(), by_size.end(), larger_first);
    parallel_pieces(static_cast<Index>(by_size.size()), [&](Index i) {
      FactorJob& j = jobs[by_size[static_cast<std::size_t>(i)]];
      if (j.ok) j.powered = geodesic_from_identity(j.buffers.vectors, gamma);
    });
  }
  return seconds;
}

}  // namespace

bool KroneckerBasis::refresh(const Curvature& c, Vec* v) {
  // E[G G^T] = sum_js |r_s|^2 l_js l_js^T;  E[G^T G] = sum_s (sum_j |l_js|^2) r_s r_s^T; a vector
  // block's own GN block is sum_js l_js l_js^T. When every |r_s| is the same (inputs on the
  // hypercube) the first is |r|^2 times the third for a bias sharing l: one decomposition serves both.
  // qf_ follows q_: every refreshed block stores float32 copies when single_, empty ones otherwise.
  single_ = std::any_of(c.pseudo.begin(), c.pseudo.end(), [](const PseudoGradients& g) { return g.single(); });
  std::vector<FactorJob> jobs = factor_jobs(layout_, vectors_identity_, c, reused_->jobs);
  eigen_seconds_ += decompose_factors(jobs, layout_, c.row_weight, gamma_);

  bool all_ok = true;
  std::size_t at = 0;
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    if (!blk.matrix && vectors_identity_) continue;
    const std::size_t sides = blk.matrix ? 2 : 1;
    std::vector<Mat> next = std::move(reused_->q[b]);
    next.resize(sides);
    std::vector<Vec> values(sides);
    bool ok = true;
    for (std::size_t side = 0; side < sides; ++side) {
      const FactorJob& j = jobs[at + side];
      const FactorJob& done = j.same_as == ~std::size_t{0} ? j : jobs[j.same_as];
      ok = ok && done.ok;
      if (!done.ok) break;
      const Mat& q = gamma_ != 1.0 ? done.powered : done.buffers.vectors;
      resize_huge(next[side], q.rows(), q.cols());
      next[side] = q;
      values[side] = done.values * j.scale;  // grams are decomposed without their scale
    }
    at += sides;
    if (!ok) {
      all_ok = false;
      continue;
    }
    std::vector<MatF> next_f = std::move(reused_->qf[b]);
    next_f.resize(sides);
    for (std::size_t side = 0; side < sides; ++side) {
      if (single_ && blk.matrix) {
        resize_huge(next_f[side], next[side].rows(), next[side].cols());
        next_f[side] = next[side].cast<float>();
      } else {
        next_f[side].resize(0, 0);
      }
    }
    if (v != nullptr && v->size() == layout_.size()) carry_moment(b, next, next_f, *v);
    for (std::size_t side = 0; side < sides; ++side) identity_[b][side] = exactly_identity(next[side]);
    std::swap(qf_[b], next_f);
    std::swap(q_[b], next);
    reused_->qf[b] = std::move(next_f);
    reused_->q[b] = std::move(next);
    // The exact GN diagonal of this block in its own basis is an eigenvalue vector when the
    // Kronecker form is exact: vector blocks, and matrix blocks with one row or one column.
    eigen_diag_[b].resize(0);
    if (gamma_ == 1.0) {
      if (!blk.matrix) eigen_diag_[b] = values[0].cwiseMax(0.0);
      else if (blk.rows == 1) eigen_diag_[b] = values[1].cwiseMax(0.0);
      else if (blk.cols == 1) eigen_diag_[b] = values[0].cwiseMax(0.0);
    }
  }
  reused_->jobs.resize(jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) reused_->jobs[i] = std::move(jobs[i].buffers);
  built_from_ = c.version;
  ++version_;
  return all_ok;
}

void KroneckerBasis::carry_moment(std::size_t b, const std::vector<Mat>& next, const std::vector<MatF>& next_f,
                                  Vec& v) const {
  // v_new = (R_L^2) V (R_R^2)^T with R = Q_new^T Q_old, per factor.
  const Block& blk = layout_.blocks[b];
  if (!blk.matrix) {
    const Mat rl = (next[0].transpose() * q_[b][0]).cwiseAbs2();
    v.segment(blk.offset, blk.size()) = rl * v.segment(blk.offset, blk.size());
  } else if (single_) {
    // Before the first float32 refresh of this block there is no float32 copy of Q_old yet.
    MatF cast_l, cast_r;
    const MatF& old_l = qf_[b][0].size() > 0 ? qf_[b][0] : (cast_l = q_[b][0].cast<float>());
    const MatF& old_r = qf_[b][1].size() > 0 ? qf_[b][1] : (cast_r = q_[b][1].cast<float>());
    carry_block(next_f[0], old_l, next_f[1], old_r, blk, v);
  } else {
    carry_block(next[0], q_[b][0], next[1], q_[b][1], blk, v);
  }
}

void KroneckerBasis::apply(const Vec& g, Vec& out, bool rotate) const {
  out.resize(g.size());
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    const std::vector<bool>& ident = identity_[b];
    if (blk.matrix) {
      const double* in = g.data() + blk.offset;
      double* to = out.data() + blk.offset;
      if (single_)
        two_sided(ident[0] ? nullptr : &qf_[b][0], ident[1] ? nullptr : &qf_[b][1], rotate, in, blk.rows, blk.cols, to);
      else
        two_sided(ident[0] ? nullptr : &q_[b][0], ident[1] ? nullptr : &q_[b][1], rotate, in, blk.rows, blk.cols, to);
    } else if (ident[0]) {
      out.segment(blk.offset, blk.size()) = g.segment(blk.offset, blk.size());
    } else if (rotate) {
      out.segment(blk.offset, blk.size()).noalias() = q_[b][0].transpose() * g.segment(blk.offset, blk.size());
    } else {
      out.segment(blk.offset, blk.size()).noalias() = q_[b][0] * g.segment(blk.offset, blk.size());
    }
  }
}

void KroneckerBasis::rotate(const Vec& g, Vec& out) const { apply(g, out, true); }

void KroneckerBasis::unrotate(const Vec& d, Vec& out) const { apply(d, out, false); }

void KroneckerBasis::gn_diagonal(const Curvature& c, Vec& h) const {
  h.resize(layout_.size());
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    const std::vector<bool>& ident = identity_[b];
    if (c.version == built_from_ && eigen_diag_[b].size() == blk.size()) {
      h.segment(blk.offset, blk.size()) = eigen_diag_[b];
    } else if (single_ && blk.matrix) {
      gn_diagonal_block(blk, c.pseudo[b], c.row_weight, ident[0] ? nullptr : &qf_[b][0],
                        ident[1] ? nullptr : &qf_[b][1], h);
    } else {
      gn_diagonal_block(blk, c.pseudo[b], c.row_weight, ident[0] ? nullptr : &q_[b][0],
                        blk.matrix && !ident[1] ? &q_[b][1] : nullptr, h);
    }
  }
}

bool KroneckerBasis::kronecker_factors(std::size_t b, const Mat*& ql, const Mat*& qr) const {
  const std::vector<bool>& ident = identity_[b];
  ql = ident[0] ? nullptr : &q_[b][0];
  qr = layout_.blocks[b].matrix && !ident[1] ? &q_[b][1] : nullptr;
  return true;
}

bool InterpolatedEigenBasis::refresh(const Curvature& c, Vec* v) {
  EigenBasis target(n_);
  const bool ok = target.refresh(c, nullptr);
  eigen_seconds_ += target.eigen_seconds();
  if (!ok) return false;
  MatrixBasis next(n_);
  next.set_matrix(geodesic_from_identity(target.dense(), gamma_));
  if (v != nullptr && v->size() == n_) carry_second_moment(next, *v);
  adopt(std::move(next));
  return true;
}

}  // namespace adamgn

namespace adamgn {
namespace {

// Memory per factor of size k (m and n of a matrix block; a vector block's size unless vectors
// stay in the identity): Q, its Gram, eigenvectors and replaced copy and the eigensolver's
// workspace (8 k^2 x 6), a float32 copy (4 k^2), and with gamma < 1 the geodesic's temporaries
// (8 k^2 x 4).
Bytes kronecker_memory(const Layout& layout, double gamma, bool vectors_identity) {
  const std::size_t per = 8 * 6 + 4 + (gamma < 1.0 ? 8 * 4 : 0);
  auto factor = [&](Index k) { return Bytes::of(k, per) * k; };
  Bytes total;
  for (const Block& b : layout.blocks) {
    if (b.matrix) total += factor(b.rows) + factor(b.cols);
    else if (!vectors_identity) total += factor(b.rows);
  }
  return total;
}

// The interpolations start at U_0 = I exactly, so at gamma = 0 they are the identity basis
// itself: no curvature, and no float32 carry of Adam's second moment at each refresh, which
// would round it (tests/test_mlp.cpp).
bool at_identity(const OptimizerConfig& o) { return o.basis_argument == 0.0; }

Field gamma_argument() {
  return Field("gamma", FieldType::number, "the fraction of the geodesic from I").within(0, 1).shown_as("G");
}

}  // namespace

BasisEntry kronecker_basis() {
  BasisEntry e;
  e.name = "kronecker";
  e.description = "Kronecker-factored GN eigenbasis per weight matrix, Q_L ⊗ Q_R (paper eq. 26)";
  e.needs = [](const OptimizerConfig&) { return BasisNeeds{CurvatureNeed::kronecker, CurvatureNeed::kronecker}; };
  e.make = [](const OptimizerConfig& o, const Layout& layout) {
    return std::make_unique<KroneckerBasis>(layout, 1.0, o.kron_vectors_identity);
  };
  e.memory = [](const OptimizerConfig& o, const Layout& layout, bool) {
    return kronecker_memory(layout, 1.0, o.kron_vectors_identity);
  };
  return e;
}

BasisEntry interp_basis() {
  BasisEntry e;
  e.name = "interp";
  e.description = "each Kronecker factor moved the fraction G along the geodesic from I (paper C.3)";
  e.argument = gamma_argument();
  e.needs = [](const OptimizerConfig& o) {
    if (at_identity(o)) return BasisNeeds{CurvatureNeed::none, CurvatureNeed::diagonal};
    return BasisNeeds{CurvatureNeed::kronecker, CurvatureNeed::kronecker};
  };
  e.make = [](const OptimizerConfig& o, const Layout& layout) -> std::unique_ptr<Basis> {
    if (at_identity(o)) return std::make_unique<IdentityBasis>();
    return std::make_unique<KroneckerBasis>(layout, o.basis_argument, o.kron_vectors_identity);
  };
  e.memory = [](const OptimizerConfig& o, const Layout& layout, bool) {
    return at_identity(o) ? Bytes(0) : kronecker_memory(layout, o.basis_argument, o.kron_vectors_identity);
  };
  return e;
}

// Memory: the eigenbasis's (basis.cpp) and 3 more P x P matrices for the geodesic.
BasisEntry interp_eigen_basis() {
  BasisEntry e;
  e.name = "interp-eigen";
  e.description = "the full GN eigenbasis moved the fraction G along the geodesic from I";
  e.argument = gamma_argument();
  e.needs = [](const OptimizerConfig& o) {
    if (at_identity(o)) return BasisNeeds{CurvatureNeed::none, CurvatureNeed::diagonal};
    return BasisNeeds{CurvatureNeed::full, CurvatureNeed::full};
  };
  e.make = [](const OptimizerConfig& o, const Layout& layout) -> std::unique_ptr<Basis> {
    if (at_identity(o)) return std::make_unique<IdentityBasis>();
    return std::make_unique<InterpolatedEigenBasis>(layout.size(), o.basis_argument);
  };
  e.memory = [](const OptimizerConfig& o, const Layout& layout, bool gn_is_diagonal) {
    const Index p = layout.size();
    if (at_identity(o)) return Bytes(0);
    return gn_is_diagonal ? Bytes::of(p, 16) : Bytes::of(p, 8 * 10) * p;
  };
  return e;
}

}  // namespace adamgn
