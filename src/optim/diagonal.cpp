#include "optim/diagonal.hpp"

#include <cmath>

namespace adamgn {

void AdamDiagonal::statistic(const Vec& g_rot, const Curvature&, const Basis&, Index t, Vec& s) {
  if (v_.size() != g_rot.size()) v_ = Vec::Zero(g_rot.size());
  v_ = beta2_ * v_ + (1.0 - beta2_) * g_rot.cwiseAbs2();
  s.resize(v_.size());
  s.noalias() = v_ / (1.0 - std::pow(beta2_, static_cast<double>(t)));
}

void GaussNewtonDiagonal::statistic(const Vec&, const Curvature& c, const Basis& b, Index, Vec& s) {
  if (c.version != curvature_version_ || b.version() != basis_version_) {
    b.gn_diagonal(c, h_);
    curvature_version_ = c.version;
    basis_version_ = b.version();
  }
  s = h_;
}

}  // namespace adamgn
