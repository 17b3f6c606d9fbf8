// One step of paper Algorithm 1 with any Basis and any Diagonal:
//   g = batch gradient; H from a separate batch; U refreshed every basis_every steps;
//   g~ = U^T m (m = g, or its bias-corrected EMA when beta1 > 0, kept in parameter space);
//   D = (s + alpha)^p with s from the Diagonal (components with s + alpha <= 0 get D = 0);
//   theta <- theta - lr_t U (D o g~).
// sgd is theta <- theta - lr_t m.
#pragma once

#include "core/budget.hpp"
#include "optim/basis.hpp"
#include "optim/config.hpp"
#include "optim/diagonal.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace adamgn {

// Wall time spent in each part of the step, accumulated over a run when timing is on
// (`adamgn bench`): batch gradient, GN curvature estimate (GN batch forward and pseudo-gradients),
// basis refresh (factor products and eigendecompositions), diagonal statistic (for GN: the GN
// diagonal in the basis), and the update (rotations and elementwise work). `steps` holds each
// step's own time (all its phases), so that a benchmark can state a median as well as a mean.
struct PhaseTimes {
  double gradient = 0, curvature = 0, basis = 0, diagonal = 0, update = 0;
  double eigen = 0;  // of `basis`: eigendecompositions, summed over the threads that ran them
  std::vector<double> steps;

  // The times since an earlier snapshot `o` of the same run: its sums subtracted, its steps dropped.
  PhaseTimes operator-(const PhaseTimes& o) const {
    PhaseTimes d{gradient - o.gradient, curvature - o.curvature, basis - o.basis,
                 diagonal - o.diagonal, update - o.update,       eigen - o.eigen, {}};
    d.steps.assign(steps.begin() + static_cast<std::ptrdiff_t>(std::min(o.steps.size(), steps.size())), steps.end());
    return d;
  }
};

class Optimizer {
 public:
  // `basis` replaces the basis named in `config` (tests use fixed bases this way).
  Optimizer(const OptimizerConfig& config, const Layout& layout, Index total_steps,
            std::unique_ptr<Basis> basis = nullptr);

  // Step `t` (0-based) at theta; returns the batch-mean loss at theta before the update.
  double step(Task& task, Vec& theta, Index t, Rng& data_rng, Rng& curvature_rng);

  Index basis_failures() const { return basis_failures_; }
  void enable_timing() { timed_ = true; }
  const PhaseTimes& phase_times() const { return times_; }
  const Basis& basis() const { return *basis_; }
  Diagonal* diagonal() { return diagonal_.get(); }
  const Diagonal* diagonal() const { return diagonal_.get(); }
  const OptimizerConfig& config() const { return config_; }

  // Keeps Adam's bias-corrected second moment of the rotated gradient (with the arm's beta2) for
  // a GN arm too, carried through basis refreshes like Adam's own, without using it in the step
  // (the adam-gn-ratio measure). No effect on sgd arms or on the trajectory.
  void track_second_moment();
  // Adam's bias-corrected second moment in the current basis after the last step: the arm's own
  // for adam, the tracked one for gn (empty before the first step, for sgd, or when not tracked).
  Vec second_moment() const;

 private:
  // The pieces of a step, in order. The direction: the gradient, or its bias-corrected momentum
  // (step t1 = t + 1).
  const Vec* momentum_direction(Index t1);
  // A new GN estimate when the basis refresh or the diagonal needs one this step.
  void update_curvature(Task& task, const Vec& theta, bool refresh_step, Rng& curvature_rng);
  // The basis from the current estimate, carrying Adam's moment (a failure keeps the old basis).
  void refresh_basis();
  // theta -= lr U D (U^T direction), with D from the statistic of the rotated gradient.
  void apply_update(const Vec& g_rot, const Vec& d_rot, double lr, bool identity, Vec& theta);

  OptimizerConfig config_;
  Index total_steps_;
  std::unique_ptr<Basis> basis_;
  std::unique_ptr<Diagonal> diagonal_;  // null for sgd
  std::unique_ptr<AdamDiagonal> tracked_;  // track_second_moment() on a gn arm
  Curvature curvature_;
  bool curvature_fixed_ = false;  // exact, theta-independent curvature already computed
  bool basis_built_ = false;
  Index basis_failures_ = 0;
  bool timed_ = false;
  PhaseTimes times_;
  Vec grad_, momentum_, direction_, rotated_, rotated_direction_, stat_, scaled_, update_, tracked_stat_;
};

std::unique_ptr<Basis> make_basis(const OptimizerConfig& config, const Layout& layout);

// The most curvature a run with this configuration asks its task for.
CurvatureNeed curvature_need(const OptimizerConfig& config);

// Bytes of the optimizer's own state for a run over `layout` (the formula is in optimizer.cpp);
// `gn_is_diagonal`: the task's GN is diagonal by structure (an eigenbasis is then a permutation).
Bytes optimizer_memory(const OptimizerConfig& config, const Layout& layout, bool gn_is_diagonal);

}  // namespace adamgn
