// The built-in tasks' registry entries, one per task file; tasks/registry.cpp lists them.
#pragma once

#include "tasks/factory.hpp"

namespace adamgn {

TaskEntry quadratic_task();
TaskEntry logistic_task();
TaskEntry parity_task();
TaskEntry staircase_task();
TaskEntry teacher_task();
TaskEntry cifar_task();
TaskEntry transformer_task();

// The built-in entries in the order `adamgn --help` lists them.
std::vector<TaskEntry> builtin_tasks();

}  // namespace adamgn
