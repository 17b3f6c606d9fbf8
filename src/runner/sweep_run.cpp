#include "runner/sweep_run.hpp"

#include "core/interrupt.hpp"
#include "core/parallel.hpp"
#include "optim/eigensolver.hpp"
#include "runner/run_record.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <set>
#include <sstream>
#include <vector>

namespace adamgn {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Before a resume runs anything: every stored run file is verified; one that fails is moved to
// DIR/quarantine/ (a line each on stderr) so the plan reruns it, and runs written by another
// program version than this one are reported in one warning line.
void quarantine_bad_runs(const Sweep& sweep, const RunStore& store) {
  const std::vector<StoredFile> files = store.scan();
  std::set<std::string> expected;
  if (std::any_of(files.begin(), files.end(), [](const StoredFile& f) { return !f.problem.empty(); }))
    for (const auto& j : sweep.plan(store).jobs) expected.insert(j.hash);
  for (const auto& f : files) {
    if (f.problem.empty()) continue;
    // A concurrent shard may have quarantined and redone it since the scan.
    if (f.path == store.path_of(f.hash) && store.has(f.hash)) continue;
    const std::string moved = store.quarantine(f.path);
    if (moved.empty()) continue;  // a concurrent shard moved it first
    std::cerr << "adamgn: quarantined " << f.path << " as " << moved
              << (expected.count(f.hash) ? "; its run is redone: " : "; the sweep does not expect this run: ") << f.problem
              << "\n";
  }
  const std::vector<std::string> programs = programs_of(files);
  const std::string here = program_label(json{{"program", program_json()}});
  if (!programs.empty() && programs != std::vector<std::string>{here})
    std::cerr << "adamgn: warning: " << store.dir() << " holds runs of other program versions (" << describe_programs(files)
              << "); this is " << here << "; new runs are added beside them (--overwrite reruns every run)\n";
}

// Runs the given jobs in parallel and stores each; returns false when interrupted.
bool run_jobs(const Sweep& sweep, const RunStore& store, const std::vector<const SweepJob*>& jobs, Index threads_flag,
              bool progress, std::size_t& done, std::size_t total, const Clock::time_point start) {
  const Index n = static_cast<Index>(jobs.size());
  if (n == 0) return true;
  const int threads = threads_flag > 0 ? static_cast<int>(threads_flag) : max_threads();
  const int outer = static_cast<int>(std::min<Index>(threads, n));
  set_blas_threads(1);
  set_inner_threads(std::max(1, threads / outer));
  const std::size_t started_done = done;
  parallel_for(n, outer, [&](Index k) {
    if (interrupt_requested()) return;
    try {
      const json doc = sweep.execute(*jobs[static_cast<std::size_t>(k)]);
      store.save(jobs[static_cast<std::size_t>(k)]->hash, doc);
    } catch (const Interrupted&) {
      return;  // nothing stored; the interrupt is reported once every thread has stopped
    }
#ifdef _OPENMP
#pragma omp critical(adamgn_sweep_progress)
#endif
    {
      ++done;
      if (progress) {
        const double rate = static_cast<double>(done - started_done) / std::max(seconds_since(start), 1e-9);
        std::cerr << "\r  runs " << done << "/" << total << "  " << std::fixed;
        std::cerr.precision(2);
        std::cerr << rate << " runs/s  ETA " << format_duration(static_cast<double>(total - done) / std::max(rate, 1e-9))
                  << "   " << std::flush;
        std::cerr.unsetf(std::ios::fixed);
      }
    }
  });
  return !interrupt_requested();
}

}  // namespace

