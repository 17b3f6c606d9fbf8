#include "runner/sweep.hpp"

#include "optim/registry.hpp"
#include "runner/run_record.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>

namespace adamgn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<std::string>& axis_order() {
  static const std::vector<std::string> order = {"lr",       "alpha", "beta2", "beta1",      "schedule",
                                                 "batch",    "gn_batch", "basis", "power", "basis_every"};
  return order;
}

void sort_axes(std::vector<GridAxis>& axes) {
  auto rank = [](const std::string& k) {
    const auto& o = axis_order();
    return static_cast<std::size_t>(std::find(o.begin(), o.end(), k) - o.begin());
  };
  std::stable_sort(axes.begin(), axes.end(), [&](const GridAxis& a, const GridAxis& b) {
    return rank(a.key) != rank(b.key) ? rank(a.key) < rank(b.key) : a.key < b.key;
  });
}

// Replaces the axes of `base` that `extra` names and appends the others.
void overlay(std::vector<GridAxis>& base, const std::vector<GridAxis>& extra) {
  for (const auto& axis : extra) {
    auto it = std::find_if(base.begin(), base.end(), [&](const GridAxis& a) { return a.key == axis.key; });
    if (it != base.end()) *it = axis;
    else base.push_back(axis);
  }
}

// Six significant digits, so that products of factors print as a user would write them.
double tidy(double x) {
  if (x == 0.0 || !std::isfinite(x)) return x;
  const double scale = std::pow(10.0, 5 - static_cast<int>(std::floor(std::log10(std::fabs(x)))));
  return std::round(x * scale) / scale;
}

std::vector<GridAxis> axes_from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw UsageError(where + " must be an object of KEY: [values]");
  std::vector<GridAxis> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    GridAxis a{it.key(), {}};
    if (it.value().is_array()) a.values.assign(it.value().begin(), it.value().end());
    else a.values.push_back(it.value());
    if (a.values.empty()) throw UsageError(where + "." + it.key() + " has no values");
    if (it.key() == "name") throw UsageError(where + ".name cannot be swept");
    out.push_back(std::move(a));
  }
  return out;
}

json axes_to_json(const std::vector<GridAxis>& axes) {
  json j = json::object();
  for (const auto& a : axes) j[a.key] = a.values;
  return j;
}

// The paper's protocol (C.1) around an arm's own values: lr by factors of 3 (three steps either
// way), the diagonal's own axes (optim/registry.cpp's entries: alpha by factors of 10 for GN arms
// with alpha > 0, beta2 in {0, 0.9, 0.95, 0.99} for Adam arms), and a constant or step-decay
// schedule.
std::vector<GridAxis> protocol_axes(const OptimizerConfig& o) {
  std::vector<GridAxis> axes;
  GridAxis lr{"lr", {}};
  for (int k = -3; k <= 3; ++k) lr.values.push_back(tidy(o.lr * std::pow(3.0, k)));
  axes.push_back(lr);
  for (auto& [key, values] : o.diagonal_entry().tuning_axes(o)) {
    GridAxis axis{key, {}};
    for (const json& v : values) axis.values.push_back(v.is_number() ? json(tidy(v.get<double>())) : v);
    axes.push_back(axis);
  }
  axes.push_back({"schedule", {"constant", "step:10%"}});
  return axes;
}

}  // namespace

std::string describe_setting(const json& setting) {
  std::string s;
  for (auto it = setting.begin(); it != setting.end(); ++it)
    s += (s.empty() ? "" : " ") + it.key() + "=" + show(it.value());
  return s;
}

