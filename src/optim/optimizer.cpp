#include "optim/optimizer.hpp"

#include "core/parallel.hpp"
#include "optim/registry.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace adamgn {

std::unique_ptr<Basis> make_basis(const OptimizerConfig& config, const Layout& layout) {
  return config.basis_entry().make(config, layout);
}

CurvatureNeed curvature_need(const OptimizerConfig& config) {
  const DiagonalEntry& d = config.diagonal_entry();
  if (!d.make) return CurvatureNeed::none;
  const BasisNeeds b = config.basis_entry().needs(config);
  return std::max(b.refresh, d.needs(b));
}

// In bytes, P parameters: 12 x 8 P for theta and the step's vectors (gradient, momentum, rotated
// copies, statistic, update, the diagonal's state), and the basis's own (its entry's formula).
Bytes optimizer_memory(const OptimizerConfig& config, const Layout& layout, bool gn_is_diagonal) {
  const Bytes total = Bytes::of(layout.size(), 12 * 8);
  if (!config.diagonal_entry().make) return total;
  return total + config.basis_entry().memory(config, layout, gn_is_diagonal);
}

Optimizer::Optimizer(const OptimizerConfig& config, const Layout& layout, Index total_steps,
                     std::unique_ptr<Basis> basis)
    : config_(config),
      total_steps_(total_steps),
      basis_(basis ? std::move(basis) : make_basis(config, layout)) {
  if (const DiagonalEntry& d = config.diagonal_entry(); d.make) diagonal_ = d.make(config);
}

void Optimizer::track_second_moment() {
  if (diagonal_ && !diagonal_->second_moment() && !tracked_) tracked_ = std::make_unique<AdamDiagonal>(config_.beta2);
}

Vec Optimizer::second_moment() const {
  const Diagonal* adam = diagonal_ && diagonal_->second_moment() ? diagonal_.get() : tracked_.get();
  if (!adam) return Vec();
  return adam->current_statistic();
}

