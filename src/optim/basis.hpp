// Bases U of paper Algorithm 1 (lines 7-11): the optimizer only ever rotates a vector into the
// basis (U^T g), back out of it (U d), and asks for the GN diagonal expressed in it,
// diag(U^T H U). New bases (Kronecker, interpolated) implement this interface; the optimizer step
// does not change.
#pragma once

#include "core/types.hpp"
#include "tasks/task.hpp"

#include <memory>
#include <vector>

namespace adamgn {

class Basis {
 public:
  virtual ~Basis() = default;

  // Curvature the basis needs to be recomputed (none: the basis never changes).
  virtual CurvatureNeed refresh_need() const { return CurvatureNeed::none; }
  // Curvature needed to express the GN diagonal in this basis.
  virtual CurvatureNeed gn_need() const = 0;

  // Recompute the basis from `c`. Adam's second-moment estimate `v` (may be null), held in the
  // old coordinates, is carried into the new ones: v_new = (U_new^T U_old)^{o2} v_old, i.e. the
  // diagonal of the old estimate seen from the new basis. Returns false when the decomposition
  // failed or was not finite; the previous basis is then kept.
  virtual bool refresh(const Curvature& /*c*/, Vec* /*v*/) { return true; }

  virtual void rotate(const Vec& g, Vec& out) const = 0;    // out = U^T g
  virtual void unrotate(const Vec& d, Vec& out) const = 0;  // out = U d
  virtual void gn_diagonal(const Curvature& c, Vec& h) const = 0;  // h = diag(U^T H U)

  // For a basis that is block diagonal over the layout with Kronecker-factored blocks,
  // U_b = Q_L (x) Q_R (a vector block: Q_L alone): true, with block b's factors (null where a
  // factor is the identity). False for any other basis. Lets a measure rotate per-sample factors
  // in one product per block instead of one vector at a time.
  virtual bool kronecker_factors(std::size_t /*b*/, const Mat*& /*ql*/, const Mat*& /*qr*/) const { return false; }

  // Changes whenever U changes (lets statistics that depend on U be cached).
  std::uint64_t version() const { return version_; }

  // True when U = I for good (the optimizer then skips the copy back out of the basis).
  virtual bool is_identity() const { return false; }

  // Seconds spent inside symmetric eigendecompositions since construction, summed over the
  // threads that ran them (part of the refresh; `adamgn bench` reports it).
  double eigen_seconds() const { return eigen_seconds_; }

 protected:
  std::uint64_t version_ = 0;
  double eigen_seconds_ = 0.0;
};

// U = I.
class IdentityBasis : public Basis {
 public:
  CurvatureNeed gn_need() const override { return CurvatureNeed::diagonal; }
  bool is_identity() const override { return true; }
  void rotate(const Vec& g, Vec& out) const override { out = g; }
  void unrotate(const Vec& d, Vec& out) const override { out = d; }
  void gn_diagonal(const Curvature& c, Vec& h) const override { h = c.diag; }
  bool kronecker_factors(std::size_t /*b*/, const Mat*& ql, const Mat*& qr) const override {
    ql = qr = nullptr;
    return true;
  }
};

// An explicit orthogonal P x P basis, stored densely or, when it is a permutation matrix, as the
// permutation (column i of U is e_{perm[i]}), which makes rotations O(P).
class MatrixBasis : public Basis {
 public:
  explicit MatrixBasis(Index n);  // starts as the identity permutation
  void set_matrix(Mat u);
  void set_permutation(std::vector<Index> perm);

  CurvatureNeed gn_need() const override { return CurvatureNeed::full; }
  void rotate(const Vec& g, Vec& out) const override;
  void unrotate(const Vec& d, Vec& out) const override;
  void gn_diagonal(const Curvature& c, Vec& h) const override;

  bool is_permutation() const { return dense_.size() == 0; }
  Mat dense() const;  // U as a matrix (for tests and for carrying state)

 protected:
  // Maps v from the current basis to `next` (both may be dense or permutations).
  void carry_second_moment(const MatrixBasis& next, Vec& v) const;
  void adopt(MatrixBasis&& other);  // take other's U (a new version)

  Index n_;
  Mat dense_;                // empty when the basis is a permutation
  std::vector<Index> perm_;  // used when dense_ is empty
};

// Eigenvectors of the GN matrix (paper Algorithm 1 line 10), sorted by decreasing eigenvalue,
// each with its largest-magnitude entry made positive so consecutive refreshes line up. When the
// task's GN is diagonal by structure the eigenbasis is the sorting permutation (ties keep index
// order), found in O(P log P) instead of an O(P^3) decomposition.
class EigenBasis : public MatrixBasis {
 public:
  // Largest P for which a dense P x P decomposition is accepted (checked before a run starts).
  static constexpr Index kMaxDense = 4096;
  explicit EigenBasis(Index n);

  CurvatureNeed refresh_need() const override { return CurvatureNeed::full; }
  bool refresh(const Curvature& c, Vec* v) override;
  // In the eigenbasis of the very curvature estimate it was built from, diag(U^T H U) is the
  // eigenvalues (clipped at 0); otherwise it is computed from H.
  void gn_diagonal(const Curvature& c, Vec& h) const override;

 private:
  Vec eigenvalues_;
  std::uint64_t built_from_ = ~std::uint64_t{0};  // Curvature::version the basis came from
};

}  // namespace adamgn
