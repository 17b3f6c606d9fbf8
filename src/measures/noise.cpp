// noise (docs/measures.md): the gradient noise of the run's batch relative to its signal, from the
// per-sample gradients g_1..g_n of the probe batch, with unbiased estimators:
//   tr Sigma  = (sum_s |g_s|^2 - n |mean|^2) / (n - 1)      per-sample covariance trace
//   |E g|^2   = |mean|^2 - tr Sigma / n
//   noise_scale = tr Sigma / |E g|^2                        the simple noise scale B
//   noise     = tr Cov[g_b] / |E g|^2 = B / b                for the run's batch b (0 for full batch)
// and the same pair for D^1/2 U^T g_s, the gradient in the metric the step uses (U the
// optimizer's basis, D = (s + alpha)^p its current preconditioner; D = I, U = I for sgd). Where
// the estimate of |E g|^2 is not positive the probe cannot resolve the signal: NaN (null).
//
// Where the task gives its per-sample gradients as factors (the networks), no P-vector per sample
// is formed: sum_s |g_s|^2 is the sum of the diagonal of S = sum_s g_s g_s^T, and in the metric
// sum_s |D^1/2 U^T g_s|^2 = sum_i D_i diag(U^T S U)_i, which the basis computes from the factors
// as it does the GN diagonal. Other tasks visit the n gradients one by one.
#include "measures/measure.hpp"
#include "measures/probe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace adamgn {
namespace {

// sum_s |x_s|^2 and |mean of x_s|^2 over n vectors, and the two scales they give.
struct Moments {
  Index n = 0;
  double squares = 0.0;   // sum_s |x_s|^2
  double mean_sq = 0.0;   // |mean|^2
  // (noise_scale, noise) for batch b (0: full batch).
  std::pair<double, double> scales(Index batch) const {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (n < 2) return {nan, nan};
    const double count = static_cast<double>(n);
    const double trace = std::max(0.0, (squares - count * mean_sq) / (count - 1.0));
    const double signal = mean_sq - trace / count;
    if (!(signal > 0.0)) return {nan, nan};
    const double scale = trace / signal;
    return {scale, batch > 0 ? scale / static_cast<double>(batch) : 0.0};
  }
};

// The step's metric: D^1/2 entry by entry in the basis, or nothing when the optimizer's statistic
// does not cover the parameters yet. Empty `root` with true: the metric is the identity (sgd).
bool metric_root(const Optimizer& opt, Index size, Vec& root) {
  root.resize(0);
  if (opt.diagonal() == nullptr) return true;
  const Vec s = opt.diagonal()->current_statistic();
  if (s.size() != size) return false;
  const OptimizerConfig& cfg = opt.config();
  root.resize(s.size());
  for (Index i = 0; i < s.size(); ++i) {
    const double shifted = s[i] + cfg.alpha;
    root[i] = shifted > 0.0 ? std::pow(shifted, cfg.power / 2.0) : 0.0;
  }
  return true;
}

// D^1/2 U^T g (g itself for sgd).
Vec in_metric(const Optimizer& opt, const Vec& root, const Vec& g) {
  if (root.size() == 0) return g;
  if (opt.basis().is_identity()) return g.cwiseProduct(root);
  Vec rotated;
  opt.basis().rotate(g, rotated);
  return rotated.cwiseProduct(root);
}

// The mean of the n per-sample gradients given as factors.
Vec factor_mean(const Layout& layout, const std::vector<PseudoGradients>& factors, Index n) {
  Vec mean(layout.size());
  for (std::size_t b = 0; b < layout.blocks.size(); ++b) {
    const Block& blk = layout.blocks[b];
    visit_factors(factors[b], [&](const auto& left_s, const auto* right_s) {
      const Mat left = left_s.template cast<double>();
      if (blk.matrix)
        Eigen::Map<RowMat>(mean.data() + blk.offset, blk.rows, blk.cols) = left.transpose() * right_s->template cast<double>();
      else
        mean.segment(blk.offset, blk.size()) = left.colwise().sum().transpose();
    });
  }
  return mean / static_cast<double>(n);
}

void from_factors(const Probe& probe, std::vector<PseudoGradients> factors, const Vec& root, bool have_metric,
                  Moments& raw, Moments& metric) {
  const Optimizer& opt = probe.optimizer();
  const Layout& layout = probe.layout();
  const Index n = probe.batch();
  const Vec mean = factor_mean(layout, factors, n);
  Curvature s;  // S = sum_s g_s g_s^T
  s.pseudo = std::move(factors);
  s.row_weight = 1.0;
  s.version = Probe::kVersion;
  // The diagonal (for the raw sums) and, for a basis that reads the full matrix, S itself.
  s.level = root.size() > 0 ? opt.basis().gn_need() : CurvatureNeed::diagonal;
  complete_from_pseudo(layout, s.level == CurvatureNeed::full ? s.level : CurvatureNeed::diagonal, s);
  raw = {n, s.diag.sum(), mean.squaredNorm()};
  if (!have_metric) return;
  if (root.size() == 0) {
    metric = raw;
    return;
  }
  Vec rotated_squares;  // diag(U^T S U)
  opt.basis().gn_diagonal(s, rotated_squares);
  metric = {n, rotated_squares.dot(root.cwiseAbs2()), in_metric(opt, root, mean).squaredNorm()};
}

void one_by_one(Probe& probe, const Vec& root, bool have_metric, Moments& raw, Moments& metric) {
  const Optimizer& opt = probe.optimizer();
  Vec sum_raw = Vec::Zero(probe.layout().size()), sum_metric = sum_raw;
  probe.for_each_sample_gradient([&](const Vec& g) {
    ++raw.n;
    raw.squares += g.squaredNorm();
    sum_raw += g;
    if (!have_metric) return;
    const Vec m = in_metric(opt, root, g);
    ++metric.n;
    metric.squares += m.squaredNorm();
    sum_metric += m;
  });
  if (raw.n > 0) raw.mean_sq = (sum_raw / static_cast<double>(raw.n)).squaredNorm();
  if (metric.n > 0) metric.mean_sq = (sum_metric / static_cast<double>(metric.n)).squaredNorm();
}

void compute(Probe& probe, MeasureValues& out) {
  const Optimizer& opt = probe.optimizer();
  const OptimizerConfig& cfg = opt.config();
  const Index batch = cfg.batch.exact ? 0 : cfg.batch.n;
  Vec root;
  const bool have_metric = metric_root(opt, probe.layout().size(), root);
  Moments raw, metric;
  std::vector<PseudoGradients> factors;
  if (probe.sample_gradient_factors(factors)) from_factors(probe, std::move(factors), root, have_metric, raw, metric);
  else one_by_one(probe, root, have_metric, raw, metric);
  const auto [scale, noise] = raw.scales(batch);
  const auto [scale_m, noise_m] = metric.scales(batch);
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
