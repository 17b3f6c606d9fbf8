#include "commands.hpp"

#include "io/files.hpp"
#include "io/presets.hpp"
#include "report/results.hpp"
#include "runner/bench.hpp"
#include "measures/measure.hpp"
#include "runner/experiment.hpp"
#include "optim/registry.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <iostream>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace adamgn::cli {
namespace {

struct Flags {
  FlagValues task, arm, run;
  std::vector<std::string> sets;
  std::string output, preset, scale, arms;
  bool jsonl = false, quiet = false;
};

CLI::Option* option(CLI::App* app, FlagValues& into, const std::string& flag, const std::string& key,
                    const std::string& help) {
  return app->add_option_function<std::string>(
      flag, [&into, key](const std::string& v) { into[key] = v; }, help);
}

void switch_flag(CLI::App* app, FlagValues& into, const std::string& flag, const std::string& key,
                 const std::string& help) {
  app->add_flag_function(flag, [&into, key](std::int64_t) { into[key] = "true"; }, help);
}

}  // namespace

void add_field_flags(CLI::App* app, const std::vector<Field>& fields, FlagValues& into) {
  for (const Field& field : fields) {
    const std::string shown = field.default_text();
    const std::string help = field.help + (shown.empty() ? "" : " " + shown);
    if (field.switch_flag) switch_flag(app, into, flag_of(field.key), field.key, help);
    else option(app, into, flag_of(field.key), field.key, help)->type_name(field.value_name());
  }
}

namespace {

// The arm's flags: its name and the optimizer's field table (optim/config.cpp).
void add_optimizer_flags(CLI::App* app, Flags& f) {
  option(app, f.arm, "--name", "name", "arm name in the output (default: from --precond/--power)");
  add_field_flags(app, optimizer_fields(), f.arm);
}

void add_run_flags(CLI::App* app, Flags& f) {
  option(app, f.run, "--steps", "steps", "optimizer steps per run");
  option(app, f.run, "--seeds", "seeds", "number of seeds");
  option(app, f.run, "--seed", "seed", "first seed");
  option(app, f.run, "--threads", "threads", "threads for arms x seeds (0 = all cores)");
  option(app, f.run, "--log-every", "log_every", "log the loss every K steps (0 = about 100 points)");
  option(app, f.run, "--diverge-factor", "diverge_factor", "loss above this multiple of the initial loss = diverged");
  option(app, f.run, "--target-loss", "target_loss", "record the first logged step with loss <= this");
  switch_flag(app, f.run, "--stop-at-target", "stop_at_target", "end each run at that step");
  option(app, f.run, "--measure", "measure", "record measures at log points: " + measure_names() + " or all (comma-separated)");
  option(app, f.run, "--measure-batch", "measure_batch", "samples in the measures' fixed probe batch (default 1024)");
  option(app, f.run, "--measure-every", "measure_every", "measure at every K-th logged point (default 1)");
  app->add_option("-o,--output", f.output, "write the result JSON to FILE (default: stdout)");
  app->add_flag("--jsonl", f.jsonl, "stream one JSON object per finished run to stdout");
  app->add_flag("-q,--quiet", f.quiet, "no human summary on stderr");
}

json values_to_object(const FlagValues& values) {
  json j = json::object();
  for (const auto& [k, v] : values) j[k] = parse_scalar(v);
  return j;
}

std::string sci(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", x);
  return buf;
}

void print_summary(const ExperimentResult& res) {
  const auto& spec = res.spec;
  std::ostringstream out;
  out << "adamgn: " << (spec.preset.empty() ? res.task_config.value("name", "") : spec.preset) << " — "
      << res.task_config.value("name", "") << ", " << spec.arms.size() << " arm(s) x " << spec.run.seeds
      << " seed(s), " << spec.run.steps << " steps, " << sci(res.wall_seconds) << " s\n";
  if (!spec.claim.empty()) out << "  claim: " << spec.claim << "\n";
  const bool target = spec.run.target_loss > 0.0;
  char line[256];
  std::snprintf(line, sizeof line, "  %-18s %7s  %-26s%s\n", "arm", "ok/div", "final loss (mean ± se)",
                target ? "  steps to target (n reached)" : "");
  out << line;
  for (std::size_t a = 0; a < spec.arms.size(); ++a) {
    const ArmSummary s = summarize_arm(res.runs[a]);
    const std::string ok = std::to_string(s.n_ok) + "/" + std::to_string(s.n_diverged);
    const std::string loss =
        s.loss_mean.empty() ? "all diverged" : sci(s.loss_mean.back()) + " ± " + sci(s.loss_se.back());
    std::string tgt;
    if (target)
      tgt = "  " + (s.n_reached_target > 0 ? sci(s.steps_to_target_mean) : std::string("-")) + " (" +
            std::to_string(s.n_reached_target) + ")";
    std::snprintf(line, sizeof line, "  %-18s %7s  %-26s%s\n", spec.arms[a].name.c_str(), ok.c_str(),
                  loss.c_str(), tgt.c_str());
    out << line;
  }
  std::cerr << out.str();
}

// Runs a resolved experiment document and writes its outputs as the flags ask.
int execute(const json& doc, const Flags& f) {
  ExperimentSpec spec = parse_experiment(doc);
  if (!f.output.empty()) check_output_path(f.output);
  const bool progress = !f.quiet && !f.jsonl && isatty(STDERR_FILENO);
  const std::size_t total = spec.arms.size() * static_cast<std::size_t>(spec.run.seeds);
  std::size_t done = 0;
  // on_run is called inside a critical section, which no exception may leave: a failed --jsonl
  // line is kept and thrown once the runs are over, and no further line is tried.
  std::string stdout_failure;
  auto on_run = [&](const ExperimentSpec& s, const RunResult& r) {
    ++done;
    if (f.jsonl && stdout_failure.empty()) {
      try {
        write_stdout(run_line_json(s, r).dump() + "\n");
      } catch (const UsageError& e) {
        stdout_failure = e.what();
      }
    }
    if (progress) std::cerr << "\r  runs " << done << "/" << total << std::flush;
  };
  const ExperimentResult res = run_experiment(spec, on_run);
  if (progress) std::cerr << "\r";
  if (!stdout_failure.empty()) throw UsageError(stdout_failure);
  const std::string text = result_json(res).dump() + "\n";
  if (!f.output.empty()) write_file_atomically(f.output, text);
  else if (!f.jsonl) write_stdout(text);
  if (!f.quiet) print_summary(res);
  return 0;
}

}  // namespace

