#include "runner/experiment.hpp"

#include "core/interrupt.hpp"
#include "core/parallel.hpp"

#include "optim/basis.hpp"
#include "optim/eigensolver.hpp"
#include "optim/optimizer.hpp"
#include "optim/registry.hpp"
#include "measures/measure.hpp"
#include "measures/probe.hpp"
#include "runner/claims.hpp"
#include "runner/memory.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace adamgn {
namespace {


// Recursively merges `patch` into `base` (objects merge key by key, everything else replaces).
// An object patching an array of named objects (a scale's "arms") merges into the entry of each
// name, so a scale can change one arm's keys: {"arms": {"adam large": {"batch": 4096}}}.
void merge(json& base, const json& patch, const std::string& path = "") {
  if (patch.is_object() && base.is_array()) {
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      auto named = std::find_if(base.begin(), base.end(), [&](const json& e) {
        return e.is_object() && e.contains("name") && e["name"] == it.key();
      });
      if (named == base.end()) throw UsageError(path + "." + it.key() + ": no entry has this name");
      merge(*named, it.value(), path + "." + it.key());
    }
    return;
  }
  if (!patch.is_object() || !base.is_object()) {
    base = patch;
    return;
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (base.contains(it.key())) merge(base[it.key()], it.value(), path.empty() ? it.key() : path + "." + it.key());
    else base[it.key()] = it.value();
  }
}

}  // namespace

void RunConfig::read(ObjectReader& r) {
  r.read("steps", steps);
  r.read("seeds", seeds);
  r.read("seed", seed);
  r.read("threads", threads);
  r.read("log_every", log_every);
  r.read("diverge_factor", diverge_factor);
  r.read("target_loss", target_loss);
  r.read("stop_at_target", stop_at_target);
  if (r.has("measure")) {
    const json& m = r.raw("measure");
    std::string text;
    if (m.is_string()) text = m.get<std::string>();
    else if (m.is_array())
      for (const json& e : m) {
        if (!e.is_string()) throw UsageError(r.path_of("measure") + " must be a string or a list of strings");
        text += e.get<std::string>() + ",";
      }
    else throw UsageError(r.path_of("measure") + " must be a string or a list of strings");
    measure = parse_measure_list(text, r.path_of("measure"));
  }
  r.read("measure_batch", measure_batch);
  r.read("measure_every", measure_every);
}

void RunConfig::validate() const {
  if (steps < 1) throw UsageError("run.steps = " + std::to_string(steps) + " must be >= 1");
  if (seeds < 1) throw UsageError("run.seeds = " + std::to_string(seeds) + " must be >= 1");
  if (threads < 0) throw UsageError("run.threads = " + std::to_string(threads) + " must be >= 0");
  if (log_every < 0) throw UsageError("run.log_every = " + std::to_string(log_every) + " must be >= 0");
  if (!(diverge_factor > 1.0)) throw UsageError("run.diverge_factor = " + show_number(diverge_factor) + " must be > 1");
  if (!(target_loss >= 0.0)) throw UsageError("run.target_loss = " + show_number(target_loss) + " must be >= 0");
  if (stop_at_target && !(target_loss > 0.0)) throw UsageError("run.stop_at_target needs a run.target_loss > 0");
  if (measure_batch < 2 || measure_batch > 1000000)
    throw UsageError("run.measure_batch = " + std::to_string(measure_batch) + " must be in [2, 1000000]");
  if (measure_every < 1) throw UsageError("run.measure_every = " + std::to_string(measure_every) + " must be >= 1");
}

json RunConfig::to_json() const {
  json j{{"steps", steps},         {"seeds", seeds},
         {"seed", seed},           {"threads", threads},
         {"log_every", resolved_log_every()}, {"diverge_factor", diverge_factor},
         {"target_loss", target_loss}};
  add_stop_key(j);
  add_measure_keys(j);
  return j;
}

void RunConfig::add_stop_key(json& j) const {
  if (stop_at_target) j["stop_at_target"] = true;
}

void RunConfig::add_measure_keys(json& j) const {
  if (measure.empty()) return;
  j["measure"] = measure;
  j["measure_batch"] = measure_batch;
  j["measure_every"] = measure_every;
}

json resolve_scale(json doc, const std::string& scale) {
  if (!doc.is_object()) throw UsageError("an experiment must be a JSON object");
  if (!scale.empty() && scale != "quick") {
    if (!doc.contains("scales") || !doc["scales"].contains(scale))
      throw UsageError("scale = " + scale + " is not defined by this preset");
    merge(doc, doc["scales"][scale], "scales." + scale);
  }
  return doc;
}

