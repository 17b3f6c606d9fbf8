#include "tasks/registry.hpp"

namespace adamgn {

// Each defined in its task's file (a task's whole registration is its line here).
TaskEntry quadratic_task();
TaskEntry logistic_task();
TaskEntry parity_task();
TaskEntry staircase_task();
TaskEntry teacher_task();
TaskEntry cifar_task();
TaskEntry transformer_task();

std::vector<TaskEntry> builtin_tasks() {
  return {quadratic_task(), logistic_task(), parity_task(), staircase_task(), teacher_task(), cifar_task(),
          transformer_task()};
}

}  // namespace adamgn
