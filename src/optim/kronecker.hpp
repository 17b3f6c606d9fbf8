// Kronecker-factored eigenbasis (paper C.1, eq. 26; SPEC "Basis U"): for a matrix block W (m x n)
// with GN pseudo-gradient terms G_r = l_r r_r^T,
//   Q_L = eigvecs(E[G G^T]) = eigvecs(sum_r |r_r|^2 l_r l_r^T),  Q_R = eigvecs(E[G^T G]),
// and U = Q_L (x) Q_R is applied as Q_L^T G Q_R, never formed. A vector block gets the full
// eigenbasis of its own GN block. The GN diagonal in this basis, E[(Q_L^T G Q_R)^2], is
// ((L Q_L)^2)^T ((R Q_R)^2) for the stacked terms: two GEMMs.
//
// With gamma < 1 every factor Q is replaced by the geodesic point exp(gamma log Q) between I and
// Q (paper Algorithm 2), after aligning column signs (Q_jj >= 0) and making det Q = +1, which
// leaves the update unchanged (D depends on squares) and makes the log real. The power is taken
// through one symmetric eigendecomposition (see rotation_power).
#pragma once

#include "optim/basis.hpp"

#include <memory>

namespace adamgn {

// exp(gamma log Q) after the sign and determinant alignment described above; gamma = 0 gives I
// and gamma = 1 gives Q itself (no alignment needed). Q must be orthogonal.
Mat geodesic_from_identity(const Mat& q, double gamma);

// exp(gamma log u) for a rotation u (orthogonal, det +1) with the principal log, from the
// eigendecomposition of (u + u^T)/2; planes turned by nearly pi go through the real Schur form
// of u restricted to them, and angles of exactly pi become gamma * pi in those planes.
Mat rotation_power(const Mat& u, double gamma);

struct KroneckerStorage;

class KroneckerBasis : public Basis {
 public:
  // vectors_identity: keep vector blocks in the identity basis instead of their own eigenbasis.
  KroneckerBasis(const Layout& layout, double gamma = 1.0, bool vectors_identity = false);
  ~KroneckerBasis() override;

  CurvatureNeed refresh_need() const override { return CurvatureNeed::kronecker; }
  CurvatureNeed gn_need() const override { return CurvatureNeed::kronecker; }
  bool refresh(const Curvature& c, Vec* v) override;
  void rotate(const Vec& g, Vec& out) const override;
  void unrotate(const Vec& d, Vec& out) const override;
  void gn_diagonal(const Curvature& c, Vec& h) const override;
  bool kronecker_factors(std::size_t b, const Mat*& ql, const Mat*& qr) const override;

  // Factors of block b: {Q_L, Q_R} for a matrix block, {Q} for a vector block.
  const std::vector<Mat>& factors(std::size_t b) const { return q_[b]; }
  // True when the matrix blocks are rotated in float32 (the basis was built from float32
  // pseudo-gradients).
  bool single_precision() const { return single_; }

 private:
  // Q_L^T G Q_R (rotate) or Q_L G Q_R^T (unrotate) for every block.
  void apply(const Vec& g, Vec& out, bool rotate) const;
  // Adam's second moment of block b carried from the current factors to `next` (float32 copies
  // in next_f when the basis rotates in float32).
  void carry_moment(std::size_t b, const std::vector<Mat>& next, const std::vector<MatF>& next_f, Vec& v) const;

  Layout layout_;
  double gamma_;
  bool vectors_identity_;
  std::vector<std::vector<Mat>> q_;
  // A basis built from float32 pseudo-gradients (network tasks in f32) keeps float32 copies of
  // its matrix-block factors and rotates in float32, the precision its statistics came in. A
  // factor that is exactly the identity (gamma = 0, or not built yet) is skipped, so such a
  // block passes through unchanged in double.
  bool single_ = false;
  std::vector<std::vector<MatF>> qf_;
  std::vector<std::vector<bool>> identity_;
  std::vector<Vec> eigen_diag_;  // per block: exact GN diagonal from the eigenvalues, if any
  std::uint64_t built_from_ = ~std::uint64_t{0};
  // Grams, eigenvectors and replaced factors kept for the next refresh to overwrite: a refresh of
  // the CIFAR MLP handles about 200 MB of them, and allocations that large are fresh pages every
  // time, faulted in and zeroed anew (kronecker.cpp).
  std::unique_ptr<KroneckerStorage> reused_;
};

// Full-matrix eigenbasis moved along the geodesic from I by gamma (interp-eigen:G).
class InterpolatedEigenBasis : public EigenBasis {
 public:
  InterpolatedEigenBasis(Index n, double gamma) : EigenBasis(n), gamma_(gamma) {}
  bool refresh(const Curvature& c, Vec* v) override;
  void gn_diagonal(const Curvature& c, Vec& h) const override { MatrixBasis::gn_diagonal(c, h); }

 private:
  double gamma_;
};

}  // namespace adamgn
