// What a measure sees at one log point: the run's task, parameters and optimizer, and the probe
// batch (docs/measures.md, "The probe"). Every sample the probe draws comes from the seed's own
// "measure" streams, restarted at each log point, so the probe is the same batch all run long and
// the run's data and curvature streams are never touched. Results are cached for the point, so
// measures that need the same quantity share one computation.
#pragma once

#include "optim/optimizer.hpp"
#include "tasks/factory.hpp"

#include <functional>
#include <vector>

namespace adamgn {

class Probe {
 public:
  Probe(Task& task, const TaskFactory& factory, const Vec& theta, const Optimizer& optimizer, std::uint64_t seed,
        Index batch);

  const Vec& theta() const { return theta_; }
  const Optimizer& optimizer() const { return optimizer_; }
  const Layout& layout() const { return task_.layout(); }
  Index batch() const { return batch_; }
  // True when the task has exact population quantities (quadratic, logistic): the GN matrix and
  // the loss are then exact, not estimated from the probe.
  bool population() const { return population_; }

  // Visits the gradients of the probe's samples one by one (Task::sample_gradients).
  void for_each_sample_gradient(const std::function<void(const Vec&)>& visit);
  // The probe's per-sample gradients as factors (Task::sample_gradient_factors), the same samples
  // for_each_sample_gradient visits; false when the task does not provide them.
  bool sample_gradient_factors(std::vector<PseudoGradients>& out);
  // The loss l at theta: exact where the population exists, else the mean over the probe batch.
  double loss();
  // GN information at theta: exact where the population exists, else from the first `samples`
  // samples of the probe's curvature stream. Its version never matches an optimizer's estimate,
  // so a basis never mistakes it for the one it was built from.
  const Curvature& curvature(CurvatureNeed need, Index samples);

  // A Curvature's `version` no optimizer reaches.
  static constexpr std::uint64_t kVersion = ~std::uint64_t{0} - 1;

 private:
  struct Cached {
    CurvatureNeed need;
    Index samples;
    Curvature c;
  };
  Task& task_;
  const Vec& theta_;
  const Optimizer& optimizer_;
  std::uint64_t seed_;
  Index batch_;
  bool population_;
  bool has_loss_ = false;
  double loss_ = 0.0;
  std::vector<Cached> curvatures_;
};

}  // namespace adamgn