json ExperimentSpec::arm_task(std::size_t a) const {
  json t = task;
  merge(t, arms.at(a).task, "arms[" + std::to_string(a) + "].task");
  return t;
}

ArmFactories make_arm_factories(const ExperimentSpec& spec, const std::shared_ptr<const TaskFactory>& base) {
  ArmFactories out;
  std::map<std::string, std::shared_ptr<const TaskFactory>> made;
  for (std::size_t a = 0; a < spec.arms.size(); ++a) {
    if (spec.arms[a].task.empty()) {
      out.push_back(base);
      continue;
    }
    const json t = spec.arm_task(a);
    auto& f = made[t.dump()];
    if (!f) {
      try {
        f = make_task_factory(t);
      } catch (const UsageError& e) {
        throw UsageError("arm " + spec.arms[a].name + ": " + e.what());
      }
    }
    out.push_back(f);
  }
  return out;
}

ExperimentSpec parse_experiment(json doc, const std::string& scale) {
  doc = resolve_scale(std::move(doc), scale);
  ExperimentSpec spec;
  ObjectReader r(doc, "");
  r.read("name", spec.preset);
  r.read("claim", spec.claim);
  r.read("measure", spec.measure);
  r.read("notes", spec.notes);
  if (r.has("scales")) r.raw("scales");
  if (r.has("tuning")) spec.tuning = r.raw("tuning");
  if (r.has("sweep")) r.raw("sweep");  // read by `adamgn sweep` (runner/sweep.hpp)
  if (r.has("claims")) spec.claims = r.raw("claims");
  if (!r.has("task")) throw UsageError("the experiment has no 'task'");
  spec.task = r.raw("task");
  if (r.has("run")) {
    ObjectReader rr(r.raw("run"), "run");
    spec.run.read(rr);
    rr.finish();
  }
  spec.run.validate();
  json defaults = json::object();
  if (r.has("defaults")) defaults = r.raw("defaults");
  if (!defaults.is_object()) throw UsageError("'defaults' must be a JSON object");
  if (!r.has("arms")) throw UsageError("the experiment has no 'arms'");
  const json& arms = r.raw("arms");
  if (!arms.is_array() || arms.empty()) throw UsageError("'arms' must be a non-empty list");
  r.finish();

  std::set<std::string> names;
  for (std::size_t i = 0; i < arms.size(); ++i) {
    json arm = defaults;
    merge(arm, arms[i]);
    const std::string path = "arms[" + std::to_string(i) + "]";
    ArmSpec a;
    if (arm.contains("task")) {
      if (!arm["task"].is_object()) throw UsageError(path + ".task must be a JSON object of task keys");
      a.task = arm["task"];
      arm.erase("task");
      if (a.task.contains("name")) throw UsageError(path + ".task.name: an arm may change task keys, not the task");
    }
    ObjectReader ar(arm, path);
    ar.read("name", a.name);
    // Names end up in table cells, file listings and one-line messages: printable text only.
    const std::string escaped = escape_control(a.name);
    if (escaped != a.name)
      throw UsageError(path + ".name = " + escaped + " holds a control character (shown escaped); arm names must be printable");
    a.optimizer.read(ar);
    ar.finish();
    if (a.name.empty()) a.name = a.optimizer.label();
    if (!names.insert(a.name).second) throw UsageError(path + ".name = " + a.name + " is used twice");
    try {
      a.optimizer.validate();
    } catch (const UsageError& e) {
      throw UsageError("arm " + a.name + ": " + e.what());
    }
    spec.arms.push_back(std::move(a));
  }
  std::vector<std::string> arm_names;
  for (const auto& a : spec.arms) arm_names.push_back(a.name);
  validate_claims(spec.claims, arm_names, "claims");
  return spec;
}

