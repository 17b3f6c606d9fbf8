// Task factory: turns the "task" object of an experiment into a shared, immutable problem and
// makes one Task per seed from it (the per-seed parts, such as theta_star, come from the seed's
// "task" random stream).
#pragma once

#include "io/reader.hpp"
#include "tasks/task.hpp"

#include <memory>
#include <string>

namespace adamgn {

class TaskFactory {
 public:
  virtual ~TaskFactory() = default;
  virtual std::string name() const = 0;
  virtual Index dim() const = 0;
  // True when the GN matrix is diagonal by structure (then no dense eigendecomposition is needed).
  virtual bool gn_is_diagonal() const { return false; }
  // True when tasks provide per-sample GN pseudo-gradients (needed by the Kronecker basis).
  virtual bool has_pseudo_gradients() const { return false; }
  // True when exact population gradients and GN (batch full, gn_batch population) exist.
  virtual bool has_population() const { return true; }
  virtual std::unique_ptr<Task> make(std::uint64_t seed) const = 0;
  // Fully resolved configuration (every field, defaults filled in).
  virtual json config() const = 0;
  // Derived facts about the problem worth keeping with the results (condition-number ratios...).
  virtual json info() const { return json::object(); }
};

// Reads {"name": "quadratic", ...} strictly; throws UsageError on unknown names, keys or values.
std::unique_ptr<TaskFactory> make_task_factory(const json& task);

// The task names make_task_factory accepts.
const std::vector<std::string>& task_names();

}  // namespace adamgn
