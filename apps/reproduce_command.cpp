// `adamgn reproduce` (run every preset, write results, figures and REPORT.md) and `adamgn report`
// (the same report from result files already on disk). The work is in report/reproduce.hpp.
#include "commands.hpp"

#include "core/types.hpp"
#include "io/presets.hpp"
#include "io/store.hpp"
#include "report/reproduce.hpp"
#include "report/results.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace adamgn::cli {
namespace {

// What the report reads from a result document, checked up front so that a file written by hand
// or cut short fails with one line naming the missing part.
void check_result_shape(const json& doc, const std::string& path) {
  auto missing = [&](const std::string& what) { return UsageError(path + ": not a complete adamgn result document (" + what + ")"); };
  const json& config = doc.contains("config") ? doc["config"] : json();
  if (!config.is_object()) throw missing("no \"config\" object");
  for (const char* key : {"task", "run"})
    if (!config.contains(key) || !config[key].is_object()) throw missing(std::string("no \"config.") + key + "\" object");
  if (!doc.contains("arms") || !doc["arms"].is_array()) throw missing("no \"arms\" array");
  for (std::size_t i = 0; i < doc["arms"].size(); ++i) {
    const json& a = doc["arms"][i];
    const std::string at = "arms[" + std::to_string(i) + "]";
    if (!a.is_object() || !a.contains("name") || !a["name"].is_string()) throw missing(at + " has no \"name\"");
    if (!a.contains("summary") || !a["summary"].is_object()) throw missing(at + " has no \"summary\" object");
    if (!a.contains("runs") || !a["runs"].is_array()) throw missing(at + " has no \"runs\" array");
  }
}

json read_result(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError(path + ": not found or not readable");
  json doc = parse_json(in, path, kJsonResultBytes);
  try {
    if (!doc.is_object() || doc.value("schema", "") != "adamgn.result/1")
      throw UsageError(path + ": not an adamgn result document");
    check_result_shape(doc, path);
    // Files without claims (written before presets carried them, or a sweep's result.json) take
    // them from the built-in preset of that name: those whose arms the file has.
    if ((!doc.contains("claims") || doc["claims"].is_null()) && doc.value("preset", json()).is_string()) {
      const std::string name = doc["preset"].get<std::string>();
      for (const auto& p : embedded_presets())
        if (name == p.name) doc["claims"] = load_preset(name).value("claims", json());
      drop_claims_without_arms(doc);
    }
    return doc;
  } catch (const json::exception&) {
    throw UsageError(path + ": not a well-formed adamgn result document");
  }
}

}  // namespace

void add_reproduce_commands(CLI::App& root, std::vector<Command>& out) {
  auto opt = std::make_shared<ReproduceOptions>();
  auto presets = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  CLI::App* app = root.add_subcommand("reproduce", "run every preset; write results, figures and REPORT.md with verdicts");
  app->add_option("--scale", opt->scale, "quick (default) | paper");
  app->add_option("-o,--out", opt->out_dir, "output folder (default ./reproduce; created if missing)");
  app->add_option("--presets", *presets, "only these presets (comma-separated)");
  app->add_option("--threads", opt->threads, "threads (0 = all cores)")->check(integer_at_least(0));
  app->add_flag("-q,--quiet", *quiet, "no progress on stderr");
  out.push_back({app, [opt, presets, quiet] {
                   ReproduceOptions o = *opt;
                   std::stringstream ss(*presets);
                   for (std::string p; std::getline(ss, p, ',');)
                     if (!p.empty()) o.presets.push_back(p);
                   while (o.out_dir.size() > 1 && o.out_dir.back() == '/') o.out_dir.pop_back();
                   // Every preset and flag is checked before the folder is made.
                   const std::vector<PlannedPreset> plan = plan_reproduce(o);
                   check_output_folder(o.out_dir);  // a folder, or missing in an existing one
                   if (mkdir(o.out_dir.c_str(), 0777) != 0 && errno != EEXIST)
                     throw UsageError("-o " + o.out_dir + ": " + std::strerror(errno));
                   const auto start = std::chrono::steady_clock::now();
                   auto progress = [&](const std::string& name, std::size_t i, std::size_t n) {
                     if (*quiet) return;
                     const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                     std::cerr << "[" << i + 1 << "/" << n << "] " << name << " (" << static_cast<long>(t) << " s so far)\n";
                   };
                   const auto outcomes = reproduce(o, plan, progress);
                   const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                   write_atomically(o.out_dir + "/REPORT.md", report_markdown(outcomes, o.scale, wall, "adamgn reproduce --scale " + o.scale, true));
                   if (!*quiet) std::cerr << "wrote " << o.out_dir << "/REPORT.md in " << static_cast<long>(wall) << " s\n";
                   return 0;
                 }});

  auto files = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  auto scale = std::make_shared<std::string>("quick");
  CLI::App* rep = root.add_subcommand("report", "REPORT.md (claims and verdicts) from result files");
  rep->add_option("FILE", *files, "result JSON files")->required();
  rep->add_option("-o", *output, "write here instead of stdout");
  rep->add_option("--scale", *scale, "scale named in the heading (default quick)");
  out.push_back({rep, [files, output, scale] {
                   std::vector<PresetOutcome> outcomes;
                   for (const auto& f : *files) outcomes.push_back(outcome_of(read_result(f), f));
                   const std::string md = report_markdown(outcomes, *scale, 0.0, "adamgn report", false);
                   if (output->empty()) write_stdout(md);
                   else write_file_atomically(*output, md);
                   return 0;
                 }});
}

}  // namespace adamgn::cli
