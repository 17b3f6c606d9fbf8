// Claim verdicts against hand-computed numbers, and `adamgn reproduce` end to end on two presets.
#include "helpers.hpp"

#include "report/reproduce.hpp"
#include "runner/claims.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace adamgn;

namespace {

// An arm whose runs end at the given final losses (NaN: the run diverged).
json arm(const std::string& name, const std::vector<double>& finals, const std::vector<int>& steps_to_target = {}) {
  json runs = json::array();
  for (std::size_t i = 0; i < finals.size(); ++i) {
    const bool diverged = std::isnan(finals[i]);
    json r{{"seed", i}, {"status", diverged ? "diverged" : "ok"}, {"steps", {0, 10}}};
    r["loss"] = diverged ? json::array({1.0}) : json::array({1.0, finals[i]});
    r["test_loss"] = r["loss"];
    r["steps_to_target"] = i < steps_to_target.size() && steps_to_target[i] >= 0 ? json(steps_to_target[i]) : json(nullptr);
    runs.push_back(r);
  }
  return json{{"name", name}, {"runs", runs}};
}

json doc_with(const json& arms, const json& claims) {
  return json{{"schema", "adamgn.result/1"}, {"arms", arms}, {"claims", claims}};
}

json claim(const std::string& kind, const json& a, const json& b, double factor = 1.0, const std::string& metric = "final") {
  return json{{"claim", kind}, {"kind", kind}, {"a", a}, {"b", b}, {"factor", factor}, {"metric", metric}};
}

std::string verdict(const json& arms, const json& c) {
  const auto v = evaluate_claims(doc_with(arms, json::array({c})));
  REQUIRE(v.size() == 1);
  return v[0].verdict;
}

const double kNaN = std::nan("");

// Runs the adamgn command line `args` (must exit 0) and returns the text of `report`.
std::string report_after(const std::string& args, const std::string& report) {
  const int status = std::system((std::string(ADAMGN_BINARY) + " " + args).c_str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::ifstream in(report);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Report rows whose first cell starts with `prefix`.
int rows_of(const std::string& md, const std::string& prefix) {
  int rows = 0;
  for (std::size_t at = 0; (at = md.find("\n| " + prefix, at)) != std::string::npos; ++at) ++rows;
  return rows;
}

}  // namespace

TEST_CASE("less: a below b by more than two combined standard errors") {
  // a: mean 1, se 0 ; b: {2, 4} mean 3, se 1  -> difference 2 = 2s: not significant (strict)
  const json arms = json::array({arm("a", {1, 1}), arm("b", {2, 4}), arm("c", {3.1, 3.1}), arm("d", {0.5, 0.5})});
  CHECK(verdict(arms, claim("less", "a", "b")) == "not significant");
  CHECK(verdict(arms, claim("less", "a", "c")) == "holds");
  CHECK(verdict(arms, claim("less", "a", json::array({"c", "d"}))) == "does not hold");  // the worst b decides
  CHECK(verdict(arms, claim("less", "d", json::array({"a", "c"}))) == "holds");
}

TEST_CASE("close and not_worse: ratios of means, with the significance margin") {
  const json arms = json::array({arm("a", {1, 1}), arm("b", {1.9, 1.9}), arm("c", {2.1, 2.1}), arm("noisy", {0.5, 5.5}),
                                 arm("dead", {kNaN, kNaN}), arm("half", {kNaN, 1.0})});
  CHECK(verdict(arms, claim("close", "a", "b", 2)) == "holds");
  CHECK(verdict(arms, claim("close", "a", "c", 2)) == "does not hold");
  // noisy: mean 3, se 2.5; ratio 3 > 2 but |3 - 1| <= 2 * 2.5
  CHECK(verdict(arms, claim("close", "a", "noisy", 2)) == "not significant");
  CHECK(verdict(arms, claim("close", "a", "dead", 2)) == "does not hold");
  // not_worse against the best of the b arms: c (2.1) <= 1.25 * 1.9 = 2.375
  CHECK(verdict(arms, claim("not_worse", "c", json::array({"b", "noisy"}), 1.25)) == "holds");
  CHECK(verdict(arms, claim("not_worse", "c", "a", 1.25)) == "does not hold");
  CHECK(verdict(arms, claim("not_worse", "dead", "a", 2)) == "does not hold");
  // A diverged run is left out of the statistics and counted in the measured text.
  const auto v = evaluate_claims(doc_with(arms, json::array({claim("close", "half", "a", 1)})));
  CHECK(v[0].verdict == "holds");
  CHECK(v[0].measured.find("[1/2 diverged]") != std::string::npos);
  // log-final: 1e-9 vs 1e-30 are 21 decades apart.
  const json tiny = json::array({arm("x", {1e-9, 1e-9}), arm("y", {1e-40, 1e-40}), arm("z", {3e-9, 3e-9})});
  CHECK(verdict(tiny, claim("close", "x", "y", 10, "log-final")) == "does not hold");
  CHECK(verdict(tiny, claim("close", "x", "z", 10, "log-final")) == "holds");
  CHECK(verdict(tiny, claim("not_worse", "z", "x", 2, "log-final")) == "does not hold");  // log10 3 > log10 2
  CHECK(verdict(tiny, claim("not_worse", "z", "x", 4, "log-final")) == "holds");
}

TEST_CASE("faster: every seed must reach the target") {
  const json arms = json::array({arm("a", {0, 0}, {10, 20}), arm("b", {0, 0}, {30, 30}), arm("c", {0, 0}, {5, -1}),
                                 arm("d", {0, 0}, {-1, -1})});
  CHECK(verdict(arms, claim("faster", "a", "b", 1, "steps")) == "holds");
  CHECK(verdict(arms, claim("faster", "b", "a", 1, "steps")) == "does not hold");
  CHECK(verdict(arms, claim("faster", "b", "a", 2, "steps")) == "holds");  // 30 <= 2 * 15
  CHECK(verdict(arms, claim("faster", "a", "c", 1, "steps")) == "holds");  // c does not reach on every seed
  CHECK(verdict(arms, claim("faster", "c", "a", 1, "steps")) == "does not hold");
  CHECK(verdict(arms, claim("faster", "c", "d", 1, "steps")) == "not significant");
}

TEST_CASE("band: every arm of a within [L, H], with the 2 se margin; measure and excess metrics") {
  // Runs whose measure series end at the given values (the last recorded value counts, nulls skipped).
  auto measured = [](const std::string& name, const std::vector<double>& finals) {
    json a = arm(name, std::vector<double>(finals.size(), 0.5));
    for (std::size_t i = 0; i < finals.size(); ++i)
      a["runs"][i]["measures"] = {{"steps", {0, 10, 20}}, {"ratio", {nullptr, 7.0, finals[i]}}};
    return a;
  };
  auto band = [](const json& a, double lo, double hi, const std::string& metric) {
    return json{{"claim", "band"}, {"kind", "band"}, {"a", a}, {"range", {lo, hi}}, {"metric", metric}};
  };
  // in: mean 2, se 0; edge: {2.1, 2.5} mean 2.3, se 0.2 (0.1 above 2.2 <= 2 se); out: 3 +- 0.
  const json arms = json::array({measured("in", {2, 2}), measured("edge", {2.1, 2.5}), measured("out", {3, 3})});
  CHECK(verdict(arms, band("in", 1.8, 2.2, "measure:ratio")) == "holds");
  CHECK(verdict(arms, band("edge", 1.8, 2.2, "measure:ratio")) == "not significant");
  CHECK(verdict(arms, band("out", 1.8, 2.2, "measure:ratio")) == "does not hold");
  CHECK(verdict(arms, band(json::array({"in", "out"}), 1.8, 2.2, "measure:ratio")) == "does not hold");
  const auto v = evaluate_claims(doc_with(arms, json::array({band("in", 1.8, 2.2, "measure:ratio")})));
  CHECK(v[0].rule == "band [1.8, 2.2], final ratio");
  CHECK(v[0].measured == "in 2 ± 0");
  CHECK(verdict(arms, band("in", 1.8, 2.2, "measure:absent")) == "does not hold");  // nothing recorded
  // final-excess subtracts task_info.loss_floor: 0.5 - 0.45 = 0.05 against 0.1 - 0.45 floored.
  json doc = doc_with(json::array({arm("a", {0.5, 0.5}), arm("b", {0.55, 0.55})}),
                      json::array({claim("close", "a", "b", 1.5, "final-excess")}));
  CHECK(evaluate_claims(doc)[0].verdict == "holds");  // no floor: 0.5 vs 0.55
  doc["task_info"] = {{"loss_floor", 0.45}};
  CHECK(evaluate_claims(doc)[0].verdict == "does not hold");  // 0.05 vs 0.1: ratio 2
  CHECK(evaluate_claims(doc)[0].measured.find("a 0.05 ± 0 vs b 0.1 ± 0") == 0);
  // Form: band needs a range and takes no b; measure metrics need a series name.
  const std::vector<std::string> names = {"a", "b"};
  json no_range = band("a", 1, 2, "final");
  no_range.erase("range");
  CHECK(test::error_of([&] { validate_claims(json::array({no_range}), names, "claims"); }) ==
        "claims[0].range must be [LOW, HIGH] with LOW < HIGH for kind = band");
  CHECK(test::error_of([&] { validate_claims(json::array({band("a", 2, 1, "final")}), names, "claims"); })
            .find("LOW < HIGH") != std::string::npos);
  json with_b = band("a", 1, 2, "final");
  with_b["b"] = "b";
  CHECK(test::error_of([&] { validate_claims(json::array({with_b}), names, "claims"); }).find("b does not apply") !=
        std::string::npos);
  CHECK(test::error_of([&] { validate_claims(json::array({band("a", 1, 2, "measure:")}), names, "claims"); })
            .find("metric") != std::string::npos);
}

TEST_CASE("exponent: the log-log slope over the arms' task key, with its standard error") {
  // Steps to target 3 d^0.5 at d = 100, 400, 1600 (the task key in each arm's own task).
  auto scaled = [](const std::string& name, double d, double steps) {
    json a = arm(name, {0.1, 0.1}, {static_cast<int>(steps), static_cast<int>(steps)});
    a["task"] = {{"name", "logistic"}, {"dim", d}};
    return a;
  };
  json doc = doc_with(json::array({scaled("d100", 100, 30), scaled("d400", 400, 60), scaled("d1600", 1600, 120),
                                   scaled("bent", 1600, 480)}),
                      json::array());
  doc["config"] = {{"task", {{"name", "logistic"}, {"dim", 2048}}}};
  auto exponent = [&](const json& a, double lo, double hi) {
    doc["claims"] = json::array({json{{"claim", "e"}, {"kind", "exponent"}, {"a", a}, {"x", "task.dim"}, {"metric", "steps"},
                                      {"range", {lo, hi}}}});
    return evaluate_claims(doc)[0];
  };
  const auto exact = exponent(json::array({"d100", "d400", "d1600"}), 0.25, 1);
  CHECK(exact.verdict == "holds");
  CHECK(exact.measured == "exponent 0.5 ± 0 (dim 100: 30, 400: 60, 1600: 120)");
  CHECK(exponent(json::array({"d100", "d400", "d1600"}), 0.6, 1).verdict == "does not hold");
  // Through (100, 30), (400, 60), (1600, 480), by hand in natural logs: x = ln 100 + {0, 2, 4} ln 2,
  // y = ln 30 + {0, 1, 4} ln 2; Sxx = 8 ln^2 2, Sxy = 8 ln^2 2, slope 1, residuals {1, -2, 1} ln 2 / 3,
  // RSS = 2/3 ln^2 2, se = sqrt(RSS / (n - 2) / Sxx) = sqrt(1/12).
  const auto bent = exponent(json::array({"d100", "d400", "bent"}), 0.25, 0.5);
  const double l2 = std::log(2.0), sxx = 8 * l2 * l2;
  const double rss = l2 * l2 * 2.0 / 3.0;
  CHECK(bent.measured.find("exponent 1 ± " + [&] {
    char b[32];
    std::snprintf(b, sizeof b, "%.3g", std::sqrt(rss / sxx));
    return std::string(b);
  }()) == 0);
  CHECK(bent.verdict == "not significant");  // 1 - 0.5 < 2 x 0.289
  // An arm that does not reach the target on every seed has no value: does not hold.
  json a = arm("slow", {0.1, 0.1}, {50, -1});
  a["task"] = {{"name", "logistic"}, {"dim", 800}};
  doc["arms"].push_back(a);
  const auto missing = exponent(json::array({"d100", "d400", "d1600", "slow"}), 0.25, 1);
  CHECK(missing.verdict == "does not hold");
  CHECK(missing.measured.find("no value for slow") != std::string::npos);
  // Form: x names a task key, at least 3 arms.
  const std::vector<std::string> names = {"d100", "d400", "d1600"};
  json c{{"claim", "e"}, {"kind", "exponent"}, {"a", json::array({"d100", "d400"})}, {"x", "task.dim"}, {"range", {0, 1}}};
  CHECK(test::error_of([&] { validate_claims(json::array({c}), names, "claims"); }).find("at least 3 arms") != std::string::npos);
  c["a"] = names;
  c["x"] = "dim";
  CHECK(test::error_of([&] { validate_claims(json::array({c}), names, "claims"); }).find("task.KEY") != std::string::npos);
}

TEST_CASE("sec3-noise-floor from the command line: excess columns, the excess row and band verdicts") {
  const std::string dir = test::temp_dir("floor");
  const auto run = test::run_adamgn("run --preset sec3-noise-floor --seeds 3 -q -o " + dir + "/r.json");
  REQUIRE(run.code == 0);
  const auto sum = test::run_adamgn("summarize " + dir + "/r.json --format csv");
  REQUIRE(sum.code == 0);
  CHECK(sum.out.find("final_excess_loss_mean,final_excess_loss_se") != std::string::npos);
  const auto rep = test::run_adamgn("report " + dir + "/r.json");
  REQUIRE(rep.code == 0);
  CHECK(rows_of(rep.out, "sec3-noise-floor") == 5);
  CHECK(rep.out.find("band [1.8, 2.2], final adam_gn_ratio_p50") != std::string::npos);
  CHECK(rep.out.find("final excess loss (loss - floor)") != std::string::npos);
  // The theory's predictions beside the measurements.
  CHECK(rep.out.find("Theory (`adamgn theory`") != std::string::npos);
  CHECK(rep.out.find("label noise: loss floor 0.045, v/(ℓ s) = 2 there") != std::string::npos);
}

TEST_CASE("report: the theory line of each distinct arm task") {
  const std::string dir = test::temp_dir("theory-lines");
  std::ofstream(dir + "/e.json") << R"({"name": "dims", "task": {"name": "logistic", "power_law": 1.0},
    "run": {"steps": 2, "seeds": 1},
    "defaults": {"precond": "adam", "lr": 0.1, "batch": "full", "gn_batch": "population", "basis": "eigen"},
    "arms": [{"name": "d8", "task": {"dim": 8}}, {"name": "d16", "task": {"dim": 16}}, {"name": "d16 b", "task": {"dim": 16}}]})";
  REQUIRE(test::run_adamgn("run --preset " + dir + "/e.json -q -o " + dir + "/r.json").code == 0);
  const auto rep = test::run_adamgn("report " + dir + "/r.json");
  REQUIRE(rep.code == 0);
  // kappa(nu) = d^c = d at c = 1; one line per distinct task, none for the unused base task (d = 2048).
  CHECK(rep.out.find("- d = 8, κ(ν) = 8, δ = 0.5") != std::string::npos);
  CHECK(rep.out.find("- d = 16, κ(ν) = 16, δ = 0.5") != std::string::npos);
  CHECK(rep.out.find("d = 2048") == std::string::npos);
  std::size_t lines = 0;
  for (std::size_t at = 0; (at = rep.out.find("\n- d = ", at)) != std::string::npos; ++at) ++lines;
  CHECK(lines == 2);
}