GridAxis parse_axis(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == assignment.size())
    throw UsageError("--grid " + assignment + " must look like KEY=V1,V2,... or KEY=FROM:TO:xFACTOR");
  GridAxis axis{assignment.substr(0, eq), {}};
  const std::string rhs = assignment.substr(eq + 1);
  // FROM:TO:xFACTOR
  const auto c1 = rhs.find(':'), c2 = rhs.rfind(':');
  if (c1 != std::string::npos && c2 != c1 && rhs.compare(c2 + 1, 1, "x") == 0) {
    const json from = parse_scalar(rhs.substr(0, c1)), to = parse_scalar(rhs.substr(c1 + 1, c2 - c1 - 1)),
               factor = parse_scalar(rhs.substr(c2 + 2));
    if (!from.is_number() || !to.is_number() || !factor.is_number())
      throw UsageError("--grid " + assignment + ": FROM, TO and FACTOR must be numbers");
    const double a = from.get<double>(), b = to.get<double>(), f = factor.get<double>();
    if (!(a > 0.0) || !(b >= a) || !(f > 1.0))
      throw UsageError("--grid " + assignment + ": needs 0 < FROM <= TO and FACTOR > 1");
    for (int k = 0;; ++k) {
      const double v = tidy(a * std::pow(f, k));
      if (v > b * (1 + 1e-9) || k > 200) break;
      axis.values.push_back(v);
    }
    return axis;
  }
  std::stringstream ss(rhs);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) axis.values.push_back(parse_scalar(item));
  if (axis.values.empty()) throw UsageError("--grid " + assignment + " has no values");
  return axis;
}

void read_sweep_fields(SweepSpec& spec, const json& fields, const std::string& where) {
  ObjectReader r(fields, where);
  if (r.has("grid")) overlay(spec.grid, axes_from_json(r.raw("grid"), r.path_of("grid")));
  if (r.has("arm_grid")) {
    const json& ag = r.raw("arm_grid");
    if (!ag.is_object()) throw UsageError(r.path_of("arm_grid") + " must be an object of ARM: {KEY: [values]}");
    for (auto it = ag.begin(); it != ag.end(); ++it)
      overlay(spec.arm_grid[it.key()], axes_from_json(it.value(), r.path_of("arm_grid") + "." + it.key()));
  }
  r.read("protocol", spec.protocol);
  if (r.has("refine")) {
    const json& rf = r.raw("refine");
    if (!rf.is_object()) throw UsageError(r.path_of("refine") + " must be an object of KEY: FACTOR");
    spec.refine.clear();
    for (auto it = rf.begin(); it != rf.end(); ++it) {
      if (!it.value().is_number() || !(it.value().get<double>() > 1.0))
        throw UsageError(r.path_of("refine") + "." + it.key() + " = " + show(it.value()) + " must be a factor > 1");
      spec.refine.emplace_back(it.key(), it.value().get<double>());
    }
  }
  r.read("seeds", spec.seeds);
  r.read("seed", spec.seed);
  r.read("rerun_seeds", spec.rerun_seeds);
  r.read("metric", spec.metric);
  r.finish();
}

json SweepSpec::to_json() const {
  json ag = json::object();
  for (const auto& [arm, axes] : arm_grid) ag[arm] = axes_to_json(axes);
  json rf = json::object();
  for (const auto& [k, f] : refine) rf[k] = f;
  return json{{"experiment", experiment}, {"grid", axes_to_json(grid)}, {"arm_grid", ag},
              {"protocol", protocol},     {"refine", rf},                {"seeds", seeds},
              {"seed", seed},             {"rerun_seeds", rerun_seeds},  {"metric", metric}};
}

SweepSpec SweepSpec::from_json(const json& doc) {
  if (!doc.is_object() || !doc.contains("experiment")) throw UsageError("a sweep definition needs 'experiment'");
  SweepSpec s;
  s.experiment = doc["experiment"];
  json rest = doc;
  rest.erase("experiment");
  read_sweep_fields(s, rest, "sweep");
  s.validate();
  return s;
}

void SweepSpec::validate() const {
  // Every job of a stage is listed before any runs, so the counts are bounded up front (a
  // million seeds per setting is far beyond any sweep that could finish).
  constexpr Index kMaxSeeds = 1000000;
  if (seeds < 1 || seeds > kMaxSeeds)
    throw UsageError("sweep seeds = " + std::to_string(seeds) + " must be in [1, " + std::to_string(kMaxSeeds) + "]");
  if (rerun_seeds < 0 || rerun_seeds > kMaxSeeds)
    throw UsageError("sweep rerun_seeds = " + std::to_string(rerun_seeds) + " must be in [0, " +
                     std::to_string(kMaxSeeds) + "]");
  if (metric != "final" && metric != "final-test" && metric != "log-auc" && metric != "steps")
    throw UsageError("sweep metric = " + metric + " must be final, final-test, log-auc or steps");
}

