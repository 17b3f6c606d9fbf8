#include "runner/memory.hpp"

#include "core/parallel.hpp"

#include <algorithm>

namespace adamgn {
namespace {

// Bytes per number kept in a result: the double, its JSON value and its text, with slack.
constexpr std::size_t kPerValue = 64;
// The process itself before any run: code, libraries, the BLAS library's buffers (measured
// about 10 MiB of resident memory for a run of a 10-parameter quadratic).
constexpr std::size_t kProcess = std::size_t{16} << 20;
// Everything else of one run's result (fields, names, the configuration in the JSON).
constexpr std::size_t kPerResult = 4096;

// The process itself and the fixed data of each distinct task among `factories`, each once.
Bytes shared_memory(const std::vector<const TaskFactory*>& factories) {
  Bytes shared(kProcess);
  for (std::size_t i = 0; i < factories.size(); ++i)
    if (std::find(factories.begin(), factories.begin() + static_cast<std::ptrdiff_t>(i), factories[i]) ==
        factories.begin() + static_cast<std::ptrdiff_t>(i))
      shared += factories[i]->memory(RunSizes{}).shared;
  return shared;
}

}  // namespace

Bytes run_memory(const TaskFactory& factory, const OptimizerConfig& opt, const RunConfig& run) {
  const RunSizes sizes{opt.batch, opt.gn_batch, curvature_need(opt)};
  Bytes total = factory.memory(sizes).per_run + optimizer_memory(opt, factory.layout(), factory.gn_is_diagonal());
  if (!run.measure.empty()) {
    // The probe (measures/probe.hpp) works on the run's task at its own sizes: a forward pass and
    // GN information over measure_batch samples (the full matrix where the population exists),
    // plus a few parameter-sized vectors and the alignment's Grams over at most 256 samples with
    // up to 10 output directions.
    const SampleSize probe = SampleSize::samples(run.measure_batch);
    const CurvatureNeed need = factory.has_population() ? CurvatureNeed::full : CurvatureNeed::kronecker;
    total += factory.memory(RunSizes{probe, probe, need}).per_run + Bytes::of(factory.dim(), 8 * 8) +
             Bytes::of(2560 * 2560, 8 * 3);
  }
  return total;
}

Bytes result_memory(const TaskFactory& factory, const RunConfig& run) {
  const Index every = run.resolved_log_every();
  const Index points = run.steps / every + 2;
  // loss, test loss, accuracy, steps; with measures about 20 series more (per-block alignments).
  const std::size_t series = 4 + (run.measure.empty() ? 0 : 20);
  return Bytes(kPerResult) + Bytes::of(points, series * kPerValue) +
         Bytes::of(factory.memory(RunSizes{}).record_values, kPerValue);
}

MemoryPlan plan_memory(const TaskFactory& factory, const std::vector<OptimizerConfig>& configs, const RunConfig& run,
                       Index threads, Bytes runs, Bytes kept) {
  MemoryPlan plan;
  for (const auto& opt : configs) plan.per_run = max(plan.per_run, run_memory(factory, opt, run));
  const Index t = threads > 0 ? threads : static_cast<Index>(max_threads());
  plan.in_flight = std::max<Index>(1, static_cast<Index>(std::min<std::size_t>(runs.value(), static_cast<std::size_t>(t))));
  plan.shared = Bytes(kProcess) + factory.memory(RunSizes{}).shared + result_memory(factory, run) * kept;
  return plan;
}

void admit(const MemoryPlan& plan) {
  admit_memory(plan.per_run, plan.in_flight, plan.shared, "run",
               "reduce --batch/--gn-batch/--width/--eval-size/--seeds or --threads");
}

MemoryPlan experiment_memory(const ExperimentSpec& spec, const TaskFactory& factory) {
  return experiment_memory(spec, std::vector<const TaskFactory*>(spec.arms.size(), &factory));
}

MemoryPlan experiment_memory(const ExperimentSpec& spec, const std::vector<const TaskFactory*>& arm_factories) {
  // Each distinct factory's fixed data is held for the whole experiment; the runs of every arm
  // count at their own task's sizes.
  MemoryPlan plan;
  plan.shared = shared_memory(arm_factories);
  for (std::size_t a = 0; a < spec.arms.size(); ++a) {
    plan.per_run = max(plan.per_run, run_memory(*arm_factories[a], spec.arms[a].optimizer, spec.run));
    plan.shared += result_memory(*arm_factories[a], spec.run) * Bytes(spec.run.seeds);
  }
  const Index t = spec.run.threads > 0 ? spec.run.threads : static_cast<Index>(max_threads());
  plan.in_flight = std::max<Index>(1, std::min<Index>(static_cast<Index>(spec.arms.size()) * spec.run.seeds, t));
  return plan;
}

MemoryPlan sweep_memory(const Sweep& sweep, Index threads) {
  const SweepPlan grid = sweep.grid();
  MemoryPlan plan;
  for (const auto& job : grid.jobs) {
    OptimizerConfig o;
    ObjectReader r(job.optimizer, "optimizer");
    o.read(r);
    const TaskFactory& f = sweep.arm_factory(job.arm);
    plan.per_run = max(plan.per_run, run_memory(f, o, sweep.experiment().run));
    for (const auto& [key, factor] : sweep.spec().refine) {
      SampleSize& size = key == "batch" ? o.batch : o.gn_batch;
      if ((key != "batch" && key != "gn_batch") || size.exact) continue;
      size.n = static_cast<Index>(std::min(static_cast<double>(size.n) * factor, 9e18));
      plan.per_run = max(plan.per_run, run_memory(f, o, sweep.experiment().run));
    }
  }
  const SweepSpec& spec = sweep.spec();
  const Bytes runs = Bytes(grid.jobs.size()) + Bytes(sweep.experiment().arms.size()) * spec.rerun_seeds;
  const Index t = threads > 0 ? threads : static_cast<Index>(max_threads());
  plan.in_flight = std::max<Index>(1, static_cast<Index>(std::min<std::size_t>(runs.value(), static_cast<std::size_t>(t))));
  // Every distinct task's data, and the results read back (at the largest task's record size).
  std::vector<const TaskFactory*> factories;
  Bytes result;
  for (std::size_t a = 0; a < sweep.experiment().arms.size(); ++a) {
    factories.push_back(&sweep.arm_factory(static_cast<Index>(a)));
    result = max(result, result_memory(*factories.back(), sweep.experiment().run));
  }
  plan.shared = shared_memory(factories) + result * runs;
  return plan;
}

}  // namespace adamgn
