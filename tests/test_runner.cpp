// The runner: paired seeds, thread-count independence, divergence as a result, summaries, and
// the result document.
#include "helpers.hpp"
#include "core/parallel.hpp"
#include "optim/eigensolver.hpp"
#include "io/presets.hpp"
#include "report/results.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <set>
#include <cmath>
#include <functional>

using namespace adamgn;
using namespace adamgn::test;

namespace {

ExperimentSpec spec_of(const json& doc) { return parse_experiment(doc); }

json small_experiment(int threads) {
  return json{{"task", {{"name", "quadratic"}, {"cov", "half"}}},
              {"run", {{"steps", 60}, {"seeds", 5}, {"threads", threads}, {"log_every", 7}}},
              {"defaults", {{"batch", 2}, {"gn_batch", 16}}},
              {"arms",
               {{{"name", "adam"}, {"precond", "adam"}, {"lr", 0.01}},
                {{"name", "gn-eigen"}, {"precond", "gn"}, {"basis", "eigen"}, {"lr", 0.05}, {"alpha", 1e-3}},
                {{"name", "gn-half"}, {"precond", "gn"}, {"power", -0.5}, {"lr", 0.05}},
                {{"name", "exploding"}, {"precond", "sgd"}, {"lr", 100.0}}}}};
}

// Walks a JSON value and fails on any non-finite number.
void check_finite(const json& j) {
  if (j.is_number_float()) CHECK(std::isfinite(j.get<double>()));
  if (j.is_structured())
    for (const auto& e : j) check_finite(e);
}

}  // namespace

TEST_CASE("results do not depend on the thread count") {
  const auto one = run_experiment(spec_of(small_experiment(1)));
  const auto two = run_experiment(spec_of(small_experiment(2)));
  for (std::size_t a = 0; a < one.runs.size(); ++a)
    for (std::size_t s = 0; s < one.runs[a].size(); ++s) {
      CHECK(one.runs[a][s].loss == two.runs[a][s].loss);
      CHECK(one.runs[a][s].steps == two.runs[a][s].steps);
      CHECK(one.runs[a][s].diverged_at == two.runs[a][s].diverged_at);
    }
}

TEST_CASE("a single run gives the same numbers whatever the thread count") {
  // Batches above one piece (1024 samples) so that a lone run's spare thread has work to share.
  for (const char* precond : {"gn", "adam"}) {
    json doc{{"task", {{"name", "teacher"}, {"teacher_width", 64}}},
             {"run", {{"steps", 4}, {"seeds", 1}, {"log_every", 2}}},
             {"arms", {{{"precond", precond}, {"basis", "kronecker"}, {"batch", 2500}, {"gn_batch", 2500}, {"alpha", 1e-3}, {"lr", 0.01}}}}};
    doc["run"]["threads"] = 1;
    const auto one = run_experiment(spec_of(doc));
    doc["run"]["threads"] = 2;
    const auto two = run_experiment(spec_of(doc));
    CHECK(one.runs[0][0].loss == two.runs[0][0].loss);
    // Two runs side by side, each with a team of two (as 4 runs would get 16 threads each on a
    // 64-core node).
    doc["run"]["threads"] = 4;
    doc["run"]["seeds"] = 2;
    const auto nested = run_experiment(spec_of(doc));
    CHECK(nested.runs[0][0].loss == one.runs[0][0].loss);
    CHECK(nested.runs[0][0].test_loss == one.runs[0][0].test_loss);
    doc["run"]["seeds"] = 1;
    CHECK(one.runs[0][0].test_loss == two.runs[0][0].test_loss);
  }
}

TEST_CASE("the same experiment twice in one process gives the same numbers") {
  // The problem is built before any run (test labels through BLAS products): it must not see
  // a different BLAS thread count the first time.
  const json doc{{"task", {{"name", "teacher"}, {"teacher_width", 64}, {"precision", "f64"}}},
                 {"run", {{"steps", 2}, {"seeds", 1}, {"log_every", 1}, {"threads", 1}}},
                 {"arms", {{{"name", "adam"}, {"precond", "adam"}, {"batch", 256}, {"lr", 0.01}}}}};
  set_blas_threads(2);  // as a program that had not set it would start, on 2 or more cores
  const auto first = run_experiment(spec_of(doc));
  const auto second = run_experiment(spec_of(doc));
  CHECK(first.runs[0][0].loss == second.runs[0][0].loss);
  CHECK(first.runs[0][0].test_loss == second.runs[0][0].test_loss);
}

