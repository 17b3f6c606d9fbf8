#include "io/store.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <limits>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace adamgn {
namespace {

bool is_dir(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0777) != 0 && errno != EEXIST)
    throw UsageError("cannot create folder " + path + ": " + std::strerror(errno));
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string config_hash(const json& config) {
  const std::string text = config.dump();
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

RunStore::RunStore(std::string dir, bool create) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (dir_.empty()) throw UsageError("empty folder name");
  if (!create) {
    if (!has_definition()) throw UsageError(dir_ + " holds no sweep (no sweep.json)");
    return;
  }
  const auto slash = dir_.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir_.substr(0, slash));
  if (!is_dir(parent)) throw UsageError(dir_ + ": folder " + parent + " does not exist");
  make_dir(dir_);
  make_dir(dir_ + "/runs");
}

bool RunStore::has_definition() const { return access((dir_ + "/sweep.json").c_str(), F_OK) == 0; }

json RunStore::definition() const {
  if (!has_definition()) throw UsageError(dir_ + " holds no sweep (no sweep.json)");
  return parse_json(read_text(dir_ + "/sweep.json"), dir_ + "/sweep.json");
}

void RunStore::claim(const json& definition) const {
  const std::string hash = config_hash(definition);
  if (has_definition()) {
    const json old = this->definition();
    if (old.value("hash", "") != hash)
      throw UsageError(dir_ + " already holds a different sweep (" + old.value("hash", std::string("?")) +
                       ", this one is " + hash + "); use another --out folder");
    return;
  }
  json doc = json{{"schema", "adamgn.sweep-store/1"}, {"hash", hash}, {"sweep", definition}};
  write_atomically(dir_ + "/sweep.json", doc.dump(2) + "\n");
}

namespace {

// HASH.json with HASH 16 lowercase hex digits.
bool is_run_name(const std::string& name) {
  if (name.size() != 21 || name.compare(16, 5, ".json") != 0) return false;
  return std::all_of(name.begin(), name.begin() + 16, [](char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); });
}

// The verified run document at `path` stored under `hash`; null with `why` set when the file is
// absent ("no file"), unreadable or does not verify.
json read_run(const std::string& path, const std::string& hash, std::string& why) {
  why.clear();
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    why = errno == ENOENT ? "no file" : std::string("cannot read: ") + std::strerror(errno);
    return nullptr;
  }
  if (!S_ISREG(st.st_mode)) {
    why = "not a regular file";
    return nullptr;
  }
  std::string text;
  try {
    text = read_text(path);
  } catch (const UsageError&) {
    why = std::string("cannot read: ") + std::strerror(errno);
    return nullptr;
  }
  if (text.empty()) {
    why = "empty file";
    return nullptr;
  }
  json doc;
  try {
    doc = parse_json(text, path, kJsonResultBytes);  // nesting, duplicate keys and size bounded
  } catch (const UsageError& strict) {
    try {
      json::parse(text);
      why = strict.what();  // well-formed, but over a bound of the strict reader
    } catch (const json::parse_error& e) {
      why = e.byte >= text.size()
                ? "invalid JSON: the text ends after " + std::to_string(text.size()) + " bytes, before the document does (truncated)"
                : "invalid JSON at byte " + std::to_string(e.byte) + " of " + std::to_string(text.size()) + " (damaged)";
    } catch (const json::out_of_range&) {
      why = strict.what();  // a number beyond a double's range (nlohmann's error 406): the strict reader's message
    }
    return nullptr;
  }
  why = run_problem(doc, hash);
  return why.empty() ? doc : json(nullptr);
}

}  // namespace

std::string RunStore::path_of(const std::string& hash) const {
  return dir_ + "/runs/" + hash.substr(0, 2) + "/" + hash + ".json";
}

bool RunStore::has(const std::string& hash) const { return problem(hash).empty(); }

std::string RunStore::problem(const std::string& hash) const {
  std::string why;
  read_run(path_of(hash), hash, why);
  return why;
}

