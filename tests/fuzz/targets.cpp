// Bodies of the fuzz targets; see targets.hpp for the contract.
#include "targets.hpp"

#include "core/types.hpp"
#include "io/presets.hpp"
#include "io/store.hpp"
#include "report/results.hpp"
#include "runner/experiment.hpp"
#include "runner/sweep.hpp"
#include "tasks/cifar.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace adamgn::fuzz {

const std::vector<std::string> kStoredRunHashes = {"b5ec04ce934aa91a", "bab2784eabd4a679", "11de0130c3745884"};

namespace {

void remove_scratch() {
  const std::string cmd = "rm -rf '" + scratch_dir() + "'";
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", scratch_dir().c_str());
}

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Every number of the task, except seeds, within +-512 (and no data folder to read): the factory
// is then built in milliseconds. Larger tasks are the memory admission's business (each size is
// checked there before anything is allocated), not this parser's.
bool small_task(const json& task) {
  if (!task.is_object() || task.value("name", json()) == "cifar" || task.contains("data_dir")) return false;
  for (auto it = task.begin(); it != task.end(); ++it) {
    const auto& key = it.key();
    if (key.size() >= 4 && key.compare(key.size() - 4, 4, "seed") == 0) continue;
    const json& v = it.value();
    if (v.is_number() && !(std::fabs(v.get<double>()) <= 512)) return false;
    if (v.is_array())
      for (const auto& x : v)
        if (!x.is_number() || !(std::fabs(x.get<double>()) <= 512)) return false;
  }
  return true;
}

void experiment_from(const json& doc, const std::string& scale) {
  const ExperimentSpec spec = parse_experiment(resolve_scale(doc, scale));
  if (!small_task(spec.task)) return;
  const auto factory = make_task_factory(spec.task);
  check_compatible(spec, *factory);
}

// The document set_assignments starts from: two arms, one with dots in its name, and a scale.
const char* const kSetBase = R"({
  "claim": "fuzz base", "measure": "final loss",
  "task": {"name": "quadratic", "cov": "block", "dim": 4},
  "run": {"steps": 10, "seeds": 1, "log_every": 2},
  "arms": [{"name": "adam g0.5", "precond": "adam", "lr": 0.1},
           {"name": "gn", "precond": "gn", "lr": 0.5, "alpha": 1e-3}],
  "scales": {"paper": {"run": {"steps": 20}}}
})";

}  // namespace

const std::string& scratch_dir() {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/adamgn-fuzz.XXXXXX";
    if (!mkdtemp(pattern.data())) throw std::runtime_error("cannot create a scratch folder");
    return pattern;
  }();
  static const bool registered = (std::atexit(remove_scratch), true);
  (void)registered;
  return dir;
}

void preset(const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_dir() + "/preset.json";
  write_file(path, data, size);
  try {
    const json doc = load_preset(path);
    experiment_from(doc, "");
    if (doc.is_object() && doc.contains("scales") && doc["scales"].is_object())
      for (auto it = doc["scales"].begin(); it != doc["scales"].end(); ++it) experiment_from(doc, it.key());
  } catch (const UsageError&) {
  }
}

void set_assignments(const std::uint8_t* data, std::size_t size) {
  static const json base = json::parse(kSetBase);
  json doc = base;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::size_t begin = 0;
    while (begin <= text.size()) {
      const auto end = std::min(text.find('\n', begin), text.size());
      apply_set(doc, text.substr(begin, end - begin));
      begin = end + 1;
    }
    parse_experiment(doc, "paper");
  } catch (const UsageError&) {
  }
}

void stored_run(const std::uint8_t* data, std::size_t size) {
  static const RunStore store(scratch_dir() + "/store");
  static const bool folders = [] {
    for (const std::string& hash : kStoredRunHashes) mkdir((scratch_dir() + "/store/runs/" + hash.substr(0, 2)).c_str(), 0777);
    return true;
  }();
  (void)folders;
  for (const std::string& hash : kStoredRunHashes) write_file(store.path_of(hash), data, size);
  for (const auto& file : store.scan())  // as `adamgn check` lists the files
    if (file.problem.empty() != store.has(file.hash)) throw std::logic_error("scan and has disagree on " + file.path);
  for (const std::string& hash : kStoredRunHashes) {
    try {
      const json run = store.load(hash);
      for (const char* metric : {"final", "final-test", "log-auc", "steps"}) run_score(run, metric);
      // Resume summarizes an arm over its seeds: the stored run beside a valid run of the same
      // configuration (20 steps logged every 2), in both orders.
      RunResult other;
      for (Index step = 0; step <= 20; step += 2) {
        other.steps.push_back(step);
        other.loss.push_back(1.0 / static_cast<double>(step + 1));
      }
      const RunResult stored = run_from_json(run);
      summarize_arm({stored, other});
      summarize_arm({other, stored});
    } catch (const UsageError&) {
    }
  }
}

void cifar(const std::uint8_t* data, std::size_t size) {
  const std::string path = scratch_dir() + "/data_batch_1.bin";
  write_file(path, data, size);
  try {
    const CifarSplit split = read_cifar_files({path});
    if (split.pixels.rows() != static_cast<Index>(split.labels.size()))
      throw std::logic_error("CIFAR split with " + std::to_string(split.pixels.rows()) + " images and " +
                             std::to_string(split.labels.size()) + " labels");
  } catch (const UsageError&) {
  }
}

}  // namespace adamgn::fuzz
