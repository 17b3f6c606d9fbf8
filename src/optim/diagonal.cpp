#include "optim/diagonal.hpp"

#include <cmath>

namespace adamgn {

void AdamDiagonal::prepare(const Curvature&, const Basis&, Index t, Index size) {
  if (v_.size() != size) v_ = Vec::Zero(size);
  inverse_correction_ = 1.0 / (1.0 - std::pow(beta2_, static_cast<double>(t)));
}

void AdamDiagonal::statistic(const Vec& g_rot, Index begin, Index len, Vec& s) {
  auto v = v_.segment(begin, len);
  v = beta2_ * v + (1.0 - beta2_) * g_rot.segment(begin, len).cwiseAbs2();
  s.segment(begin, len).noalias() = v * inverse_correction_;  // a product: division is several times slower
}

void GaussNewtonDiagonal::prepare(const Curvature& c, const Basis& b, Index, Index) {
  if (c.version != curvature_version_ || b.version() != basis_version_) {
    b.gn_diagonal(c, h_);
    curvature_version_ = c.version;
    basis_version_ = b.version();
  }
}

void GaussNewtonDiagonal::statistic(const Vec&, Index begin, Index len, Vec& s) {
  s.segment(begin, len) = h_.segment(begin, len);
}

}  // namespace adamgn