json RunStore::load(const std::string& hash) const {
  std::string why;
  json doc = read_run(path_of(hash), hash, why);
  if (!why.empty()) throw BadRun(path_of(hash), why);
  return doc;
}

json RunStore::find(const std::string& hash) const {
  std::string why;
  return read_run(path_of(hash), hash, why);
}

void RunStore::save(const std::string& hash, const json& run) const {
  json doc = run;
  doc["checksum"] = run_checksum(doc);
  make_dir(dir_ + "/runs/" + hash.substr(0, 2));
  write_atomically(path_of(hash), doc.dump() + "\n");
}

std::vector<std::string> RunStore::hashes() const {
  std::vector<std::string> out;
  for (const auto& sub : entries(dir_ + "/runs"))
    for (const auto& name : entries(dir_ + "/runs/" + sub))
      if (is_run_name(name)) out.push_back(name.substr(0, 16));
  std::sort(out.begin(), out.end());
  return out;
}

int RunStore::remove_stale_temporaries() const {
  const std::string marker = ".tmp." + host_name() + ".";
  int removed = 0;
  auto sweep_folder = [&](const std::string& folder) {
    for (const auto& name : entries(folder)) {
      const auto at = name.find(marker);
      if (at == std::string::npos) continue;
      const long pid = std::strtol(name.c_str() + at + marker.size(), nullptr, 10);
      if (pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;  // still alive
      if (std::remove((folder + "/" + name).c_str()) == 0) ++removed;
    }
  };
  sweep_folder(dir_);
  for (const auto& sub : entries(dir_ + "/runs")) sweep_folder(dir_ + "/runs/" + sub);
  return removed;
}

namespace {

bool is_count(const json& v) { return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0); }

// A value as it appears in a reason: its JSON text, cut to 40 characters.
std::string brief(const json& v) {
  const std::string t = v.dump();
  return t.size() <= 40 ? t : t.substr(0, 37) + "...";
}

// The problem with one field's type, or "".
std::string field_problem(const json& doc, const std::string& where, const char* key, const char* kind) {
  const std::string k = where.empty() ? key : where + "." + key;
  if (!doc.contains(key)) return "no field " + k;
  const json& v = doc[key];
  const std::string want = kind;
  const bool ok = want == "string"             ? v.is_string()
                  : want == "object"           ? v.is_object()
                  : want == "array"            ? v.is_array()
                  : want == "number"           ? v.is_number()
                  : want == "count"            ? is_count(v)
                  : want == "count or null"    ? (v.is_null() || is_count(v))
                  : want == "string or null"   ? (v.is_null() || v.is_string())
                                               : false;
  return ok ? "" : k + " = " + brief(v) + " is not a " + want;
}

// The k-th step run_one logs in a run of `steps` steps logging every `every`: 0, every,
// 2 every, ... below `steps`, then `steps`.
std::int64_t logged_step(std::size_t k, std::int64_t steps, std::int64_t every) {
  const std::int64_t multiples = (steps - 1) / every;
  const auto i = static_cast<std::int64_t>(k);
  return i == 0 ? 0 : (i <= multiples ? i * every : steps);
}

// The problem with a curve of numbers, or "".
std::string curve_problem(const json& doc, const char* key, std::size_t length, double low, double high) {
  const json& c = doc[key];
  if (!c.is_array()) return std::string(key) + " is not an array";
  if (c.size() != length)
    return std::string(key) + " has " + std::to_string(c.size()) + " points, steps has " + std::to_string(length);
  for (std::size_t k = 0; k < c.size(); ++k) {
    if (!c[k].is_number()) return std::string(key) + "[" + std::to_string(k) + "] = " + brief(c[k]) + " is not a number";
    const double v = c[k].get<double>();
    if (!std::isfinite(v) || v < low || v > high)
      return std::string(key) + "[" + std::to_string(k) + "] = " + brief(c[k]) + " is out of range";
  }
  return "";
}

// runs[].measures (docs/output.md): present exactly when config.run.measure names measures; its
// steps are every measure_every-th logged step; every series is as long, numbers or null.
std::string measures_problem(const json& doc, const json& run, const json& logged, std::size_t points) {
  const bool asked = run.contains("measure") && run["measure"].is_array() && !run["measure"].empty();
  if (!doc.contains("measures")) return asked && points > 0 ? "config.run.measure is set but the run has no measures" : "";
  if (!asked) return "measures without config.run.measure";
  const json& m = doc["measures"];
  if (!m.is_object()) return "measures is not an object";
  if (!run.contains("measure_every") || !run["measure_every"].is_number_integer() || run["measure_every"].get<std::int64_t>() < 1)
    return "config.run.measure_every is not a count >= 1";
  const auto every = static_cast<std::size_t>(run["measure_every"].get<std::int64_t>());
  if (!m.contains("steps") || !m["steps"].is_array()) return "measures.steps is not an array";
  const json& steps = m["steps"];
  const std::size_t expected = points == 0 ? 0 : (points - 1) / every + 1;
  if (steps.size() != expected)
    return "measures.steps has " + std::to_string(steps.size()) + " points, expected " + std::to_string(expected);
  for (std::size_t k = 0; k < expected; ++k)
    if (steps[k] != logged[k * every])
      return "measures.steps[" + std::to_string(k) + "] = " + brief(steps[k]) + ", expected " + brief(logged[k * every]);
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it.key() == "steps") continue;
    const std::string where = "measures." + it.key();
    if (!it.value().is_array() || it.value().size() != expected)
      return where + " is not an array of " + std::to_string(expected) + " values";
    for (std::size_t k = 0; k < expected; ++k) {
      const json& v = it.value()[k];
      if (v.is_null()) continue;
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        return where + "[" + std::to_string(k) + "] = " + brief(v) + " is not a finite number or null";
    }
  }
  return "";
}

}  // namespace

