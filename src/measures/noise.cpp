// noise (docs/measures.md): the gradient noise of the run's batch relative to its signal, from the
// per-sample gradients g_1..g_n of the probe batch, with unbiased estimators:
//   tr Sigma  = sum_s |g_s - mean|^2 / (n - 1)      per-sample covariance trace
//   |E g|^2   = |mean|^2 - tr Sigma / n
//   noise_scale = tr Sigma / |E g|^2                 the simple noise scale B
//   noise     = tr Cov[g_b] / |E g|^2 = B / b         for the run's batch b (0 for full batch)
// and the same pair for D^1/2 U^T g_s, the gradient in the metric the step uses (U the
// optimizer's basis, D = (s + alpha)^p its current preconditioner; D = I, U = I for sgd). Where
// the estimate of |E g|^2 is not positive the probe cannot resolve the signal: NaN (null).
#include "measures/measure.hpp"
#include "measures/probe.hpp"

#include <cmath>
#include <limits>

namespace adamgn {
namespace {

// Running mean and sum of squared deviations of vectors (Welford), for a stable tr Sigma.
struct Moments {
  Index n = 0;
  Vec mean;
  double deviation = 0.0;  // sum_s |g_s - mean|^2
  void add(const Vec& g) {
    if (n == 0) mean = Vec::Zero(g.size());
    ++n;
    const Vec before = g - mean;
    mean += before / static_cast<double>(n);
    deviation += before.dot(g - mean);
  }
  // (noise_scale, noise) for batch b (0: full batch).
  std::pair<double, double> scales(Index batch) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (n < 2) return {nan, nan};
    const double trace = deviation / static_cast<double>(n - 1);
    const double signal = mean.squaredNorm() - trace / static_cast<double>(n);
    if (!(signal > 0.0)) return {nan, nan};
    const double scale = trace / signal;
    return {scale, batch > 0 ? scale / static_cast<double>(batch) : 0.0};
  }
};

void compute(Probe& probe, MeasureValues& out) {
  const Optimizer& opt = probe.optimizer();
  const OptimizerConfig& cfg = opt.config();
  const Index batch = cfg.batch.exact ? 0 : cfg.batch.n;
  // The step's metric: D^1/2 entry by entry, in the basis.
  Vec root;
  bool have_metric = true;
  if (opt.diagonal() != nullptr) {
    const Vec s = opt.diagonal()->current_statistic();
    have_metric = s.size() == probe.layout().size();
    if (have_metric) {
      root.resize(s.size());
      for (Index i = 0; i < s.size(); ++i) {
        const double shifted = s[i] + cfg.alpha;
        root[i] = shifted > 0.0 ? std::pow(shifted, cfg.power / 2.0) : 0.0;
      }
    }
  }
  const bool rotate = opt.diagonal() != nullptr && !opt.basis().is_identity();
  Moments raw, metric;
  Vec rotated;
  probe.for_each_sample_gradient([&](const Vec& g) {
    raw.add(g);
    if (!have_metric) return;
    if (opt.diagonal() == nullptr) {
      metric.add(g);
      return;
    }
    if (rotate) opt.basis().rotate(g, rotated);
    metric.add((rotate ? rotated : g).cwiseProduct(root));
  });
  const auto [scale, noise] = raw.scales(batch);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const auto [scale_m, noise_m] = have_metric ? metric.scales(batch) : std::pair<double, double>{nan, nan};
  out.emplace_back("noise", noise);
  out.emplace_back("noise_scale", scale);
  out.emplace_back("noise_precond", noise_m);
  out.emplace_back("noise_scale_precond", scale_m);
}

}  // namespace

Measure noise_measure() {
  return {"noise",
          "gradient noise of the run's batch over its signal, tr Cov[g_b] / |E g|^2, and the noise scale B, raw and "
          "in the step's metric D^1/2 U^T g",
          "noise", compute};
}

}  // namespace adamgn
