// `adamgn sweep`, `adamgn check`, `adamgn summarize`: flags to a SweepSpec and a results store;
// the work is in runner/sweep_run.hpp, runner/sweep.hpp, io/store.hpp, report/sweep_results.hpp and
// report/summary.hpp.
#include "commands.hpp"

#include "io/files.hpp"
#include "io/presets.hpp"
#include "report/summary.hpp"
#include "report/sweep_results.hpp"
#include "runner/memory.hpp"
#include "runner/sweep.hpp"
#include "runner/sweep_run.hpp"

#include <climits>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <unistd.h>

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

// The scale a sweep runs at: --scale, else a sweep document's "scale" ("" for the quick scale).
std::string scale_of(const SweepFlags& f, const json& doc) {
  if (!f.scale.empty() || doc.value("schema", "") != "adamgn.sweep/1") return f.scale;
  return doc.value("scale", std::string());
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
    doc = resolve_scale(experiment, scale_of(f, doc));
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

// The preset --preset names as written (scales, claims), the base of --write-preset, and the
// scale the sweep ran at; a sweep document stands for its preset or experiment. The base is null
// when the sweep came from its folder.
struct WrittenPreset {
  json base;
  std::string scale;
};
WrittenPreset preset_as_written(const SweepFlags& f) {
  WrittenPreset out{nullptr, f.scale};
  if (f.preset.empty()) return out;
  const json doc = load_preset(f.preset);
  out.scale = scale_of(f, doc);
  json& base = out.base;
  if (doc.value("schema", "") != "adamgn.sweep/1") base = doc;
  else if (doc.contains("preset") && doc["preset"].is_string()) base = load_preset(doc["preset"].get<std::string>());
  else if (doc.contains("experiment")) base = doc["experiment"];
  if (base.is_object()) base.erase("sweep");
  return out;
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
    const std::string path = f.slurm_script.empty() ? store.dir() + "/slurm.sh" : f.slurm_script;
    write_atomically(path, slurm_script(sweep.plan(store), {self_path(), absolute(store.dir()), path, f.shards, f.slurm_cpus}));
    write_stdout(path + "\n");
    return 0;
  }
  if (f.list) {
    write_stdout(job_list(sweep, sweep.plan(store)));
    return 0;
  }

  SweepRunOptions options;
  if (!f.shard.empty()) {
    options.shard = shard.i;
    options.shards = shard.n;
  }
  options.index = f.index;
  options.overwrite = f.overwrite;
  options.threads = f.threads;
  options.progress = !f.quiet && isatty(STDERR_FILENO);
  const SweepRunOutcome run = run_sweep_jobs(sweep, store, options);
  if (run.interrupted) {
    std::cerr << "adamgn: interrupted: " << run.ran << " runs of this invocation are stored, unfinished runs left nothing; "
              << "rerun the same command to finish\n";
    return 128 + run.signal;
  }
  const SweepPlan& plan = run.plan;
  if (!f.quiet)
    std::cerr << "sweep " << store.dir() << ": ran " << run.ran << " runs in " << format_duration(run.seconds) << " ("
              << (run.seconds > 0 ? static_cast<double>(run.ran) / run.seconds : 0.0) << " runs/s); "
              << plan.jobs.size() << " jobs expanded" << (plan.complete ? ", complete" : "")
              << (plan.waiting.empty() ? "" : ", stage " + plan.waiting + " waits") << "\n";
  const bool partial = !f.shard.empty() || f.index >= 0;
  if (partial || !plan.complete) return 0;
  write_sweep_documents(sweep, plan, store, f.quiet);
  if (!f.write_preset.empty()) {
    const WrittenPreset written = preset_as_written(f);
    write_atomically(f.write_preset, tuned_preset(sweep, plan, store, written.base, written.scale).dump(2) + "\n");
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
  app->add_option("--metric", f->metric, "final (default) | final-test | log-auc | steps (to run.target_loss)");
  app->add_option("--shard", f->shard, "I/N: run only jobs with index % N == I of the expandable stages");
  app->add_option("--index", f->index, "run only job K (see --list)")->check(integer_at_least(0));
  app->add_flag("--list", f->list, "print the numbered jobs of the stages that can be expanded now");
  app->add_flag("--overwrite", f->overwrite, "rerun jobs whose results are already stored");
  app->add_option("--threads", f->threads, "threads (0 = all cores)")->check(integer_at_least(0));
  app->add_option("--write-preset", f->write_preset, "when complete: write the preset with each arm's winner and tuning record (with --scale S: into its scales.S entry)");
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
  sum->add_option("--metric", *metric, "score column: final | final-test | log-auc | steps (default: the sweep's, else final)");
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
