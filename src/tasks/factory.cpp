#include "tasks/factory.hpp"

#include "tasks/registry.hpp"

#include <stdexcept>

namespace adamgn {
namespace {

std::vector<TaskEntry>& registry() {
  static std::vector<TaskEntry> entries = builtin_tasks();
  return entries;
}

}  // namespace

const std::vector<TaskEntry>& task_registry() { return registry(); }

void register_task(TaskEntry entry) {
  for (const auto& e : registry())
    if (e.name == entry.name) throw std::logic_error("register_task: the name " + entry.name + " is taken");
  registry().push_back(std::move(entry));
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& e : registry()) names.push_back(e.name);
  return names;
}

const TaskEntry& find_task(const std::string& name) {
  for (const auto& e : registry())
    if (e.name == name) return e;
  std::string known;
  for (const auto& e : registry()) known += (known.empty() ? "" : ", ") + e.name;
  throw UsageError("task.name = " + name + " is not a task (one of " + known + ")");
}

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
