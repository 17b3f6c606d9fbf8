#include "core/parallel.hpp"
#include "tasks/task.hpp"

#include <stdexcept>
#include <type_traits>

namespace adamgn {
namespace {

// Samples per piece of the GN-diagonal products. Fixed (not derived from the thread count), so
// the summation order, and with it every bit of the result, is the same for any thread count.
constexpr Index kChunk = 1024;

// q in scalar S: q itself when it already is, else a converted copy held in `storage`.
template <class S, class Q>
const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& in_scalar(const Q& q, Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& storage) {
  if constexpr (std::is_same_v<typename Q::Scalar, S>) {
    return q;
  } else {
    storage = q.template cast<S>();
    return storage;
  }
}

// The GN diagonal of one block over the samples [s0, s0 + len), in the factors' precision:
//   vector block: sum_js (Q^T l_js)^2;  matrix block: sum_s (sum_j (Q_L^T l_js)^2) ((Q_R^T r_s)^2)^T.
template <class M, class Q>
Mat diagonal_piece(const Block& blk, const M& left, const M* right, Index s0, Index len, const Q* ql,
                   const Q* qr) {
  using S = typename M::Scalar;
  const Index n = right ? right->rows() : left.rows();  // samples (vector blocks: terms)
  const Index k = right ? left.rows() / n : 1;
  M ql_storage, qr_storage;
  const M& qls = ql ? in_scalar<S>(*ql, ql_storage) : ql_storage;
  // The first direction is assigned rather than added to zeros (the same bits, one pass less).
  M folded(len, left.cols());
  if (k == 0) folded.setZero();
  for (Index j = 0; j < k; ++j) {
    const auto rows = left.middleRows(j * n + s0, len);
    if (ql && j == 0) folded.noalias() = (rows * qls).cwiseAbs2();
    else if (ql) folded.noalias() += (rows * qls).cwiseAbs2();
    else if (j == 0) folded = rows.cwiseAbs2();
    else folded += rows.cwiseAbs2();
  }
  if (!blk.matrix) return folded.colwise().sum().transpose().template cast<double>();
  const auto rr = right->middleRows(s0, len);
  const M pr = qr ? M((rr * in_scalar<S>(*qr, qr_storage)).cwiseAbs2()) : M(rr.cwiseAbs2());
  return (folded.transpose() * pr).template cast<double>();
}

// The same for grouped terms (task.hpp): sum_s (sum_r a_rs b_rs^T)^2 with a = Q_L^T l, b = Q_R^T r,
// expanded as sum_{r, r'} (a_r o a_r')^T (b_r o b_r') over the pairs, each unordered pair twice.
template <class M, class Q>
Mat grouped_diagonal_piece(const M& left, const M& right, Index group, Index s0, Index len, const Q* ql,
                           const Q* qr) {
  using S = typename M::Scalar;
  const Index n = right.rows() / group;
  M ql_storage, qr_storage;
  const M& qls = ql ? in_scalar<S>(*ql, ql_storage) : ql_storage;
  const M& qrs = qr ? in_scalar<S>(*qr, qr_storage) : qr_storage;
  std::vector<M> a(static_cast<std::size_t>(group)), b(static_cast<std::size_t>(group));
  for (Index r = 0; r < group; ++r) {
    const auto lr = left.middleRows(r * n + s0, len), rr = right.middleRows(r * n + s0, len);
    a[static_cast<std::size_t>(r)] = ql ? M(lr * qls) : M(lr);
    b[static_cast<std::size_t>(r)] = qr ? M(rr * qrs) : M(rr);
  }
  M out = M::Zero(left.cols(), right.cols());
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t q = r; q < a.size(); ++q)
      out.noalias() += (r == q ? S(1) : S(2)) * (a[r].cwiseProduct(a[q]).transpose() * b[r].cwiseProduct(b[q]));
  return out.template cast<double>();
}

}  // namespace

Vec fold_directions(const Vec& v, Index n) {
  Vec out = Vec::Zero(n);
  for (Index j = 0; j < v.size() / n; ++j) out += v.segment(j * n, n);
  return out;
}

namespace {

template <class Q>
void diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const Q* ql, const Q* qr,
                    Vec& out) {
  visit_factors(g, [&](const auto& left, const auto* right) {
    // Vector blocks without a right factor chunk over terms (one direction each).
    const Index n = (right ? right->rows() : left.rows()) / g.group;
    const Index pieces = (n + kChunk - 1) / kChunk;
    std::vector<Mat> parts(static_cast<std::size_t>(pieces));
    parallel_pieces(pieces, [&](Index p) {
      const Index s0 = p * kChunk, len = std::min(kChunk, n - s0);
      parts[static_cast<std::size_t>(p)] = g.group > 1 ? grouped_diagonal_piece(left, *right, g.group, s0, len, ql, qr)
                                                       : diagonal_piece(blk, left, right, s0, len, ql, qr);
    });
    Mat d = parts.empty() ? Mat::Zero(blk.matrix ? blk.rows : blk.size(), blk.matrix ? blk.cols : 1) : parts[0];
    for (std::size_t p = 1; p < parts.size(); ++p) d += parts[p];
    d *= row_weight;
    if (blk.matrix) Eigen::Map<RowMat>(out.data() + blk.offset, blk.rows, blk.cols) = d;
    else out.segment(blk.offset, blk.size()) = d.col(0);
  });
}

}  // namespace

void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const Mat* ql,
                       const Mat* qr, Vec& out) {
  diagonal_block(blk, g, row_weight, ql, qr, out);
}

void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const MatF* ql,
                       const MatF* qr, Vec& out) {
  diagonal_block(blk, g, row_weight, ql, qr, out);
}

void complete_from_pseudo(const Layout& layout, CurvatureNeed need, Curvature& c) {
  if (need == CurvatureNeed::kronecker) return;
  const Index p = layout.size();
  c.diag.resize(p);
  for (std::size_t b = 0; b < layout.blocks.size(); ++b)
    gn_diagonal_block(layout.blocks[b], c.pseudo[b], c.row_weight, static_cast<const Mat*>(nullptr), nullptr, c.diag);
  if (need != CurvatureNeed::full) return;
  const Index rows = c.pseudo.empty() ? 0 : c.pseudo[0].terms();
  for (const auto& g : c.pseudo)
    if (g.group > 1) throw std::logic_error("complete_from_pseudo: grouped terms give no full GN matrix here");
  Mat j(rows, p);  // one Jacobian row per term
  for (std::size_t b = 0; b < layout.blocks.size(); ++b) {
    const Block& blk = layout.blocks[b];
    visit_factors(c.pseudo[b], [&](const auto& left_s, const auto* right_s) {
      const Mat left = left_s.template cast<double>();
      if (!blk.matrix) {
        j.middleCols(blk.offset, blk.size()) = left;
        return;
      }
      const Mat right = right_s->template cast<double>().replicate(rows / right_s->rows(), 1);  // one row per term
      for (Index i = 0; i < blk.rows; ++i)
        j.middleCols(blk.offset + i * blk.cols, blk.cols) = right.array().colwise() * left.col(i).array();
    });
  }
  c.full.noalias() = j.transpose() * j * c.row_weight;
}

}  // namespace adamgn
