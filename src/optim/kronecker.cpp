#include "optim/kronecker.hpp"

#include "optim/eigensolver.hpp"

#include <unsupported/Eigen/MatrixFunctions>

#include <cmath>

namespace adamgn {
namespace {

// w * sum_r s_r a_r a_r^T over the rows a_r of `a` (s = 1 when `scale` is empty), as a symmetric
// rank update (half the work of a general product); only the lower triangle is filled, which is
// all the eigensolver reads.
Mat weighted_gram(const Mat& a, const Vec& scale, double w) {
  Mat out = Mat::Zero(a.cols(), a.cols());
  if (scale.size() == 0) {
    out.selfadjointView<Eigen::Lower>().rankUpdate(a.transpose(), w);
  } else {
    const Mat scaled = a.array().colwise() * scale.array().sqrt();
    out.selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose(), w);
  }
  return out;
}

}  // namespace

Mat geodesic_from_identity(const Mat& q, double gamma) {
  const Index n = q.rows();
  if (gamma == 0.0) return Mat::Identity(n, n);
  Mat u = q;
  for (Index j = 0; j < n; ++j)
    if (u(j, j) < 0.0) u.col(j) = -u.col(j);
  if (u.determinant() < 0.0) {
    Index j;
    u.diagonal().cwiseAbs().minCoeff(&j);
    u.col(j) = -u.col(j);
  }
  if (gamma == 1.0) return u;
  Mat k = u.log();
  k = 0.5 * (k - k.transpose());  // the log of a rotation is skew-symmetric
  return (gamma * k).exp();
}

KroneckerBasis::KroneckerBasis(const Layout& layout, double gamma, bool vectors_identity)
    : layout_(layout), gamma_(gamma), vectors_identity_(vectors_identity), eigen_diag_(layout.blocks.size()) {
  for (const Block& b : layout_.blocks) {
    if (b.matrix) q_.push_back({Mat::Identity(b.rows, b.rows), Mat::Identity(b.cols, b.cols)});
    else q_.push_back({Mat::Identity(b.rows, b.rows)});
  }
}

bool KroneckerBasis::refresh(const Curvature& c, Vec* v) {
  bool all_ok = true;
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    if (!blk.matrix && vectors_identity_) continue;  // stays I; its GN diagonal is diag(H_b)
    const PseudoGradients& g = c.pseudo[b];
    std::vector<Mat> next(q_[b].size());
    std::vector<Vec> values(q_[b].size());
    bool ok = true;
    if (blk.matrix) {
      // E[G G^T] = sum_js |r_s|^2 l_js l_js^T;  E[G^T G] = sum_s (sum_j |l_js|^2) r_s r_s^T.
      const Index n = g.right.rows(), k = g.left.rows() / n;
      const Vec right_norms = g.right.rowwise().squaredNorm();
      ok = symmetric_eigen(weighted_gram(g.left, right_norms.replicate(k, 1), c.row_weight), values[0], next[0]) &&
           symmetric_eigen(weighted_gram(g.right, fold_directions(g.left.rowwise().squaredNorm(), n), c.row_weight),
                           values[1], next[1]);
    } else {
      ok = symmetric_eigen(weighted_gram(g.left, Vec(), c.row_weight), values[0], next[0]);
    }
    if (!ok) {
      all_ok = false;
      continue;
    }
    for (Mat& q : next) q = geodesic_from_identity(q, gamma_);
    if (v != nullptr && v->size() == layout_.size()) {
      // v_new = (R_L^2) V (R_R^2)^T with R = Q_new^T Q_old, per factor.
      const Mat rl = (next[0].transpose() * q_[b][0]).cwiseAbs2();
      if (blk.matrix) {
        Eigen::Map<RowMat> vb(v->data() + blk.offset, blk.rows, blk.cols);
        const Mat rr = (next[1].transpose() * q_[b][1]).cwiseAbs2();
        vb = rl * vb * rr.transpose();
      } else {
        v->segment(blk.offset, blk.size()) = rl * v->segment(blk.offset, blk.size());
      }
    }
    q_[b] = std::move(next);
    // The exact GN diagonal of this block in its own basis is an eigenvalue vector when the
    // Kronecker form is exact: vector blocks, and matrix blocks with one row or one column.
    eigen_diag_[b].resize(0);
    if (gamma_ == 1.0) {
      if (!blk.matrix) eigen_diag_[b] = values[0].cwiseMax(0.0);
      else if (blk.rows == 1) eigen_diag_[b] = values[1].cwiseMax(0.0);
      else if (blk.cols == 1) eigen_diag_[b] = values[0].cwiseMax(0.0);
    }
  }
  built_from_ = c.version;
  ++version_;
  return all_ok;
}

void KroneckerBasis::rotate(const Vec& g, Vec& out) const {
  out.resize(g.size());
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    if (blk.matrix) {
      Eigen::Map<const RowMat> gb(g.data() + blk.offset, blk.rows, blk.cols);
      Eigen::Map<RowMat>(out.data() + blk.offset, blk.rows, blk.cols).noalias() =
          q_[b][0].transpose() * gb * q_[b][1];
    } else {
      out.segment(blk.offset, blk.size()).noalias() = q_[b][0].transpose() * g.segment(blk.offset, blk.size());
    }
  }
}

void KroneckerBasis::unrotate(const Vec& d, Vec& out) const {
  out.resize(d.size());
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    if (blk.matrix) {
      Eigen::Map<const RowMat> db(d.data() + blk.offset, blk.rows, blk.cols);
      Eigen::Map<RowMat>(out.data() + blk.offset, blk.rows, blk.cols).noalias() =
          q_[b][0] * db * q_[b][1].transpose();
    } else {
      out.segment(blk.offset, blk.size()).noalias() = q_[b][0] * d.segment(blk.offset, blk.size());
    }
  }
}

void KroneckerBasis::gn_diagonal(const Curvature& c, Vec& h) const {
  h.resize(layout_.size());
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    if (c.version == built_from_ && eigen_diag_[b].size() == blk.size()) {
      h.segment(blk.offset, blk.size()) = eigen_diag_[b];
    } else {
      gn_diagonal_block(blk, c.pseudo[b], c.row_weight, &q_[b][0], blk.matrix ? &q_[b][1] : nullptr, h);
    }
  }
}

bool InterpolatedEigenBasis::refresh(const Curvature& c, Vec* v) {
  EigenBasis target(n_);
  if (!target.refresh(c, nullptr)) return false;
  MatrixBasis next(n_);
  next.set_matrix(geodesic_from_identity(target.dense(), gamma_));
  if (v != nullptr && v->size() == n_) carry_second_moment(next, *v);
  adopt(std::move(next));
  return true;
}

}  // namespace adamgn
