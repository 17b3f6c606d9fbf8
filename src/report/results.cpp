#include "report/results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace adamgn {
namespace {

json summary_json(const ArmSummary& s, bool with_target) {
  json j{{"steps", s.steps}, {"loss_mean", s.loss_mean}, {"loss_se", s.loss_se},
         {"n_ok", s.n_ok},   {"n_diverged", s.n_diverged}};
  j["final_loss_mean"] = s.loss_mean.empty() ? json(nullptr) : json(s.loss_mean.back());
  j["final_loss_se"] = s.loss_se.empty() ? json(nullptr) : json(s.loss_se.back());
  if (!s.test_loss_mean.empty()) {
    j["test_loss_mean"] = s.test_loss_mean;
    j["test_loss_se"] = s.test_loss_se;
    j["final_test_loss_mean"] = s.test_loss_mean.back();
    j["final_test_loss_se"] = s.test_loss_se.back();
  }
  if (!s.test_accuracy_mean.empty()) {
    j["test_accuracy_mean"] = s.test_accuracy_mean;
    j["test_accuracy_se"] = s.test_accuracy_se;
    j["final_test_accuracy_mean"] = s.test_accuracy_mean.back();
    j["final_test_accuracy_se"] = s.test_accuracy_se.back();
  }
  if (!s.measures.empty()) {
    json m{{"steps", s.measure_steps}};
    for (const auto& [name, series] : s.measures)
      m[name] = json{{"mean", series.mean},
                     {"se", series.se},
                     {"n", series.count},
                     {"final_mean", series.mean.empty() ? json(nullptr) : json(series.mean.back())},
                     {"final_se", series.se.empty() ? json(nullptr) : json(series.se.back())}};
    j["measures"] = std::move(m);
  }
  if (with_target) {
    j["n_reached_target"] = s.n_reached_target;
    j["steps_to_target_mean"] = s.n_reached_target > 0 ? json(s.steps_to_target_mean) : json(nullptr);
  }
  return j;
}

}  // namespace

