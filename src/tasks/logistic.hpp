// Reparameterized logistic regression (paper §4, C.4): one-hot x = e_i with Pr = nu_i ∝ i^-c,
// label y ~ Bernoulli(P), prediction q_i = sigma(theta_i^2), cross-entropy loss. Full batch uses
// the exact population gradient and diagonal GN of eq. (22):
//   g_i = 2 nu_i theta_i (sigma(theta_i^2) - P),  H_ii = 4 nu_i theta_i^2 sigma (1 - sigma).
// The recorded loss is the excess population loss sum_i nu_i KL(P || q_i), which is 0 at
// theta*_i = sqrt(logit P). theta0 = init (default 1/sqrt(dim)) in every coordinate.
#pragma once

#include "tasks/factory.hpp"

namespace adamgn {

// The "task" keys (defaults and ranges in logistic_task()'s field table).
struct LogisticConfig {
  Index dim = 0;
  double power_law = 0.0;
  double p_label = 0.0;
  double init = 0.0;
};

// Its registry entry (tasks/registry.cpp), with the field table of its "task" keys.
TaskEntry logistic_task();
std::unique_ptr<TaskFactory> make_logistic(FieldReader& r);

// The input probabilities nu_i = Pr(x = e_i) of a factory made by make_logistic (for `adamgn
// theory`); throws std::invalid_argument for any other factory.
const Vec& logistic_input_probabilities(const TaskFactory& f);

}  // namespace adamgn
