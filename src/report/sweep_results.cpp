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
                              {"n", st.jobs.size()}, {"diverged", diverged}});
    }
    const bool any = sel.winner >= 0;
    arms.push_back(json{{"name", sweep.experiment().arms[static_cast<std::size_t>(sel.arm)].name},
                        {"winner", any ? plan.settings[static_cast<std::size_t>(sel.winner)].setting : json(nullptr)},
                        {"score", any ? json(sel.score) : json(nullptr)},
                        {"settings_tried", sel.settings_tried},
                        {"settings", settings}});
  }
  return json{{"schema", "adamgn.selection/1"}, {"metric", sweep.spec().metric},
              {"score", "mean over tuning seeds of the metric; a diverged run makes a setting's score null (+inf)"},
              {"arms", arms}};
}

json tuned_preset(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, const json& base) {
  json doc = base.is_null() ? sweep.spec().experiment : base;
  json tuning = doc.value("tuning", json::object());
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
      for (auto& arm : doc["arms"])
        if (arm.value("name", "") == name)
          for (auto it = w.begin(); it != w.end(); ++it) arm[it.key()] = it.value();
    } else {
      rec["winner"] = nullptr;
    }
    tuning[name] = rec;
  }
  doc["tuning"] = tuning;
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
