#include "runner/run_record.hpp"

#include "io/version.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace adamgn {

json program_json() {
  return json{{"name", "adamgn"}, {"version", version_string()}, {"git_commit", git_commit()}};
}

json run_json(const RunResult& r) {
  json j{{"seed", r.seed},
         {"status", r.diverged ? "diverged" : "ok"},
         {"diverged_at", r.diverged ? json(r.diverged_at) : json(nullptr)},
         {"steps", r.steps},
         {"loss", r.loss},
         {"wall_seconds", r.wall_seconds},
         {"basis_failures", r.basis_failures},
         {"steps_to_target", r.steps_to_target >= 0 ? json(r.steps_to_target) : json(nullptr)}};
  if (!r.test_loss.empty()) j["test_loss"] = r.test_loss;
  if (!r.test_accuracy.empty()) j["test_accuracy"] = r.test_accuracy;
  if (!r.measure_steps.empty()) {
    // NaN (an estimate undefined at that point) is written as null.
    json m{{"steps", r.measure_steps}};
    for (const auto& [name, series] : r.measures) {
      json values = json::array();
      for (double v : series) values.push_back(std::isfinite(v) ? json(v) : json(nullptr));
      m[name] = std::move(values);
    }
    j["measures"] = std::move(m);
  }
  for (auto it = r.record.begin(); it != r.record.end(); ++it) j[it.key()] = it.value();
  return j;
}

RunResult run_from_json(const json& j) {
  RunResult r;
  r.seed = j.at("seed").get<std::uint64_t>();
  r.diverged = j.at("status").get<std::string>() == "diverged";
  r.diverged_at = j.at("diverged_at").is_null() ? -1 : j.at("diverged_at").get<Index>();
  r.steps = j.at("steps").get<std::vector<Index>>();
  r.loss = j.at("loss").get<std::vector<double>>();
  if (j.contains("test_loss")) r.test_loss = j["test_loss"].get<std::vector<double>>();
  if (j.contains("test_accuracy")) r.test_accuracy = j["test_accuracy"].get<std::vector<double>>();
  r.wall_seconds = j.value("wall_seconds", 0.0);
  r.basis_failures = j.value("basis_failures", Index{0});
  r.steps_to_target = j.contains("steps_to_target") && !j["steps_to_target"].is_null() ? j["steps_to_target"].get<Index>() : -1;
  if (j.contains("record")) r.record = j["record"];
  if (j.contains("measures")) {
    const json& m = j["measures"];
    r.measure_steps = m.at("steps").get<std::vector<Index>>();
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (it.key() == "steps") continue;
      std::vector<double>& series = r.measures[it.key()];
      for (const json& v : it.value()) series.push_back(v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>());
    }
  }
  return r;
}

json run_line_json(const ExperimentSpec& spec, const RunResult& r) {
  const auto& arm = spec.arms[static_cast<std::size_t>(r.arm)];
  json j{{"schema", "adamgn.run/1"},
         {"preset", spec.preset.empty() ? json(nullptr) : json(spec.preset)},
         {"arm", arm.name},
         {"optimizer", arm.optimizer.to_json()}};
  if (!arm.task.empty()) j["task"] = spec.arm_task(static_cast<std::size_t>(r.arm));
  const json fields = run_json(r);
  for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
  return j;
}

}  // namespace adamgn