namespace {

// Adds the time since the last call to `into` (when timing is on); `finish` records the time
// from the start to the last lap as one step's.
class Stopwatch {
 public:
  explicit Stopwatch(bool on) : on_(on), start_(on ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point()), last_(start_) {}
  void lap(double& into) {
    if (!on_) return;
    const auto now = std::chrono::steady_clock::now();
    into += std::chrono::duration<double>(now - last_).count();
    last_ = now;
  }
  void finish(std::vector<double>& steps) const {
    if (on_) steps.push_back(std::chrono::duration<double>(last_ - start_).count());
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace

const Vec* Optimizer::momentum_direction(Index t1) {
  if (config_.beta1 <= 0.0) return &grad_;
  if (momentum_.size() != grad_.size()) momentum_ = Vec::Zero(grad_.size());
  momentum_ = config_.beta1 * momentum_ + (1.0 - config_.beta1) * grad_;
  direction_ = momentum_ / (1.0 - std::pow(config_.beta1, static_cast<double>(t1)));
  return &direction_;
}

void Optimizer::update_curvature(Task& task, const Vec& theta, bool refresh_step, Rng& curvature_rng) {
  const CurvatureNeed need = std::max(refresh_step ? basis_->refresh_need() : CurvatureNeed::none,
                                      diagonal_->need(*basis_));
  if (need == CurvatureNeed::none || (curvature_fixed_ && curvature_.level >= need)) return;
  task.curvature(theta, config_.gn_batch, curvature_rng, need, curvature_);
  curvature_.level = need;
  ++curvature_.version;
  curvature_fixed_ = task.curvature_is_constant(config_.gn_batch);
}

void Optimizer::refresh_basis() {
  if (basis_->refresh_need() == CurvatureNeed::none) return;
  Vec* moment = tracked_ ? tracked_->second_moment() : diagonal_->second_moment();
  if (basis_->refresh(curvature_, moment)) basis_built_ = true;
  else ++basis_failures_;
}

void Optimizer::apply_update(const Vec& g_rot, const Vec& d_rot, double lr, bool identity, Vec& theta) {
  // Over fixed spans of entries on the run's threads: the statistic s, then D = (s + alpha)^p
  // (0 where s + alpha <= 0) applied to the rotated direction, and in the identity basis the
  // step itself. The common powers take one vectorized pass (Diagonal::precondition, with IEEE
  // square roots and quotients), others a whole-span pow.
  const Index size = grad_.size();
  const double p = config_.power, alpha = config_.alpha;
  stat_.resize(size);
  scaled_.resize(size);
  parallel_spans(size, [&](Index b, Index len) {
    if (p == -0.5 || p == -1.0) {
      diagonal_->precondition(g_rot, d_rot, b, len, p == -0.5, alpha, stat_, scaled_.data() + b);
    } else {
      diagonal_->statistic(g_rot, b, len, stat_);
      const auto shifted = stat_.segment(b, len).array() + alpha;  // s + alpha, evaluated inside each pass
      scaled_.segment(b, len).array() = d_rot.segment(b, len).array() * shifted.pow(p);
      // Every entry positive: the plain min (vminpd, which may drop a NaN) is positive and no
      // entry is NaN or infinite (x - x is 0 exactly for finite x); else the entry-by-entry rule.
      if (!(shifted.minCoeff() > 0.0 && (shifted - shifted).sum() == 0.0))
        for (Index i = b; i < b + len; ++i)
          if (!(stat_[i] + alpha > 0.0)) scaled_[i] = 0.0;
    }
    // The same expression as the other paths' steps, so that equal updates give equal bits.
    if (identity) theta.segment(b, len).noalias() -= lr * scaled_.segment(b, len);
  });
  if (!identity) {
    basis_->unrotate(scaled_, update_);
    theta.noalias() -= lr * update_;
  }
}

double Optimizer::step(Task& task, Vec& theta, Index t, Rng& data_rng, Rng& curvature_rng) {
  Stopwatch watch(timed_);
  const double loss = task.loss_and_gradient(theta, config_.batch, data_rng, grad_);
  watch.lap(times_.gradient);
  const double lr = config_.lr * config_.schedule.multiplier(t, total_steps_);
  const Index t1 = t + 1;
  const Vec* direction = momentum_direction(t1);
  if (!diagonal_) {
    theta.noalias() -= lr * *direction;
    watch.lap(times_.update);
    watch.finish(times_.steps);
    return loss;
  }

  const bool refresh_step = t % config_.basis_every == 0 && !(curvature_fixed_ && basis_built_);
  update_curvature(task, theta, refresh_step, curvature_rng);
  watch.lap(times_.curvature);
  if (refresh_step) refresh_basis();
  watch.lap(times_.basis);
  if (timed_) times_.eigen = basis_->eigen_seconds();

  // In the identity basis the rotated vectors are the vectors themselves.
  const bool identity = basis_->is_identity();
  const Vec* g_rot = &grad_;
  if (!identity) {
    basis_->rotate(grad_, rotated_);
    g_rot = &rotated_;
  }
  watch.lap(times_.update);
  const Index size = grad_.size();
  diagonal_->prepare(curvature_, *basis_, t1, size);
  if (tracked_) {
    tracked_->prepare(curvature_, *basis_, t1, size);
    tracked_stat_.resize(size);
    tracked_->statistic(*g_rot, 0, size, tracked_stat_);
  }
  watch.lap(times_.diagonal);
  const Vec* d_rot = g_rot;
  if (direction != &grad_) {
    d_rot = direction;
    if (!identity) {  // its own vector: the statistic below still reads the rotated gradient
      basis_->rotate(*direction, rotated_direction_);
      d_rot = &rotated_direction_;
    }
  }
  apply_update(*g_rot, *d_rot, lr, identity, theta);
  watch.lap(times_.update);
  watch.finish(times_.steps);
  return loss;
}

}  // namespace adamgn
