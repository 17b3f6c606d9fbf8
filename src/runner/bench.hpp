// `adamgn bench`: steps per second and the time of each phase of the optimizer step, for one run
// (the preset's first seed) of every arm of the given presets, as a Markdown table
// on stdout. Every preset is read and checked in full (flags, steps against the warm-up, arms
// against the task, memory) before the first row is timed; rows are written as they finish.
#pragma once

#include "core/types.hpp"

#include <string>
#include <vector>

namespace adamgn {

struct BenchOptions {
  std::vector<std::string> presets;  // names or files; empty: every built-in preset
  std::string steps;                 // steps per timed run as typed (empty: the preset's)
  std::vector<std::string> sets;     // KEY=VALUE overrides, as for `adamgn run --set`
  std::string scale;                 // empty: quick
  std::string arms;                  // comma-separated arm names (empty: all)
  Index warmup = 1;                  // steps before the phase times start
};

void run_bench(const BenchOptions& options);

}  // namespace adamgn
