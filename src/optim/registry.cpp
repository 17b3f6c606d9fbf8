#include "optim/registry.hpp"

namespace adamgn {

// Each defined in its own file (an entry's whole registration is its line here).
BasisEntry identity_basis();
BasisEntry eigen_basis();
BasisEntry kronecker_basis();
BasisEntry interp_basis();
BasisEntry interp_eigen_basis();
DiagonalEntry adam_diagonal();
DiagonalEntry gn_diagonal();
DiagonalEntry sgd_diagonal();

Registry<BasisEntry>& basis_registry() {
  static Registry<BasisEntry> registry("basis", [] {
    return std::vector<BasisEntry>{identity_basis(), eigen_basis(), kronecker_basis(), interp_basis(),
                                   interp_eigen_basis()};
  });
  return registry;
}

Registry<DiagonalEntry>& diagonal_registry() {
  static Registry<DiagonalEntry> registry("diagonal", [] {
    return std::vector<DiagonalEntry>{adam_diagonal(), gn_diagonal(), sgd_diagonal()};
  });
  return registry;
}

std::string basis_forms() {
  std::string out;
  for (const BasisEntry& b : basis_registry().entries())
    out += (out.empty() ? "" : "|") + b.name + (b.argument ? ":" + b.argument->value_name() : "");
  return out;
}

std::string describe(CurvatureNeed need) {
  switch (need) {
    case CurvatureNeed::none: return "nothing";
    case CurvatureNeed::diagonal: return "the GN diagonal";
    case CurvatureNeed::kronecker: return "the GN matrix's Kronecker factors (per-sample pseudo-gradients)";
    case CurvatureNeed::full: return "the full GN matrix";
  }
  return "?";
}

}  // namespace adamgn