TEST_CASE("small regions stay on the calling thread, large ones use the run's threads") {
  const int saved = inner_threads();
  set_inner_threads(2);
  auto in_team = [](Index n) {  // for each span: was it run inside a parallel region?
    std::vector<int> flags(static_cast<std::size_t>((n + kSpanEntries - 1) / kSpanEntries), -1);
    parallel_spans(n, [&](Index b, Index) { flags[static_cast<std::size_t>(b / kSpanEntries)] = in_parallel_piece() ? 1 : 0; });
    return flags;
  };
  for (int f : in_team(kMinParallelEntries - 1)) CHECK(f == 0);
  for (int f : in_team(kMinParallelEntries)) CHECK(f == 1);
  std::atomic<int> inside{-1};
  parallel_pieces_if(worth_threads(kMinParallelMultiplyAdds / 2), 4, [&](Index) { inside = in_parallel_piece(); });
  CHECK(inside == 0);
  parallel_pieces_if(worth_threads(kMinParallelMultiplyAdds), 4, [&](Index) { inside = in_parallel_piece(); });
  CHECK(inside == 1);
  set_inner_threads(saved);
}

TEST_CASE("a team runs every piece once, on several threads, and nested calls in turn") {
  const int saved = inner_threads();
  for (int threads : {2, 3}) {
    set_inner_threads(threads);
    for (int round = 0; round < 200; ++round) {  // many hand-offs: a lost wake-up would hang here
      const Index n = 2 + round % 17;  // one piece would run on the caller, outside any team
      std::vector<std::atomic<int>> runs(static_cast<std::size_t>(n));
      std::vector<std::thread::id> who(static_cast<std::size_t>(n));
      std::atomic<int> nested_elsewhere{0};
      parallel_pieces(n, [&](Index i) {
        runs[static_cast<std::size_t>(i)].fetch_add(1);
        who[static_cast<std::size_t>(i)] = std::this_thread::get_id();
        parallel_pieces(3, [&](Index) {
          if (std::this_thread::get_id() != who[static_cast<std::size_t>(i)]) nested_elsewhere.fetch_add(1);
        });
      });
      for (const auto& r : runs) CHECK(r.load() == 1);
      CHECK(nested_elsewhere.load() == 0);
      CHECK(!in_parallel_piece());
    }
    // With pieces that take a while, the workers take some of them.
    std::vector<std::thread::id> who(64);
    parallel_pieces(64, [&](Index i) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      who[static_cast<std::size_t>(i)] = std::this_thread::get_id();
    });
    std::set<std::thread::id> distinct(who.begin(), who.end());
    CHECK(distinct.size() >= 2);
  }
  set_inner_threads(saved);
}

TEST_CASE("phase times: one time per step after the warm-up, adding up to the phases' sums") {
  const ExperimentSpec spec = spec_of(small_experiment(1));
  const auto factory = make_task_factory(spec.task);
  for (const auto& arm : spec.arms) {
    PhaseTimes t;
    const RunResult r = run_one(*factory, arm.optimizer, spec.run, spec.run.seed, &t, 3);
    if (!r.diverged) CHECK(static_cast<Index>(t.steps.size()) == spec.run.steps - 3);
    double total = 0.0;
    for (const double s : t.steps) {
      CHECK(s >= 0.0);
      total += s;
    }
    const double phases = t.gradient + t.curvature + t.basis + t.diagonal + t.update;
    CHECK(total == doctest::Approx(phases).epsilon(1e-9));
  }
}

TEST_CASE("every arm at a seed sees the same problem and initial loss; seeds differ") {
  const auto res = run_experiment(spec_of(small_experiment(2)));
  for (std::size_t s = 0; s < 5; ++s) {
    for (std::size_t a = 1; a < res.runs.size(); ++a) {
      CHECK(res.runs[a][s].loss.front() == res.runs[0][s].loss.front());
      CHECK(res.runs[a][s].record == res.runs[0][s].record);
    }
    if (s > 0) CHECK(res.runs[0][s].loss.front() != res.runs[0][0].loss.front());
  }
}

