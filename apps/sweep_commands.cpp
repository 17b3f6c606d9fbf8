// `adamgn sweep`, `adamgn check`, `adamgn summarize`: flags to a SweepSpec and a results store;
// the work is in runner/sweep.hpp, io/store.hpp and io/summary.hpp.
#include "commands.hpp"

#include "core/interrupt.hpp"
#include "core/parallel.hpp"
#include "io/presets.hpp"
#include "optim/eigensolver.hpp"
#include "report/results.hpp"
#include "report/summary.hpp"
#include "report/sweep_results.hpp"
#include "runner/memory.hpp"
#include "runner/sweep.hpp"

#include <atomic>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace adamgn::cli {
namespace {

struct SweepFlags {
  std::string preset, scale, arms, out, shard, metric, write_preset, slurm_script;
  std::vector<std::string> sets, grid, refine;
  bool protocol = false, list = false, overwrite = false, quiet = false, emit_slurm = false;
  // -1 (index, seed, rerun_seeds) and 0 (seeds): not given. A given value is checked while the
  // command line is parsed (integer_at_least), so it is never one of these.
  Index index = -1, seeds = 0, rerun_seeds = -1, threads = 0, shards = 4, slurm_cpus = 1;
  std::int64_t seed = -1;
};

std::string absolute(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) ? std::string(buf) : path;
}

std::string self_path() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "adamgn";
}

// The sweep the flags describe: a preset (or a sweep document) with its "sweep" section, then the
// flags on top.
SweepSpec spec_from_flags(const SweepFlags& f) {
  json doc = load_preset(f.preset);
  SweepSpec spec;
  json sweep_fields = json::object();
  std::string doc_arms;  // a sweep document's "arms"; --arms replaces it
  if (doc.value("schema", "") == "adamgn.sweep/1") {
    json experiment;
    if (doc.contains("experiment")) experiment = doc["experiment"];
    else if (doc.contains("preset") && doc["preset"].is_string()) experiment = load_preset(doc["preset"].get<std::string>());
    else throw UsageError(f.preset + ": a sweep document needs 'preset' (a name or file) or 'experiment'");
    sweep_fields = doc;
    for (const char* k : {"schema", "experiment", "preset", "scale", "arms"}) sweep_fields.erase(k);
    if (doc.contains("arms")) {
      if (!doc["arms"].is_array()) throw UsageError(f.preset + ": 'arms' must be a list of arm names");
      for (const auto& a : doc["arms"]) doc_arms += (doc_arms.empty() ? "" : ",") + a.get<std::string>();
    }
    if (f.scale.empty() && doc.contains("scale")) doc = resolve_scale(experiment, doc["scale"].get<std::string>());
    else doc = resolve_scale(experiment, f.scale);
  } else {
    if (doc.contains("sweep")) sweep_fields = doc["sweep"];
    doc = resolve_scale(doc, f.scale);
  }
  for (const char* k : {"scales", "tuning", "sweep", "claims"}) doc.erase(k);
  for (const auto& s : f.sets) apply_set(doc, s);
  if (!f.arms.empty()) keep_arms(doc, f.arms);
  else if (!doc_arms.empty()) keep_arms(doc, doc_arms);
  spec.experiment = doc;
  read_sweep_fields(spec, sweep_fields, "sweep");
  json patch = json::object();
  for (const auto& g : f.grid) {
    const GridAxis axis = parse_axis(g);
    patch["grid"][axis.key] = axis.values;
  }
  for (const auto& r : f.refine) {
    const auto eq = r.find('=');
    const json factor = eq == std::string::npos ? json() : parse_scalar(r.substr(eq + 1));
    if (eq == std::string::npos || !factor.is_number()) throw UsageError("--refine " + r + " must look like KEY=FACTOR");
    patch["refine"][r.substr(0, eq)] = factor;
  }
  if (f.protocol) patch["protocol"] = true;
  if (f.seeds > 0) patch["seeds"] = f.seeds;
  if (f.seed >= 0) patch["seed"] = f.seed;
  if (f.rerun_seeds >= 0) patch["rerun_seeds"] = f.rerun_seeds;
  if (!f.metric.empty()) patch["metric"] = f.metric;
  read_sweep_fields(spec, patch, "flags");
  spec.validate();
  return spec;
}

