// Task factory: turns the "task" object of an experiment into a shared, immutable problem and
// makes one Task per seed from it (the per-seed parts, such as theta_star, come from the seed's
// "task" random stream).
#pragma once

#include "core/budget.hpp"
#include "core/fields.hpp"
#include "core/reader.hpp"
#include "tasks/task.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace adamgn {

// The sizes one run works at, for its memory estimate: the gradient and GN batches and the most
// curvature the run's optimizer asks for.
struct RunSizes {
  SampleSize batch = SampleSize::population();
  SampleSize gn_batch = SampleSize::population();
  CurvatureNeed need = CurvatureNeed::none;
};

// A task's memory, from its sizes (core/budget.hpp): `shared` is held once by the factory (fixed
// data, probe and test sets), `per_run` by one run's task instance at the run's sizes (batches,
// activations, pseudo-gradients, evaluations, the curvature estimate the optimizer keeps).
struct TaskMemory {
  Bytes shared, per_run;
  Index record_values = 0;  // numbers in each run's record (Task::run_record), kept with its result
};

class TaskFactory {
 public:
  virtual ~TaskFactory() = default;
  virtual std::string name() const = 0;
  virtual Index dim() const = 0;
  // The parameter blocks of every task this factory makes.
  virtual Layout layout() const { return Layout::single_vector("theta", dim()); }
  // True when the GN matrix is diagonal by structure (then no dense eigendecomposition is needed).
  virtual bool gn_is_diagonal() const { return false; }
  // True when the tasks give the optimizer this level of curvature (Task::curvature). Every task
  // gives the GN diagonal and the full GN matrix; the Kronecker factors need per-sample
  // pseudo-gradients, which a task declares by overriding this. A basis or diagonal asks for a
  // level (optim/registry.hpp), and that is the whole compatibility rule.
  virtual bool provides(CurvatureNeed need) const { return need != CurvatureNeed::kronecker; }
  // True when exact population gradients and GN (batch full, gn_batch population) exist.
  virtual bool has_population() const { return true; }
  virtual std::unique_ptr<Task> make(std::uint64_t seed) const = 0;
  // Upper-ish estimate (within about 2x of the measured peak for the presets), computed from sizes
  // alone; each task file states its formula.
  virtual TaskMemory memory(const RunSizes& sizes) const = 0;
  // Fully resolved configuration (every field, defaults filled in).
  virtual json config() const = 0;
  // Derived facts about the problem worth keeping with the results (condition-number ratios...).
  virtual json info() const { return json::object(); }
};

// One entry of the task registry: the task's name, a one-line description, the field table of
// its "task" keys (core/fields.hpp: the flags of `adamgn NAME`, their help, defaults and ranges
// and the README's table come from it) and its constructor, which reads the keys through the
// table. Adding a task is one file that defines its entry and one line in tasks/registry.cpp
// (docs/extending.md).
struct TaskEntry {
  std::string name, description;
  std::vector<Field> fields;
  std::function<std::unique_ptr<TaskFactory>(FieldReader&)> make;
};

// Every registered task: the built-in ones (tasks/registry.cpp) in their order, then those added
// with register_task.
const std::vector<TaskEntry>& task_registry();
// Adds a task (e.g. from a test or an embedding program) before the command line is built;
// logic_error when the name is taken.
void register_task(TaskEntry entry);
// The entry of that name; UsageError listing the names otherwise.
const TaskEntry& find_task(const std::string& name);

// Reads {"name": "quadratic", ...} strictly through the task's field table; throws UsageError on
// unknown names, keys or values.
std::unique_ptr<TaskFactory> make_task_factory(const json& task);

// The registered task names, in registry order.
std::vector<std::string> task_names();

}  // namespace adamgn