double run_score(const json& run, const std::string& metric) {
  if (run.value("status", "") != "ok") return kInf;
  if (metric == "steps") {
    const json& s = run.contains("steps_to_target") ? run["steps_to_target"] : json();
    return s.is_number() ? s.get<double>() : kInf;
  }
  const char* key = metric == "final-test" ? "test_loss" : "loss";
  if (!run.contains(key) || !run[key].is_array() || run[key].empty()) return kInf;
  const auto& curve = run[key];
  if (metric == "log-auc") {
    double sum = 0.0;
    for (const auto& v : curve) sum += std::log10(std::max(v.get<double>(), 1e-30));
    return sum / static_cast<double>(curve.size());
  }
  return curve.back().get<double>();
}

double mean_score(const std::vector<double>& scores) {
  if (scores.empty()) return kInf;
  double sum = 0.0;
  for (double s : scores) sum += s;
  return std::isfinite(sum) ? sum / static_cast<double>(scores.size()) : kInf;
}

std::vector<ArmSelection> select_winners(const SweepPlan& plan, const std::vector<double>& job_scores,
                                         const std::vector<std::string>& stages, Index arms) {
  std::vector<ArmSelection> out(static_cast<std::size_t>(arms));
  for (Index a = 0; a < arms; ++a) out[static_cast<std::size_t>(a)].arm = a;
  for (const auto& st : plan.settings) {
    if (std::find(stages.begin(), stages.end(), st.stage) == stages.end()) continue;
    std::vector<double> scores;
    for (Index j : st.jobs) scores.push_back(job_scores[static_cast<std::size_t>(j)]);
    const double score = mean_score(scores);
    ArmSelection& sel = out[static_cast<std::size_t>(st.arm)];
    ++sel.settings_tried;
    if (!std::isfinite(score)) continue;
    const bool better =
        sel.winner < 0 || score < sel.score ||
        (score == sel.score &&
         st.optimizer.value("lr", 0.0) < plan.settings[static_cast<std::size_t>(sel.winner)].optimizer.value("lr", 0.0));
    if (better) {
      sel.winner = st.id;
      sel.score = score;
    }
  }
  return out;
}

Sweep::Sweep(SweepSpec spec) : spec_(std::move(spec)) {
  spec_.validate();
  const json& doc = spec_.experiment;
  experiment_ = parse_experiment(doc);
  factory_ = make_task_factory(experiment_.task);
  arm_factories_ = make_arm_factories(experiment_, factory_);
  check_compatible(experiment_, arm_factories_);
  // Each arm's own keys over the defaults, as parse_experiment merges them.
  const json defaults = doc.value("defaults", json::object());
  for (const auto& arm : doc.at("arms")) {
    json a = defaults;
    for (auto it = arm.begin(); it != arm.end(); ++it) a[it.key()] = it.value();
    a.erase("name");
    a.erase("task");
    arm_docs_.push_back(a);
  }
  std::set<std::string> names;
  for (const auto& a : experiment_.arms) names.insert(a.name);
  for (const auto& [arm, axes] : spec_.arm_grid)
    if (!names.count(arm)) throw UsageError("sweep arm_grid." + arm + ": the experiment has no arm of this name");
  if (spec_.rerun_seeds > 0) {
    const std::uint64_t t0 = spec_.seed, t1 = spec_.seed + static_cast<std::uint64_t>(spec_.seeds);
    const std::uint64_t r0 = experiment_.run.seed, r1 = r0 + static_cast<std::uint64_t>(spec_.rerun_seeds);
    if (t0 < r1 && r0 < t1)
      throw UsageError("sweep tuning seeds " + std::to_string(t0) + ".." + std::to_string(t1 - 1) +
                       " overlap the rerun seeds " + std::to_string(r0) + ".." + std::to_string(r1 - 1) +
                       " (run.seed); the rerun must use fresh seeds");
  }
  expand(nullptr);  // every grid point must be a valid configuration
}

