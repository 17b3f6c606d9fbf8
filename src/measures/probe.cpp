#include "measures/probe.hpp"

namespace adamgn {

Probe::Probe(Task& task, const TaskFactory& factory, const Vec& theta, const Optimizer& optimizer, std::uint64_t seed,
             Index batch)
    : task_(task), theta_(theta), optimizer_(optimizer), seed_(seed), batch_(batch), population_(factory.has_population()) {}

void Probe::for_each_sample_gradient(const std::function<void(const Vec&)>& visit) {
  Rng rng = Rng::stream(seed_, "measure");
  task_.sample_gradients(theta_, batch_, rng, visit);
}

bool Probe::sample_gradient_factors(std::vector<PseudoGradients>& out) {
  Rng rng = Rng::stream(seed_, "measure");
  return task_.sample_gradient_factors(theta_, batch_, rng, out);
}

double Probe::loss() {
  if (!has_loss_) {
    Vec grad;
    Rng rng = Rng::stream(seed_, "measure");
    loss_ = task_.loss_and_gradient(theta_, population_ ? SampleSize::population() : SampleSize::samples(batch_), rng, grad);
    has_loss_ = true;
  }
  return loss_;
}

const Curvature& Probe::curvature(CurvatureNeed need, Index samples) {
  if (population_) samples = 0;
  for (const Cached& k : curvatures_)
    if (k.need == need && k.samples == samples) return k.c;
  Cached k{need, samples, Curvature{}};
  Rng rng = Rng::stream(seed_, "measure-curvature");
  task_.curvature(theta_, population_ ? SampleSize::population() : SampleSize::samples(samples), rng, need, k.c);
  k.c.level = need;
  k.c.version = kVersion;
  curvatures_.push_back(std::move(k));
  return curvatures_.back().c;
}

}  // namespace adamgn
