// Diagonal statistics s of paper Algorithm 1 (lines 12-15), expressed in the current basis. The
// optimizer turns s into the preconditioner D = (s + alpha)^p; a diagonal never sees the task.
#pragma once

#include "optim/basis.hpp"

namespace adamgn {

// out = g / sqrt(s + alpha) (sqrt_power) or g / (s + alpha) over n entries, with IEEE square
// roots and quotients, and out = 0 where s + alpha is not positive (or NaN): D = (s + alpha)^p
// applied to g for the two common powers.
void precondition_span(bool sqrt_power, const double* s, const double* g, double alpha, Index n, double* out);

class Diagonal {
 public:
  virtual ~Diagonal() = default;
  // Curvature needed to compute the statistic in basis `b`.
  virtual CurvatureNeed need(const Basis& b) const = 0;
  // Whole-vector work for 1-based step `t` on a parameter vector of `size` entries, before any
  // span of s is asked for (the GN diagonal, when the curvature or the basis changed).
  virtual void prepare(const Curvature& c, const Basis& b, Index t, Index size) = 0;
  // s over the entries [begin, begin + len), from the rotated gradient. The optimizer calls it
  // on fixed spans, several at once on different threads.
  virtual void statistic(const Vec& g_rot, Index begin, Index len, Vec& s) = 0;
  // D = (s + alpha)^p applied to the rotated direction d_rot over [begin, begin + len), for
  // p = -1/2 (sqrt_power) or p = -1, into out: statistic() into s, then precondition_span. A
  // diagonal may do both in one pass, with the same arithmetic.
  virtual void precondition(const Vec& g_rot, const Vec& d_rot, Index begin, Index len, bool sqrt_power,
                            double alpha, Vec& s, double* out);
  // Per-run state held in basis coordinates that must follow the basis when it changes.
  virtual Vec* second_moment() { return nullptr; }
  // The statistic s of the last step, over the whole vector (for measures; not on the step's path).
  virtual Vec current_statistic() const = 0;
};

// Adam's second moment: v <- beta2 v + (1 - beta2) g_rot^2, bias-corrected, s = v / (1 - beta2^t).
// beta2 = 0 is this step's squared rotated gradient. The update of v is one fused multiply-add,
// fma(g^2, 1 - beta2, beta2 v), and s = v * (1 / (1 - beta2^t)).
class AdamDiagonal : public Diagonal {
 public:
  explicit AdamDiagonal(double beta2) : beta2_(beta2) {}
  CurvatureNeed need(const Basis&) const override { return CurvatureNeed::none; }
  void prepare(const Curvature& c, const Basis& b, Index t, Index size) override;
  void statistic(const Vec& g_rot, Index begin, Index len, Vec& s) override;
  // v, s and the quotient in one pass (s is not written).
  void precondition(const Vec& g_rot, const Vec& d_rot, Index begin, Index len, bool sqrt_power, double alpha,
                    Vec& s, double* out) override;
  Vec* second_moment() override { return &v_; }
  Vec current_statistic() const override { return v_ * inverse_correction_; }

 private:
  double beta2_;
  double inverse_correction_ = 1.0;  // 1 / (1 - beta2^t)
  Vec v_;
};

// The GN diagonal in the basis, s = diag(U^T H U) (paper eq. 3): eigenvalues in the eigenbasis,
// diag(H) in the identity basis. Recomputed only when the curvature or the basis changed.
class GaussNewtonDiagonal : public Diagonal {
 public:
  CurvatureNeed need(const Basis& b) const override { return b.gn_need(); }
  void prepare(const Curvature& c, const Basis& b, Index t, Index size) override;
  void statistic(const Vec& g_rot, Index begin, Index len, Vec& s) override;
  Vec current_statistic() const override { return h_; }

 private:
  Vec h_;
  std::uint64_t curvature_version_ = ~std::uint64_t{0};
  std::uint64_t basis_version_ = ~std::uint64_t{0};
};

}  // namespace adamgn