struct Shard {
  Index i = 0, n = 1;
};

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  long long i = -1, n = 0;
  if (slash == std::string::npos || !parse_integer(text.substr(0, slash), i) || !parse_integer(text.substr(slash + 1), n) ||
      n < 1 || i < 0 || i >= n)
    throw UsageError("--shard " + text + " must be I/N with 0 <= I < N");
  return Shard{i, n};
}

std::string duration(double seconds) {
  char buf[32];
  if (seconds < 10) std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  else if (seconds < 90) std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  else if (seconds < 5400) std::snprintf(buf, sizeof buf, "%.0fm%02.0fs", std::floor(seconds / 60), std::fmod(seconds, 60));
  else std::snprintf(buf, sizeof buf, "%.1fh", seconds / 3600);
  return buf;
}

void emit_slurm(const Sweep& sweep, const RunStore& store, const SweepFlags& f) {
  const std::string path = f.slurm_script.empty() ? store.dir() + "/slurm.sh" : f.slurm_script;
  const std::string bin = self_path(), dir = absolute(store.dir());
  const SweepPlan plan = sweep.plan(store);
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# Slurm job arrays for the sweep in " << dir << " (" << plan.stages.size() << " stage(s): ";
  for (std::size_t i = 0; i < plan.stages.size(); ++i) s << (i ? ", " : "") << plan.stages[i];
  s << ").\n"
    << "# Each stage is an array of " << f.shards << " shards that starts when the stage before it has\n"
    << "# succeeded; a last job writes result.json and selection.json. Run: bash " << path << "\n"
    << "# Extra sbatch options (partition, time, account) can be given in SBATCH_EXTRA.\n"
    << "set -euo pipefail\n"
    << "ADAMGN='" << bin << "'\n"
    << "OUT='" << dir << "'\n"
    << "SHARDS=" << f.shards << "\n"
    << "CPUS=" << f.slurm_cpus << "\n"
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
  write_atomically(path, s.str());
  write_stdout(path + "\n");
}

// Runs the given jobs in parallel and stores each; returns false when interrupted.
bool run_jobs(const Sweep& sweep, const RunStore& store, const std::vector<const SweepJob*>& jobs, Index threads_flag,
              bool progress, std::size_t& done, std::size_t total, const std::chrono::steady_clock::time_point start) {
  const Index n = static_cast<Index>(jobs.size());
  if (n == 0) return true;
  const int threads = threads_flag > 0 ? static_cast<int>(threads_flag) : max_threads();
  const int outer = static_cast<int>(std::min<Index>(threads, n));
  set_blas_threads(1);
  set_inner_threads(std::max(1, threads / outer));
  std::exception_ptr failure;     // written in the critical section only
  std::atomic<bool> failed{false};  // read by every thread before it starts a job
  std::size_t started_done = done;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer)
