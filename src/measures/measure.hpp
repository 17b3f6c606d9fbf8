// Measures (docs/measures.md): quantities the paper's theory is written in, recorded at a run's
// log points on a fixed probe batch drawn from the run's own "measure" random streams, so that
// turning them on or off never changes a run's trajectory. A measure is one entry of the
// registry (measures/registry.cpp): its name, one line of documentation, the series it records
// and how it computes them from a Probe. Adding a measure is one new file in src/measures/ and one
// line in the registry.
#pragma once

#include "optim/optimizer.hpp"
#include "tasks/factory.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace adamgn {

class Probe;

// The values of one log point: (series name, value) pairs. NaN marks an estimate that is
// undefined at this point; it is stored as null.
using MeasureValues = std::vector<std::pair<std::string, double>>;

struct Measure {
  std::string name;     // as written in --measure and run.measure
  std::string doc;      // one line (help text, docs/measures.md)
  std::string primary;  // the series drawn by `adamgn plot` and shown in summaries
  // Appends this point's values; appends nothing for an arm the measure does not apply to.
  std::function<void(Probe&, MeasureValues&)> compute;
  // Optional: throws UsageError when the measure cannot be computed on this task (checked
  // before any run).
  std::function<void(const TaskFactory&)> check = {};
  // Optional: called once on each run's optimizer before its first step (e.g. to keep a
  // statistic the measure reads); must not change the trajectory.
  std::function<void(Optimizer&)> prepare = {};
};

// The registered names, comma-separated (help text).
std::string measure_names();
// Every measure, in the order of the registry.
const std::vector<Measure>& measure_registry();
// Adds a measure (e.g. from a test) before the command line is built; logic_error when the name
// is taken.
void register_measure(Measure measure);
// The entry of that name; UsageError listing the names otherwise.
const Measure& find_measure(const std::string& name);
// "alignment,noise" (or "all") as a list of registered names in registry order, without
// repeats; UsageError naming `where` for an unknown name.
std::vector<std::string> parse_measure_list(const std::string& text, const std::string& where);

}  // namespace adamgn
