#include "io/presets.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace adamgn {
namespace {

// An arm's name; "" for an arm that is not an object or whose name is not a string (the strict
// reading of the experiment refuses those, naming the key).
std::string arm_name(const json& arm) {
  if (!arm.is_object()) return "";
  const auto it = arm.find("name");
  return it != arm.end() && it->is_string() ? it->get<std::string>() : "";
}

// The object doc[section] that `--set KEY` writes into (created when missing).
json& section_of(json& doc, const std::string& section, const std::string& key) {
  if (!doc.is_object()) throw UsageError("--set " + key + ": the preset is not a JSON object");
  json& s = doc[section];
  if (!s.is_null() && !s.is_object()) throw UsageError("--set " + key + ": " + section + " is not an object");
  return s;
}

}  // namespace

void apply_set(json& doc, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("--set " + assignment + " must look like KEY=VALUE");
  const std::string key = assignment.substr(0, eq);
  const json value = parse_scalar(assignment.substr(eq + 1));
  auto starts = [&](const char* p) { return key.rfind(p, 0) == 0; };
  if (starts("task.") || starts("run.")) {
    const auto dot = key.find('.');
    section_of(doc, key.substr(0, dot), key)[key.substr(dot + 1)] = value;
  } else if (starts("arms.")) {
    // The last dot: arm names may hold dots themselves (fig10's "adam g0.25 small"), keys do not.
    const std::string rest = key.substr(5);
    const auto dot = rest.rfind('.');
    if (dot == std::string::npos) throw UsageError("--set " + key + " must be arms.NAME.KEY=VALUE");
    const std::string name = rest.substr(0, dot);
    bool found = false;
    if (!doc.is_object() || !doc.contains("arms") || !doc["arms"].is_array())
      throw UsageError("--set " + key + ": the preset has no arms");
    for (auto& arm : doc["arms"])
      if (arm_name(arm) == name) {
        arm[rest.substr(dot + 1)] = value;
        found = true;
      }
    if (!found) throw UsageError("--set " + key + ": no arm named " + name);
  } else if (key.find('.') == std::string::npos) {
    if (!doc.is_object() || !doc.contains("arms") || !doc["arms"].is_array())
      throw UsageError("--set " + key + ": the preset has no arms");
    for (auto& arm : doc["arms"]) {
      if (!arm.is_object()) throw UsageError("--set " + key + ": an arm of the preset is not an object");
      arm[key] = value;
    }
  } else {
    throw UsageError("--set " + key + ": keys are task.KEY, run.KEY, arms.NAME.KEY or an optimizer KEY");
  }
}

void keep_arms(json& doc, const std::string& list) {
  std::stringstream ss(list);
  std::string name;
  json kept = json::array();
  while (std::getline(ss, name, ',')) {
    bool found = false;
    if (!doc.is_object() || !doc.contains("arms") || !doc["arms"].is_array())
      throw UsageError("--arms " + list + ": the preset has no arms");
    for (const auto& arm : doc["arms"])
      if (arm_name(arm) == name) {
        kept.push_back(arm);
        found = true;
      }
    if (!found) throw UsageError("--arms " + list + ": no arm named " + name);
  }
  doc["arms"] = kept;
  drop_claims_without_arms(doc);
}

void drop_claims_without_arms(json& doc) {
  if (!doc.contains("claims") || !doc["claims"].is_array()) return;
  const json arms = doc.value("arms", json::array());
  json claims = json::array();
  for (const auto& c : doc["claims"]) {
    if (!c.is_object()) {  // not a claim: kept for the strict reading to refuse
      claims.push_back(c);
      continue;
    }
    bool all_there = true;
    for (const char* side : {"a", "b"}) {
      const json names = c.contains(side) && c[side].is_string() ? json::array({c[side]}) : c.value(side, json::array());
      for (const auto& n : names)
        all_there = all_there && std::any_of(arms.begin(), arms.end(), [&](const json& arm) { return n.is_string() && arm_name(arm) == n.get<std::string>(); });
    }
    if (all_there) claims.push_back(c);
  }
  doc["claims"] = claims;
}

json load_preset(const std::string& name_or_path) {
  const bool is_path = name_or_path.find('/') != std::string::npos ||
                       (name_or_path.size() > 5 && name_or_path.substr(name_or_path.size() - 5) == ".json");
  if (!is_path) {
    for (const auto& p : embedded_presets())
      if (name_or_path == p.name) return parse_json(p.text, "preset " + name_or_path);
    std::string known;
    for (const auto& p : embedded_presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
    throw UsageError("--preset " + name_or_path + " is not a preset (known: " + known + ")");
  }
  std::ifstream in(name_or_path, std::ios::binary);
  if (!in) throw UsageError("--preset " + name_or_path + ": file not found or not readable");
  return parse_json(in, name_or_path);
}

}  // namespace adamgn
