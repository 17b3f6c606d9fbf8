// Sweeps and their results store: stable job order, shards that partition the sweep, resume after
// a signal, selection and summaries against hand-computed numbers.
#include "helpers.hpp"

#include "io/store.hpp"
#include "report/summary.hpp"
#include "runner/sweep.hpp"

#include <dirent.h>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <signal.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace adamgn;

using adamgn::test::temp_dir;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

int sh(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Every file under `dir` (relative path -> content), skipping sweep.json.
std::map<std::string, std::string> files_under(const std::string& dir, const std::string& rel = "") {
  std::map<std::string, std::string> out;
  DIR* d = opendir((dir + rel).c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = rel + "/" + name;
    if (e->d_type == DT_DIR) {
      auto sub = files_under(dir, path);
      out.insert(sub.begin(), sub.end());
    } else {
      std::ifstream in(dir + path);
      std::stringstream ss;
      ss << in.rdbuf();
      out[path] = ss.str();
    }
  }
  closedir(d);
  return out;
}

std::map<std::string, std::string> run_files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (auto& [path, text] : files_under(dir + "/runs")) out[path] = text;
  return out;
}

// A stored run without the fields that differ between two executions of the same run (the
// checksum covers the wall time).
json comparable(const std::string& text) {
  json j = json::parse(text);
  j.erase("wall_seconds");
  j.erase("program");
  j.erase("checksum");
  return j;
}

const char* kExperiment = R"({
  "name": "tiny", "task": {"name": "quadratic", "cov": "block", "dim": 8},
  "run": {"steps": 30, "seeds": 3},
  "arms": [{"name": "adam", "precond": "adam", "lr": 0.01, "batch": 4},
           {"name": "gn", "precond": "gn", "lr": 0.1, "batch": 4, "gn_batch": "population"}]})";

SweepSpec tiny_spec() {
  SweepSpec s;
  s.experiment = json::parse(kExperiment);
  read_sweep_fields(s, json::parse(R"({"grid": {"beta2": [0.9, 0.99], "lr": [0.1, 0.01, 0.001]}, "seeds": 2})"),
                    "test");
  return s;
}

std::string cli(const std::string& args) { return std::string(ADAMGN_BINARY) + " " + args; }

}  // namespace

TEST_CASE("grid expansion: documented order, stable hashes, axes sorted whatever order they are given in") {
  const Sweep sweep(tiny_spec());
  const std::string dir = temp_dir("sweep-order");
  const RunStore store(dir);
  const SweepPlan p = sweep.plan(store);
  // 2 arms x (3 lr x 2 beta2) x 2 seeds; lr is the slower axis, then beta2, seeds innermost.
  REQUIRE(p.jobs.size() == 24);
  CHECK(p.settings.size() == 12);
  CHECK(p.jobs[0].setting == json::parse(R"({"lr": 0.1, "beta2": 0.9})"));
  CHECK(p.jobs[1].seed == 1001);
  CHECK(p.jobs[2].setting == json::parse(R"({"lr": 0.1, "beta2": 0.99})"));
  CHECK(p.jobs[4].setting["lr"] == 0.01);
  CHECK(p.jobs[12].arm == 1);
  for (std::size_t k = 0; k < p.jobs.size(); ++k) CHECK(p.jobs[k].index == static_cast<Index>(k));
  const SweepPlan again = Sweep(tiny_spec()).plan(store);
  for (std::size_t k = 0; k < p.jobs.size(); ++k) CHECK(again.jobs[k].hash == p.jobs[k].hash);
  std::set<std::string> unique;
  for (const auto& j : p.jobs) unique.insert(j.hash);
  CHECK(unique.size() == p.jobs.size());
  CHECK(p.waiting.empty());
  // The hash of a fixed configuration is pinned: changing it would orphan every existing store.
  CHECK(config_hash(json::parse(R"({"a": 1, "b": [0.5, "x"]})")) == config_hash(json::parse(R"({"b": [0.5, "x"], "a": 1})")));
  CHECK(config_hash(json::parse(R"({"a": 1})")) == "9c3e82dd6fcae8b1");
}

