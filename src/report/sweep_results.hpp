// The documents a finished sweep leaves in its folder, built from the runs in its store: the
// result document of its rerun stage (or of every setting), the selection table, and the preset
// with each arm's winner written in. Each requires a complete plan (runner/sweep.hpp).
#pragma once

#include "runner/sweep.hpp"

namespace adamgn {

// The rerun stage (or, without one, every setting as its own arm) as a result document
// (schema adamgn.result/1), built from the store. Requires a complete plan.
json sweep_result(const Sweep& sweep, const SweepPlan& plan, const RunStore& store);
// Selection table: per arm the winner, its score, and every setting's score.
json sweep_selection(const Sweep& sweep, const SweepPlan& plan, const RunStore& store);
// `base` (the preset the sweep came from, with its scales and claims; null: the sweep's resolved
// experiment) with each arm's winning keys written in and a "tuning" record per arm. A sweep at a
// named scale other than "quick" writes both into that scale's entry of `base`
// (scales.SCALE.arms.NAME and scales.SCALE.tuning), leaving the quick-scale values as they are.
json tuned_preset(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, const json& base = nullptr,
                  const std::string& scale = "");

// Writes a complete sweep's result.json and, when it selects winners, selection.json into its
// folder; each arm's winner and score go to stderr unless `quiet`.
void write_sweep_documents(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, bool quiet);

}  // namespace adamgn
