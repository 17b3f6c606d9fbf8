// The basis and diagonal registries (docs/extending.md). An arm names one entry of each: its
// "basis" text ("interp:0.5": the entry interp with argument 0.5) and its "precond" (the
// diagonal). Each entry says what it asks of the task as a curvature level (CurvatureNeed); a
// task says which levels it provides (TaskFactory::provides), and that is the whole
// compatibility rule. Adding a basis or a diagonal is one file that defines its entry and one
// line in optim/registry.cpp.
#pragma once

#include "core/budget.hpp"
#include "core/fields.hpp"
#include "core/registry.hpp"
#include "optim/basis.hpp"
#include "optim/diagonal.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace adamgn {

struct OptimizerConfig;

// The curvature a basis asks for: to be refreshed (none: it never changes), and to express the
// GN diagonal in it, diag(U^T H U).
struct BasisNeeds {
  CurvatureNeed refresh = CurvatureNeed::none;
  CurvatureNeed gn = CurvatureNeed::diagonal;
};

struct BasisEntry {
  std::string name, description;
  // The number after "NAME:" in the basis text, when the basis takes one (interp:G): its key
  // names it in help and errors, and its range is checked. The entry receives it as
  // OptimizerConfig::basis_argument (NaN for a basis without one).
  std::optional<Field> argument;
  std::function<BasisNeeds(const OptimizerConfig&)> needs;
  std::function<std::unique_ptr<Basis>(const OptimizerConfig&, const Layout&)> make;
  // Bytes of the basis's own state over `layout` (gn_is_diagonal: the task's GN is diagonal by
  // structure), for the run's memory estimate.
  std::function<Bytes(const OptimizerConfig&, const Layout&, bool gn_is_diagonal)> memory;
};

// A tuning-protocol axis: a key and its values.
using TuningAxis = std::pair<std::string, std::vector<json>>;

struct DiagonalEntry {
  std::string name, description;
  double default_power = -0.5;  // p of D = (s + alpha)^p when the arm gives no power
  bool power_in_label = false;  // the arm's default name shows p even at its default ("gn^-1")
  // The diagonal for an arm; null make: no diagonal and no basis (the plain gradient step).
  std::function<std::unique_ptr<Diagonal>(const OptimizerConfig&)> make;
  // The curvature its statistic asks for in a basis with those needs.
  std::function<CurvatureNeed(const BasisNeeds&)> needs = [](const BasisNeeds&) { return CurvatureNeed::none; };
  // Axes the paper's tuning protocol (C.1) adds around an arm's own values, besides lr and the
  // schedule (`adamgn sweep --protocol`).
  std::function<std::vector<TuningAxis>(const OptimizerConfig&)> tuning_axes = [](const OptimizerConfig&) {
    return std::vector<TuningAxis>{};
  };
};

Registry<BasisEntry>& basis_registry();
Registry<DiagonalEntry>& diagonal_registry();

// "identity | eigen | ... | interp:G | interp-eigen:G": the basis texts an arm may give.
std::string basis_forms();

// What a task lacks for a curvature level, as a phrase ("the GN matrix's Kronecker factors").
std::string describe(CurvatureNeed need);

}  // namespace adamgn
