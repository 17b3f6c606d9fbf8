#include "report/summary.hpp"

#include "report/results.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace adamgn {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double last_of(const json& run, const char* key) {
  if (!run.contains(key) || !run[key].is_array() || run[key].empty() || !run[key].back().is_number()) return kNaN;
  return run[key].back().get<double>();
}

std::string num(double x) {
  if (std::isnan(x)) return "";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// Mean and standard error (sample standard deviation / sqrt(n)) of the finite values.
std::pair<double, double> mean_se(const std::vector<double>& v) {
  std::vector<double> x;
  for (double a : v)
    if (std::isfinite(a)) x.push_back(a);
  if (x.empty()) return {kNaN, kNaN};
  double m = 0.0;
  for (double a : x) m += a;
  m /= static_cast<double>(x.size());
  if (x.size() == 1) return {m, 0.0};
  double ss = 0.0;
  for (double a : x) ss += (a - m) * (a - m);
  const double n = static_cast<double>(x.size());
  return {m, std::sqrt(ss / (n - 1.0) / n)};
}

// A text cell. Control characters (a newline in an arm name from a hand-written result file)
// are written as escapes such as \n or \x1b, so each row stays on one line.
std::string cell(const std::string& text, TableFormat f) {
  const std::string s = escape_control(text);
  if (f == TableFormat::markdown) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out.empty() ? "–" : out;
  }
  if (s.find_first_of(",\"") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                  TableFormat f) {
  std::ostringstream out;
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (f == TableFormat::markdown) out << (i == 0 ? "| " : " | ") << cell(r[i], f);
      else out << (i == 0 ? "" : ",") << cell(r[i], f);
    }
    out << (f == TableFormat::markdown ? " |\n" : "\n");
  };
  line(header);
  if (f == TableFormat::markdown) {
    out << "|";
    for (std::size_t i = 0; i < header.size(); ++i) out << "---|";
    out << "\n";
  }
  for (const auto& r : rows) line(r);
  return out.str();
}

}  // namespace

RunRow run_row(const json& run, const std::string& metric) {
  RunRow r;
  r.seed = run.value("seed", std::uint64_t{0});
  r.diverged = run.value("status", "") != "ok";
  r.last_step = run.contains("steps") && run["steps"].is_array() && !run["steps"].empty() && run["steps"].back().is_number()
                    ? run["steps"].back().get<Index>()
                    : 0;
  r.final_loss = last_of(run, "loss");
  r.final_test_loss = last_of(run, "test_loss");
  r.final_test_accuracy = last_of(run, "test_accuracy");
  r.score = run_score(run, metric);
  r.wall_seconds = run.value("wall_seconds", 0.0);
  if (run.contains("measures") && run["measures"].is_object())
    for (auto it = run["measures"].begin(); it != run["measures"].end(); ++it)
      if (it.key() != "steps") r.final_measures[it.key()] = last_of(run["measures"], it.key().c_str());
  return r;
}

std::vector<RunRow> rows_from_result(const json& doc, const std::string& source, const std::string& metric) {
  if (!doc.is_object() || doc.value("schema", "") != "adamgn.result/1" || !doc.contains("arms"))
    throw UsageError(source + ": not an adamgn result document (schema adamgn.result/1)");
  std::vector<RunRow> rows;
  const double floor = loss_floor(doc);
  for (const auto& arm : doc["arms"])
    for (const auto& run : arm.at("runs")) {
      RunRow r = run_row(run, metric);
      if (!std::isnan(floor)) r.final_measures["excess_loss"] = r.final_loss - floor;
      r.source = source;
      r.stage = "run";
      r.arm = arm.value("name", "");
      r.lr = arm.at("optimizer").value("lr", 0.0);
      rows.push_back(std::move(r));
    }
  return rows;
}

