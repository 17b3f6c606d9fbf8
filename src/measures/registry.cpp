#include "measures/measure.hpp"

#include "core/types.hpp"

#include <algorithm>
#include <sstream>

namespace adamgn {

// Each defined in its own file (a measure's whole registration is its line here).
Measure alignment_measure();
Measure noise_measure();
Measure adam_gn_ratio_measure();

const std::vector<Measure>& measure_registry() {
  static const std::vector<Measure> registry = {
      alignment_measure(),
      noise_measure(),
      adam_gn_ratio_measure(),
  };
  return registry;
}

std::string measure_names() {
  std::string names;
  for (const Measure& m : measure_registry()) names += (names.empty() ? "" : ", ") + m.name;
  return names;
}

const Measure& find_measure(const std::string& name) {
  for (const Measure& m : measure_registry())
    if (m.name == name) return m;
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