TEST_CASE("divergence is a recorded result with a finite curve") {
  const auto res = run_experiment(spec_of(small_experiment(2)));
  for (const auto& r : res.runs[3]) {
    CHECK(r.diverged);
    CHECK(r.diverged_at >= 0);
    CHECK(r.diverged_at <= 60);
    for (std::size_t k = 0; k < r.steps.size(); ++k) {
      CHECK(r.steps[k] < r.diverged_at);
      CHECK(std::isfinite(r.loss[k]));
    }
  }
  const json doc = result_json(res);
  check_finite(doc);
  const json& arm = doc["arms"][3];
  CHECK(arm["summary"]["n_diverged"] == 5);
  CHECK(arm["summary"]["n_ok"] == 0);
  CHECK(arm["summary"]["final_loss_mean"].is_null());
  CHECK(arm["runs"][0]["status"] == "diverged");
  CHECK(!doc.dump().empty());
}

TEST_CASE("summary: mean and standard error over the runs that did not diverge") {
  std::vector<RunResult> runs(4);
  const double finals[3] = {1.0, 2.0, 6.0};
  for (int i = 0; i < 3; ++i) {
    runs[static_cast<std::size_t>(i)].steps = {0, 10};
    runs[static_cast<std::size_t>(i)].loss = {10.0, finals[i]};
    runs[static_cast<std::size_t>(i)].steps_to_target = i == 2 ? -1 : 10;
  }
  runs[3].diverged = true;
  runs[3].diverged_at = 4;
  runs[3].steps = {0};
  runs[3].loss = {10.0};
  const ArmSummary s = summarize_arm(runs);
  CHECK(s.n_ok == 3);
  CHECK(s.n_diverged == 1);
  CHECK(s.steps == std::vector<Index>{0, 10});
  CHECK(s.loss_mean[1] == doctest::Approx(3.0));
  // sample variance of {1, 2, 6} is 7, se = sqrt(7 / 3)
  CHECK(s.loss_se[1] == doctest::Approx(std::sqrt(7.0 / 3.0)));
  CHECK(s.loss_se[0] == 0.0);
  CHECK(s.n_reached_target == 2);
  CHECK(s.steps_to_target_mean == doctest::Approx(10.0));
}

TEST_CASE("result document: schema, resolved configuration, per-run records") {
  const auto res = run_experiment(spec_of(small_experiment(2)));
  const json doc = result_json(res);
  CHECK(doc["schema"] == "adamgn.result/1");
  CHECK(doc["program"]["version"].is_string());
  CHECK(doc["program"]["git_commit"].is_string());
  CHECK(doc["config"]["task"]["cov"] == "half");
  CHECK(doc["config"]["run"]["log_every"] == 7);
  for (const char* key : {"precond", "power", "basis", "lr", "schedule", "alpha", "beta2", "beta1", "batch",
                          "gn_batch", "basis_every"})
    CHECK(doc["arms"][0]["optimizer"].contains(key));
  const json& run = doc["arms"][0]["runs"][0];
  for (const char* key : {"seed", "status", "diverged_at", "steps", "loss", "wall_seconds", "theta0", "theta_star"})
    CHECK(run.contains(key));
  CHECK(run["steps"] == json({0, 7, 14, 21, 28, 35, 42, 49, 56, 60}));
  CHECK(doc["arms"][0]["summary"]["loss_mean"].size() == run["loss"].size());
  CHECK(doc["task_info"].contains("r_ratio"));
  const json line = run_line_json(res.spec, res.runs[1][2]);
  CHECK(line["schema"] == "adamgn.run/1");
  CHECK(line["arm"] == "gn-eigen");
  CHECK(line["seed"] == 2);
}