json Sweep::run_config(Index arm, const json& optimizer, std::uint64_t seed) const {
  const RunConfig& r = experiment_.run;
  json run{{"steps", r.steps}, {"log_every", r.resolved_log_every()}, {"diverge_factor", r.diverge_factor},
           {"target_loss", r.target_loss}};
  r.add_stop_key(run);
  r.add_measure_keys(run);
  json c{{"task", arm_factory(arm).config()}, {"run", run}, {"optimizer", optimizer}};
  if (seed != std::numeric_limits<std::uint64_t>::max()) c["seed"] = seed;
  return c;
}

double Sweep::score(const json& run) const { return run_score(run, spec_.metric); }

SweepPlan Sweep::plan(const RunStore& store) const { return expand(&store); }

void Sweep::add_setting(SweepPlan& p, const std::string& stage, Index arm, const json& setting, std::uint64_t first_seed,
                        Index n_seeds) const {
  constexpr std::uint64_t kNoSeed = std::numeric_limits<std::uint64_t>::max();
  json a = arm_docs_[static_cast<std::size_t>(arm)];
  for (auto it = setting.begin(); it != setting.end(); ++it) a[it.key()] = it.value();
  OptimizerConfig o;
  const std::string where = "arm " + experiment_.arms[static_cast<std::size_t>(arm)].name +
                            (setting.empty() ? "" : ", sweep point " + describe_setting(setting));
  try {
    ObjectReader r(a, "sweep");
    o.read(r);
    r.finish();
    o.validate();
  } catch (const UsageError& e) {
    throw UsageError(where + ": " + e.what());
  }
  SweepSetting st;
  st.id = static_cast<Index>(p.settings.size());
  st.stage = stage;
  st.arm = arm;
  st.setting = setting;
  st.optimizer = o.to_json();
  st.hash = config_hash(run_config(arm, st.optimizer, kNoSeed));
  for (Index s = 0; s < n_seeds; ++s) {
    SweepJob j;
    j.index = static_cast<Index>(p.jobs.size());
    j.stage = stage;
    j.arm = arm;
    j.setting = setting;
    j.setting_id = st.id;
    j.optimizer = st.optimizer;
    j.seed = first_seed + static_cast<std::uint64_t>(s);
    j.hash = config_hash(run_config(arm, st.optimizer, j.seed));
    st.jobs.push_back(j.index);
    p.jobs.push_back(std::move(j));
  }
  p.settings.push_back(std::move(st));
}

// Every arm x every point of its grid (protocol axes, then the sweep's grid, then the arm's own)
// x the tuning seeds, the last axis varying fastest.
void Sweep::expand_grid(SweepPlan& p) const {
  const Index arms = static_cast<Index>(experiment_.arms.size());
  for (Index a = 0; a < arms; ++a) {
    std::vector<GridAxis> axes;
    if (spec_.protocol) axes = protocol_axes(experiment_.arms[static_cast<std::size_t>(a)].optimizer);
    overlay(axes, spec_.grid);
    const auto ag = spec_.arm_grid.find(experiment_.arms[static_cast<std::size_t>(a)].name);
    if (ag != spec_.arm_grid.end()) overlay(axes, ag->second);
    sort_axes(axes);
    std::vector<std::size_t> at(axes.size(), 0);
    while (true) {
      json setting = json::object();
      for (std::size_t k = 0; k < axes.size(); ++k) setting[axes[k].key] = axes[k].values[at[k]];
      add_setting(p, "grid", a, setting, spec_.seed, spec_.seeds);
      std::size_t k = axes.size();
      while (k > 0 && ++at[k - 1] == axes[k - 1].values.size()) at[--k] = 0;
      if (k == 0) break;
    }
  }
}

