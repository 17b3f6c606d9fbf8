// Memory admission for the commands that run: before `run` (and every preset command), `bench`
// and `sweep` start their runs, the memory they will need is estimated from sizes and compared
// with the memory available (core/budget.hpp); work that does not fit is refused with one line
// (UsageError) before anything large is allocated or any file is written.
//
//   total = shared + results + per_run x runs in flight
// shared: the process's own base, the task's fixed data (TaskFactory::memory); results: every run's curves and record,
// held until the result is written; per_run: the largest over the arms of the task's per-run
// bytes at the arm's sizes plus the optimizer's state (optim/optimizer.hpp); runs in flight: the
// threads for arms x seeds (or a sweep's parallel jobs), at most the number of runs.
#pragma once

#include "runner/experiment.hpp"
#include "runner/sweep.hpp"

#include <vector>

namespace adamgn {

struct MemoryPlan {
  Bytes per_run;  // the largest single run
  Index in_flight = 1;
  Bytes shared;   // the task's fixed data and the results kept for the output
  Bytes total() const { return per_run * in_flight + shared; }
};

// One run of `opt`: the task's per-run bytes at the arm's sizes plus the optimizer's state, and the
// probe's when `run` records measures.
Bytes run_memory(const TaskFactory& factory, const OptimizerConfig& opt, const RunConfig& run);
// One finished run as kept until the output is written: curves (as RunResult, JSON values and
// text) and the task's record, with a fixed allowance for the rest.
Bytes result_memory(const TaskFactory& factory, const RunConfig& run);

// The plan for `runs` runs of the given configurations (the largest counts) on `threads` threads
// (0: all available), keeping `kept` results until the end.
MemoryPlan plan_memory(const TaskFactory& factory, const std::vector<OptimizerConfig>& configs, const RunConfig& run,
                       Index threads, Bytes runs, Bytes kept);

// Throws UsageError (core/budget.hpp's message) when the plan does not fit the memory available.
void admit(const MemoryPlan& plan);

// The plan of run_experiment: every arm x seed, run.threads threads, every result kept; with one
// task factory per arm (ExperimentSpec::arm_task), each distinct factory's data counted once.
MemoryPlan experiment_memory(const ExperimentSpec& spec, const TaskFactory& factory);
MemoryPlan experiment_memory(const ExperimentSpec& spec, const std::vector<const TaskFactory*>& arm_factories);

// The plan of a sweep's jobs on `threads` threads (0: all available): the grid stage's settings,
// a refined batch or GN batch scaled by its refine factor, the stored results read back to
// write result.json.
MemoryPlan sweep_memory(const Sweep& sweep, Index threads);

}  // namespace adamgn