TEST_CASE("claims are checked: kinds, metrics, arm names") {
  const std::vector<std::string> names = {"a", "b"};
  CHECK(test::error_of([&] { validate_claims(json::array({claim("best", "a", "b")}), names, "claims"); }).find("kind") !=
        std::string::npos);
  CHECK(test::error_of([&] { validate_claims(json::array({claim("less", "a", "z")}), names, "claims"); })
            .find("no arm named z") != std::string::npos);
  CHECK(test::error_of([&] { validate_claims(json::array({claim("less", "a", "b", 1, "auc")}), names, "claims"); })
            .find("metric") != std::string::npos);
  json c = claim("less", "a", "b");
  c["extra"] = 1;
  CHECK(test::error_of([&] { validate_claims(json::array({c}), names, "claims"); }).find("extra") != std::string::npos);
  CHECK(test::error_of([&] { validate_claims(json::array({claim("less", "a", "b")}), names, "claims"); }).empty());
}

TEST_CASE("adamgn reproduce: result files, figures and one report row per claim") {
  const std::string dir = adamgn::test::temp_dir("reproduce") + "/out";
  const std::string md = report_after("reproduce --presets fig1-left,fig2 -q -o " + dir, dir + "/REPORT.md");
  for (const char* f : {"/fig1-left.json", "/fig1-left.svg", "/fig2.json", "/fig2.svg", "/REPORT.md"})
    CHECK(access((dir + f).c_str(), F_OK) == 0);
  CHECK(rows_of(md, "fig") == 3);  // fig1-left: 1 claim, fig2: 2
  CHECK(md.find("Holds: 3.") != std::string::npos);
  // The written result carries the preset's claims, so `adamgn report` gives the same verdicts.
  std::ifstream r(dir + "/fig2.json");
  json doc;
  r >> doc;
  CHECK(doc["claims"].size() == 2);
  const auto v = evaluate_claims(doc);
  CHECK(v[0].verdict == "holds");
  // A missing parent folder is one line and exit code 2.
  const int bad = std::system((std::string(ADAMGN_BINARY) + " reproduce --presets fig2 -q -o /nonexistent/x 2>/dev/null").c_str());
  CHECK(WEXITSTATUS(bad) == 2);
}