TEST_CASE("axis syntax: ranges by a factor and lists") {
  const GridAxis a = parse_axis("lr=1e-4:1e-2:x3");
  REQUIRE(a.values.size() == 5);
  CHECK(a.values[0] == 1e-4);
  CHECK(a.values[1] == 3e-4);
  CHECK(a.values[4] == doctest::Approx(8.1e-3));
  const GridAxis b = parse_axis("schedule=constant,step:10%");
  REQUIRE(b.values.size() == 2);
  CHECK(b.values[1] == "step:10%");
  CHECK(test::error_of([] { parse_axis("lr"); }).find("KEY=") != std::string::npos);
  CHECK(test::error_of([] { parse_axis("lr=1:0.1:x3"); }).find("FROM <= TO") != std::string::npos);
}

TEST_CASE("selection: mean over seeds, a divergence rules a setting out, ties go to the smaller lr") {
  SweepPlan p;
  auto add = [&](Index arm, double lr, std::vector<double> scores, std::vector<double>& all) {
    SweepSetting st;
    st.id = static_cast<Index>(p.settings.size());
    st.stage = "grid";
    st.arm = arm;
    st.optimizer = json{{"lr", lr}};
    for (double s : scores) {
      st.jobs.push_back(static_cast<Index>(all.size()));
      all.push_back(s);
    }
    p.settings.push_back(st);
  };
  std::vector<double> scores;
  add(0, 0.1, {1.0, 3.0}, scores);    // mean 2
  add(0, 0.01, {2.5, 1.5}, scores);   // mean 2: tie, smaller lr
  add(0, 0.3, {0.1, kInf}, scores);   // best seed, but one diverged
  add(1, 0.1, {kInf, kInf}, scores);  // every setting of arm 1 diverged
  const auto sel = select_winners(p, scores, {"grid"}, 2);
  CHECK(sel[0].winner == 1);
  CHECK(sel[0].score == 2.0);
  CHECK(sel[0].settings_tried == 3);
  CHECK(sel[1].winner == -1);
  CHECK(mean_score({}) == kInf);
  CHECK(run_score(json{{"status", "diverged"}, {"loss", {1.0, 0.5}}}, "final") == kInf);
  CHECK(run_score(json{{"status", "ok"}, {"loss", {1.0, 0.5}}, {"test_loss", {2.0, 0.25}}}, "final-test") == 0.25);
  CHECK(run_score(json{{"status", "ok"}, {"loss", {10.0, 0.001}}}, "log-auc") == doctest::Approx(-1.0));
}

TEST_CASE("summaries: mean, standard error, n and diverged count by hand") {
  std::vector<RunRow> rows;
  auto row = [&](const std::string& arm, double loss, bool diverged) {
    RunRow r;
    r.source = "s";
    r.stage = "grid";
    r.arm = arm;
    r.final_loss = loss;
    r.final_test_loss = std::numeric_limits<double>::quiet_NaN();
    r.final_test_accuracy = std::numeric_limits<double>::quiet_NaN();
    r.diverged = diverged;
    r.score = diverged ? kInf : loss;
    rows.push_back(r);
  };
  row("a", 1.0, false);
  row("a", 2.0, false);
  row("a", 4.0, false);
  row("b", 3.0, false);
  row("b", 0.0, true);
  const auto s = group_settings(rows);
  REQUIRE(s.size() == 2);
  CHECK(s[0].n == 3);
  CHECK(s[0].loss_mean == doctest::Approx(7.0 / 3));
  // sample sd of {1, 2, 4} = sqrt(7/3); se = sd / sqrt(3)
  CHECK(s[0].loss_se == doctest::Approx(std::sqrt(7.0 / 3) / std::sqrt(3.0)));
  CHECK(s[0].score == doctest::Approx(7.0 / 3));
  CHECK(s[1].n == 2);
  CHECK(s[1].diverged == 1);
  CHECK(s[1].loss_mean == 3.0);
  CHECK(s[1].loss_se == 0.0);
  CHECK(s[1].score == kInf);
  const std::string md = render_settings(s, TableFormat::markdown);
  CHECK(md.find("| s | grid | b | – | 0 | 2 | 1 | 3 | 0 |") != std::string::npos);
  const std::string csv = render_settings(s, TableFormat::csv);
  CHECK(csv.find("s,grid,b,,0,2,1,3,0,,,,,inf") != std::string::npos);
}