std::string run_checksum(const json& doc) {
  if (!doc.is_object() || !doc.contains("checksum")) return config_hash(doc);
  json rest = doc;
  rest.erase("checksum");
  return config_hash(rest);
}

std::string program_label(const json& doc) {
  if (!doc.is_object() || !doc.contains("program") || !doc["program"].is_object()) return "unknown";
  const json& p = doc["program"];
  const auto text = [&](const char* k) { return p.contains(k) && p[k].is_string() ? p[k].get<std::string>() : "unknown"; };
  return text("version") + " (" + text("git_commit") + ")";
}

std::string run_problem(const json& doc, const std::string& hash) {
  if (!doc.is_object()) return "not a JSON object";
  if (!doc.contains("schema")) return "no schema (not an adamgn.run/1 document)";
  if (doc["schema"] != "adamgn.run/1") return "schema " + brief(doc["schema"]) + " is not adamgn.run/1";
  const std::pair<const char*, const char*> fields[] = {
      {"preset", "string or null"}, {"arm", "string"},         {"optimizer", "object"},
      {"seed", "count"},            {"status", "string"},      {"diverged_at", "count or null"},
      {"steps", "array"},           {"loss", "array"},         {"wall_seconds", "number"},
      {"basis_failures", "count"},  {"steps_to_target", "count or null"},
      {"config", "object"},         {"hash", "string"},        {"program", "object"}};
  for (const auto& [key, kind] : fields)
    if (auto p = field_problem(doc, "", key, kind); !p.empty()) return p;
  for (const char* key : {"test_loss", "test_accuracy"})
    if (doc.contains(key) && !doc[key].is_array()) return std::string(key) + " is not an array";
  if (doc.contains("record") && !doc["record"].is_object()) return "record is not an object";
  if (doc.contains("checksum") && !doc["checksum"].is_string()) return "checksum is not a string";
  for (const char* key : {"version", "git_commit"})
    if (auto p = field_problem(doc["program"], "program", key, "string"); !p.empty()) return p;
  const json& config = doc["config"];
  for (const auto& [key, kind] : {std::pair<const char*, const char*>{"task", "object"},
                                  {"run", "object"}, {"optimizer", "object"}, {"seed", "count"}})
    if (auto p = field_problem(config, "config", key, kind); !p.empty()) return p;
  const json& run = config["run"];
  for (const auto& [key, kind] : {std::pair<const char*, const char*>{"steps", "count"},
                                  {"log_every", "count"}, {"diverge_factor", "number"}, {"target_loss", "number"}})
    if (auto p = field_problem(run, "config.run", key, kind); !p.empty()) return p;
  const std::int64_t steps = run["steps"].get<std::int64_t>(), every = run["log_every"].get<std::int64_t>();
  const double diverge_factor = run["diverge_factor"].get<double>(), target = run["target_loss"].get<double>();
  if (steps < 1 || every < 1 || !(diverge_factor > 1.0) || !(target >= 0.0))
    return "config.run = " + brief(run) + " is not a valid run length";

  // Identity: the name, the stored hash and the configuration agree.
  if (doc["hash"] != hash) return "hash " + brief(doc["hash"]) + " differs from the file name " + hash;
  const std::string recomputed = config_hash(config);
  if (recomputed != hash) return "config hashes to " + recomputed + ", not to the file name " + hash + " (config changed)";
  if (doc["seed"] != config["seed"])
    return "seed " + brief(doc["seed"]) + " differs from config.seed " + brief(config["seed"]);
  if (doc["optimizer"] != config["optimizer"]) return "optimizer differs from config.optimizer";

  // How the run ended, and the steps run_one logs for it.
  const std::string status = doc["status"].get<std::string>();
  const json& at = doc["diverged_at"];
  std::size_t points = 0;
  if (status == "ok") {
    if (!at.is_null()) return "status ok with diverged_at " + brief(at);
    points = static_cast<std::size_t>((steps - 1) / every + 2);
    // A run that stops at its target ends at that logged step.
    const json& reached = doc["steps_to_target"];
    if (run.contains("stop_at_target") && run["stop_at_target"] == true && reached.is_number_integer()) {
      const std::int64_t s = reached.get<std::int64_t>();
      if (s < 0 || s > steps) return "steps_to_target " + brief(reached) + " is outside 0.." + std::to_string(steps);
      if (s < steps) points = static_cast<std::size_t>(s / every + 1);
    }
  } else if (status == "diverged") {
    if (at.is_null()) return "status diverged without diverged_at";
    const std::int64_t d = at.get<std::int64_t>();
    if (d > steps) return "diverged_at " + brief(at) + " is beyond config.run.steps " + std::to_string(steps);
    points = d == 0 ? 0 : static_cast<std::size_t>((d - 1) / every + 1);
  } else {
    return "status " + brief(doc["status"]) + " is neither ok nor diverged";
  }
  const json& logged = doc["steps"];
  if (logged.size() != points)
    return "steps has " + std::to_string(logged.size()) + " points, " + (status == "ok" ? "an ok" : "a diverged") +
           " run of " + std::to_string(steps) +
           " steps logged every " + std::to_string(every) + " has " + std::to_string(points);
  for (std::size_t k = 0; k < points; ++k)
    if (!logged[k].is_number_integer() || logged[k].get<std::int64_t>() != logged_step(k, steps, every))
      return "steps[" + std::to_string(k) + "] = " + brief(logged[k]) + ", expected " +
             std::to_string(logged_step(k, steps, every));

  // The curves: as long as steps, finite, in range.
  constexpr double kMax = std::numeric_limits<double>::max();
  const double limit = points > 0 && doc["loss"].is_array() && !doc["loss"].empty() && doc["loss"][0].is_number()
                           ? diverge_factor * std::max(doc["loss"][0].get<double>(), 1e-300)
                           : kMax;
  if (auto p = curve_problem(doc, "loss", points, 0.0, limit); !p.empty()) return p;
  if (doc.contains("test_loss"))
    if (auto p = curve_problem(doc, "test_loss", points, 0.0, kMax); !p.empty()) return p;
  if (doc.contains("test_accuracy"))
    if (auto p = curve_problem(doc, "test_accuracy", points, 0.0, 1.0); !p.empty()) return p;
  if (auto p = measures_problem(doc, run, logged, points); !p.empty()) return p;
  const double wall = doc["wall_seconds"].get<double>();
  if (!std::isfinite(wall) || wall < 0.0) return "wall_seconds = " + brief(doc["wall_seconds"]) + " is out of range";

  // steps_to_target: the first logged step at or below target_loss; for a diverged run it may
  // also be the divergence step, logged and then cut from the curve.
  const json& reached = doc["steps_to_target"];
  json first = nullptr;
  if (target > 0.0)
    for (std::size_t k = 0; k < points && first.is_null(); ++k)
      if (doc["loss"][k].get<double>() <= target) first = logged[k];
  const bool cut = status == "diverged" && first.is_null() && reached == at;
  if (reached != first && !(target > 0.0 && cut))
    return "steps_to_target " + brief(reached) + " does not match the curve (expected " + brief(first) + ")";

  if (doc.contains("checksum") && doc["checksum"] != run_checksum(doc))
    return "checksum " + brief(doc["checksum"]) + " does not match the content (" + run_checksum(doc) +
           "): the file was changed after it was written";
  return "";
}