TEST_CASE("adamgn report on a file without claims takes the preset's claims about the arms it has") {
  // A sweep's result.json names its preset but carries no claims; here two of fig5's twelve arms.
  const std::string dir = adamgn::test::temp_dir("report-partial");
  const std::string bin = ADAMGN_BINARY;
  const int ran = std::system((bin + " run --preset fig5 --arms 'adam id small,gn^-1/2 id small' --steps 4 --seeds 2 "
                               "--set task.width=16 --set gn_batch=64 -q -o " + dir + "/run.json").c_str());
  REQUIRE(WEXITSTATUS(ran) == 0);
  json doc;
  std::ifstream(dir + "/run.json") >> doc;
  REQUIRE(doc["claims"].size() == 1);
  doc.erase("claims");
  std::ofstream(dir + "/partial.json") << doc.dump();
  const std::string md = report_after("report " + dir + "/partial.json -o " + dir + "/REPORT.md", dir + "/REPORT.md");
  CHECK(rows_of(md, "fig5") == 1);  // identity, small batch: Adam and GN^-1/2 track each other
  CHECK(md.find("adam id small") != std::string::npos);
  // A file not named after its preset is named beside it, and its data linked; no figure is
  // linked until one exists beside the file.
  CHECK(md.find("| fig5 (partial) |") != std::string::npos);
  CHECK(md.find("## fig5 (partial)") != std::string::npos);
  CHECK(md.find("Data: [partial.json](partial.json)") != std::string::npos);
  CHECK(md.find("partial.svg") == std::string::npos);
  std::ofstream(dir + "/partial.svg") << "<svg/>";
  const std::string with_figure = report_after("report " + dir + "/partial.json -o " + dir + "/REPORT.md", dir + "/REPORT.md");
  CHECK(with_figure.find("Figure: [partial.svg](partial.svg); data: [partial.json](partial.json)") != std::string::npos);
}