TEST_CASE("refine and rerun stages: expanded only when the stage before is stored, rerun on fresh seeds") {
  SweepSpec spec = tiny_spec();
  read_sweep_fields(spec, json::parse(R"({"refine": {"lr": 2}, "rerun_seeds": 3, "grid": {"beta2": [0.99]}})"), "test");
  const Sweep sweep(spec);
  const std::string dir = temp_dir("sweep-stages");
  const RunStore store(dir);
  SweepPlan p = sweep.plan(store);
  CHECK(p.jobs.size() == 12);
  CHECK(p.waiting == "refine");
  for (const auto& j : p.jobs) store.save(j.hash, sweep.execute(j));
  p = sweep.plan(store);
  CHECK(p.waiting == "rerun");
  // Two new lr values per arm around its best (fewer if one was already in the grid).
  std::map<Index, std::set<double>> refined;
  for (const auto& st : p.settings)
    if (st.stage == "refine") refined[st.arm].insert(st.setting["lr"].get<double>());
  for (const auto& [arm, lrs] : refined) CHECK(lrs.size() >= 1);
  for (const auto& j : p.jobs)
    if (!store.has(j.hash)) store.save(j.hash, sweep.execute(j));
  p = sweep.plan(store);
  REQUIRE(p.selection.size() == 2);
  Index rerun = 0;
  for (const auto& j : p.jobs)
    if (j.stage == "rerun") {
      ++rerun;
      CHECK(j.seed < 3);  // the experiment's own seeds 0, 1, 2, disjoint from the tuning seeds
      CHECK(j.optimizer == p.settings[static_cast<std::size_t>(p.selection[static_cast<std::size_t>(j.arm)].winner)].optimizer);
    }
  CHECK(rerun == 6);
  CHECK_FALSE(p.complete);
  // Tuning seeds that overlap the rerun seeds are refused.
  SweepSpec bad = spec;
  bad.seed = 1;
  CHECK(test::error_of([&] { Sweep s(bad); }).find("fresh seeds") != std::string::npos);
}

TEST_CASE("store: one sweep per folder, stale temporaries of dead processes are removed") {
  const std::string dir = temp_dir("sweep-store");
  const RunStore store(dir);
  store.claim(json{{"a", 1}});
  store.claim(json{{"a", 1}});
  CHECK(test::error_of([&] { store.claim(json{{"a", 2}}); }).find("different sweep") != std::string::npos);
  store.save("0123456789abcdef", json{{"x", 1}});
  CHECK(access(store.path_of("0123456789abcdef").c_str(), F_OK) == 0);
  CHECK_FALSE(store.has("0123456789abcdef"));  // stored, but not a run document: it does not verify
  CHECK(store.hashes() == std::vector<std::string>{"0123456789abcdef"});
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string h = host;
  for (auto& c : h)
    if (c == '.') c = '_';
  // A pid that cannot be alive (above the kernel's pid_max limit of 2^22).
  const std::string stale = dir + "/runs/01/0123456789abcdef.json.tmp." + h + ".9999999";
  std::ofstream(stale) << "{";
  const std::string live = dir + "/runs/01/fedcba9876543210.json.tmp." + h + "." + std::to_string(getpid());
  std::ofstream(live) << "{";
  CHECK(store.remove_stale_temporaries() == 1);
  CHECK(access(stale.c_str(), F_OK) != 0);
  CHECK(access(live.c_str(), F_OK) == 0);
}

