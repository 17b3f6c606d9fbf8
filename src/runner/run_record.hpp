// One run as a JSON object: the fields of a RunResult that every run document carries (the
// streaming lines of --jsonl and the sweep store's files, schema "adamgn.run/1", documented in
// docs/output.md) and the program that wrote them. run_from_json reads back what run_json writes.
// No NaN or infinity is ever written: a diverged run's curve ends at its last finite point.
#pragma once

#include "core/reader.hpp"
#include "runner/experiment.hpp"

namespace adamgn {

// {"name": "adamgn", "version": ..., "git_commit": ...} of this binary.
json program_json();
json run_json(const RunResult& r);
// Reads back the fields run_json writes; the task's extra record is taken from "record" (where
// the sweep store keeps it) when present.
RunResult run_from_json(const json& j);
// One self-contained line for --jsonl.
json run_line_json(const ExperimentSpec& spec, const RunResult& r);

}  // namespace adamgn
