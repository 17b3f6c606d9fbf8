#include "measures/measure.hpp"

#include "core/registry.hpp"
#include "core/types.hpp"

#include <algorithm>
#include <sstream>

namespace adamgn {

// Each defined in its own file (a measure's whole registration is its line here).
Measure alignment_measure();
Measure noise_measure();
Measure adam_gn_ratio_measure();

namespace {

Registry<Measure>& registry() {
  static Registry<Measure> measures("measure", [] {
    return std::vector<Measure>{alignment_measure(), noise_measure(), adam_gn_ratio_measure()};
  });
  return measures;
}

}  // namespace

const std::vector<Measure>& measure_registry() { return registry().entries(); }

void register_measure(Measure measure) { registry().add(std::move(measure)); }

std::string measure_names() { return registry().names_text(); }

const Measure& find_measure(const std::string& name) {
  if (const Measure* m = registry().lookup(name)) return *m;
  throw UsageError("measure " + name + " is not one of " + measure_names() + " (or all)");
}

std::vector<std::string> parse_measure_list(const std::string& text, const std::string& where) {
  std::vector<std::string> asked;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) continue;
    if (item == "all") {
      for (const Measure& m : measure_registry()) asked.push_back(m.name);
      continue;
    }
    try {
      asked.push_back(find_measure(item).name);
    } catch (const UsageError& e) {
      throw UsageError(where + ": " + e.what());
    }
  }
  std::vector<std::string> out;
  for (const Measure& m : measure_registry())
    if (std::find(asked.begin(), asked.end(), m.name) != asked.end()) out.push_back(m.name);
  return out;
}

}  // namespace adamgn