#endif
  for (Index k = 0; k < n; ++k) {
    if (interrupt_requested() || failed.load()) continue;
    try {
      const json doc = sweep.execute(*jobs[static_cast<std::size_t>(k)]);
      store.save(jobs[static_cast<std::size_t>(k)]->hash, doc);
#ifdef _OPENMP
#pragma omp critical(adamgn_sweep_progress)
#endif
      {
        ++done;
        if (progress) {
          const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          const double rate = static_cast<double>(done - started_done) / std::max(elapsed, 1e-9);
          std::cerr << "\r  runs " << done << "/" << total << "  " << std::fixed;
          std::cerr.precision(2);
          std::cerr << rate << " runs/s  ETA " << duration(static_cast<double>(total - done) / std::max(rate, 1e-9))
                    << "   " << std::flush;
          std::cerr.unsetf(std::ios::fixed);
        }
      }
    } catch (const Interrupted&) {
    } catch (...) {
#ifdef _OPENMP
#pragma omp critical(adamgn_sweep_failure)
#endif
      {
        if (!failure) failure = std::current_exception();
        failed.store(true);
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  return !interrupt_requested();
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

int run_sweep(const SweepFlags& f) {
  if (!f.shard.empty() && f.index >= 0) throw UsageError("--shard and --index cannot be combined");
  if (f.preset.empty() && (!f.grid.empty() || !f.refine.empty() || !f.sets.empty() || f.protocol || !f.scale.empty() ||
                           !f.arms.empty() || !f.metric.empty() || f.seeds > 0 || f.seed >= 0 || f.rerun_seeds >= 0))
    throw UsageError("--grid, --refine, --set, --protocol, --scale, --arms, --metric, --seeds, --seed and --rerun-seeds "
                     "need --preset (the folder's sweep is fixed)");
  // Everything is checked before the folder is created or touched: the integer flags while the
  // command line was parsed, the shard, the output paths and the sweep here.
  const Shard shard = f.shard.empty() ? Shard{} : parse_shard(f.shard);
  if (!f.write_preset.empty()) check_output_path(f.write_preset, "--write-preset");
  if (f.emit_slurm && !f.slurm_script.empty()) check_output_path(f.slurm_script, "--slurm-script");
  const SweepSpec spec = f.preset.empty() ? SweepSpec::from_json(RunStore(f.out, false).definition().at("sweep"))
                                          : spec_from_flags(f);
  const Sweep sweep(spec);
  if (!f.list && !f.emit_slurm) admit(sweep_memory(sweep, f.threads));
  const RunStore store(f.out);
  store.claim(spec.to_json());
  store.remove_stale_temporaries();
  if (f.emit_slurm) {
    emit_slurm(sweep, store, f);
    return 0;
  }
  if (f.list) {
    const SweepPlan plan = sweep.plan(store);
    std::ostringstream list;
    list << "index\tstage\tarm\tseed\tstored\tsetting\thash\n";
    for (const auto& j : plan.jobs) {
      const std::string setting = describe_setting(j.setting);
      list << j.index << "\t" << j.stage << "\t" << sweep.experiment().arms[static_cast<std::size_t>(j.arm)].name
           << "\t" << j.seed << "\t" << (plan.stored[static_cast<std::size_t>(j.index)] ? "yes" : "no") << "\t"
           << setting << "\t" << j.hash << "\n";
    }
    if (!plan.waiting.empty())
      list << "# stage " << plan.waiting << " is expanded once every job above is stored\n";
    write_stdout(list.str());
    return 0;
  }

  quarantine_bad_runs(sweep, store);
  install_interrupt_handlers();
  const bool progress = !f.quiet && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  const bool partial = !f.shard.empty() || f.index >= 0;
  std::set<std::string> done_here;
  std::size_t done = 0, ran = 0;
  SweepPlan plan;
  while (true) {
    plan = sweep.plan(store);
    std::vector<const SweepJob*> pending;
    std::set<std::string> queued;
    if (f.index >= 0) {
      if (f.index >= static_cast<Index>(plan.jobs.size()))
        throw UsageError("--index " + std::to_string(f.index) + ": the sweep has " + std::to_string(plan.jobs.size()) +
                         " jobs so far" + (plan.waiting.empty() ? "" : " (stage " + plan.waiting + " is not expanded yet)"));
      const SweepJob& j = plan.jobs[static_cast<std::size_t>(f.index)];
      if (f.overwrite || !plan.stored[static_cast<std::size_t>(f.index)]) pending.push_back(&j);
    } else {
      for (const auto& j : plan.jobs) {
        if (j.index % shard.n != shard.i || done_here.count(j.hash) || queued.count(j.hash)) continue;
        if (!f.overwrite && plan.stored[static_cast<std::size_t>(j.index)]) continue;
        pending.push_back(&j);
        queued.insert(j.hash);
      }
    }
    if (pending.empty()) break;
    std::size_t total = done + pending.size();
    if (!run_jobs(sweep, store, pending, f.threads, progress, done, total, start)) {
      if (progress) std::cerr << "\n";
      const int sig = interrupt_signal();
      std::cerr << "adamgn: interrupted: " << done << " runs of this invocation are stored, unfinished runs left nothing; "
                << "rerun the same command to finish\n";
      return 128 + sig;
    }
    ran += pending.size();
    for (const auto* j : pending) done_here.insert(j->hash);
    if (partial) break;
  }
  if (progress) std::cerr << "\n";
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!f.quiet)
    std::cerr << "sweep " << store.dir() << ": ran " << ran << " runs in " << duration(elapsed) << " ("
              << (elapsed > 0 ? static_cast<double>(ran) / elapsed : 0.0) << " runs/s); "
              << plan.jobs.size() << " jobs expanded" << (plan.complete ? ", complete" : "")
              << (plan.waiting.empty() ? "" : ", stage " + plan.waiting + " waits") << "\n";
  if (partial || !plan.complete) return 0;
  write_atomically(store.dir() + "/result.json", sweep_result(sweep, plan, store).dump() + "\n");
  if (!plan.selection.empty()) {
    const json sel = sweep_selection(sweep, plan, store);
    write_atomically(store.dir() + "/selection.json", sel.dump(2) + "\n");
    if (!f.quiet)
      for (const auto& a : sel["arms"])
        std::cerr << "  " << a["name"].get<std::string>() << ": "
                  << (a["winner"].is_null() ? std::string("every setting diverged") : a["winner"].dump() + "  score " + show(a["score"]))
                  << "\n";
  }
  if (!f.write_preset.empty()) {
    // The preset as written (scales, claims), when the sweep came from one on this command line.
    json base = nullptr;
    if (!f.preset.empty()) {
      const json doc = load_preset(f.preset);
      if (doc.value("schema", "") != "adamgn.sweep/1") base = doc;
      else if (doc.contains("preset") && doc["preset"].is_string()) base = load_preset(doc["preset"].get<std::string>());
      else if (doc.contains("experiment")) base = doc["experiment"];
      if (base.is_object()) base.erase("sweep");
    }
    write_atomically(f.write_preset, tuned_preset(sweep, plan, store, base).dump(2) + "\n");
  }
  return 0;
}

}  // namespace

void add_sweep_commands(CLI::App& root, std::vector<Command>& out) {
  auto f = std::make_shared<SweepFlags>();
  CLI::App* app = root.add_subcommand("sweep", "run a grid of settings per arm into a results store (paper C.1 protocol)");
  app->add_option("--preset", f->preset, "preset name or FILE.json (an experiment or an adamgn.sweep/1 document); "
                                         "omit to continue the sweep already in --out");
  app->add_option("--out", f->out, "results folder (created if missing; one sweep per folder)")->required();
  app->add_option("--scale", f->scale, "quick (default) | paper | another scale the preset defines");
  app->add_option("--set", f->sets, "override KEY=VALUE in the experiment (as in adamgn run)");
  app->add_option("--arms", f->arms, "sweep only these arms (comma-separated names)");
  app->add_option("--grid", f->grid, "KEY=V1,V2,... or KEY=FROM:TO:xFACTOR, for every arm (repeatable)");
  app->add_flag("--protocol", f->protocol, "add the paper's axes around each arm's values: lr x3, alpha x10 (GN), "
                                           "beta2 in {0, .9, .95, .99} (Adam), constant or step schedule");
  app->add_option("--refine", f->refine, "KEY=FACTOR: after the grid, try the best value / and x FACTOR (repeatable)");
  app->add_option("--seeds", f->seeds, "tuning seeds per setting (default 2)")->check(integer_at_least(1));
  app->add_option("--seed", f->seed, "first tuning seed (default 1000)")->check(integer_at_least(0));
  app->add_option("--rerun-seeds", f->rerun_seeds, "rerun each arm's winner on this many fresh seeds (the experiment's "
                                                   "run.seed...; default 0 = no rerun)")
      ->check(integer_at_least(0));
  app->add_option("--metric", f->metric, "final (default) | final-test | log-auc");
  app->add_option("--shard", f->shard, "I/N: run only jobs with index % N == I of the expandable stages");
  app->add_option("--index", f->index, "run only job K (see --list)")->check(integer_at_least(0));
  app->add_flag("--list", f->list, "print the numbered jobs of the stages that can be expanded now");
  app->add_flag("--overwrite", f->overwrite, "rerun jobs whose results are already stored");
  app->add_option("--threads", f->threads, "threads (0 = all cores)")->check(integer_at_least(0));
  app->add_option("--write-preset", f->write_preset, "when complete: write the experiment with each arm's winner");
  app->add_flag("--emit-slurm", f->emit_slurm, "write a Slurm job-array script (DIR/slurm.sh) and exit");
  app->add_option("--slurm-script", f->slurm_script, "--emit-slurm: write the script here instead");
  app->add_option("--shards", f->shards, "--emit-slurm: array tasks per stage (default 4)")->check(integer_at_least(1));
  app->add_option("--slurm-cpus", f->slurm_cpus, "--emit-slurm: cpus (threads) per array task (default 1)")
      ->check(integer_at_least(1));
  app->add_flag("-q,--quiet", f->quiet, "no summary on stderr");
  out.push_back({app, [f] { return run_sweep(*f); }});

  auto dir = std::make_shared<std::string>();
  CLI::App* check = root.add_subcommand("check", "settings x seeds found against expected in a sweep folder");
  check->add_option("DIR", *dir, "sweep folder")->required();
  out.push_back({check, [dir] {
                   const RunStore store(*dir, false);
                   const Sweep sweep(SweepSpec::from_json(store.definition().at("sweep")));
                   bool complete = false;
                   write_stdout(check_report(sweep, sweep.plan(store), store, complete));
                   return complete ? 0 : 1;
                 }});

  auto inputs = std::make_shared<std::vector<std::string>>();
  auto format = std::make_shared<std::string>("md");
  auto which = std::make_shared<std::string>("both");
  auto metric = std::make_shared<std::string>();
  CLI::App* sum = root.add_subcommand("summarize", "per-run and per-setting tables of sweep folders and result files");
  sum->add_option("INPUT", *inputs, "sweep folders and result JSON files")->required();
  sum->add_option("--format", *format, "md (default) | csv");
  sum->add_option("--table", *which, "both (default) | runs | settings");
  sum->add_option("--metric", *metric, "score column: final | final-test | log-auc (default: the sweep's, else final)");
  out.push_back({sum, [=] {
                   if (*format != "md" && *format != "csv") throw UsageError("--format " + *format + " must be md or csv");
                   if (*which != "both" && *which != "runs" && *which != "settings")
                     throw UsageError("--table " + *which + " must be both, runs or settings");
                   std::vector<RunRow> rows;
                   std::string notes;  // for stderr, once every input has been read
                   for (const auto& in : *inputs) {
                     if (access((in + "/sweep.json").c_str(), F_OK) == 0) {
                       const RunStore store(in, false);
                       const Sweep sweep(SweepSpec::from_json(store.definition().at("sweep")));
                       // Damaged files are left out, each named on stderr; the exit code stays 0.
                       const std::vector<StoredFile> files = store.scan();
                       for (const auto& bad : files)
                         if (!bad.problem.empty()) notes += "adamgn: warning: skipped " + bad.path + ": " + bad.problem + "\n";
                       const std::string programs = describe_programs(files);
                       notes += "summarize: " + in + ": program versions: " +
                                (programs.empty() ? "none (no run stored)" : programs) + "\n";
                       const auto r = rows_from_sweep(sweep, sweep.plan(store), store, in,
                                                      metric->empty() ? sweep.spec().metric : *metric);
                       rows.insert(rows.end(), r.begin(), r.end());
                     } else {
                       std::ifstream file(in);
                       if (!file) throw UsageError(in + ": not a sweep folder or a readable file");
                       const json doc = parse_json(file, in, kJsonResultBytes);
                       const auto r = rows_from_result(doc, in, metric->empty() ? "final" : *metric);
                       notes += "summarize: " + in + ": program version: " + program_label(doc) + "\n";
                       rows.insert(rows.end(), r.begin(), r.end());
                     }
                   }
                   std::cerr << notes;
                   const TableFormat fmt = *format == "csv" ? TableFormat::csv : TableFormat::markdown;
                   std::string tables;
                   if (*which != "runs") tables += render_settings(group_settings(rows), fmt);
                   if (*which == "both") tables += "\n";
                   if (*which != "settings") tables += render_runs(rows, fmt);
                   write_stdout(tables);
                   return 0;
                 }});
}

}  // namespace adamgn::cli
