#include "tasks/task.hpp"

namespace adamgn {

Vec fold_directions(const Vec& v, Index n) {
  Vec out = Vec::Zero(n);
  for (Index j = 0; j < v.size() / n; ++j) out += v.segment(j * n, n);
  return out;
}

void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const Mat* ql,
                       const Mat* qr, Vec& out) {
  const Mat pl = ql ? Mat((g.left * *ql).cwiseAbs2()) : Mat(g.left.cwiseAbs2());
  if (!blk.matrix) {
    out.segment(blk.offset, blk.size()) = pl.colwise().sum().transpose() * row_weight;
    return;
  }
  // diag of sum_js vec(l_js r_s^T) vec(l_js r_s^T)^T in the rotated basis
  //   = sum_s (sum_j (Q_L^T l_js)^2) ((Q_R^T r_s)^2)^T.
  const Index n = g.right.rows();
  Mat folded = pl.topRows(n);
  for (Index j = 1; j < pl.rows() / n; ++j) folded += pl.middleRows(j * n, n);
  const Mat pr = qr ? Mat((g.right * *qr).cwiseAbs2()) : Mat(g.right.cwiseAbs2());
  const Mat d = folded.transpose() * pr * row_weight;
  Eigen::Map<RowMat>(out.data() + blk.offset, blk.rows, blk.cols) = d;
}

void complete_from_pseudo(const Layout& layout, CurvatureNeed need, Curvature& c) {
  if (need == CurvatureNeed::kronecker) return;
  const Index p = layout.size();
  c.diag.resize(p);
  for (std::size_t b = 0; b < layout.blocks.size(); ++b)
    gn_diagonal_block(layout.blocks[b], c.pseudo[b], c.row_weight, nullptr, nullptr, c.diag);
  if (need != CurvatureNeed::full) return;
  const Index rows = c.pseudo.empty() ? 0 : c.pseudo[0].left.rows();
  Mat j(rows, p);  // one Jacobian row per term
  for (std::size_t b = 0; b < layout.blocks.size(); ++b) {
    const Block& blk = layout.blocks[b];
    const PseudoGradients& g = c.pseudo[b];
    if (!blk.matrix) {
      j.middleCols(blk.offset, blk.size()) = g.left;
    } else {
      const Mat right = g.right.replicate(rows / g.right.rows(), 1);  // one row per term
      for (Index i = 0; i < blk.rows; ++i)
        j.middleCols(blk.offset + i * blk.cols, blk.cols) = right.array().colwise() * g.left.col(i).array();
    }
  }
  c.full.noalias() = j.transpose() * j * c.row_weight;
}

}  // namespace adamgn
