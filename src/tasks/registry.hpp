// The built-in tasks: tasks/registry.cpp lists their entries, each defined in its task's file.
#pragma once

#include "tasks/factory.hpp"

namespace adamgn {

// The built-in entries in the order `adamgn --help` lists them.
std::vector<TaskEntry> builtin_tasks();

}  // namespace adamgn
