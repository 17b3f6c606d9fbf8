#include "tasks/registry.hpp"

namespace adamgn {

std::vector<TaskEntry> builtin_tasks() {
  return {quadratic_task(), logistic_task(), parity_task(), staircase_task(), teacher_task(), cifar_task(),
          transformer_task()};
}

}  // namespace adamgn
