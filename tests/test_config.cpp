// Strict configuration reading: every mistake names the key and the value.
#include "helpers.hpp"

#include <string>

using namespace adamgn;
using namespace adamgn::test;

namespace {

json base() {
  return json{{"task", {{"name", "quadratic"}}}, {"arms", {{{"precond", "adam"}}}}};
}

}  // namespace

TEST_CASE("unknown keys and bad values are named") {
  json doc = base();
  doc["arms"][0]["lerning_rate"] = 0.1;
  CHECK(error_of([&] { parse_experiment(doc); }) == "unknown key 'arms[0].lerning_rate'");
  doc = base();
  doc["arms"][0]["beta2"] = 1.2;
  CHECK(error_of([&] { parse_experiment(doc); }) == "arm adam: beta2 = 1.2 must be in [0, 1)");
  doc = base();
  doc["run"]["steps"] = "ten";
  CHECK(error_of([&] { parse_experiment(doc); }) == "run.steps = ten is not an integer");
  doc = base();
  doc["arms"][0]["batch"] = "huge";
  CHECK(error_of([&] { parse_experiment(doc); }) == "arms[0].batch = huge must be a positive integer or 'full'");
  doc = base();
  doc["arms"][0]["schedule"] = "step:0";
  CHECK(error_of([&] { parse_experiment(doc); }).find("schedule = step:0") != std::string::npos);
  CHECK(error_of([] { make_task_factory(json{{"name", "quadratic"}, {"cov", "diagonal"}}); }) ==
        "task.cov = diagonal must be block, half, one or spectrum");
  CHECK(error_of([] { make_task_factory(json{{"name", "quadratic"}, {"cov", "spectrum"}}); }) ==
        "task.spectrum is required for cov = spectrum");
  CHECK(error_of([] { make_task_factory(json{{"name", "logistic"}, {"p_label", 0.3}}); })
            .find("task.p_label = 0.3") == 0);
  CHECK(error_of([] { make_task_factory(json{{"name", "cubic"}}); }).find("task.name = cubic") == 0);
  doc = base();
  doc["arms"] = json::array({{{"name", "x"}}, {{"name", "x"}}});
  CHECK(error_of([&] { parse_experiment(doc); }) == "arms[1].name = x is used twice");
}

TEST_CASE("defaults: power follows precond; arms inherit 'defaults'; names from labels") {
  json doc = base();
  doc["defaults"] = {{"lr", 0.3}, {"batch", 8}};
  doc["arms"] = json::array({{{"precond", "gn"}}, {{"precond", "gn"}, {"power", -0.5}}, {{"precond", "adam"}, {"lr", 0.1}}});
  const auto spec = parse_experiment(doc);
  CHECK(spec.arms[0].name == "gn^-1");
  CHECK(spec.arms[0].optimizer.power == -1.0);
  CHECK(spec.arms[1].name == "gn^-1/2");
  CHECK(spec.arms[2].name == "adam");
  CHECK(spec.arms[2].optimizer.power == -0.5);
  CHECK(spec.arms[0].optimizer.lr == 0.3);
  CHECK(spec.arms[2].optimizer.lr == 0.1);
  CHECK(spec.arms[1].optimizer.batch.n == 8);
}

TEST_CASE("schedules") {
  const Schedule step = Schedule::parse("step:10:0.25", "schedule");
  CHECK(step.multiplier(9, 100) == 1.0);
  CHECK(step.multiplier(10, 100) == 0.25);
  CHECK(step.multiplier(25, 100) == 0.0625);
  CHECK(Schedule::parse("step:5", "s").factor == 0.5);
  const Schedule cosine = Schedule::parse("cosine", "schedule");
  CHECK(cosine.multiplier(0, 100) == 1.0);
  CHECK(cosine.multiplier(50, 100) == doctest::Approx(0.5));
  CHECK(Schedule::parse("constant", "s").multiplier(77, 100) == 1.0);
  CHECK(step.text() == "step:10:0.25");
  const Schedule pct = Schedule::parse("step:10%", "schedule");
  CHECK(pct.multiplier(99, 1000) == 1.0);
  CHECK(pct.multiplier(100, 1000) == 0.5);
  CHECK(pct.multiplier(10, 100) == 0.5);
  CHECK(pct.text() == "step:10%:0.5");
}

TEST_CASE("command-line scalars") {
  CHECK(parse_scalar("12") == json(12));
  CHECK(parse_scalar("0.5") == json(0.5));
  CHECK(parse_scalar("1e-3") == json(1e-3));
  CHECK(parse_scalar("true") == json(true));
  CHECK(parse_scalar("full") == json("full"));
  CHECK(parse_scalar("1,2,3") == json("1,2,3"));
}