TEST_CASE("adamgn report on an incomplete result document: one line naming the missing part, exit code 2") {
  const std::string dir = adamgn::test::temp_dir("report-incomplete");
  const json arms = json::array({arm("a", {0.1, 0.2})});
  const json config{{"task", {{"name", "quadratic"}}}, {"run", {{"steps", 10}}}};
  json no_summary{{"schema", "adamgn.result/1"}, {"config", config}, {"arms", arms}};
  json no_config{{"schema", "adamgn.result/1"}, {"arms", arms}};
  no_config["arms"][0]["summary"] = json::object();
  for (const auto& [doc, expected] : {std::pair<json, std::string>{no_summary, "arms[0] has no \"summary\" object"},
                                      {no_config, "no \"config\" object"},
                                      {json::array({1, 2}), "not an adamgn result document"}}) {
    std::ofstream(dir + "/r.json") << doc.dump();
    const int status = std::system((std::string(ADAMGN_BINARY) + " report " + dir + "/r.json -o " + dir + "/R.md 2>" + dir + "/err.txt").c_str());
    CHECK(WEXITSTATUS(status) == 2);
    std::ifstream in(dir + "/err.txt");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string err = ss.str();
    INFO(err);
    CHECK(err.find(expected) != std::string::npos);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  }
}

