// An experiment: one task, several arms (optimizer configurations), several seeds. Arms and
// seeds run in parallel (OpenMP), each run single-threaded and fed from its own named random
// streams, so every arm at a given seed sees the same problem and data and results do not depend
// on the thread count.
#pragma once

#include "optim/config.hpp"
#include "optim/optimizer.hpp"
#include "tasks/factory.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace adamgn {

struct RunConfig {
  Index steps = 100;
  Index seeds = 1;
  std::uint64_t seed = 0;      // seeds used: seed, seed + 1, ..., seed + seeds - 1
  Index threads = 0;           // 0: all available
  Index log_every = 0;         // 0: about 100 points per curve
  double diverge_factor = 1e6; // loss above this multiple of the initial loss = diverged
  double target_loss = 0.0;    // > 0: record the first logged step at or below it
  bool stop_at_target = false; // end the run at that step (its curve ends there)
  // Measures recorded at log points (measures/measure.hpp), in registry order; empty: none.
  std::vector<std::string> measure;
  Index measure_batch = 1024;  // probe samples
  Index measure_every = 1;     // measure at every K-th logged point

  void read(ObjectReader& r);
  void validate() const;
  json to_json() const;
  // The measure keys, added only when measures are on: what a run records is part of its
  // identity (config hash), and a configuration without measures is what it has always been.
  void add_measure_keys(json& j) const;
  // stop_at_target, likewise added only when set.
  void add_stop_key(json& j) const;
  Index resolved_log_every() const { return log_every > 0 ? log_every : std::max<Index>(1, steps / 100); }
};

struct ArmSpec {
  std::string name;
  OptimizerConfig optimizer;
  // The arm's own task keys ("task": {...} in the arm), merged over the experiment's task: arms
  // of one experiment may differ in a task setting, e.g. the dimension (sec4-scaling). Empty: the
  // experiment's task.
  json task = json::object();
};

struct ExperimentSpec {
  std::string preset;   // empty when built from flags
  std::string claim;
  std::string measure;  // how arms are compared
  std::string notes;    // choices the paper leaves open (sizes, steps, scales)
  json task = json::object();
  RunConfig run;
  std::vector<ArmSpec> arms;
  json tuning = nullptr;  // the preset's record of how its hyperparameters were found
  json claims = nullptr;  // the paper's claims this preset tests, with verdict rules (report/verdicts.hpp)

  // The task of arm `a`: the experiment's task with the arm's own task keys merged in.
  json arm_task(std::size_t a) const;
};

// Reads an experiment document strictly (see presets/README.md for the format). `scale`
// selects an entry of "scales" to merge first ("" or "quick": none).
ExperimentSpec parse_experiment(json doc, const std::string& scale = "");
// The document with the entry `scale` of its "scales" merged in ("" or "quick": unchanged).
json resolve_scale(json doc, const std::string& scale);

struct RunResult {
  Index arm = 0;
  std::uint64_t seed = 0;
  bool diverged = false;
  Index diverged_at = -1;
  std::vector<Index> steps;
  std::vector<double> loss;
  std::vector<double> test_loss;      // tasks with a held-out set
  std::vector<double> test_accuracy;  // tasks with a held-out accuracy
  double wall_seconds = 0.0;
  Index basis_failures = 0;
  Index steps_to_target = -1;
  json record = json::object();
  // Measures: the logged steps they were taken at, and each series (NaN: undefined there).
  std::vector<Index> measure_steps;
  std::map<std::string, std::vector<double>> measures;
};

// One run: the optimizer on the seed's task instance for run.steps steps. With `times`, the
// optimizer's phases are timed and their totals over the steps after the first `untimed_steps`
// (warm-up: first allocations, caches) stored there.
RunResult run_one(const TaskFactory& factory, const OptimizerConfig& opt, const RunConfig& run,
                  std::uint64_t seed, PhaseTimes* times = nullptr, Index untimed_steps = 0);

struct ExperimentResult {
  ExperimentSpec spec;
  json task_config;
  json task_info;
  std::vector<json> arm_task_configs;  // per arm: its task's configuration when it overrides task keys, else null
  std::vector<std::vector<RunResult>> runs;  // [arm][seed index]
  double wall_seconds = 0.0;
};

// One task factory per arm, built from ExperimentSpec::arm_task: `base` (the experiment's own
// task) for arms without task keys, and one factory per distinct task among the others.
using ArmFactories = std::vector<std::shared_ptr<const TaskFactory>>;
ArmFactories make_arm_factories(const ExperimentSpec& spec, const std::shared_ptr<const TaskFactory>& base);

// Checks every arm and the run's measures against the arm's task (e.g. the dense-eigenbasis size
// limit) before anything runs; the first form for experiments whose arms share one task.
void check_compatible(const ExperimentSpec& spec, const TaskFactory& factory);
void check_compatible(const ExperimentSpec& spec, const ArmFactories& arm_factories);

ExperimentResult run_experiment(const ExperimentSpec& spec,
                                const std::function<void(const ExperimentSpec&, const RunResult&)>& on_run = {});

}  // namespace adamgn