bool parse_integer(const std::string& text, long long& out) {
  const std::size_t digits = !text.empty() && text[0] == '-' ? 1 : 0;
  if (text.size() == digits || text.find_first_not_of("0123456789", digits) != std::string::npos) return false;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  out = v;
  return true;
}

CLI::Validator integer_at_least(long long min) {
  return CLI::Validator(
      [min](std::string& text) -> std::string {
        long long v = 0;
        if (!parse_integer(text, v)) {
          const std::size_t sign = !text.empty() && text[0] == '-' ? 1 : 0;
          const bool digits = text.size() > sign && text.find_first_not_of("0123456789", sign) == std::string::npos;
          return text + (digits ? " is out of range" : " is not a whole number");
        }
        if (v < min) return text + " must be >= " + std::to_string(min);
        text = std::to_string(v);
        return "";
      },
      "INT>=" + std::to_string(min));
}

void add_task_command(CLI::App& root, const TaskEntry& task, std::vector<Command>& out) {
  auto f = std::make_shared<Flags>();
  CLI::App* app = root.add_subcommand(task.name, task.description);
  add_field_flags(app, task.fields, f->task);
  add_optimizer_flags(app, *f);
  add_run_flags(app, *f);
  out.push_back({app, [f, name = task.name] {
                   json t = values_to_object(f->task);
                   t["name"] = name;
                   json arm = values_to_object(f->arm);
                   if (arm.contains("name")) arm["name"] = f->arm.at("name");
                   const json doc{{"task", t}, {"run", values_to_object(f->run)}, {"arms", json::array({arm})}};
                   return execute(doc, *f);
                 }});
}

void add_run_command(CLI::App& root, std::vector<Command>& out) {
  auto f = std::make_shared<Flags>();
  CLI::App* app = root.add_subcommand("run", "run a preset (name or JSON file)");
  app->add_option("--preset", f->preset, "preset name (see `adamgn presets`) or FILE.json")->required();
  app->add_option("--set", f->sets, "override KEY=VALUE: task.K, run.K, arms.NAME.K, or K for every arm");
  app->add_option("--scale", f->scale, "quick (default) | paper | another scale the preset defines");
  app->add_option("--arms", f->arms, "run only these arms (comma-separated names)");
  add_run_flags(app, *f);
  out.push_back({app, [f] {
                   // The scale is merged first, so --set, --arms and the run flags override it
                   // (and a scale's patch of an arm that --arms drops is not an error).
                   json doc = resolve_scale(load_preset(f->preset), f->scale);
                   for (const auto& s : f->sets) apply_set(doc, s);
                   if (!f->arms.empty()) keep_arms(doc, f->arms);
                   for (const auto& [k, v] : f->run) doc["run"][k] = parse_scalar(v);
                   return execute(doc, *f);
                 }});
}

void add_presets_command(CLI::App& root, std::vector<Command>& out) {
  CLI::App* app = root.add_subcommand("presets", "list the built-in presets and the claim each shows");
  out.push_back({app, [] {
                   std::string list;
                   for (const auto& p : embedded_presets()) {
                     const json doc = load_preset(p.name);
                     list += std::string(p.name) + "\t" + doc.value("claim", "") + "\n";
                   }
                   write_stdout(list);
                   return 0;
                 }});
}

// A field table's flags as one line: "--dim N --rotate --cov block|half" (markdown: '|' escaped
// for a table cell).
std::string flags_line(const std::vector<Field>& fields, bool markdown) {
  std::string flags;
  for (const Field& f : fields) {
    std::string value = f.switch_flag ? "" : " " + f.value_name();
    std::string escaped;
    for (char ch : value) escaped += markdown && ch == '|' ? std::string("\\|") : std::string(1, ch);
    flags += (flags.empty() ? "" : " ") + flag_of(f.key) + escaped;
  }
  return flags;
}