TEST_CASE("vacuous: no arm of the claim ends below the trivial loss by more than 2 se") {
  // Staircase-like: trivial loss 1.5. se of {1.49, 1.51, 1.50} = 0.01/sqrt(3) = 0.00577.
  const json at_trivial = json::array({arm("a", {1.49, 1.51, 1.50}), arm("b", {1.52, 1.50, 1.51})});
  auto with_trivial = [](json doc, double trivial) {
    doc["task_info"] = json{{"trivial_loss", trivial}, {"trivial_test_loss", trivial}};
    return doc;
  };
  const json close2 = claim("close", "a", "b", 2.0);
  auto verdict_of = [&](const json& arms, const json& c, double trivial) {
    const auto v = evaluate_claims(with_trivial(doc_with(arms, json::array({c})), trivial));
    REQUIRE(v.size() == 1);
    return v[0];
  };
  // Without a stated trivial loss the ratio rule alone decides.
  CHECK(verdict(at_trivial, close2) == "holds");
  const auto v = verdict_of(at_trivial, close2, 1.5);
  CHECK(v.verdict == "vacuous");
  CHECK(v.measured.find("trivial loss 1.5") != std::string::npos);
  // The same on the test curve and on log10 of the final loss.
  CHECK(verdict_of(at_trivial, claim("close", "a", "b", 2.0, "final-test"), 1.5).verdict == "vacuous");
  CHECK(verdict_of(at_trivial, claim("close", "a", "b", 2.0, "log-final"), 1.5).verdict == "vacuous");
  // Arm a's mean 1.50 is 0.05 below a trivial loss of 1.55: more than 2 se (0.0115), so a learned
  // something and the comparison counts (a is below b by more than 2s: holds).
  CHECK(verdict_of(at_trivial, claim("less", "a", "b"), 1.55).verdict == "not significant");
  CHECK(verdict_of(at_trivial, close2, 1.55).verdict == "holds");
  // 1.51 is within 2 se of both means: vacuous. 1.512 puts a (1.50) 0.012 > 0.0115 below.
  CHECK(verdict_of(at_trivial, close2, 1.51).verdict == "vacuous");
  CHECK(verdict_of(at_trivial, close2, 1.512).verdict == "holds");
  // One arm that learned is enough to make the claim a test, whatever the others did.
  const json one_learned = json::array({arm("a", {0.2, 0.3, 0.25}), arm("b", {1.5, 1.5, 1.5})});
  CHECK(verdict_of(one_learned, close2, 1.5).verdict == "does not hold");
  // Every run diverged: nothing ended at the trivial loss either; the old rule stands.
  const json diverged = json::array({arm("a", {kNaN, kNaN}), arm("b", {kNaN, kNaN})});
  CHECK(verdict_of(diverged, close2, 1.5).verdict == "not significant");
  // Steps to a target have no trivial value.
  const json reach = json::array({arm("a", {1.5, 1.5}, {5, 5}), arm("b", {1.5, 1.5}, {8, 8})});
  CHECK(verdict_of(reach, claim("faster", "a", "b", 1.0, "steps"), 1.5).verdict == "holds");
}