namespace {

// One arm against its task: the basis's and the batches' needs.
void check_arm(const ArmSpec& a, const TaskFactory& factory) {
  const OptimizerConfig& o = a.optimizer;
  const DiagonalEntry& diagonal = o.diagonal_entry();
  const BasisNeeds needs = diagonal.make ? o.basis_entry().needs(o) : BasisNeeds{CurvatureNeed::none, CurvatureNeed::none};
  for (const CurvatureNeed need : {needs.refresh, diagonal.needs(needs)})
    if (!factory.provides(need))
      throw UsageError("arm " + a.name + ": basis = " + o.basis_text() + " with precond = " + o.precond + " needs " +
                       describe(need) + ", which task " + factory.name() + " does not provide");
  // A dense eigendecomposition is O(P^3) in time and O(P^2) in memory, unless the GN is diagonal
  // by structure (the eigenbasis is then a permutation).
  if (needs.refresh == CurvatureNeed::full && !factory.gn_is_diagonal() && factory.dim() > EigenBasis::kMaxDense)
    throw UsageError("arm " + a.name + ": basis = " + o.basis_text() + " needs the full " +
                     std::to_string(factory.dim()) + " x " + std::to_string(factory.dim()) +
                     " GN matrix; the limit is " + std::to_string(EigenBasis::kMaxDense) +
                     " parameters (use kronecker)");
  if (!factory.has_population() && o.batch.exact)
    throw UsageError("arm " + a.name + ": batch = full is not available for task " + factory.name() +
                     " (fresh samples every step); give a batch size");
  if (!factory.has_population() && o.gn_batch.exact && curvature_need(o) != CurvatureNeed::none)
    throw UsageError("arm " + a.name + ": gn_batch = population is not available for task " + factory.name() +
                     "; give a GN batch size");
}

}  // namespace

void check_compatible(const ExperimentSpec& spec, const TaskFactory& factory) {
  for (const auto& name : spec.run.measure)
    if (const Measure& m = find_measure(name); m.check) m.check(factory);
  for (const auto& a : spec.arms) check_arm(a, factory);
}

void check_compatible(const ExperimentSpec& spec, const ArmFactories& arm_factories) {
  for (std::size_t a = 0; a < spec.arms.size(); ++a) {
    for (const auto& name : spec.run.measure)
      if (const Measure& m = find_measure(name); m.check) m.check(*arm_factories[a]);
    check_arm(spec.arms[a], *arm_factories[a]);
  }
}

