#include "tasks/task.hpp"

namespace adamgn {

double Task::sample_gradients(const Vec& theta, Index n, Rng& rng, const std::function<void(const Vec&)>& visit) {
  Vec grad;
  double sum = 0.0;
  for (Index s = 0; s < n; ++s) {
    sum += loss_and_gradient(theta, SampleSize::samples(1), rng, grad);
    visit(grad);
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace adamgn
