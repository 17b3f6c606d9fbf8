// adam-gn-ratio (docs/measures.md): the 10th, 50th and 90th percentiles over coordinates i of
//   r_i = v_i / (l s_i)
// with v Adam's bias-corrected second moment in the optimizer's current basis, l the loss (exact
// where the population exists, else the probe batch's mean loss) and s = diag(U^T H U) the GN
// diagonal in the same basis from the probe. Lemma 1 bounds this band for Gaussian regression;
// when it drifts over training, Adam and GN^-1/2 differ by more than a constant learning rate.
// A gn arm keeps the same v without using it (Optimizer::track_second_moment); sgd arms record
// nothing. Coordinates where s is not above 1e-12 of its largest entry are left out; before the
// first step (no v yet) the values are NaN (null).
#include "measures/measure.hpp"
#include "measures/probe.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace adamgn {
namespace {

void compute(Probe& probe, MeasureValues& out) {
  const Optimizer& opt = probe.optimizer();
  if (!opt.diagonal()) return;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> ratios;
  const Vec v = opt.second_moment();
  const double loss = v.size() > 0 ? probe.loss() : nan;
  if (v.size() == probe.layout().size() && loss > 0.0) {
    const Basis& basis = opt.basis();
    Vec s;
    basis.gn_diagonal(probe.curvature(basis.gn_need(), probe.batch()), s);
    const double floor = 1e-12 * s.maxCoeff();
    for (Index i = 0; i < s.size(); ++i)
      if (s[i] > floor && s[i] > 0.0 && std::isfinite(v[i])) ratios.push_back(v[i] / (loss * s[i]));
  }
  const char* names[] = {"adam_gn_ratio_p10", "adam_gn_ratio_p50", "adam_gn_ratio_p90"};
  const double quantiles[] = {0.1, 0.5, 0.9};
  for (int q = 0; q < 3; ++q) {
    double value = nan;
    if (!ratios.empty()) {
      // Nearest rank on the sorted ratios.
      const auto k = static_cast<std::size_t>(std::lround(quantiles[q] * static_cast<double>(ratios.size() - 1)));
      std::nth_element(ratios.begin(), ratios.begin() + static_cast<std::ptrdiff_t>(k), ratios.end());
      value = ratios[k];
    }
    out.emplace_back(names[q], value);
  }
}

}  // namespace

Measure adam_gn_ratio_measure() {
  return {"adam-gn-ratio",
          "percentiles 10/50/90 over coordinates of Adam's second moment over (loss x GN diagonal), in the "
          "optimizer's basis (adam and gn arms)",
          "adam_gn_ratio_p50", compute, {}, [](Optimizer& opt) { opt.track_second_moment(); }};
}

}  // namespace adamgn
