#include "report/sweep_results.hpp"

#include "io/files.hpp"
#include "report/results.hpp"

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

namespace adamgn {

json sweep_result(const Sweep& sweep, const SweepPlan& plan, const RunStore& store) {
  if (!plan.complete) throw UsageError("the sweep in " + store.dir() + " is not complete; run it first");
  const bool rerun = sweep.spec().rerun_seeds > 0;
  ExperimentResult res;
  res.spec = sweep.experiment();
  res.spec.arms.clear();
  res.task_config = sweep.factory().config();
  res.task_info = sweep.factory().info();
  for (const auto& st : plan.settings) {
    if (rerun != (st.stage == "rerun")) continue;
    ArmSpec a;
    a.name = sweep.experiment().arms[static_cast<std::size_t>(st.arm)].name;
    if (!rerun && !st.setting.empty()) a.name += " " + describe_setting(st.setting);
    a.task = sweep.experiment().arms[static_cast<std::size_t>(st.arm)].task;
    res.arm_task_configs.push_back(a.task.empty() ? json(nullptr) : sweep.arm_factory(st.arm).config());
    ObjectReader r(st.optimizer, "optimizer");
    a.optimizer.read(r);
    std::vector<RunResult> runs;
    for (Index j : st.jobs) {
      RunResult rr = run_from_json(store.load(plan.jobs[static_cast<std::size_t>(j)].hash));
      rr.arm = static_cast<Index>(res.spec.arms.size());
      res.wall_seconds += rr.wall_seconds;
      runs.push_back(std::move(rr));
    }
    res.spec.arms.push_back(std::move(a));
    res.runs.push_back(std::move(runs));
  }
  if (!res.runs.empty()) res.spec.run.seeds = static_cast<Index>(res.runs.front().size());
  res.spec.run.seed = rerun ? sweep.experiment().run.seed : sweep.spec().seed;
  json doc = result_json(res);
  doc["sweep"] = {{"hash", config_hash(sweep.spec().to_json())}, {"metric", sweep.spec().metric}};
  return doc;
}

namespace {

// The standard error of the mean of finite scores (null when fewer than two or any is not finite).
json standard_error(const std::vector<double>& scores) {
  if (scores.size() < 2) return nullptr;
  double mean = 0.0;
  for (double x : scores) {
    if (!std::isfinite(x)) return nullptr;
    mean += x / static_cast<double>(scores.size());
  }
  double ss = 0.0;
  for (double x : scores) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(scores.size() - 1) / static_cast<double>(scores.size()));
}

// The settings other than the winner whose score is within 2 combined standard errors of the
// winner's: 2 sqrt(se_w^2 + se_o^2) >= score_o - score_w. A winner with such a rival is a coin toss.
json rivals(const json& settings, const json& winner) {
  json out = json::array();
  if (winner.is_null()) return out;
  const json* w = nullptr;
  for (const auto& st : settings)
    if (st["setting"] == winner) w = &st;
  if (w == nullptr || !(*w)["score"].is_number()) return out;
  const double sw = (*w)["score"].get<double>(), ew = (*w)["se"].is_number() ? (*w)["se"].get<double>() : 0.0;
  for (const auto& st : settings) {
    if (&st == w || !st["score"].is_number()) continue;
    const double so = st["score"].get<double>(), eo = st["se"].is_number() ? st["se"].get<double>() : 0.0;
    if (so - sw <= 2.0 * std::sqrt(ew * ew + eo * eo)) out.push_back(st["setting"]);
  }
  return out;
}

}  // namespace

