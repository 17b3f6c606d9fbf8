#include "tasks/factory.hpp"

#include "tasks/logistic.hpp"
#include "tasks/mlp.hpp"
#include "tasks/quadratic.hpp"
#include "tasks/transformer.hpp"

namespace adamgn {

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"quadratic", "logistic", "parity", "staircase", "teacher", "cifar", "transformer"};
  return names;
}

std::unique_ptr<TaskFactory> make_task_factory(const json& task) {
  ObjectReader r(task, "task");
  std::string name;
  if (!r.has("name")) throw UsageError("task.name is missing");
  r.read("name", name);
  if (name == "quadratic") return make_quadratic(r);
  if (name == "logistic") return make_logistic(r);
  if (name == "parity" || name == "staircase" || name == "teacher" || name == "cifar") return make_mlp(name, r);
  if (name == "transformer") return make_transformer(r);
  std::string known;
  for (const auto& n : task_names()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("task.name = " + name + " is not a task (one of " + known + ")");
}

}  // namespace adamgn
