// The adamgn binary end to end: every error path a user can hit gives one line naming the
// problem, exit code 2 and no output file; a diverged run is a result with exit code 0.
#include "paths.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string scratch_dir() {
  // Removed with its contents when the test program exits.
  struct Scratch {
    std::string path;
    Scratch() {
      char tmpl[] = "/tmp/adamgn-cli-XXXXXX";
      path = mkdtemp(tmpl);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Scratch scratch;
  return scratch.path;
}

Result run_binary(const std::string& args) {
  const std::string out = scratch_dir() + "/stdout", err = scratch_dir() + "/stderr";
  const std::string cmd = std::string(ADAMGN_BINARY) + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void check_usage_error(const std::string& args, const std::string& must_mention) {
  const std::string file = scratch_dir() + "/out.json";
  std::remove(file.c_str());
  INFO("adamgn " << args);
  const Result r = run_binary(args + " -o " + file);
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.rfind("adamgn: error: ", 0) == 0);
  CHECK(r.err.find(must_mention) != std::string::npos);
  CHECK(r.out.empty());
  CHECK_FALSE(exists(file));
}

}  // namespace

TEST_CASE("user errors: one line, exit code 2, no file") {
  check_usage_error("quadratic --lerning-rate 0.1", "--lerning-rate");
  check_usage_error("quadratic --lr -1", "lr = -1");
  check_usage_error("quadratic --beta2 1.2", "beta2 = 1.2");
  check_usage_error("quadratic --power 0.5", "power = 0.5");
  check_usage_error("quadratic --batch 0", "batch = 0");
  check_usage_error("quadratic --gn-batch lots", "gn_batch = lots");
  check_usage_error("quadratic --schedule linear", "schedule = linear");
  check_usage_error("quadratic --precond lion", "precond = lion");
  check_usage_error("quadratic --cov spectrum", "task.spectrum");
  check_usage_error("quadratic --cov block --dim 7", "task.dim = 7");
  check_usage_error("quadratic --steps 0", "run.steps = 0");
  check_usage_error("quadratic --cov spectrum --spectrum 1,x,3", "task.spectrum");
  check_usage_error("quadratic --dim 5000 --basis eigen", "limit is 4096");
  check_usage_error("logistic --p-label 0.2", "task.p_label = 0.2");
  check_usage_error("parity --steps 2", "batch = full is not available for task parity");
  check_usage_error("parity --batch 8 --precond gn --gn-batch population", "gn_batch = population");
  check_usage_error("parity --batch 8 --basis eigen", "limit is 4096");
  check_usage_error("staircase --k 4 --batch 8", "task.k = 4 must divide dim = 21");
  check_usage_error("teacher --precision f16 --batch 8", "task.precision = f16");
  check_usage_error("parity --batch 8 --basis interp:2", "basis = interp:2");
  check_usage_error("quadratic --basis kronecker", "needs the GN matrix's Kronecker factors");
  check_usage_error("cifar --data-dir /nonexistent-cifar --batch 8", "/nonexistent-cifar/data_batch_1.bin is missing");
  check_usage_error("run --preset fig99", "fig99");
  check_usage_error("run --preset fig1-left --set task.lerning_rate=1", "task.lerning_rate");
  check_usage_error("run --preset fig1-left --set arms.nobody.lr=1", "no arm named nobody");
  check_usage_error("run --preset fig1-left --set beta2=2", "beta2 = 2");
  check_usage_error("run --preset fig1-left --scale huge", "scale = huge");
  check_usage_error("run --preset " + scratch_dir() + "/missing.json", "missing.json");
  {
    std::ofstream bad(scratch_dir() + "/bad.json");
    bad << "{\"task\": {\"name\": \"quadratic\"}, \"arms\": [";
  }
  check_usage_error("run --preset " + scratch_dir() + "/bad.json", "invalid JSON");
  const Result r = run_binary("quadratic --steps 5 -o /nonexistent-folder/out.json");
  CHECK(r.code == 2);
  CHECK(r.err.find("/nonexistent-folder") != std::string::npos);
  CHECK(lines(r.err) == 1);
  CHECK(run_binary("frobnicate").code == 2);
}

TEST_CASE("a diverged run is a result: exit code 0, status diverged, finite JSON") {
  const std::string file = scratch_dir() + "/div.json";
  const Result r = run_binary("quadratic --precond sgd --lr 10 --steps 100 --seeds 2 -q -o " + file);
  CHECK(r.code == 0);
  const std::string text = slurp(file);
  CHECK(text.find("NaN") == std::string::npos);
  CHECK(text.find("Infinity") == std::string::npos);
  const auto doc = nlohmann::json::parse(text);
  CHECK(doc["arms"][0]["runs"][0]["status"] == "diverged");
  CHECK(doc["arms"][0]["runs"][0]["diverged_at"].is_number_integer());
  CHECK(doc["arms"][0]["summary"]["n_diverged"] == 2);
}

