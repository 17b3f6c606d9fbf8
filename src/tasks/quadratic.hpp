// Linear regression with Gaussian inputs (paper §3): x ~ N(0, Sigma), y = theta*^T x + sigma xi
// with label noise xi ~ N(0, 1) (sigma = label_noise, default 0), loss 1/2 E[(theta^T x - y)^2].
// Full batch uses the exact population loss 1/2 D^T Sigma D + sigma^2 / 2 and gradient Sigma D
// (D = theta - theta*); the GN matrix is Sigma (exact) or X^T X / n (sampled). The recorded loss
// is the population loss, whose floor sigma^2 / 2 the task states as task_info.loss_floor.
//
// Covariances:
//   block     paper eq. (4): [[1 1^T, 0], [0, I]], dim = 2d (default 100).
//   half/one  5 x 5 U Lambda U^T (paper A.3) with U drawn from the problem seed until both the
//             full-batch ratio r(Sigma) (A.3) and the small-batch kappa_s ratio (Lemma 2) favour
//             the intended power by at least `margin` (half: GN^-1/2, one: GN^-1).
//   spectrum  user eigenvalues, optionally rotated by a random rotation from the problem seed.
// theta0 = 0; theta* ~ N(0, I) from the seed's "task" stream.
#pragma once

#include "tasks/factory.hpp"

namespace adamgn {

// The "task" keys (defaults and ranges in quadratic_task()'s field table).
struct QuadraticConfig {
  std::string cov;
  Index dim = 0;  // 0: the covariance's default (block 100, half/one 5, spectrum its length)
  std::vector<double> spectrum;
  bool rotate = false;
  std::uint64_t problem_seed = 0;
  double margin = 0.0;       // half/one: required advantage of the intended power in both ratios
  double label_noise = 0.0;  // sigma of the labels' Gaussian noise
};

// Condition-number ratios of A(P) = P^1/2 Sigma P^1/2 for P = diag(Sigma)^-1 over
// P = diag(Sigma)^-1/2: r (paper A.3, lambda_max / lambda_min) and the Lemma 2 analogue
// with kappa_s = Tr / lambda_min. Values > 1 favour GN^-1/2, < 1 favour GN^-1.
struct PowerRatios {
  double r = 1.0;
  double kappa_s = 1.0;
};
PowerRatios power_ratios(const Mat& sigma);

// Its registry entry (tasks/registry.cpp), with the field table of its "task" keys.
TaskEntry quadratic_task();
std::unique_ptr<TaskFactory> make_quadratic(FieldReader& r);

}  // namespace adamgn