TEST_CASE("every built-in preset parses at both scales and runs a few steps") {
  for (const auto& p : embedded_presets()) {
    INFO("preset " << std::string(p.name));
    json doc = load_preset(p.name);
    CHECK(doc.value("name", "") == p.name);
    CHECK(!doc.value("claim", "").empty());
    CHECK(!doc.value("measure", "").empty());
    CHECK(doc.contains("tuning"));
    CHECK(doc["scales"].contains("paper"));
    parse_experiment(doc, "paper");
    doc["run"]["steps"] = 3;
    doc["run"]["seeds"] = 2;
    if (doc["task"].value("name", "") == "cifar") {
      // Tiny files in the official layout; one seed and a sample of the arms (all of them parsed
      // above), as every Kronecker arm decomposes the 3072 x 3072 input factor.
      doc["task"]["data_dir"] = tiny_cifar_dataset();
      doc["task"]["eval_size"] = 4;
      doc["run"]["seeds"] = 1;
      keep_arms(doc, kFig6ArmsRun);
    }
    const auto res = run_experiment(parse_experiment(doc));
    CHECK(res.runs.size() == doc["arms"].size());
  }
}

TEST_CASE("every built-in preset's tuning records are adamgn sweep records, and each arm runs its winner") {
  // One record per arm, written by `adamgn sweep --write-preset` from the sweep document its
  // protocol names; a scale that retunes arms holds their records in scales.NAME.tuning.
  const auto check_record = [](const json& rec, const json& values, const std::string& where) {
    INFO(where);
    for (const char* key : {"protocol", "grid", "arm_grid", "protocol_axes", "refine", "tuning_seeds", "settings_tried",
                            "winner", "score", "scores", "coin_toss"})
      CHECK(rec.contains(key));
    const std::string protocol = rec.value("protocol", "");
    const auto at = protocol.find("sweeps/");
    REQUIRE(at != std::string::npos);
    const std::string doc = protocol.substr(at, protocol.find(".json", at) + 5 - at);
    CHECK(std::ifstream(std::string(ADAMGN_SOURCE_DIR) + "/" + doc).good());
    CHECK(rec["scores"].size() == rec["settings_tried"].get<std::size_t>());
    for (auto it = rec["winner"].begin(); it != rec["winner"].end(); ++it) CHECK(values.value(it.key(), json()) == it.value());
  };
  for (const auto& p : embedded_presets()) {
    const json doc = load_preset(p.name);
    std::vector<std::pair<std::string, json>> records{{"", doc["tuning"]}};  // scale, its records
    const json scales = doc.value("scales", json::object());
    for (const auto& [scale, entry] : scales.items())
      if (entry.contains("tuning")) records.emplace_back(scale, entry["tuning"]);
    for (const auto& [scale, tuning] : records) {
      const json resolved = resolve_scale(doc, scale);  // the values each arm runs at this scale
      std::size_t tuned = 0;
      for (const auto& arm : resolved["arms"]) {
        const std::string name = arm["name"];
        const std::string where = std::string(p.name) + (scale.empty() ? "" : " at scale " + scale) + ": " + name;
        if (scale.empty()) REQUIRE_MESSAGE(tuning.contains(name), where);  // every arm is tuned at the quick scale
        if (!tuning.contains(name)) continue;
        ++tuned;
        json values = resolved.value("defaults", json::object());
        values.update(arm);
        check_record(tuning[name], values, where);
      }
      CHECK(tuned == tuning.size());  // every record belongs to an arm
    }
  }
}

TEST_CASE("a scale can override single arms by name") {
  json doc{{"task", {{"name", "quadratic"}, {"cov", "half"}}},
           {"arms", {{{"name", "a"}, {"precond", "sgd"}, {"lr", 0.1}}, {{"name", "b"}, {"precond", "sgd"}, {"lr", 0.2}}}},
           {"scales", {{"big", {{"arms", {{"b", {{"lr", 0.5}}}}}, {"run", {{"steps", 7}}}}}}}};
  const ExperimentSpec s = parse_experiment(doc, "big");
  CHECK(s.arms[0].optimizer.lr == 0.1);
  CHECK(s.arms[1].optimizer.lr == 0.5);
  CHECK(s.run.steps == 7);
  doc["scales"]["big"]["arms"] = {{"c", {{"lr", 0.5}}}};
  CHECK_THROWS_WITH_AS(parse_experiment(doc, "big"), "scales.big.arms.c: no entry has this name", UsageError);
}