json sweep_selection(const Sweep& sweep, const SweepPlan& plan, const RunStore& store) {
  json arms = json::array();
  for (const auto& sel : plan.selection) {
    json settings = json::array();
    for (const auto& st : plan.settings) {
      if (st.arm != sel.arm || st.stage == "rerun") continue;
      std::vector<double> scores;
      Index diverged = 0;
      for (Index j : st.jobs) {
        const json run = store.load(plan.jobs[static_cast<std::size_t>(j)].hash);
        scores.push_back(sweep.score(run));
        diverged += run.value("status", "") == "diverged";
      }
      const double m = mean_score(scores);
      settings.push_back(json{{"stage", st.stage}, {"setting", st.setting}, {"score", std::isfinite(m) ? json(m) : json(nullptr)},
                              {"se", standard_error(scores)}, {"n", st.jobs.size()}, {"diverged", diverged}});
    }
    const bool any = sel.winner >= 0;
    const json winner = any ? plan.settings[static_cast<std::size_t>(sel.winner)].setting : json(nullptr);
    // One tuning seed gives no standard error, so whether the winner is a coin toss is unknown (null).
    const bool judged = sweep.spec().seeds >= 2;
    const json close = judged ? rivals(settings, winner) : json(nullptr);
    arms.push_back(json{{"name", sweep.experiment().arms[static_cast<std::size_t>(sel.arm)].name},
                        {"winner", winner},
                        {"score", any ? json(sel.score) : json(nullptr)},
                        {"coin_toss", judged ? json(!close.empty()) : json(nullptr)},
                        {"within_2se", close},
                        {"settings_tried", sel.settings_tried},
                        {"settings", settings}});
  }
  return json{{"schema", "adamgn.selection/1"}, {"metric", sweep.spec().metric},
              {"score", "mean over tuning seeds of the metric, with its standard error (se); a diverged run makes a "
                        "setting's score null (+inf)"},
              {"coin_toss", "true when another setting's score is within 2 sqrt(se_winner^2 + se_other^2) of the "
                            "winner's (those settings: within_2se): the choice between them is not resolved by the "
                            "tuning seeds; null with one tuning seed, which gives no standard error"},
              {"arms", arms}};
}

json tuned_preset(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, const json& base,
                  const std::string& scale) {
  json doc = base.is_null() ? sweep.spec().experiment : base;
  const bool scaled = !base.is_null() && !scale.empty() && scale != "quick";
  if (scaled && !(doc.contains("scales") && doc["scales"].contains(scale)))
    throw UsageError("--write-preset: the preset has no scale '" + scale + "' to write the winners into");
  // Where the winners and their records go: the document itself, or the scale's overrides.
  json& target = scaled ? doc["scales"][scale] : doc;
  json tuning = target.value("tuning", json::object());
  const json selection = sweep_selection(sweep, plan, store);
  std::vector<std::uint64_t> tuning_seeds;
  for (Index s = 0; s < sweep.spec().seeds; ++s) tuning_seeds.push_back(sweep.spec().seed + static_cast<std::uint64_t>(s));
  const json def = sweep.spec().to_json();
  for (const auto& sel : plan.selection) {
    const std::string name = sweep.experiment().arms[static_cast<std::size_t>(sel.arm)].name;
    json rec{{"protocol", "adamgn sweep: grid" + std::string(sweep.spec().refine.empty() ? "" : ", refined around the best") +
                              "; score = mean " + sweep.spec().metric + " loss over the tuning seeds (diverged = inf); ties to smaller lr"},
             {"grid", def["grid"]},
             {"arm_grid", def["arm_grid"].value(name, json::object())},
             {"protocol_axes", sweep.spec().protocol},
             {"refine", def["refine"]},
             {"tuning_seeds", tuning_seeds},
             {"settings_tried", sel.settings_tried}};
    if (sel.winner >= 0) {
      const json& w = plan.settings[static_cast<std::size_t>(sel.winner)].setting;
      rec["winner"] = w;
      rec["score"] = sel.score;
      // Every setting's score +- se and whether the winner is a coin toss (selection.json).
      for (const auto& a : selection["arms"])
        if (a["name"] == name) {
          rec["coin_toss"] = a["coin_toss"];
          json scores = json::array();
          for (const auto& st : a["settings"])
            scores.push_back(json{{"setting", st["setting"]}, {"score", st["score"]}, {"se", st["se"]}});
          rec["scores"] = scores;
        }
      if (scaled) target["arms"][name].update(w);  // a scale's arms are overrides keyed by arm name
      else
        for (auto& arm : doc["arms"])
          if (arm.value("name", "") == name) arm.update(w);
    } else {
      rec["winner"] = nullptr;
    }
    tuning[name] = rec;
  }
  target["tuning"] = tuning;
  return doc;
}

void write_sweep_documents(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, bool quiet) {
  write_atomically(store.dir() + "/result.json", sweep_result(sweep, plan, store).dump() + "\n");
  if (plan.selection.empty()) return;
  const json sel = sweep_selection(sweep, plan, store);
  write_atomically(store.dir() + "/selection.json", sel.dump(2) + "\n");
  if (quiet) return;
  for (const auto& a : sel["arms"])
    std::cerr << "  " << a["name"].get<std::string>() << ": "
              << (a["winner"].is_null() ? std::string("every setting diverged") : a["winner"].dump() + "  score " + show(a["score"]))
              << "\n";
}

}  // namespace adamgn