RunResult run_one(const TaskFactory& factory, const OptimizerConfig& opt, const RunConfig& run,
                  std::uint64_t seed, PhaseTimes* times, Index untimed_steps) {
  const auto start = std::chrono::steady_clock::now();
  const PinnedRun pinned;  // a lone run's threads on distinct CPUs until it returns
  RunResult res;
  res.seed = seed;
  auto task = factory.make(seed);
  res.record = task->run_record();
  Rng data_rng = Rng::stream(seed, "data");
  Rng curvature_rng = Rng::stream(seed, "curvature");
  Vec theta = task->initial_parameters();
  Optimizer optimizer(opt, task->layout(), run.steps);
  if (times) optimizer.enable_timing();
  std::vector<const Measure*> measures;
  for (const auto& name : run.measure) {
    measures.push_back(&find_measure(name));
    if (measures.back()->prepare) measures.back()->prepare(optimizer);
  }
  Index logged = 0;
  // The measures at a logged point, on the probe (every measure_every-th point).
  auto measure = [&](Index step) {
    if (measures.empty() || logged++ % run.measure_every != 0) return;
    Probe probe(*task, factory, theta, optimizer, seed, run.measure_batch);
    MeasureValues values;
    for (const Measure* m : measures) m->compute(probe, values);
    res.measure_steps.push_back(step);
    for (const auto& [name, value] : values) {
      auto& series = res.measures[name];
      series.resize(res.measure_steps.size() - 1, std::numeric_limits<double>::quiet_NaN());
      series.push_back(value);
    }
  };

  const Index log_every = run.resolved_log_every();
  const Evaluation eval0 = task->evaluate(theta);
  const double loss0 = eval0.loss;
  const double limit = run.diverge_factor * std::max(loss0, 1e-300);
  auto finite = [&](const Evaluation& e) {
    return std::isfinite(e.loss) && e.loss <= limit && (!e.has_test || std::isfinite(e.test_loss));
  };
  auto record = [&](Index step, const Evaluation& e) {
    res.steps.push_back(step);
    res.loss.push_back(e.loss);
    if (e.has_test) res.test_loss.push_back(e.test_loss);
    if (e.has_accuracy) res.test_accuracy.push_back(e.test_accuracy);
    if (run.target_loss > 0.0 && res.steps_to_target < 0 && e.loss <= run.target_loss) res.steps_to_target = step;
    measure(step);
  };
  auto diverge = [&](Index step) {
    res.diverged = true;
    res.diverged_at = step;
  };
  if (!finite(eval0)) diverge(0);
  else record(0, eval0);

  PhaseTimes warmup;
  for (Index t = 0; t < run.steps && !res.diverged; ++t) {
    check_interrupt();
    if (t == untimed_steps) warmup = optimizer.phase_times();
    const double batch_loss = optimizer.step(*task, theta, t, data_rng, curvature_rng);
    if (!std::isfinite(batch_loss) || batch_loss > limit) {
      diverge(t);
      break;
    }
    // x - x is 0 for a finite x and NaN for inf or NaN, so the sum is 0 exactly when every entry
    // is finite. A plain vectorized sum: over 11,264 entries 0.74 us, against 3.2-3.4 us for a
    // NaN-propagating max and 4.3-5.6 us for allFinite (AVX-512 development machine).
    if (!((theta.array() - theta.array()).sum() == 0.0)) {
      diverge(t + 1);
      break;
    }
    const Index step = t + 1;
    if (step % log_every == 0 || step == run.steps) {
      const Evaluation e = task->evaluate(theta);
      if (!finite(e)) diverge(step);
      else record(step, e);
    }
    if (run.stop_at_target && res.steps_to_target >= 0) break;
  }
  // A curve ends at its last finite point: points logged at or after the divergence step are
  // not part of it.
  while (res.diverged && !res.steps.empty() && res.steps.back() >= res.diverged_at) {
    res.steps.pop_back();
    res.loss.pop_back();
    if (!res.test_loss.empty()) res.test_loss.pop_back();
    if (!res.test_accuracy.empty()) res.test_accuracy.pop_back();
  }
  while (!res.measure_steps.empty() && (res.steps.empty() || res.measure_steps.back() > res.steps.back())) {
    res.measure_steps.pop_back();
    for (auto& [name, series] : res.measures) series.resize(res.measure_steps.size());
  }
  for (auto& [name, series] : res.measures) series.resize(res.measure_steps.size(), std::numeric_limits<double>::quiet_NaN());
  res.basis_failures = optimizer.basis_failures();
  if (times) *times = optimizer.phase_times() - warmup;
  res.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

ExperimentResult run_experiment(const ExperimentSpec& spec,
                                const std::function<void(const ExperimentSpec&, const RunResult&)>& on_run) {
  const auto start = std::chrono::steady_clock::now();
  // BLAS stays single-threaded, set before the task is built: multithreaded BLAS products change
  // results in the last bits with the thread count (tests/test_runner.cpp), a test set included.
  set_blas_threads(1);
  const std::shared_ptr<const TaskFactory> factory = make_task_factory(spec.task);
  const ArmFactories arm_factories = make_arm_factories(spec, factory);
  check_compatible(spec, arm_factories);
  std::vector<const TaskFactory*> of_arm;
  for (const auto& f : arm_factories) of_arm.push_back(f.get());
  admit(experiment_memory(spec, of_arm));

  ExperimentResult out;
  out.spec = spec;
  out.task_config = factory->config();
  out.task_info = factory->info();
  for (std::size_t a = 0; a < spec.arms.size(); ++a)
    out.arm_task_configs.push_back(spec.arms[a].task.empty() ? json(nullptr) : arm_factories[a]->config());
  const Index n_arms = static_cast<Index>(spec.arms.size());
  const Index n_seeds = spec.run.seeds;
  out.runs.assign(static_cast<std::size_t>(n_arms), std::vector<RunResult>(static_cast<std::size_t>(n_seeds)));

  const Index jobs = n_arms * n_seeds;
#ifdef _OPENMP
  const int threads = spec.run.threads > 0 ? static_cast<int>(spec.run.threads) : omp_get_max_threads();
#else
  const int threads = 1;
#endif
  // Threads left over when there are fewer runs than threads go to each run's
  // thread-count-independent pieces (core/parallel.hpp).
  const int outer = static_cast<int>(std::min<Index>(threads, jobs));
  set_inner_threads(outer > 0 ? threads / outer : 1);
  parallel_for(jobs, outer, [&](Index job) {
    // Seed-major order keeps the arms of one seed close together in time.
    const Index arm = job % n_arms, s = job / n_arms;
    RunResult r = run_one(*of_arm[static_cast<std::size_t>(arm)], spec.arms[static_cast<std::size_t>(arm)].optimizer, spec.run,
                          spec.run.seed + static_cast<std::uint64_t>(s));
    r.arm = arm;
    out.runs[static_cast<std::size_t>(arm)][static_cast<std::size_t>(s)] = std::move(r);
    if (on_run) {
#ifdef _OPENMP
#pragma omp critical(adamgn_on_run)
#endif
      on_run(spec, out.runs[static_cast<std::size_t>(arm)][static_cast<std::size_t>(s)]);
    }
  });
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace adamgn
