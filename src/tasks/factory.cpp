#include "tasks/factory.hpp"

#include "core/registry.hpp"
#include "tasks/registry.hpp"

#include <stdexcept>

namespace adamgn {
namespace {

Registry<TaskEntry>& registry() {
  static Registry<TaskEntry> entries("task", builtin_tasks);
  return entries;
}

}  // namespace

const std::vector<TaskEntry>& task_registry() { return registry().entries(); }

void register_task(TaskEntry entry) { registry().add(std::move(entry)); }

std::vector<std::string> task_names() { return registry().names(); }

const TaskEntry& find_task(const std::string& name) { return registry().find(name, "task.name"); }

std::unique_ptr<TaskFactory> make_task_factory(const json& task) {
  ObjectReader r(task, "task");
  std::string name;
  if (!r.has("name")) throw UsageError("task.name is missing");
  r.read("name", name);
  const TaskEntry& entry = find_task(name);
  FieldReader fields(r, entry.fields);
  auto factory = entry.make(fields);
  fields.finish();
  return factory;
}

}  // namespace adamgn