TEST_CASE("arms with their own task keys: each runs its own task, recorded with the arm") {
  const json doc{{"task", {{"name", "logistic"}, {"power_law", 1.0}}},
                 {"run", {{"steps", 5}, {"seeds", 2}}},
                 {"defaults", {{"precond", "gn"}, {"power", -1}, {"basis", "eigen"}, {"batch", "full"},
                               {"gn_batch", "population"}, {"lr", 0.1}}},
                 {"arms",
                  {{{"name", "base"}},
                   {{"name", "d8"}, {"task", {{"dim", 8}}}},
                   {{"name", "d8 again"}, {"task", {{"dim", 8}}}},
                   {{"name", "d32 c0.6"}, {"task", {{"dim", 32}, {"power_law", 0.6}}}}}}};
  const ExperimentSpec spec = parse_experiment(doc);
  CHECK(spec.arm_task(0) == doc["task"]);
  CHECK(spec.arm_task(3) == json{{"name", "logistic"}, {"power_law", 0.6}, {"dim", 32}});
  const auto base = std::shared_ptr<const TaskFactory>(make_task_factory(spec.task));
  const auto factories = make_arm_factories(spec, base);
  CHECK(factories[0] == base);
  CHECK(factories[1] == factories[2]);  // the same task is built once
  CHECK(factories[1]->dim() == 8);
  CHECK(factories[3]->dim() == 32);
  const ExperimentResult res = run_experiment(spec);
  // Each arm's runs start from its own task's initial loss (a different dimension and nu).
  const double l8 = factories[1]->make(0)->evaluate(factories[1]->make(0)->initial_parameters()).loss;
  const double l32 = factories[3]->make(0)->evaluate(factories[3]->make(0)->initial_parameters()).loss;
  CHECK(res.runs[1][0].loss.front() == l8);
  CHECK(res.runs[3][0].loss.front() == l32);
  CHECK(l8 != l32);
  const json out = result_json(res);
  CHECK(!out["arms"][0].contains("task"));
  CHECK(out["arms"][1]["task"]["dim"] == 8);
  CHECK(out["config"]["arms"][3]["task"]["power_law"] == 0.6);
  CHECK(out["config"]["task"]["dim"] == 2048);
  // Wrong keys name the arm; the task itself cannot change.
  json bad = doc;
  bad["arms"][1]["task"] = {{"dimension", 8}};
  CHECK(error_of([&] { run_experiment(parse_experiment(bad)); })== "arm d8: unknown key 'task.dimension'");
  bad["arms"][1]["task"] = {{"name", "quadratic"}};
  CHECK(error_of([&] { parse_experiment(bad); }) == "arms[1].task.name: an arm may change task keys, not the task");
  bad["arms"][1]["task"] = 8;
  CHECK(error_of([&] { parse_experiment(bad); }) == "arms[1].task must be a JSON object of task keys");
}

TEST_CASE("stop_at_target ends a run at the first logged step at or below the target") {
  json doc{{"task", {{"name", "logistic"}, {"dim", 64}}},
           {"run", {{"steps", 500}, {"seeds", 1}, {"log_every", 1}, {"target_loss", 1e-8}}},
           {"arms", {{{"name", "adam"}, {"precond", "adam"}, {"lr", 0.081}, {"beta2", 0.9}, {"basis", "eigen"},
                      {"batch", "full"}, {"gn_batch", "population"}}}}};
  const RunResult full = run_experiment(parse_experiment(doc)).runs[0][0];
  REQUIRE(full.steps_to_target > 0);
  CHECK(full.steps.back() == 500);
  CHECK(!parse_experiment(doc).run.to_json().contains("stop_at_target"));  // unchanged identity when off
  doc["run"]["stop_at_target"] = true;
  const RunResult stopped = run_experiment(parse_experiment(doc)).runs[0][0];
  CHECK(stopped.steps_to_target == full.steps_to_target);
  CHECK(stopped.steps.back() == full.steps_to_target);
  CHECK(stopped.loss.back() <= 1e-8);
  // The same trajectory up to the stop.
  CHECK(std::equal(stopped.loss.begin(), stopped.loss.end(), full.loss.begin()));
  CHECK(parse_experiment(doc).run.to_json()["stop_at_target"] == true);
  doc["run"].erase("target_loss");
  CHECK(error_of([&] { parse_experiment(doc); }) == "run.stop_at_target needs a run.target_loss > 0");
}
