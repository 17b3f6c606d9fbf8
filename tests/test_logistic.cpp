// Logistic task (§4): population gradient and GN diagonal (eq. 22) against finite differences and
// the explicit Jacobian; sampled estimates against the population.
#include "helpers.hpp"

#include <cmath>

using namespace adamgn;
using namespace adamgn::test;

namespace {

std::unique_ptr<TaskFactory> small_logistic() {
  return make_task_factory(json{{"name", "logistic"}, {"dim", 16}, {"power_law", 0.6}, {"p_label", 0.75}});
}

Vec test_point() {
  Vec theta(16);
  for (Index i = 0; i < 16; ++i) theta[i] = 0.2 + 0.13 * static_cast<double>(i) * (i % 2 ? 1 : -1);
  return theta;
}

}  // namespace

TEST_CASE("logistic: population and batch gradients match finite differences of the loss") {
  auto f = small_logistic();
  auto task = f->make(0);
  const Vec theta = test_point();
  for (SampleSize n : {SampleSize::population(), SampleSize::samples(50)}) {
    Rng rng(4);
    const Rng copy = rng;
    Vec g;
    task->loss_and_gradient(theta, n, rng, g);
    for (Index i = 0; i < 16; ++i)
      CHECK(g[i] == doctest::Approx(loss_difference(*task, theta, n, copy, i)).epsilon(1e-6).scale(1e-9));
  }
  // The excess loss differs from the population loss by a constant: same gradient, zero at theta*.
  Vec g;
  Rng rng(0);
  task->loss_and_gradient(theta, SampleSize::population(), rng, g);
  for (Index i = 0; i < 16; ++i) {
    const double h = 1e-6;
    Vec tp = theta, tm = theta;
    tp[i] += h;
    tm[i] -= h;
    CHECK(g[i] == doctest::Approx((task->evaluate(tp).loss - task->evaluate(tm).loss) / (2 * h)).epsilon(1e-6).scale(1e-9));
  }
  const double star = f->info().at("theta_star");
  CHECK(star == doctest::Approx(std::sqrt(std::log(3.0))));
  CHECK(std::fabs(task->evaluate(Vec::Constant(16, star)).loss) < 1e-15);
  CHECK(task->evaluate(theta).loss > 0.0);
}

TEST_CASE("logistic: GN diagonal is nu J^2 sigma(1 - sigma) with the Jacobian J of the logit") {
  auto f = small_logistic();
  auto task = f->make(0);
  const Vec theta = test_point();
  Curvature c;
  Rng rng(0);
  task->curvature(theta, SampleSize::population(), rng, CurvatureNeed::full, c);
  CHECK(c.structurally_diagonal);
  // nu_i from the population gradient: g_i = 2 nu_i theta_i (sigma - P).
  Vec g;
  task->loss_and_gradient(theta, SampleSize::population(), rng, g);
  for (Index i = 0; i < 16; ++i) {
    const double h = 1e-6;
    const double jac = ((theta[i] + h) * (theta[i] + h) - (theta[i] - h) * (theta[i] - h)) / (2 * h);  // dz/dtheta, z = theta^2
    const double q = 1.0 / (1.0 + std::exp(-theta[i] * theta[i]));
    const double nu = g[i] / (2.0 * theta[i] * (q - 0.75));
    CHECK(c.diag[i] == doctest::Approx(nu * jac * jac * q * (1.0 - q)).epsilon(1e-8));
    CHECK(nu > 0.0);
  }
  // The sampled GN and gradient average to the population ones.
  Curvature sampled;
  Rng r2(8);
  task->curvature(theta, SampleSize::samples(400000), r2, CurvatureNeed::diagonal, sampled);
  CHECK((sampled.diag - c.diag).norm() <= 0.01 * c.diag.norm());
  Vec gs;
  task->loss_and_gradient(theta, SampleSize::samples(400000), r2, gs);
  CHECK((gs - g).norm() <= 0.02 * g.norm());
}