TEST_CASE("shards partition the sweep: their union is the whole sweep, without overlap") {
  const std::string preset = temp_dir("sweep-preset") + "/tiny.json";
  std::ofstream(preset) << kExperiment;
  const std::string args = "--preset " + preset + " --grid lr=0.001:0.1:x10 --grid beta2=0.9,0.99 --seeds 2 -q";
  const std::string whole = temp_dir("sweep-whole");
  REQUIRE(sh(cli("sweep " + args + " --out " + whole)) == 0);
  const auto all = run_files(whole);
  CHECK(all.size() == 24);
  for (int n : {1, 2, 5}) {
    std::map<std::string, std::string> joined;
    std::size_t sum = 0;
    for (int i = 0; i < n; ++i) {
      const std::string dir = temp_dir("sweep-shard");
      REQUIRE(sh(cli("sweep " + args + " --out " + dir + " --shard " + std::to_string(i) + "/" + std::to_string(n))) == 0);
      const auto part = run_files(dir);
      sum += part.size();
      joined.insert(part.begin(), part.end());
    }
    CHECK(sum == all.size());  // no run in two shards
    REQUIRE(joined.size() == all.size());
    for (const auto& [path, text] : all) CHECK(comparable(joined.at(path)) == comparable(text));
  }
  // One folder, shards one after the other: check reports incomplete, then complete.
  const std::string dir = temp_dir("sweep-check");
  REQUIRE(sh(cli("sweep " + args + " --out " + dir + " --shard 0/3")) == 0);
  CHECK(sh(cli("check " + dir + " >/dev/null")) == 1);
  REQUIRE(sh(cli("sweep " + args + " --out " + dir + " --shard 1/3")) == 0);
  REQUIRE(sh(cli("sweep " + args + " --out " + dir + " --shard 2/3")) == 0);
  CHECK(sh(cli("check " + dir + " >/dev/null")) == 0);
  CHECK(sh(cli("sweep --preset " + preset + " --grid lr=0.5 --out " + dir + " -q 2>/dev/null")) == 2);
}

TEST_CASE("resume: a sweep killed by a signal midway, rerun, equals an uninterrupted sweep") {
  const std::string preset = temp_dir("sweep-preset") + "/slow.json";
  std::ofstream(preset) << R"({"task": {"name": "quadratic", "cov": "block", "dim": 50}, "run": {"steps": 3000},
    "arms": [{"name": "adam", "precond": "adam", "lr": 0.01, "batch": 8},
             {"name": "gn", "precond": "gn", "lr": 0.1, "batch": 8, "gn_batch": "population"}]})";
  const std::string args = "sweep --preset " + preset + " --grid lr=0.001:0.1:x3 --seeds 5 -q --threads 2";
  const std::string whole = temp_dir("sweep-uninterrupted"), cut = temp_dir("sweep-interrupted");
  REQUIRE(sh(cli(args + " --out " + whole)) == 0);
  const auto expected = run_files(whole);
  REQUIRE(expected.size() == 50);

  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string cmd = cli(args + " --out " + cut);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait for a few runs to be stored, then stop the sweep.
  for (int i = 0; i < 4000 && run_files(cut).size() < 3; ++i) usleep(2000);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  const auto partial = run_files(cut);
  CHECK(partial.size() >= 3);
  CHECK(partial.size() < expected.size());
  for (const auto& [path, text] : files_under(cut)) CHECK(path.find(".tmp.") == std::string::npos);
  for (const auto& [path, text] : partial) CHECK(comparable(text) == comparable(expected.at(path)));

  REQUIRE(sh(cli(args + " --out " + cut)) == 0);
  const auto resumed = run_files(cut);
  REQUIRE(resumed.size() == expected.size());
  for (const auto& [path, text] : expected) CHECK(comparable(resumed.at(path)) == comparable(text));
  for (const auto& [path, text] : files_under(cut)) CHECK(path.find(".tmp.") == std::string::npos);
}

