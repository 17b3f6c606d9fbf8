// The result document (schema "adamgn.result/1", documented in docs/output.md): every run of every
// arm (runner/run_record.hpp) with each arm's summary across its seeds. No NaN or infinity is ever
// written: a diverged run's curve simply ends at its last finite point.
#pragma once

#include "runner/experiment.hpp"
#include "runner/run_record.hpp"

#include <map>
#include <string>

namespace adamgn {

// Mean and standard error across the runs of one arm that finished without diverging, at every
// logged step.
// One measure series of an arm: mean and standard error over the runs with a finite value at
// each measured step (NaN where none has one), and how many runs that was.
struct MeasureSummary {
  std::vector<double> mean, se;
  std::vector<Index> count;
};

struct ArmSummary {
  std::vector<Index> steps;
  std::vector<Index> measure_steps;
  std::map<std::string, MeasureSummary> measures;
  std::vector<double> loss_mean, loss_se;
  std::vector<double> test_loss_mean, test_loss_se, test_accuracy_mean, test_accuracy_se;
  Index n_ok = 0, n_diverged = 0;
  Index n_reached_target = 0;
  double steps_to_target_mean = 0.0;
};
ArmSummary summarize_arm(const std::vector<RunResult>& runs);

json result_json(const ExperimentResult& result);

// The loss floor a result's task states (task_info.loss_floor: label noise), NaN when none.
double loss_floor(const json& result);

}  // namespace adamgn
