#include "optim/kronecker.hpp"

#include <unsupported/Eigen/MatrixFunctions>

#include <cmath>

namespace adamgn {
namespace {

// Eigenvectors of a symmetric matrix, sorted decreasing with fixed signs; false if not finite.
bool eigenvectors(const Mat& s, Mat& q) {
  if (!s.allFinite()) return false;
  Eigen::SelfAdjointEigenSolver<Mat> solver(s);
  if (solver.info() != Eigen::Success) return false;
  Vec values = solver.eigenvalues();
  Mat vectors = solver.eigenvectors();
  if (!values.allFinite() || !vectors.allFinite()) return false;
  sort_and_fix_signs(values, vectors);
  q = std::move(vectors);
  return true;
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

KroneckerBasis::KroneckerBasis(const Layout& layout, double gamma) : layout_(layout), gamma_(gamma) {
  for (const Block& b : layout_.blocks) {
    if (b.matrix) q_.push_back({Mat::Identity(b.rows, b.rows), Mat::Identity(b.cols, b.cols)});
    else q_.push_back({Mat::Identity(b.rows, b.rows)});
  }
}

bool KroneckerBasis::refresh(const Curvature& c, Vec* v) {
  bool all_ok = true;
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b) {
    const Block& blk = layout_.blocks[b];
    const PseudoGradients& g = c.pseudo[b];
    std::vector<Mat> next(q_[b].size());
    bool ok = true;
    if (blk.matrix) {
      const Vec lw = g.left.rowwise().squaredNorm() * c.row_weight;
      const Vec rw = g.right.rowwise().squaredNorm() * c.row_weight;
      ok = eigenvectors(g.left.transpose() * rw.asDiagonal() * g.left, next[0]) &&
           eigenvectors(g.right.transpose() * lw.asDiagonal() * g.right, next[1]);
    } else {
      ok = eigenvectors(g.left.transpose() * g.left * c.row_weight, next[0]);
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
  }
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
  for (std::size_t b = 0; b < layout_.blocks.size(); ++b)
    gn_diagonal_block(layout_.blocks[b], c.pseudo[b], c.row_weight, &q_[b][0],
                      layout_.blocks[b].matrix ? &q_[b][1] : nullptr, h);
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
