#include "optim/basis.hpp"

#include "optim/config.hpp"
#include "optim/eigensolver.hpp"
#include "optim/registry.hpp"

#include <algorithm>
#include <numeric>

namespace adamgn {

MatrixBasis::MatrixBasis(Index n) : n_(n), perm_(static_cast<std::size_t>(n)) {
  std::iota(perm_.begin(), perm_.end(), Index{0});
}

void MatrixBasis::set_matrix(Mat u) {
  dense_ = std::move(u);
  ++version_;
}

void MatrixBasis::set_permutation(std::vector<Index> perm) {
  perm_ = std::move(perm);
  dense_.resize(0, 0);
  ++version_;
}

Mat MatrixBasis::dense() const {
  if (!is_permutation()) return dense_;
  Mat u = Mat::Zero(n_, n_);
  for (Index i = 0; i < n_; ++i) u(perm_[static_cast<std::size_t>(i)], i) = 1.0;
  return u;
}

void MatrixBasis::rotate(const Vec& g, Vec& out) const {
  if (is_permutation()) {
    out.resize(n_);
    for (Index i = 0; i < n_; ++i) out[i] = g[perm_[static_cast<std::size_t>(i)]];
  } else {
    out.noalias() = dense_.transpose() * g;
  }
}

void MatrixBasis::unrotate(const Vec& d, Vec& out) const {
  if (is_permutation()) {
    out.resize(n_);
    for (Index i = 0; i < n_; ++i) out[perm_[static_cast<std::size_t>(i)]] = d[i];
  } else {
    out.noalias() = dense_ * d;
  }
}

void MatrixBasis::gn_diagonal(const Curvature& c, Vec& h) const {
  h.resize(n_);
  if (is_permutation()) {
    for (Index i = 0; i < n_; ++i) {
      const Index j = perm_[static_cast<std::size_t>(i)];
      h[i] = c.structurally_diagonal ? c.diag[j] : c.full(j, j);
    }
  } else if (c.structurally_diagonal) {
    h.noalias() = dense_.cwiseAbs2().transpose() * c.diag;
  } else {
    const Mat hu = c.full * dense_;
    h = hu.cwiseProduct(dense_).colwise().sum().transpose();
  }
}

void MatrixBasis::adopt(MatrixBasis&& other) {
  dense_ = std::move(other.dense_);
  perm_ = std::move(other.perm_);
  ++version_;
}

void MatrixBasis::carry_second_moment(const MatrixBasis& next, Vec& v) const {
  if (is_permutation() && next.is_permutation()) {
    std::vector<Index> where(static_cast<std::size_t>(n_));  // coordinate -> old position
    for (Index i = 0; i < n_; ++i) where[static_cast<std::size_t>(perm_[static_cast<std::size_t>(i)])] = i;
    Vec out(n_);
    for (Index i = 0; i < n_; ++i)
      out[i] = v[where[static_cast<std::size_t>(next.perm_[static_cast<std::size_t>(i)])]];
    v = out;
    return;
  }
  const Mat r = next.dense().transpose() * dense();
  v = r.cwiseAbs2() * v;
}

EigenBasis::EigenBasis(Index n) : MatrixBasis(n) {}

bool EigenBasis::refresh(const Curvature& c, Vec* v) {
  MatrixBasis next(n_);
  Vec values;
  if (c.structurally_diagonal) {
    if (!c.diag.allFinite()) return false;
    std::vector<Index> order(static_cast<std::size_t>(n_));
    std::iota(order.begin(), order.end(), Index{0});
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return c.diag[a] > c.diag[b]; });
    values.resize(n_);
    for (Index i = 0; i < n_; ++i) values[i] = c.diag[order[static_cast<std::size_t>(i)]];
    next.set_permutation(std::move(order));
  } else {
    Mat vectors;
    if (!symmetric_eigen(c.full, values, vectors, &eigen_seconds_)) return false;
    next.set_matrix(std::move(vectors));
  }
  if (v != nullptr && v->size() == n_) carry_second_moment(next, *v);
  adopt(std::move(next));
  eigenvalues_ = values.cwiseMax(0.0);
  built_from_ = c.version;
  return true;
}

void EigenBasis::gn_diagonal(const Curvature& c, Vec& h) const {
  if (c.version == built_from_) {
    h = eigenvalues_;
  } else {
    MatrixBasis::gn_diagonal(c, h);
  }
}

}  // namespace adamgn

namespace adamgn {

BasisEntry identity_basis() {
  BasisEntry e;
  e.name = "identity";
  e.description = "U = I: the parameters' own coordinates";
  e.needs = [](const OptimizerConfig&) { return BasisNeeds{CurvatureNeed::none, CurvatureNeed::diagonal}; };
  e.make = [](const OptimizerConfig&, const Layout&) { return std::make_unique<IdentityBasis>(); };
  e.memory = [](const OptimizerConfig&, const Layout&, bool) { return Bytes(0); };
  return e;
}

// Memory: U, the eigensolver's vectors, reduced matrix and workspace, the carry of Adam's moment
// (U_new, U_new^T U_old) and H U, 7 dense P x P matrices; a permutation (16 P) when the GN is
// diagonal by structure.
BasisEntry eigen_basis() {
  BasisEntry e;
  e.name = "eigen";
  e.description = "eigenvectors of the full GN matrix, refreshed every basis_every steps";
  e.needs = [](const OptimizerConfig&) { return BasisNeeds{CurvatureNeed::full, CurvatureNeed::full}; };
  e.make = [](const OptimizerConfig&, const Layout& layout) { return std::make_unique<EigenBasis>(layout.size()); };
  e.memory = [](const OptimizerConfig&, const Layout& layout, bool gn_is_diagonal) {
    const Index p = layout.size();
    return gn_is_diagonal ? Bytes::of(p, 16) : Bytes::of(p, 8 * 7) * p;
  };
  return e;
}

}  // namespace adamgn
