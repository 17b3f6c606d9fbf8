#include "report/reproduce.hpp"

#include <filesystem>

#include "io/presets.hpp"
#include "io/store.hpp"
#include "io/version.hpp"
#include "report/plot.hpp"
#include "report/results.hpp"
#include "runner/experiment.hpp"
#include "runner/theory.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace adamgn {
namespace {

std::string g3(const json& v) {
  if (!v.is_number()) return "–";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v.get<double>());
  return buf;
}

std::string mean_se(const json& summary, const std::string& key) {
  const json m = summary.value("final_" + key + "_mean", json()), se = summary.value("final_" + key + "_se", json());
  if (!summary.contains("final_" + key + "_mean")) return "–";
  if (m.is_null()) return "all diverged";
  return g3(m) + " ± " + g3(se);
}

std::string escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string verdict_cell(const std::string& v) { return "**" + v + "**"; }

}  // namespace

PresetOutcome outcome_of(const json& result, const std::string& path) {
  PresetOutcome o;
  o.name = result.value("preset", json()).is_string() ? result["preset"].get<std::string>() : "(flags)";
  const std::filesystem::path file(path);
  o.file = file.stem().string();
  std::filesystem::path figure = file;
  figure.replace_extension(".svg");
  std::error_code ec;
  if (std::filesystem::is_regular_file(figure, ec)) o.figure = figure.filename().string();
  o.claim = result.value("claim", "");
  o.result = result;
  o.verdicts = evaluate_claims(result);
  o.wall_seconds = result.value("wall_seconds", 0.0);
  return o;
}

std::vector<PlannedPreset> plan_reproduce(const ReproduceOptions& options) {
  if (options.threads < 0) throw UsageError("--threads " + std::to_string(options.threads) + " must be >= 0");
  std::vector<std::string> names = options.presets;
  if (names.empty())
    for (const auto& p : embedded_presets()) names.push_back(p.name);
  std::vector<PlannedPreset> plan;
  for (const auto& n : names) {
    for (const auto& earlier : plan)
      if (earlier.name == n) throw UsageError("--presets names " + n + " twice");
    PlannedPreset p{n, {}};
    json doc = load_preset(n);
    try {
      p.spec = parse_experiment(std::move(doc), options.scale);
    } catch (const UsageError& e) {
      throw UsageError("preset " + n + ": " + e.what());
    }
    if (options.threads > 0) p.spec.run.threads = options.threads;
    plan.push_back(std::move(p));
  }
  return plan;
}

std::vector<PresetOutcome> reproduce(const ReproduceOptions& options, const std::vector<PlannedPreset>& plan,
                                     const std::function<void(const std::string&, std::size_t, std::size_t)>& on_preset) {
  std::vector<PresetOutcome> out;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const std::string& name = plan[i].name;
    if (on_preset) on_preset(name, i, plan.size());
    const ExperimentSpec& spec = plan[i].spec;
    if (spec.task.value("name", "") == "cifar" && !spec.task.contains("data_dir") && !std::getenv("ADAMGN_DATA")) {
      PresetOutcome o;
      o.name = name;
      o.claim = spec.claim;
      o.skipped = "needs the CIFAR-10 files (set ADAMGN_DATA)";
      out.push_back(std::move(o));
      continue;
    }
    const json doc = result_json(run_experiment(spec));
    write_atomically(options.out_dir + "/" + name + ".json", doc.dump() + "\n");
    write_atomically(options.out_dir + "/" + name + ".svg", plot_svg(doc));
    PresetOutcome o = outcome_of(doc, options.out_dir + "/" + name + ".json");
    o.name = name;
    out.push_back(std::move(o));
  }
  return out;
}

// What `adamgn theory` predicts for the result's task (quadratic and logistic), one line per
// distinct task when arms set their own task keys; "" for other tasks.
std::string theory_markdown(const json& result) {
  std::vector<json> tasks{result.at("config").at("task")};
  for (const auto& a : result.at("arms"))
    if (a.contains("task") && std::find(tasks.begin(), tasks.end(), a["task"]) == tasks.end()) tasks.push_back(a["task"]);
  if (tasks.size() > 1) tasks.erase(tasks.begin());  // every arm has its own: the base task is never run alone
  std::string out;
  for (const auto& t : tasks) {
    const std::string name = t.value("name", "");
    if (name != "quadratic" && name != "logistic") return "";
    try {
      out += "- " + theory_brief(theory_of(t)) + "\n";
    } catch (const UsageError&) {
      return "";
    }
  }
  return "Theory (`adamgn theory`, docs/theory.md):\n\n" + out + "\n";
}

