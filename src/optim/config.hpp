// Optimizer configuration: one struct read through one field table (STYLE.md 3). Keys are the
// command-line flag names (--gn-batch -> gn_batch).
#pragma once

#include "core/fields.hpp"
#include "core/reader.hpp"
#include "core/types.hpp"
#include "tasks/task.hpp"

#include <string>

namespace adamgn {

struct BasisEntry;
struct DiagonalEntry;

// Learning-rate schedule (SPEC "Update" step 5): "constant", "cosine", or "step:K[:FACTOR]"
// which multiplies the rate by FACTOR (default 0.5) every K steps; K may be a percentage of the
// run ("step:10%"), so that a preset's schedule scales with its step count.
struct Schedule {
  enum class Kind { constant, step, cosine } kind = Kind::constant;
  Index every = 0;      // step: decay every `every` steps ...
  double every_percent = 0.0;  // ... or every this percentage of the run ("step:10%")
  double factor = 0.5;  // step: multiply by `factor`
  // Multiplier of the base learning rate at 0-based step t of a run of `total` steps.
  double multiplier(Index t, Index total) const;
  std::string text() const;
  static Schedule parse(const std::string& text, const std::string& where);
};

// An arm's optimizer. Every key, its default, range and help is one Field of optimizer_fields();
// the constructor takes the defaults from there, read() checks values as they are read, and the
// flags of `adamgn run` and the README's table come from the same table.
struct OptimizerConfig {
  OptimizerConfig();  // every key at the table's default

  std::string precond;  // a registered diagonal (optim/registry.hpp)
  double power;         // default: the diagonal's (-0.5 for adam, -1 for gn)
  std::string basis;    // a registered basis ...
  double basis_argument;  // ... and the number after "basis:" (interp:G), NaN when it takes none
  bool kron_vectors_identity;  // Kronecker bases: vector blocks in the identity basis (else eigen)
  double lr;
  Schedule schedule;
  double alpha;
  double beta2;
  double beta1;
  SampleSize batch;
  SampleSize gn_batch;
  Index basis_every;

  // Reads the optimizer keys present in `r` on top of the current values; UsageError naming the
  // key for an unknown name or a value out of its range.
  void read(ObjectReader& r);
  // The checks that involve more than one key (a diagonal without a basis, with a basis other
  // than the identity). Throws UsageError.
  void validate() const;
  json to_json() const;
  // Short label such as "adam", "gn^-1", "gn^-1/2", "sgd".
  std::string label() const;
  std::string basis_text() const;  // "identity", "eigen", "kronecker", "interp:0.5", ...
  const BasisEntry& basis_entry() const;
  const DiagonalEntry& diagonal_entry() const;
};

// The optimizer keys of an arm, in the order `adamgn run --help` lists them.
std::vector<Field> optimizer_fields();

}  // namespace adamgn