TEST_CASE("output modes: file, stdout, --jsonl lines, presets list, version") {
  const std::string file = scratch_dir() + "/fig.json";
  Result r = run_binary("run --preset fig1-left --set run.steps=20 --seeds 2 -o " + file);
  CHECK(r.code == 0);
  CHECK(r.out.empty());
  CHECK(r.err.find("final loss") != std::string::npos);  // the human summary
  const auto doc = nlohmann::json::parse(slurp(file));
  CHECK(doc["schema"] == "adamgn.result/1");
  CHECK(doc["preset"] == "fig1-left");
  CHECK(doc["config"]["run"]["steps"] == 20);
  CHECK(doc["config"]["run"]["seeds"] == 2);

  r = run_binary("logistic --dim 64 --steps 10 --seeds 3 --jsonl -q");
  CHECK(r.code == 0);
  CHECK(lines(r.out) == 3);
  std::stringstream ss(r.out);
  std::string line;
  while (std::getline(ss, line)) CHECK(nlohmann::json::parse(line)["schema"] == "adamgn.run/1");

  r = run_binary("quadratic --cov half --steps 10 -q");
  CHECK(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["config"]["task"]["cov"] == "half");

  r = run_binary("teacher --width 8 --batch 16 --gn-batch 64 --basis kronecker --precond gn --alpha 1e-3 --lr 0.01 "
             "--steps 5 --log-every 5 --seeds 2 -q");
  CHECK(r.code == 0);
  {
    const auto doc = nlohmann::json::parse(r.out);
    const auto& run = doc["arms"][0]["runs"][0];
    CHECK(run["test_loss"].size() == run["steps"].size());
    CHECK_FALSE(run.contains("test_accuracy"));  // teacher is a regression
    CHECK(doc["arms"][0]["summary"].contains("final_test_loss_mean"));
  }
  r = run_binary("parity --width 16 --batch 16 --steps 4 --log-every 2 --seeds 1 -q");
  CHECK(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["arms"][0]["runs"][0]["test_accuracy"].size() == 3);

  // A scale is merged before the command line: --arms may drop arms the scale patches, and
  // --set and --steps override the scale's values (fig4 paper: width 512, 3000 steps).
  r = run_binary("run --preset fig4 --scale paper --arms 'adam id small' --set task.width=8 --set gn_batch=16 "
             "--steps 3 --seeds 1 -q");
  CHECK(r.code == 0);
  {
    const auto doc = nlohmann::json::parse(r.out);
    CHECK(doc["arms"].size() == 1);
    CHECK(doc["config"]["task"]["width"] == 8);
    CHECK(doc["config"]["run"]["steps"] == 3);
    CHECK(doc["config"]["run"]["log_every"] == 100);  // from the paper scale
  }
  // arms.NAME.KEY with a dot in the arm's name (fig10: "adam g0.25 small").
  r = run_binary("run --preset fig10-parity --arms 'adam g0.25 small,adam g0.5 small' --set task.width=8 --set gn_batch=16 "
             "--set 'arms.adam g0.25 small.lr=0.125' --steps 2 --seeds 1 -q");
  CHECK(r.code == 0);
  {
    const auto doc = nlohmann::json::parse(r.out);
    REQUIRE(doc["arms"].size() == 2);
    CHECK(doc["arms"][0]["optimizer"]["lr"] == 0.125);
    CHECK(doc["arms"][1]["optimizer"]["lr"] != 0.125);
  }

  // bench: one table row per timed arm, at the scale asked for, with the same overrides as run.
  r = run_binary("bench --preset fig4 --scale paper --arms 'adam id small,gn^-1 kron large' --set task.width=8 "
             "--set gn_batch=16 --steps 2");
  CHECK(r.code == 0);
  CHECK(lines(r.out) == 4);  // header, rule, two arms
  CHECK(r.out.find("| fig4 | gn^-1 kron large | 2 |") != std::string::npos);
  r = run_binary("bench --preset fig4 --scale huge");
  CHECK(r.code == 2);
  CHECK(r.err == "adamgn: error: scale = huge is not defined by this preset\n");
  // The warm-up steps are left out of the times, so a run needs more steps than that.
  r = run_binary("bench --preset fig4 --arms 'adam id small' --set task.width=8 --steps 1 --warmup 0");
  CHECK(r.code == 0);
  CHECK(r.out.find("| fig4 | adam id small | 1 |") != std::string::npos);
  r = run_binary("bench --preset fig4 --arms 'adam id small' --set task.width=8 --steps 2 --warmup 2");
  CHECK(r.code == 2);
  CHECK(r.err == "adamgn: error: bench: fig4 has 2 steps, no more than --warmup 2; give more --steps\n");

  r = run_binary("presets");
  CHECK(r.code == 0);
  CHECK(r.out.find("fig1-left\t") != std::string::npos);

  r = run_binary("--version");
  CHECK(r.code == 0);
  CHECK(!r.out.empty());
}