// For each arm's best grid setting and each key K of `refine` with factor F: K divided and
// multiplied by F, skipping points already in the plan.
void Sweep::expand_refine(SweepPlan& p, const std::vector<double>& scores) const {
  const Index arms = static_cast<Index>(experiment_.arms.size());
  const auto best = select_winners(p, scores, {"grid"}, arms);
  for (const auto& sel : best) {
    if (sel.winner < 0) continue;
    const json base = p.settings[static_cast<std::size_t>(sel.winner)].setting;
    const json base_opt = p.settings[static_cast<std::size_t>(sel.winner)].optimizer;
    for (const auto& [key, factor] : spec_.refine) {
      const json current = base.contains(key) ? base[key] : base_opt.value(key, json());
      if (!current.is_number()) continue;
      for (double v : {current.get<double>() / factor, current.get<double>() * factor}) {
        json setting = base;
        setting[key] = tidy(v);
        bool seen = false;
        for (const auto& st : p.settings)
          if (st.arm == sel.arm && st.setting == setting) seen = true;
        if (!seen) add_setting(p, "refine", sel.arm, setting, spec_.seed, spec_.seeds);
      }
    }
  }
}

SweepPlan Sweep::expand(const RunStore* store) const {
  SweepPlan p;
  const Index arms = static_cast<Index>(experiment_.arms.size());
  p.stages = {"grid"};
  if (!spec_.refine.empty()) p.stages.push_back("refine");
  if (spec_.rerun_seeds > 0) p.stages.push_back("rerun");
  expand_grid(p);
  p.expanded = {"grid"};
  if (!store) {
    p.waiting = p.stages.size() > 1 ? p.stages[1] : "";
    return p;
  }

  // Each job's file is read and verified once; a file that does not verify counts as not stored.
  std::vector<double> scores;
  auto read_new = [&]() {
    for (std::size_t j = scores.size(); j < p.jobs.size(); ++j) {
      const json run = store->find(p.jobs[j].hash);
      p.stored.push_back(!run.is_null());
      scores.push_back(run.is_null() ? kInf : score(run));
    }
  };
  auto stored = [&](Index from) {
    read_new();
    return std::all_of(p.stored.begin() + from, p.stored.end(), [](bool s) { return s; });
  };

  if (!spec_.refine.empty()) {
    if (!stored(0)) {
      p.waiting = "refine";
      return p;
    }
    expand_refine(p, scores);
    p.expanded.push_back("refine");
  }

  std::vector<std::string> tuning = {"grid"};
  if (!spec_.refine.empty()) tuning.push_back("refine");
  if (!stored(0)) {
    if (spec_.rerun_seeds > 0) p.waiting = "rerun";
    return p;
  }
  p.selection = select_winners(p, scores, tuning, arms);
  if (spec_.rerun_seeds > 0) {
    const Index before = static_cast<Index>(p.jobs.size());
    for (const auto& sel : p.selection)
      if (sel.winner >= 0)
        add_setting(p, "rerun", sel.arm, p.settings[static_cast<std::size_t>(sel.winner)].setting,
                    experiment_.run.seed, spec_.rerun_seeds);
    p.expanded.push_back("rerun");
    p.complete = stored(before);
  } else {
    p.complete = true;
  }
  return p;
}

json Sweep::execute(const SweepJob& job) const {
  OptimizerConfig o;
  ObjectReader r(job.optimizer, "optimizer");
  o.read(r);
  r.finish();
  RunResult res = run_one(arm_factory(job.arm), o, experiment_.run, job.seed);
  json doc{{"schema", "adamgn.run/1"},
           {"preset", experiment_.preset.empty() ? json(nullptr) : json(experiment_.preset)},
           {"arm", experiment_.arms[static_cast<std::size_t>(job.arm)].name},
           {"optimizer", job.optimizer}};
  json record = res.record;
  res.record = json::object();
  const json fields = run_json(res);
  for (auto it = fields.begin(); it != fields.end(); ++it) doc[it.key()] = it.value();
  if (!record.empty()) doc["record"] = record;
  doc["config"] = run_config(job.arm, job.optimizer, job.seed);
  doc["hash"] = job.hash;
  doc["program"] = program_json();
  // The store verifies every file it reads; a run it would refuse is a bug here, not a result.
  if (const std::string problem = run_problem(doc, job.hash); !problem.empty())
    throw std::logic_error("run " + job.hash + " fails the store's verification: " + problem);
  return doc;
}

}  // namespace adamgn