TEST_CASE("the MLP tasks state the trivial loss of their evaluation sets") {
  // Parity labels are +-1: the mean label is about 0 and 1/2 E[(y - mean)^2] is about 1/2.
  const auto parity = make_task_factory(json{{"name", "parity"}, {"width", 8}, {"eval_size", 4096}});
  const json p = parity->info();
  CHECK(p.at("trivial_test_loss").get<double>() == doctest::Approx(0.5).epsilon(0.01));
  CHECK(p.at("trivial_loss").get<double>() == doctest::Approx(0.5).epsilon(0.01));
  CHECK(p.at("trivial_test_loss").get<double>() <= 0.5);  // the best constant is at most the zero predictor's loss
  // Staircase with k = 3 segments: y is a sum of 3 independent +-1 parities, E y^2 = 3, so 1.5.
  const auto stair = make_task_factory(json{{"name", "staircase"}, {"width", 8}, {"eval_size", 4096}});
  CHECK(stair->info().at("trivial_test_loss").get<double>() == doctest::Approx(1.5).epsilon(0.05));
  // A result written before tasks stated it: the report builds the task from config.task.
  json doc = doc_with(json::array({arm("a", {1.49, 1.51, 1.50}), arm("b", {1.52, 1.50, 1.51})}),
                      json::array({claim("close", "a", "b", 2.0, "final-test")}));
  doc["config"] = json{{"task", stair->config()}};
  CHECK(evaluate_claims(doc).at(0).verdict == "vacuous");
}