SweepRunOutcome run_sweep_jobs(const Sweep& sweep, const RunStore& store, const SweepRunOptions& options) {
  quarantine_bad_runs(sweep, store);
  install_interrupt_handlers();
  const auto start = Clock::now();
  const bool partial = options.shards > 0 || options.index >= 0;
  SweepRunOutcome out;
  std::set<std::string> done_here;
  std::size_t done = 0;
  while (true) {
    out.plan = sweep.plan(store);
    const SweepPlan& plan = out.plan;
    std::vector<const SweepJob*> pending;
    std::set<std::string> queued;
    if (options.index >= 0) {
      if (options.index >= static_cast<Index>(plan.jobs.size()))
        throw UsageError("--index " + std::to_string(options.index) + ": the sweep has " + std::to_string(plan.jobs.size()) +
                         " jobs so far" + (plan.waiting.empty() ? "" : " (stage " + plan.waiting + " is not expanded yet)"));
      const SweepJob& j = plan.jobs[static_cast<std::size_t>(options.index)];
      if (options.overwrite || !plan.stored[static_cast<std::size_t>(options.index)]) pending.push_back(&j);
    } else {
      for (const auto& j : plan.jobs) {
        if (options.shards > 0 && j.index % options.shards != options.shard) continue;
        if (done_here.count(j.hash) || queued.count(j.hash)) continue;
        if (!options.overwrite && plan.stored[static_cast<std::size_t>(j.index)]) continue;
        pending.push_back(&j);
        queued.insert(j.hash);
      }
    }
    if (pending.empty()) break;
    const std::size_t total = done + pending.size();
    if (!run_jobs(sweep, store, pending, options.threads, options.progress, done, total, start)) {
      out.interrupted = true;
      out.signal = interrupt_signal();
      break;
    }
    for (const auto* j : pending) done_here.insert(j->hash);
    if (partial) break;
  }
  if (options.progress) std::cerr << "\n";
  out.ran = done;
  out.seconds = seconds_since(start);
  return out;
}

std::string job_list(const Sweep& sweep, const SweepPlan& plan) {
  std::ostringstream list;
  list << "index\tstage\tarm\tseed\tstored\tsetting\thash\n";
  for (const auto& j : plan.jobs) {
    const std::string setting = describe_setting(j.setting);
    list << j.index << "\t" << j.stage << "\t" << sweep.experiment().arms[static_cast<std::size_t>(j.arm)].name << "\t"
         << j.seed << "\t" << (plan.stored[static_cast<std::size_t>(j.index)] ? "yes" : "no") << "\t" << setting << "\t"
         << j.hash << "\n";
  }
  if (!plan.waiting.empty()) list << "# stage " << plan.waiting << " is expanded once every job above is stored\n";
  return list.str();
}

std::string slurm_script(const SweepPlan& plan, const SlurmOptions& o) {
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Slurm job arrays for the sweep in " << o.out << " (" << plan.stages.size() << " stage(s): ";
  for (std::size_t i = 0; i < plan.stages.size(); ++i) s << (i ? ", " : "") << plan.stages[i];
  s << ").\n"
    << "# Each stage is an array of " << o.shards << " shards that starts when the stage before it has\n"
    << "# succeeded; a last job writes result.json and selection.json. Run: bash " << o.script << "\n"
    << "# Extra sbatch options (partition, time, account) can be given in SBATCH_EXTRA.\n"
    << "set -euo pipefail\n"
    << "ADAMGN='" << o.binary << "'\n"
    << "OUT='" << o.out << "'\n"
    << "SHARDS=" << o.shards << "\n"
    << "CPUS=" << o.cpus << "\n"
    << "mkdir -p \"$OUT/slurm\"\n"
    << "dep=''\n"
    << "for stage in";
  for (const auto& st : plan.stages) s << " " << st;
  s << "; do\n"
    << "  id=$(sbatch --parsable ${SBATCH_EXTRA:-} ${dep:+--dependency=afterok:$dep} --array=0-$((SHARDS - 1)) \\\n"
    << "    --job-name=\"adamgn-$stage\" --cpus-per-task=\"$CPUS\" --output=\"$OUT/slurm/%x-%A_%a.out\" \\\n"
    << "    --wrap \"'$ADAMGN' sweep --out '$OUT' --shard \\$SLURM_ARRAY_TASK_ID/$SHARDS --threads $CPUS -q\")\n"
    << "  echo \"$stage: job array $id\"\n"
    << "  dep=$id\n"
    << "done\n"
    << "id=$(sbatch --parsable ${SBATCH_EXTRA:-} --dependency=afterok:$dep --job-name=adamgn-collect \\\n"
    << "  --cpus-per-task=\"$CPUS\" --output=\"$OUT/slurm/%x-%j.out\" --wrap \"'$ADAMGN' sweep --out '$OUT' --threads $CPUS -q\")\n"
    << "echo \"collect: job $id\"\n";
  return s.str();
}

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 10) std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  else if (seconds < 90) std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else if (seconds < 5400) std::snprintf(buf, sizeof buf, "%.0fm%02.0fs", std::floor(seconds / 60), std::fmod(seconds, 60));
  else std::snprintf(buf, sizeof buf, "%.1fh", seconds / 3600);
  return buf;
}

}  // namespace adamgn