TEST_CASE("a finished sweep writes its selection, a result document and the tuned preset") {
  const std::string preset = temp_dir("sweep-preset") + "/tiny.json";
  std::ofstream(preset) << kExperiment;
  const std::string dir = temp_dir("sweep-finish"), tuned = temp_dir("sweep-tuned") + "/tuned.json";
  REQUIRE(sh(cli("sweep --preset " + preset + " --grid lr=0.001:0.1:x10 --seeds 2 --rerun-seeds 2 -q --out " + dir +
                 " --write-preset " + tuned)) == 0);
  std::ifstream s(dir + "/selection.json"), t(tuned), r(dir + "/result.json");
  json selection, preset_doc, result;
  s >> selection;
  t >> preset_doc;
  r >> result;
  REQUIRE(selection["arms"].size() == 2);
  for (std::size_t a = 0; a < 2; ++a) {
    const json& winner = selection["arms"][a]["winner"];
    REQUIRE(winner.is_object());
    CHECK(preset_doc["arms"][a]["lr"] == winner["lr"]);
    CHECK(preset_doc["tuning"][selection["arms"][a]["name"].get<std::string>()]["winner"] == winner);
    // The result holds the rerun: the winner on the experiment's seeds 0 and 1.
    CHECK(result["arms"][a]["optimizer"]["lr"] == winner["lr"]);
    CHECK(result["arms"][a]["runs"].size() == 2);
    CHECK(result["arms"][a]["runs"][1]["seed"] == 1);
  }
  // The tuned preset runs as it is.
  CHECK(sh(cli("run --preset " + tuned + " --steps 5 -q -o " + dir + "/check.json")) == 0);
}

TEST_CASE("a sweep at a named scale writes its winners and records into that scale, not the quick values") {
  // A sweep document that names its scale, as sweeps/fig3-paper-identity.json does.
  const std::string dir = temp_dir("sweep-scale"), tuned = dir + "/tuned.json", sweep_doc = dir + "/sweep-doc.json";
  json preset = json::parse(kExperiment);
  preset["scales"] = json::parse(R"({"paper": {"run": {"steps": 40}, "arms": {"gn": {"gn_batch": 8}}}})");
  preset["tuning"] = json::parse(R"({"adam": {"winner": {"lr": 0.01}}})");
  std::ofstream(dir + "/tiny.json") << preset.dump();
  std::ofstream(sweep_doc) << json{{"schema", "adamgn.sweep/1"}, {"preset", dir + "/tiny.json"}, {"scale", "paper"},
                                   {"arms", {"gn"}}, {"grid", {{"lr", {0.03, 0.3}}}}, {"seeds", 2}}
                                  .dump();
  REQUIRE(sh(cli("sweep --preset " + sweep_doc + " -q --out " + dir + "/store --write-preset " + tuned)) == 0);
  json doc, sel;
  std::ifstream(tuned) >> doc;
  std::ifstream(dir + "/store/selection.json") >> sel;
  const json winner = sel["arms"][0]["winner"];
  REQUIRE(winner.is_object());
  // The quick scale is as written; the paper scale's override of gn gains the winner beside its own key.
  CHECK(doc["arms"] == preset["arms"]);
  CHECK(doc["tuning"] == preset["tuning"]);
  CHECK(doc["scales"]["paper"]["arms"]["gn"]["lr"] == winner["lr"]);
  CHECK(doc["scales"]["paper"]["arms"]["gn"]["gn_batch"] == 8);
  CHECK(doc["scales"]["paper"]["run"] == preset["scales"]["paper"]["run"]);
  CHECK(doc["scales"]["paper"]["tuning"]["gn"]["winner"] == winner);
  CHECK(doc["scales"]["paper"]["tuning"]["gn"]["scores"].size() == 2);
  // Run at that scale, the tuned preset uses the winner.
  REQUIRE(sh(cli("run --preset " + tuned + " --scale paper --steps 2 -q -o " + dir + "/check.json")) == 0);
  json check;
  std::ifstream(dir + "/check.json") >> check;
  CHECK(check["arms"][1]["optimizer"]["lr"] == winner["lr"]);
}

