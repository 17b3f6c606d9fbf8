// Small helpers shared by the tests.
#pragma once

#include "optim/optimizer.hpp"
#include "runner/experiment.hpp"
#include "tasks/factory.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

namespace adamgn::test {

inline OptimizerConfig optimizer(const json& fields) {
  OptimizerConfig c;
  ObjectReader r(fields, "optimizer");
  c.read(r);
  r.finish();
  c.validate();
  return c;
}

// Runs `steps` optimizer steps on the task of `seed` and returns the final parameters.
inline Vec trajectory_end(const TaskFactory& f, const OptimizerConfig& c, Index steps, std::uint64_t seed,
                          std::unique_ptr<Basis> basis = nullptr, Vec* second_moment = nullptr) {
  auto task = f.make(seed);
  Rng data = Rng::stream(seed, "data"), curv = Rng::stream(seed, "curvature");
  Vec theta = task->initial_parameters();
  Optimizer opt(c, task->layout(), steps, std::move(basis));
  for (Index t = 0; t < steps; ++t) opt.step(*task, theta, t, data, curv);
  if (second_moment && opt.diagonal() && opt.diagonal()->second_moment())
    *second_moment = *opt.diagonal()->second_moment();
  return theta;
}

// Central difference of the batch loss in coordinate p, with the batch drawn from `rng` on both
// sides (the same samples).
inline double loss_difference(Task& task, const Vec& theta, SampleSize n, const Rng& rng, Index p,
                              double h = 1e-6) {
  Vec tp = theta, tm = theta, scratch;
  tp[p] += h;
  tm[p] -= h;
  Rng a = rng, b = rng;
  return (task.loss_and_gradient(tp, n, a, scratch) - task.loss_and_gradient(tm, n, b, scratch)) / (2 * h);
}

// The message of the UsageError `f` throws ("" if none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

inline Vec theta_star_of(const Task& task) {
  const auto v = task.run_record().at("theta_star").get<std::vector<double>>();
  return Eigen::Map<const Vec>(v.data(), static_cast<Index>(v.size()));
}

}  // namespace adamgn::test
