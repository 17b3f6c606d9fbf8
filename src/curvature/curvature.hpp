// Curvature data and the GN-diagonal kernels, shared by the tasks that produce it and the
// optimizers that consume it: what curvature a step needs, the per-sample pseudo-gradients behind
// the Kronecker factors (with the ReLU layers' structured left terms), the Curvature a task fills,
// and diag(U^T H U) of one block for a Kronecker rotation U = Q_L (x) Q_R (identity when null).
// This layer knows nothing of tasks or optimizers; it sits on core alone.
#pragma once

#include "core/types.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace adamgn {

// What an optimizer needs to know about the GN matrix H this step: its diagonal, the per-sample
// pseudo-gradients behind the Kronecker factors, or the full matrix.
enum class CurvatureNeed { none, diagonal, kronecker, full };

// The left terms of a ReLU layer's blocks with exact output directions, in structured form:
// l_js = a_j o m_s, where m_s in {0, 1}^units marks the units of sample s that are on and a_j is
// row j of the next layer's weights. Then sum_js w_s l_js l_js^T = (sum_s w_s m_s m_s^T) o (A^T A),
// and with equal weights the first factor is a count of coinciding bits: the Kronecker basis
// builds such a Gram from bit operations instead of a product over the k n terms.
struct ReluMask {
  Index samples = 0, units = 0, words = 0;  // words = 64-sample words per unit
  std::vector<std::uint64_t> bits;          // unit u, sample s: bit s % 64 of bits[u * words + s / 64]
  Mat out;                                  // A: k x units
  bool on(Index s, Index u) const {
    return (bits[static_cast<std::size_t>(u * words + s / 64)] >> (s % 64)) & 1u;
  }
};

// Per-sample GN pseudo-gradients of one parameter block as rank-one terms. A sample s contributes
// one term per output direction j, so that
//   H_block = row_weight * sum_{j,s} vec(G_js) vec(G_js)^T
// is the exact GN block (squared loss, so the loss Hessian is I). `left` has one row per term,
// direction-major (row j * n + s). For a matrix block (m x n) G_js = left.row(j n + s)^T
// right.row(s): `right` has one row per sample, shared by its k directions (so inputs are not
// copied k times); for a vector block G_js = left.row(j n + s) and `right` is null.
// The factors are held in the task's working precision (f64: left/right, f32: left_f/right_f;
// the other pair is null) and shared between blocks: the weight and bias of one layer point at
// the same backpropagated signal, which lets consumers compute its statistics once.
//
// Grouped terms (group = R > 1, matrix blocks only): a sample's derivative is a sum of R rank-one
// terms, G_s = sum_r left.row(r n + s)^T right.row(r n + s), with cross terms between them (the
// transformer's input projection and positions). `left` and `right` both have R n rows, r-major;
// every consumer then forms G_s before squaring it.
struct PseudoGradients {
  std::shared_ptr<const Mat> left, right;
  std::shared_ptr<const MatF> left_f, right_f;
  Index group = 1;
  std::shared_ptr<const ReluMask> mask;  // optional: `left` in structured form (above)
  bool single() const { return left_f != nullptr; }
  bool has_right() const { return right != nullptr || right_f != nullptr; }
  Index terms() const { return single() ? left_f->rows() : left->rows(); }
  Index samples() const {
    return (has_right() ? (single() ? right_f->rows() : right->rows()) : terms()) / group;
  }
  const void* left_id() const { return single() ? static_cast<const void*>(left_f.get()) : left.get(); }
};

// Calls f(left, right_or_null) with the factors in their stored precision.
template <class F>
void visit_factors(const PseudoGradients& g, F&& f) {
  if (g.single()) f(*g.left_f, g.right_f.get());
  else f(*g.left, g.right.get());
}

// sum_j v[j n + s] for s < n: folds per-term values onto their samples.
Vec fold_directions(const Vec& v, Index n);

// GN information. `diag` is filled when `diagonal` or `full` was asked for. `full` is filled when
// `full` was asked for, unless the task's GN is diagonal by structure (one-hot inputs), in which
// case `structurally_diagonal` is set and `diag` is the whole matrix. `pseudo` (one entry per
// layout block) is filled when `kronecker` was asked for.
struct Curvature {
  CurvatureNeed level = CurvatureNeed::none;
  bool structurally_diagonal = false;
  Vec diag;
  Mat full;
  std::vector<PseudoGradients> pseudo;
  double row_weight = 0.0;
  std::uint64_t version = 0;  // bumped by the optimizer whenever a new estimate is stored
};

// diag(U_b^T H_b U_b) for one block with U_b = Q_L (x) Q_R (matrix block) or Q_L (vector block),
// written into out at the block's offset; a null factor means the identity. Shared by the
// identity basis (through complete_from_pseudo) and the Kronecker basis, so that identity factors
// give bit-identical numbers on both paths.
void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const Mat* ql,
                       const Mat* qr, Vec& out);
// The same with float32 factors (a Kronecker basis built from float32 pseudo-gradients keeps them),
// which spares every piece a cast of Q.
void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const MatF* ql,
                       const MatF* qr, Vec& out);

// Per-sample GN diagonals of one block in the rotation U_b = Q_L (x) Q_R (a null factor is the
// identity): with A_s = sum_j vec(G_js) vec(G_js)^T the terms of sample s out of n and
// a_s = diag(U_b^T A_s U_b), adds sum_s a_s into `sum` at the block's offset and returns
// sum_s |a_s|^2, from one product per factor for all n samples (in double).
double gn_diagonal_per_sample(const Block& blk, const PseudoGradients& g, Index n, const Mat* ql, const Mat* qr,
                              Vec& sum);

// Fills c.diag (need diagonal or full) and c.full (need full) from c.pseudo (tasks that produce
// pseudo-gradients get the other forms from here).
void complete_from_pseudo(const Layout& layout, CurvatureNeed need, Curvature& c);

}  // namespace adamgn