TEST_CASE("selection: each setting's score with its standard error, and a winner within 2 se of another is a coin toss") {
  // sgd ignores alpha, so the two alpha settings score alike on every seed: a coin toss by any
  // margin. The lr settings of the second sweep are far apart.
  const std::string preset = temp_dir("coin-preset") + "/coin.json";
  std::ofstream(preset) << R"({"task": {"name": "quadratic", "cov": "block", "dim": 8}, "run": {"steps": 30},
                               "arms": [{"name": "gd", "precond": "sgd", "lr": 0.05, "batch": 4}]})";
  const auto selection_of = [&](const std::string& grid, const std::string& tag) {
    const std::string dir = temp_dir(tag), tuned = temp_dir(tag + "-tuned") + "/tuned.json";
    REQUIRE(sh(cli("sweep --preset " + preset + " --grid " + grid + " --seeds 4 -q --out " + dir + " --write-preset " + tuned)) == 0);
    json sel, doc;
    std::ifstream(dir + "/selection.json") >> sel;
    std::ifstream(tuned) >> doc;
    const json& arm = sel["arms"][0];
    // The record in the tuned preset carries the same scores and flag.
    CHECK(doc["tuning"]["gd"]["coin_toss"] == arm["coin_toss"]);
    CHECK(doc["tuning"]["gd"]["scores"].size() == arm["settings"].size());
    // The rule, recomputed from the listed scores and standard errors.
    json winner_row;
    for (const auto& st : arm["settings"])
      if (st["setting"] == arm["winner"]) winner_row = st;
    json expect = json::array();
    for (const auto& st : arm["settings"]) {
      CHECK(st["se"].get<double>() >= 0.0);
      if (st["setting"] == arm["winner"]) continue;
      const double gap = st["score"].get<double>() - winner_row["score"].get<double>();
      const double se = std::hypot(st["se"].get<double>(), winner_row["se"].get<double>());
      if (gap <= 2.0 * se) expect.push_back(st["setting"]);
    }
    CHECK(arm["within_2se"] == expect);
    CHECK(arm["coin_toss"] == !expect.empty());
    return arm;
  };
  const json tie = selection_of("alpha=0.001,0.01", "coin-tie");
  CHECK(tie["coin_toss"] == true);
  CHECK(tie["settings"][0]["score"] == tie["settings"][1]["score"]);
  CHECK(tie["settings"][0]["se"].get<double>() > 0.0);  // the seeds differ, the settings do not
  const json apart = selection_of("lr=0.0001,0.2", "coin-apart");
  CHECK(apart["coin_toss"] == false);
  CHECK(apart["winner"]["lr"] == 0.2);
  // One tuning seed: no standard error, so even the exact tie is not called either way.
  const std::string dir = temp_dir("coin-one"), tuned = temp_dir("coin-one-tuned") + "/tuned.json";
  REQUIRE(sh(cli("sweep --preset " + preset + " --grid alpha=0.001,0.01 --seeds 1 -q --out " + dir + " --write-preset " + tuned)) == 0);
  json one, doc;
  std::ifstream(dir + "/selection.json") >> one;
  std::ifstream(tuned) >> doc;
  CHECK(one["arms"][0]["coin_toss"].is_null());
  CHECK(one["arms"][0]["within_2se"].is_null());
  CHECK(one["arms"][0]["settings"][0]["se"].is_null());
  CHECK(doc["tuning"]["gd"]["coin_toss"].is_null());
}

TEST_CASE("a sweep over arms with their own task keys: each arm's runs are keyed by and run on its task") {
  SweepSpec s;
  s.experiment = json::parse(R"({
    "name": "dims", "task": {"name": "quadratic", "cov": "block", "dim": 8},
    "run": {"steps": 10, "seeds": 1},
    "arms": [{"name": "d8", "precond": "sgd", "lr": 0.01, "batch": 4},
             {"name": "d12", "precond": "sgd", "lr": 0.01, "batch": 4, "task": {"dim": 12}}]})");
  read_sweep_fields(s, json::parse(R"({"grid": {"lr": [0.01, 0.02]}, "seeds": 1})"), "test");
  const Sweep sweep(s);
  CHECK(sweep.arm_factory(0).dim() == 8);
  CHECK(sweep.arm_factory(1).dim() == 12);
  const SweepPlan p = sweep.grid();
  REQUIRE(p.jobs.size() == 4);
  // The same optimizer setting on the two tasks is two different runs.
  CHECK(p.jobs[0].optimizer == p.jobs[2].optimizer);
  CHECK(p.jobs[0].hash != p.jobs[2].hash);
  const json run = sweep.execute(p.jobs[2]);
  CHECK(run["config"]["task"]["dim"] == 12);
  CHECK(run["record"]["theta_star"].size() == 12);
  CHECK(config_hash(run["config"]) == p.jobs[2].hash);
}
