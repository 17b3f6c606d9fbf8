#include "runner/bench.hpp"

#include "core/parallel.hpp"
#include "io/files.hpp"
#include "io/presets.hpp"
#include "optim/eigensolver.hpp"
#include "runner/experiment.hpp"
#include "runner/memory.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace adamgn {
namespace {

// The median of xs (the mean of the middle two for an even count; 0 for none).
double median(std::vector<double> xs) {
  if (xs.empty()) return 0.0;
  const auto mid = xs.begin() + static_cast<std::ptrdiff_t>(xs.size() / 2);
  std::nth_element(xs.begin(), mid, xs.end());
  if (xs.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(xs.begin(), mid));
}

}  // namespace

void run_bench(const BenchOptions& o) {
  std::vector<std::string> list = o.presets;
  if (list.empty())
    for (const auto& p : embedded_presets()) list.push_back(p.name);
  set_blas_threads(1);
  // Every preset is checked in full (flags, steps against the warm-up, arms against the task)
  // before the table starts.
  std::vector<std::pair<std::string, ExperimentSpec>> specs;
  for (const auto& name : list) {
    json doc = resolve_scale(load_preset(name), o.scale);  // then the flags, as for run
    for (const auto& s : o.sets) apply_set(doc, s);
    if (!o.arms.empty()) keep_arms(doc, o.arms);
    if (!o.steps.empty()) doc["run"]["steps"] = parse_scalar(o.steps);
    ExperimentSpec spec = parse_experiment(doc);
    if (spec.run.steps <= o.warmup)
      throw UsageError("bench: " + name + " has " + std::to_string(spec.run.steps) + " steps, no more than --warmup " +
                       std::to_string(o.warmup) + "; give more --steps");
    const auto factories = make_arm_factories(spec, make_task_factory(spec.task));
    check_compatible(spec, factories);
    for (std::size_t a = 0; a < spec.arms.size(); ++a) {
      admit(plan_memory(*factories[a], {spec.arms[a].optimizer}, spec.run, 1, Bytes(1), Bytes(1)));  // one run at a time
    }
    specs.emplace_back(name, std::move(spec));
  }
  // `eig` is the part of `basis` spent in eigendecompositions, summed over the threads that ran
  // them side by side (so it can exceed `basis` on several cores).
  write_stdout("| preset | arm | steps | seconds | steps/s | ms/step | median | gradient | curvature | basis | eig | diagonal | update |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, spec] : specs) {
    const auto factories = make_arm_factories(spec, make_task_factory(spec.task));
    // One run at a time, so it gets every thread the preset allows (as `run` gives a lone run).
    set_inner_threads(spec.run.threads > 0 ? static_cast<int>(spec.run.threads) : max_threads());
    for (std::size_t a = 0; a < spec.arms.size(); ++a) {
      const ArmSpec& arm = spec.arms[a];
      PhaseTimes t;
      const RunResult r = run_one(*factories[a], arm.optimizer, spec.run, spec.run.seed, &t, o.warmup);
      const Index done = r.diverged ? r.diverged_at : spec.run.steps;
      // The steps that ran after the warm-up (a diverging run's last step included).
      const double ms = 1e3 / static_cast<double>(std::max<std::size_t>(t.steps.size(), 1));
      char line[512];
      // ms/step is the optimizer step alone (the sum of the phases) over the steps after the
      // warm-up, and `median` the median of those steps' own times (the statistic the PyTorch
      // reference reports); seconds and steps/s are the whole run's, evaluations included.
      const double step_ms = (t.gradient + t.curvature + t.basis + t.diagonal + t.update) * ms;
      std::snprintf(line, sizeof line, "| %s | %s | %lld | %.4f | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g | %.4g |\n",
                    name.c_str(), arm.name.c_str(), static_cast<long long>(done), r.wall_seconds,
                    static_cast<double>(done) / r.wall_seconds, step_ms, 1e3 * median(t.steps), t.gradient * ms,
                    t.curvature * ms, t.basis * ms, t.eigen * ms, t.diagonal * ms, t.update * ms);
      write_stdout(line);
    }
  }
}

}  // namespace adamgn