std::vector<RunRow> rows_from_sweep(const Sweep& sweep, const SweepPlan& plan, const RunStore& store,
                                    const std::string& source, const std::string& metric) {
  std::vector<RunRow> rows;
  for (const auto& job : plan.jobs) {
    const json run = store.find(job.hash);
    if (run.is_null()) continue;
    RunRow r = run_row(run, metric);
    r.source = source;
    r.stage = job.stage;
    r.arm = sweep.experiment().arms[static_cast<std::size_t>(job.arm)].name;
    r.setting = describe_setting(job.setting);
    r.lr = job.optimizer.value("lr", 0.0);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<SettingRow> group_settings(const std::vector<RunRow>& rows) {
  std::vector<SettingRow> out;
  std::map<std::string, std::size_t> at;
  std::vector<std::vector<const RunRow*>> members;
  for (const auto& r : rows) {
    const std::string key = r.source + '\n' + r.stage + '\n' + r.arm + '\n' + r.setting;
    auto it = at.find(key);
    if (it == at.end()) {
      it = at.emplace(key, out.size()).first;
      SettingRow s;
      s.source = r.source;
      s.stage = r.stage;
      s.arm = r.arm;
      s.setting = r.setting;
      s.lr = r.lr;
      out.push_back(s);
      members.emplace_back();
    }
    members[it->second].push_back(&r);
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    SettingRow& s = out[i];
    std::vector<double> loss, test, acc, scores;
    for (const RunRow* r : members[i]) {
      ++s.n;
      scores.push_back(r->score);
      if (r->diverged) {
        ++s.diverged;
        continue;
      }
      loss.push_back(r->final_loss);
      test.push_back(r->final_test_loss);
      acc.push_back(r->final_test_accuracy);
    }
    std::tie(s.loss_mean, s.loss_se) = mean_se(loss);
    std::tie(s.test_loss_mean, s.test_loss_se) = mean_se(test);
    std::tie(s.accuracy_mean, s.accuracy_se) = mean_se(acc);
    s.score = mean_score(scores);
    std::map<std::string, std::vector<double>> finals;
    for (const RunRow* r : members[i])
      for (const auto& [name, value] : r->final_measures) {
        auto& values = finals[name];
        if (!r->diverged && std::isfinite(value)) values.push_back(value);
      }
    for (const auto& [name, values] : finals) s.measures[name] = mean_se(values);
  }
  return out;
}

// The measure series any of `rows` recorded, sorted.
template <class Row, class F>
std::vector<std::string> measure_columns(const std::vector<Row>& rows, F names_of) {
  std::set<std::string> names;
  for (const auto& r : rows)
    for (const auto& [name, value] : names_of(r)) names.insert(name);
  return {names.begin(), names.end()};
}

std::string render_runs(const std::vector<RunRow>& rows, TableFormat format) {
  const auto measures = measure_columns(rows, [](const RunRow& r) { return r.final_measures; });
  std::vector<std::vector<std::string>> body;
  for (const auto& r : rows) {
    body.push_back({r.source, r.stage, r.arm, r.setting, num(r.lr), std::to_string(r.seed),
                    r.diverged ? "diverged" : "ok", std::to_string(r.last_step), num(r.final_loss),
                    num(r.final_test_loss), num(r.final_test_accuracy), num(r.score), num(r.wall_seconds)});
    for (const auto& m : measures) {
      const auto it = r.final_measures.find(m);
      body.back().push_back(num(it == r.final_measures.end() ? std::nan("") : it->second));
    }
  }
  std::vector<std::string> header{"source", "stage", "arm", "setting", "lr", "seed", "status", "last_step", "final_loss",
                                  "final_test_loss", "final_test_accuracy", "score", "wall_seconds"};
  for (const auto& m : measures) header.push_back("final_" + m);
  return table(header, body, format);
}

std::string render_settings(const std::vector<SettingRow>& rows, TableFormat format) {
  const auto measures = measure_columns(rows, [](const SettingRow& r) { return r.measures; });
  std::vector<std::vector<std::string>> body;
  for (const auto& s : rows) {
    body.push_back({s.source, s.stage, s.arm, s.setting, num(s.lr), std::to_string(s.n), std::to_string(s.diverged),
                    num(s.loss_mean), num(s.loss_se), num(s.test_loss_mean), num(s.test_loss_se),
                    num(s.accuracy_mean), num(s.accuracy_se), num(s.score)});
    for (const auto& m : measures) {
      const auto it = s.measures.find(m);
      body.back().push_back(num(it == s.measures.end() ? std::nan("") : it->second.first));
      body.back().push_back(num(it == s.measures.end() ? std::nan("") : it->second.second));
    }
  }
  std::vector<std::string> header{"source", "stage", "arm", "setting", "lr", "n", "diverged", "final_loss_mean", "final_loss_se",
                                  "final_test_loss_mean", "final_test_loss_se", "final_test_accuracy_mean",
                                  "final_test_accuracy_se", "score"};
  for (const auto& m : measures) {
    header.push_back("final_" + m + "_mean");
    header.push_back("final_" + m + "_se");
  }
  return table(header, body, format);
}

std::string check_report(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, bool& complete) {
  std::ostringstream out;
  Index found_total = 0, settings_full = 0;
  std::set<std::string> expected;
  std::vector<std::vector<std::string>> body;
  for (const auto& st : plan.settings) {
    Index found = 0;
    for (Index j : st.jobs) {
      expected.insert(plan.jobs[static_cast<std::size_t>(j)].hash);
      found += plan.stored[static_cast<std::size_t>(j)];
    }
    found_total += found;
    settings_full += found == static_cast<Index>(st.jobs.size());
    body.push_back({st.stage, sweep.experiment().arms[static_cast<std::size_t>(st.arm)].name, describe_setting(st.setting),
                    std::to_string(found) + "/" + std::to_string(st.jobs.size())});
  }
  out << table({"stage", "arm", "setting", "seeds found/expected"}, body, TableFormat::markdown) << "\n";
  out << "settings complete: " << settings_full << "/" << plan.settings.size() << "; runs found: " << found_total
      << "/" << plan.jobs.size() << "\n";
  out << "stages: ";
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    const std::string& s = plan.stages[i];
    const bool expanded = std::find(plan.expanded.begin(), plan.expanded.end(), s) != plan.expanded.end();
    out << (i ? ", " : "") << s << (expanded ? "" : " (waits for the stage before it)");
  }
  out << "\n";
  const std::vector<StoredFile> files = store.scan();
  std::vector<const StoredFile*> bad, unexpected;
  Index unchecked = 0;
  for (const auto& f : files) {
    if (!f.problem.empty()) bad.push_back(&f);
    if (!expected.count(f.hash)) unexpected.push_back(&f);
    unchecked += f.problem.empty() && !f.checksum;
  }
  if (!bad.empty()) {
    out << "bad run files (not used; resuming the sweep moves them to " << store.dir()
        << "/quarantine/ and reruns them): " << bad.size() << "\n";
    for (const StoredFile* f : bad) out << "  " << f->path << ": " << f->problem << "\n";
  }
  if (!unexpected.empty()) {
    out << "stored runs this sweep does not expect: " << unexpected.size() << "\n";
    for (const StoredFile* f : unexpected) out << "  " << f->path << "\n";
  }
  if (unchecked > 0)
    out << "runs without a checksum (written before checksums; every other check passed): " << unchecked << "\n";
  const std::string programs = describe_programs(files);
  out << "program versions: " << (programs.empty() ? "none (no run stored)" : programs) << "\n";
  complete = plan.complete && bad.empty();
  if (!plan.complete) out << "incomplete\n";
  else if (!bad.empty()) out << "complete, but " << bad.size() << " bad run file" << (bad.size() == 1 ? "" : "s") << "\n";
  else out << "complete\n";
  return out.str();
}

}  // namespace adamgn