// "fig4", or "fig4 (fig4-identity-small)" for a file not named after its preset.
std::string outcome_label(const PresetOutcome& o) {
  return o.file.empty() || o.file == o.name ? o.name : o.name + " (" + o.file + ")";
}

std::string report_markdown(const std::vector<PresetOutcome>& outcomes, const std::string& scale, double wall_seconds,
                            const std::string& command, bool reproduced) {
  std::ostringstream md;
  md << "# Reproduction report (" << scale << " scale)\n\n"
     << "Written by `" << command << "` (adamgn " << version_string() << ", commit " << git_commit() << "). "
     << (reproduced ? "Every preset ran with its tuned hyperparameters; each has a result file (`NAME.json`) and a "
                      "figure (`NAME.svg`) beside this report"
                    : "Judged from the result files named in each section (the preset, then the file where its name "
                      "differs)")
     << "; each result file records the program version that produced it.";
  if (wall_seconds > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " Total wall time: %.0f s.", wall_seconds);
    md << buf;
  }
  md << "\n\n## Verdicts\n\n| preset | claim | measured | rule | verdict |\n|---|---|---|---|---|\n";
  int counts[4] = {0, 0, 0, 0};
  for (const auto& o : outcomes) {
    if (!o.skipped.empty()) {
      md << "| " << outcome_label(o) << " | " << escape_cell(o.claim) << " | not run: " << o.skipped << " | – | – |\n";
      continue;
    }
    for (const auto& v : o.verdicts) {
      md << "| " << outcome_label(o) << " | " << escape_cell(v.claim) << " | " << escape_cell(v.measured) << " | "
         << escape_cell(v.rule) << " | " << verdict_cell(v.verdict) << " |\n";
      counts[v.verdict == "holds" ? 0 : v.verdict == "does not hold" ? 1 : v.verdict == "not significant" ? 2 : 3]++;
    }
  }
  md << "\nHolds: " << counts[0] << ". Does not hold: " << counts[1] << ". Not significant: " << counts[2] << ". Vacuous: " << counts[3] << ".\n\n"
     << "## Rules\n\n" << verdict_rules_markdown() << "\n";
  for (const auto& o : outcomes) {
    md << "## " << outcome_label(o) << "\n\n" << o.claim << "\n\n";
    if (!o.skipped.empty()) {
      md << "Not run: " << o.skipped << ".\n\n";
      continue;
    }
    const json& r = o.result;
    const json& run = r.at("config").at("run");
    char buf[160];
    std::snprintf(buf, sizeof buf, "Task `%s`; %lld steps, %lld seeds; %.1f s. ",
                  r["config"]["task"].value("name", "").c_str(), run.value("steps", 0LL), run.value("seeds", 0LL),
                  o.wall_seconds);
    const std::string file = o.file.empty() ? o.name : o.file;
    if (!o.figure.empty()) md << buf << "Figure: [" << o.figure << "](" << o.figure << "); data: ";
    else md << buf << "Data: ";
    md << "[" << file << ".json](" << file << ".json).\n\n";
    if (!r.value("notes", "").empty()) md << r["notes"].get<std::string>() << "\n\n";
    md << theory_markdown(r);
    md << "| arm | runs ok | final loss | final test loss | final test accuracy | steps to target |\n"
       << "|---|---|---|---|---|---|\n";
    for (const auto& a : r.at("arms")) {
      const json& s = a.at("summary");
      const long long ok = s.value("n_ok", 0LL), n = ok + s.value("n_diverged", 0LL);
      std::string target = "–";
      if (s.contains("n_reached_target"))
        target = s["n_reached_target"].get<long long>() == 0
                     ? "not reached"
                     : g3(s["steps_to_target_mean"]) + " (" + std::to_string(s["n_reached_target"].get<long long>()) + "/" +
                           std::to_string(n) + ")";
      md << "| " << escape_cell(a.value("name", "")) << " | " << ok << "/" << n << " | " << mean_se(s, "loss") << " | "
         << mean_se(s, "test_loss") << " | " << mean_se(s, "test_accuracy") << " | " << target << " |\n";
    }
    md << "\n";
    for (const auto& v : o.verdicts)
      md << "- " << v.claim << ": " << verdict_cell(v.verdict) << " (" << v.rule << "; " << v.measured << ")\n";
    if (!o.verdicts.empty()) md << "\n";
  }
  return md.str();
}

}  // namespace adamgn