// The registries as text: one line per entry (tab-separated) or, with markdown, the README's
// tables.
std::string list_tasks(bool markdown) {
  std::string text;
  if (markdown) text = "| task | what it is | flags (defaults: `adamgn TASK --help`) |\n|---|---|---|\n";
  for (const TaskEntry& task : task_registry())
    text += markdown ? "| `" + task.name + "` | " + task.description + " | `" + flags_line(task.fields, true) + "` |\n"
                     : task.name + "\t" + task.description + "\n";
  return text;
}

std::string list_bases(bool markdown) {
  std::string text;
  if (markdown) text = "| basis (`--basis`) | what it is | asks the task for |\n|---|---|---|\n";
  const OptimizerConfig defaults;
  for (const BasisEntry& b : basis_registry().entries()) {
    const std::string form = b.name + (b.argument ? ":" + b.argument->value_name() : "");
    OptimizerConfig o = defaults;
    o.basis = b.name;
    o.basis_argument = b.argument ? 1.0 : std::numeric_limits<double>::quiet_NaN();
    const std::string needs = describe(b.needs(o).refresh);
    text += markdown ? "| `" + form + "` | " + b.description + " | " + needs + " |\n"
                     : form + "\t" + b.description + "\t" + needs + "\n";
  }
  return text;
}

std::string list_diagonals(bool markdown) {
  std::string text;
  if (markdown) text = "| diagonal (`--precond`) | what it is | default `--power` |\n|---|---|---|\n";
  for (const DiagonalEntry& d : diagonal_registry().entries()) {
    const std::string power = d.make ? show_number(d.default_power) : "-";
    text += markdown ? "| `" + d.name + "` | " + d.description + " | " + power + " |\n"
                     : d.name + "\t" + d.description + "\t" + power + "\n";
  }
  return text;
}

std::string list_measures(bool markdown) {
  std::string text;
  if (markdown) text = "| measure (`--measure`) | what it records |\n|---|---|\n";
  for (const Measure& m : measure_registry())
    text += markdown ? "| `" + m.name + "` | " + m.doc + " |\n" : m.name + "\t" + m.doc + "\n";
  return text;
}

// The optimizer's flags, one per line with help and default; with markdown, the README's block:
// the bases, the diagonals and the flags on one line.
std::string list_optimizer(bool markdown) {
  if (markdown)
    return list_bases(true) + "\n" + list_diagonals(true) + "\nEvery arm's flags: `" +
           flags_line(optimizer_fields(), false) + "`\n";
  std::string text;
  for (const Field& f : optimizer_fields())
    text += flag_of(f.key) + " " + f.value_name() + "\t" + f.help + " " + f.default_text() + "\n";
  return text;
}

void add_list_command(CLI::App& root, std::vector<Command>& out) {
  auto what = std::make_shared<std::string>();
  auto markdown = std::make_shared<bool>(false);
  CLI::App* app = root.add_subcommand("list", "list a registry: tasks, bases, diagonals, measures, or the optimizer's flags");
  app->add_option("what", *what, "tasks | bases | diagonals | measures | optimizer")
      ->required()
      ->check(CLI::IsMember({"tasks", "bases", "diagonals", "measures", "optimizer"}));
  app->add_flag("--markdown", *markdown, "as the README's markdown table");
  out.push_back({app, [what, markdown] {
                   const std::string& w = *what;
                   write_stdout(w == "tasks"       ? list_tasks(*markdown)
                                : w == "bases"     ? list_bases(*markdown)
                                : w == "diagonals" ? list_diagonals(*markdown)
                                : w == "measures"  ? list_measures(*markdown)
                                                   : list_optimizer(*markdown));
                   return 0;
                 }});
}

void add_bench_command(CLI::App& root, std::vector<Command>& out) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto steps = std::make_shared<std::string>();
  CLI::App* app = root.add_subcommand(
      "bench", "steps per second of one run (seed 0) of every arm of the given presets (default: all)");
  app->add_option("--preset", *names, "preset names (repeatable)");
  app->add_option("--steps", *steps, "steps per timed run (default: the preset's)")->check(integer_at_least(1));
  auto sets = std::make_shared<std::vector<std::string>>();
  app->add_option("--set", *sets, "override KEY=VALUE in every benchmarked preset (as for run)");
  auto scale = std::make_shared<std::string>();
  app->add_option("--scale", *scale, "quick (default) | paper | another scale the presets define");
  auto arms = std::make_shared<std::string>();
  app->add_option("--arms", *arms, "time only these arms (comma-separated names)");
  auto warmup = std::make_shared<Index>(1);
  app->add_option("--warmup", *warmup, "steps run before the phase times start (default 1: the first step's allocations)")
      ->check(integer_at_least(0));
  out.push_back({app, [names, steps, sets, scale, arms, warmup] {
                   run_bench(BenchOptions{*names, *steps, *sets, *scale, *arms, *warmup});
                   return 0;
                 }});
}

}  // namespace adamgn::cli
