// The task interface (STYLE.md point 2). A task is one problem instance for one seed: it knows its
// parameter layout and initial point, produces batch-mean losses and gradients from fresh samples
// (or the exact population quantities), Gauss-Newton curvature from a separate sample stream, and
// evaluates the parameters. Tasks know nothing about optimizers.
#pragma once

#include "core/random.hpp"
#include "core/types.hpp"
#include "curvature/curvature.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <vector>

namespace adamgn {

// How many samples a gradient or curvature estimate uses; `exact` means the population (or
// full-dataset) quantity.
struct SampleSize {
  bool exact = true;
  Index n = 0;
  static SampleSize population() { return {true, 0}; }
  static SampleSize samples(Index n) { return {false, n}; }
};

struct Evaluation {
  double loss = 0.0;  // the curve a run records (population / excess loss for the convex tasks)
  // Held-out metrics, for tasks that have a test set (NaN when a task has no accuracy).
  bool has_test = false;
  double test_loss = 0.0;
  double test_accuracy = 0.0;
  bool has_accuracy = false;
};

class Task {
 public:
  virtual ~Task() = default;

  virtual const Layout& layout() const = 0;
  virtual Vec initial_parameters() const = 0;

  // Batch-mean loss at theta and its gradient, from `n` fresh samples drawn from `rng` or exact.
  virtual double loss_and_gradient(const Vec& theta, SampleSize n, Rng& rng, Vec& grad) = 0;

  // The gradients of `n` fresh samples from `rng`, one sample at a time, each passed to `visit`;
  // returns their mean loss. The default draws the samples one by one through
  // loss_and_gradient, so each is distributed as a batch of one is.
  virtual double sample_gradients(const Vec& theta, Index n, Rng& rng, const std::function<void(const Vec&)>& visit);

  // The same n per-sample gradients (drawn from `rng` exactly as sample_gradients draws them) in
  // the pseudo-gradient form of curvature.hpp, one rank-one term per sample and block: for a
  // matrix block g_s = left.row(s)^T right.row(s), for a vector block g_s = left.row(s). Lets a
  // consumer work on all n at once (batched products) instead of n vectors of size P. Returns
  // false, leaving `out` alone, when the task does not provide them.
  virtual bool sample_gradient_factors(const Vec& /*theta*/, Index /*n*/, Rng& /*rng*/,
                                       std::vector<PseudoGradients>& /*out*/) {
    return false;
  }

  // GN matrix (or its diagonal) at theta from `n` fresh samples drawn from `rng`, or exact.
  virtual void curvature(const Vec& theta, SampleSize n, Rng& rng, CurvatureNeed need,
                         Curvature& out) = 0;

  // True when the curvature estimate with this sample size does not depend on theta and is the
  // same every call (exact GN of a quadratic), so an optimizer may compute it once.
  virtual bool curvature_is_constant(SampleSize /*n*/) const { return false; }

  virtual Evaluation evaluate(const Vec& theta) = 0;

  // Per-run facts that let the run be replayed outside the tool (e.g. theta_star).
  virtual nlohmann::json run_record() const { return nlohmann::json::object(); }
};

}  // namespace adamgn