BadRun::BadRun(const std::string& path, const std::string& reason)
    : UsageError(path + ": " + reason + " (resuming the sweep moves it to quarantine/ and reruns it)"),
      path_(path),
      reason_(reason) {}

std::vector<StoredFile> RunStore::scan() const {
  std::vector<StoredFile> out;
  for (const auto& sub : entries(dir_ + "/runs"))
    for (const auto& name : entries(dir_ + "/runs/" + sub)) {
      if (!is_run_name(name)) continue;
      StoredFile f;
      f.path = dir_ + "/runs/" + sub + "/" + name;
      f.hash = name.substr(0, 16);
      if (sub != f.hash.substr(0, 2)) {
        f.problem = "stored in runs/" + sub + ", not in runs/" + f.hash.substr(0, 2);
      } else {
        const json doc = read_run(f.path, f.hash, f.problem);
        f.checksum = f.problem.empty() && doc.contains("checksum");
        if (f.problem.empty()) f.program = program_label(doc);
      }
      out.push_back(std::move(f));
    }
  return out;
}

std::string RunStore::quarantine(const std::string& path) const {
  if (access(path.c_str(), F_OK) != 0 && errno == ENOENT) return "";
  make_dir(dir_ + "/quarantine");
  const auto slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::string target = dir_ + "/quarantine/" + name;
  for (int k = 1; access(target.c_str(), F_OK) == 0; ++k) target = dir_ + "/quarantine/" + name + "." + std::to_string(k);
  if (std::rename(path.c_str(), target.c_str()) != 0) {
    if (errno == ENOENT) return "";
    throw UsageError("cannot move " + path + " to " + target + ": " + std::strerror(errno));
  }
  return target;
}

std::vector<std::string> programs_of(const std::vector<StoredFile>& files) {
  std::vector<std::string> out;
  for (const auto& f : files)
    if (f.problem.empty() && std::find(out.begin(), out.end(), f.program) == out.end()) out.push_back(f.program);
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe_programs(const std::vector<StoredFile>& files) {
  std::string out;
  for (const auto& label : programs_of(files)) {
    const auto n = std::count_if(files.begin(), files.end(), [&](const StoredFile& f) { return f.problem.empty() && f.program == label; });
    out += (out.empty() ? "" : "; ") + label + ": " + std::to_string(n) + (n == 1 ? " run" : " runs");
  }
  return out;
}

}  // namespace adamgn