ArmSummary summarize_arm(const std::vector<RunResult>& runs) {
  ArmSummary s;
  const RunResult* first_ok = nullptr;
  double target_sum = 0.0;
  for (const auto& r : runs) {
    if (r.diverged) {
      ++s.n_diverged;
      continue;
    }
    ++s.n_ok;
    if (!first_ok) first_ok = &r;
    if (r.steps_to_target >= 0) {
      ++s.n_reached_target;
      target_sum += static_cast<double>(r.steps_to_target);
    }
  }
  if (s.n_reached_target > 0) s.steps_to_target_mean = target_sum / static_cast<double>(s.n_reached_target);
  if (!first_ok) return s;
  const double n = static_cast<double>(s.n_ok);
  // Points every run that did not diverge has (all of them when the runs agree).
  auto common = [&](auto RunResult::*field) {
    std::size_t points = (first_ok->*field).size();
    for (const auto& r : runs)
      if (!r.diverged) points = std::min(points, (r.*field).size());
    return points;
  };
  const std::size_t logged = std::min(common(&RunResult::steps), common(&RunResult::loss));
  s.steps.assign(first_ok->steps.begin(), first_ok->steps.begin() + static_cast<std::ptrdiff_t>(logged));
  // Mean and standard error, point by point, of one curve over the runs that did not diverge.
  auto curve = [&](std::vector<double> RunResult::*field, std::vector<double>& mean_out, std::vector<double>& se_out) {
    const std::size_t points = std::min(logged, common(field));
    mean_out.assign(points, 0.0);
    se_out.assign(points, 0.0);
    for (std::size_t k = 0; k < points; ++k) {
      double sum = 0.0;
      for (const auto& r : runs)
        if (!r.diverged) sum += (r.*field)[k];
      const double mean = sum / n;
      double ss = 0.0;
      for (const auto& r : runs)
        if (!r.diverged) ss += ((r.*field)[k] - mean) * ((r.*field)[k] - mean);
      mean_out[k] = mean;
      se_out[k] = s.n_ok > 1 ? std::sqrt(ss / (n - 1.0) / n) : 0.0;
    }
  };
  curve(&RunResult::loss, s.loss_mean, s.loss_se);
  curve(&RunResult::test_loss, s.test_loss_mean, s.test_loss_se);
  curve(&RunResult::test_accuracy, s.test_accuracy_mean, s.test_accuracy_se);

  // Measures: at the measured steps every run that did not diverge has, over its finite values.
  std::size_t measured = first_ok->measure_steps.size();
  for (const auto& r : runs)
    if (!r.diverged) measured = std::min(measured, r.measure_steps.size());
  s.measure_steps.assign(first_ok->measure_steps.begin(), first_ok->measure_steps.begin() + static_cast<std::ptrdiff_t>(measured));
  for (const auto& [name, first_series] : first_ok->measures) {
    MeasureSummary& m = s.measures[name];
    for (std::size_t k = 0; k < measured; ++k) {
      std::vector<double> values;
      for (const auto& r : runs) {
        if (r.diverged) continue;
        const auto it = r.measures.find(name);
        if (it != r.measures.end() && k < it->second.size() && std::isfinite(it->second[k])) values.push_back(it->second[k]);
      }
      const double count = static_cast<double>(values.size());
      double mean = std::numeric_limits<double>::quiet_NaN(), se = mean;
      if (!values.empty()) {
        double sum = 0.0;
        for (double v : values) sum += v;
        mean = sum / count;
        double ss = 0.0;
        for (double v : values) ss += (v - mean) * (v - mean);
        se = values.size() > 1 ? std::sqrt(ss / (count - 1.0) / count) : 0.0;
      }
      m.mean.push_back(mean);
      m.se.push_back(se);
      m.count.push_back(static_cast<Index>(values.size()));
    }
  }
  return s;
}

double loss_floor(const json& result) {
  if (!result.is_object() || !result.contains("task_info")) return std::nan("");
  const json& info = result["task_info"];
  return info.is_object() && info.contains("loss_floor") && info["loss_floor"].is_number() ? info["loss_floor"].get<double>()
                                                                                             : std::nan("");
}

json result_json(const ExperimentResult& result) {
  const ExperimentSpec& spec = result.spec;
  json arms = json::array();
  json arm_configs = json::array();
  const bool with_target = spec.run.target_loss > 0.0;
  for (std::size_t a = 0; a < spec.arms.size(); ++a) {
    json runs = json::array();
    for (const auto& r : result.runs[a]) runs.push_back(run_json(r));
    arms.push_back(json{{"name", spec.arms[a].name},
                        {"optimizer", spec.arms[a].optimizer.to_json()},
                        {"runs", std::move(runs)},
                        {"summary", summary_json(summarize_arm(result.runs[a]), with_target)}});
    arm_configs.push_back(json{{"name", spec.arms[a].name}, {"optimizer", spec.arms[a].optimizer.to_json()}});
    // An arm with its own task keys carries its task's whole configuration.
    if (a < result.arm_task_configs.size() && !result.arm_task_configs[a].is_null()) {
      arms.back()["task"] = result.arm_task_configs[a];
      arm_configs.back()["task"] = result.arm_task_configs[a];
    }
  }
  json doc{{"schema", "adamgn.result/1"},
           {"program", program_json()},
           {"preset", spec.preset.empty() ? json(nullptr) : json(spec.preset)},
           {"claim", spec.claim},
           {"measure", spec.measure},
           {"notes", spec.notes},
           {"claims", spec.claims},
           {"config", {{"task", result.task_config}, {"run", spec.run.to_json()}, {"arms", arm_configs}}},
           {"task_info", result.task_info},
           {"arms", std::move(arms)},
           {"wall_seconds", result.wall_seconds}};
  return doc;
}

}  // namespace adamgn
