// Optimizer configuration: one struct with in-class defaults and one validate() (STYLE.md 3).
// Field names are the command-line flag names (--gn-batch -> gn_batch).
#pragma once

#include "core/reader.hpp"
#include "core/types.hpp"
#include "tasks/task.hpp"

#include <string>

namespace adamgn {

enum class Precond { adam, gn, sgd };
// identity, eigen (full GN eigenbasis), kronecker (Kronecker-factored eigenbasis), and the
// geodesic interpolations interp:G (identity -> kronecker) and interp-eigen:G (identity -> eigen).
enum class BasisKind { identity, eigen, kronecker, interp_kronecker, interp_eigen };

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

struct OptimizerConfig {
  Precond precond = Precond::adam;
  double power = -0.5;  // resolved default: -0.5 for adam, -1 for gn
  BasisKind basis = BasisKind::identity;
  double gamma = 1.0;  // interpolation factor for interp:G / interp-eigen:G
  bool kron_vectors_identity = false;  // kronecker: vector blocks in the identity basis (else eigen)
  double lr = 1e-3;
  Schedule schedule;
  double alpha = 0.0;
  double beta2 = 0.99;
  double beta1 = 0.0;
  SampleSize batch = SampleSize::population();
  SampleSize gn_batch = SampleSize::samples(4096);
  Index basis_every = 1;

  void validate() const;  // throws UsageError naming the field and value
  // Reads the optimizer keys present in `r` on top of the current values.
  void read(ObjectReader& r);
  json to_json() const;
  // Short label such as "adam", "gn^-1", "gn^-1/2", "sgd".
  std::string label() const;
  std::string basis_text() const;  // "identity", "eigen", "kronecker", "interp:0.5", ...
};

const char* to_string(Precond p);
const char* to_string(BasisKind b);

}  // namespace adamgn
