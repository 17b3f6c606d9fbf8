// The task registry (docs/extending.md): a toy task defined in this file alone, registered at run
// time, goes through the same command-line code path as a built-in task: its subcommand and
// flags with their help and defaults, the strict JSON reading with range errors from its field
// table, a run and its result. And the README's task tables are what `adamgn list ... --markdown`
// prints from the registry. The same for a basis and a diagonal.
#include "helpers.hpp"

#include "commands.hpp"
#include "optim/registry.hpp"

#include <fstream>
#include <iostream>
#include <sstream>

using namespace adamgn;

namespace {

// f(theta) = 1/2 sum_i scale (theta_i - 1)^2: exact gradient and GN, whatever the batch.
struct ToyProblem {
  Index dim = 0;
  double scale = 0.0;
};

class ToyTask : public Task {
 public:
  explicit ToyTask(ToyProblem p) : p_(p), layout_(Layout::single_vector("theta", p.dim)) {}
  const Layout& layout() const override { return layout_; }
  Vec initial_parameters() const override { return Vec::Zero(p_.dim); }
  double loss_and_gradient(const Vec& theta, SampleSize, Rng&, Vec& grad) override {
    grad = p_.scale * (theta.array() - 1.0).matrix();
    return loss(theta);
  }
  void curvature(const Vec&, SampleSize, Rng&, CurvatureNeed need, Curvature& out) override {
    out.diag = Vec::Constant(p_.dim, p_.scale);
    if (need == CurvatureNeed::full) out.full = out.diag.asDiagonal();
  }
  Evaluation evaluate(const Vec& theta) override {
    Evaluation e;
    e.loss = loss(theta);
    return e;
  }

 private:
  double loss(const Vec& theta) const { return 0.5 * p_.scale * (theta.array() - 1.0).square().sum(); }
  ToyProblem p_;
  Layout layout_;
};

class ToyFactory : public TaskFactory {
 public:
  explicit ToyFactory(ToyProblem p) : p_(p) {}
  std::string name() const override { return "toy"; }
  Index dim() const override { return p_.dim; }
  std::unique_ptr<Task> make(std::uint64_t) const override { return std::make_unique<ToyTask>(p_); }
  TaskMemory memory(const RunSizes&) const override { return {}; }
  json config() const override { return json{{"name", "toy"}, {"dim", p_.dim}, {"scale", p_.scale}}; }

 private:
  ToyProblem p_;
};

// The whole extension: an entry with its field table and its constructor.
TaskEntry toy_task() {
  TaskEntry e;
  e.name = "toy";
  e.description = "a separable quadratic defined in a test";
  e.fields = {Field("dim", FieldType::integer, "dimension").defaults(3).at_least(1),
              Field("scale", FieldType::number, "curvature of every coordinate").defaults(2.0).above(0)};
  e.make = [](FieldReader& r) {
    ToyProblem p;
    p.dim = r.integer("dim");
    p.scale = r.number("scale");
    return std::make_unique<ToyFactory>(p);
  };
  return e;
}

void register_toy() {
  static const bool done = (register_task(toy_task()), true);
  (void)done;
}

struct Outcome {
  int status = 0;
  std::string out, err;
};

// adamgn ARGS... in this process, with stdout and stderr captured.
Outcome adamgn_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "adamgn");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Outcome o;
  o.status = cli::run_command_line(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

}  // namespace

TEST_CASE("a task registered from a test file alone runs through the command line") {
  register_toy();
  CHECK(make_task_factory(json{{"name", "toy"}})->config() == json{{"name", "toy"}, {"dim", 3}, {"scale", 2.0}});

  // Subcommand, flags and help from the field table.
  const Outcome top = adamgn_cli({"--help"});
  CHECK(top.out.find("toy") != std::string::npos);
  CHECK(top.out.find("a separable quadratic defined in a test") != std::string::npos);
  const Outcome help = adamgn_cli({"toy", "--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("--scale") != std::string::npos);
  CHECK(help.out.find("curvature of every coordinate (default 2)") != std::string::npos);
  CHECK(help.out.find("dimension (default 3)") != std::string::npos);

  // A run from flags: GN^-1 with lr 1 solves a separable quadratic in one step.
  const std::string dir = test::temp_dir("registry");
  const Outcome run = adamgn_cli({"toy", "--dim", "4", "--scale", "3", "--precond", "gn", "--power", "-1", "--lr", "1", "--batch",
                           "full", "--gn-batch", "population", "--steps", "2", "--seeds", "1", "-q", "-o", dir + "/toy.json"});
  REQUIRE(run.status == 0);
  const json result = read_json(dir + "/toy.json");
  CHECK(result["config"]["task"] == json{{"name", "toy"}, {"dim", 4}, {"scale", 3.0}});
  const json& loss = result["arms"][0]["runs"][0]["loss"];
  CHECK(loss.front().get<double>() == doctest::Approx(0.5 * 3.0 * 4.0));
  CHECK(loss.back().get<double>() < 1e-20);

  // The same task from a JSON experiment, and a range error from the table: one line, exit 2,
  // nothing written.
  std::ofstream(dir + "/toy-preset.json")
      << R"({"task": {"name": "toy", "scale": 0.5}, "run": {"steps": 3, "seeds": 1},
             "arms": [{"name": "gd", "precond": "sgd", "lr": 1}]})";
  const Outcome preset = adamgn_cli({"run", "--preset", dir + "/toy-preset.json", "-q", "-o", dir + "/from-preset.json"});
  REQUIRE(preset.status == 0);
  CHECK(read_json(dir + "/from-preset.json")["config"]["task"]["scale"] == 0.5);
  const Outcome bad = adamgn_cli({"toy", "--scale", "-1", "--precond", "sgd", "--lr", "1", "-q", "-o", dir + "/bad.json"});
  CHECK(bad.status == 2);
  CHECK(bad.err == "adamgn: error: task.scale = -1 must be > 0\n");
  CHECK_FALSE(std::ifstream(dir + "/bad.json").good());
  const Outcome unknown = adamgn_cli({"run", "--preset", dir + "/toy-preset.json", "--set", "task.width=3", "-q"});
  CHECK(unknown.status == 2);
  CHECK(unknown.err.find("task.width") != std::string::npos);
}

// A diagonal and a basis defined here alone. unit: s = 1, so D = (1 + alpha)^p and with alpha = 0
// the step is the plain gradient step. reversed: U is the coordinate reversal, a permutation,
// which a per-coordinate rule cannot tell from the identity.
class UnitDiagonal : public Diagonal {
 public:
  CurvatureNeed need(const Basis&) const override { return CurvatureNeed::none; }
  void prepare(const Curvature&, const Basis&, Index, Index) override {}
  void statistic(const Vec&, Index begin, Index len, Vec& s) override { s.segment(begin, len).setOnes(); }
  Vec current_statistic() const override { return Vec(); }
};

DiagonalEntry unit_diagonal() {
  DiagonalEntry e;
  e.name = "unit";
  e.description = "s = 1 (a diagonal defined in a test)";
  e.default_power = -0.5;
  e.make = [](const OptimizerConfig&) { return std::make_unique<UnitDiagonal>(); };
  return e;
}

BasisEntry reversed_basis() {
  BasisEntry e;
  e.name = "reversed";
  e.description = "the coordinates in reverse order (a basis defined in a test)";
  e.needs = [](const OptimizerConfig&) { return BasisNeeds{CurvatureNeed::none, CurvatureNeed::full}; };
  e.make = [](const OptimizerConfig&, const Layout& layout) {
    auto b = std::make_unique<MatrixBasis>(layout.size());
    std::vector<Index> perm(static_cast<std::size_t>(layout.size()));
    for (Index i = 0; i < layout.size(); ++i) perm[static_cast<std::size_t>(i)] = layout.size() - 1 - i;
    b->set_permutation(std::move(perm));
    return b;
  };
  e.memory = [](const OptimizerConfig&, const Layout& layout, bool) { return Bytes::of(layout.size(), 8); };
  return e;
}

void register_toy_optimizer_parts() {
  static const bool done = (diagonal_registry().add(unit_diagonal()), basis_registry().add(reversed_basis()), true);
  (void)done;
}

// The loss curve of one seed of `adamgn quadratic ARGS`.
json quadratic_losses(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), "quadratic");
  for (const char* a : {"--cov", "half", "--batch", "1", "--steps", "200", "--seeds", "1", "-q", "-o"}) args.push_back(a);
  args.push_back(dir + "/q.json");
  const Outcome o = adamgn_cli(args);
  REQUIRE(o.status == 0);
  return read_json(dir + "/q.json")["arms"][0]["runs"][0]["loss"];
}

TEST_CASE("a basis and a diagonal registered from a test file alone run through the command line") {
  register_toy_optimizer_parts();
  const Outcome help = adamgn_cli({"quadratic", "--help"});
  CHECK(help.out.find("adam|gn|sgd|unit") != std::string::npos);
  CHECK(help.out.find("interp-eigen:G|reversed") != std::string::npos);
  CHECK(adamgn_cli({"list", "bases"}).out.find("reversed\tthe coordinates in reverse order") != std::string::npos);
  CHECK(adamgn_cli({"list", "diagonals"}).out.find("unit\ts = 1") != std::string::npos);

  const std::string dir = test::temp_dir("registry-optim");
  // unit at alpha = 0 is the plain gradient step, to the bit.
  const json sgd = quadratic_losses(dir, {"--precond", "sgd", "--lr", "0.02"});
  CHECK(quadratic_losses(dir, {"--precond", "unit", "--lr", "0.02"}) == sgd);
  // With alpha = 3 and p = -1/2 it is the gradient step at half the rate.
  CHECK(quadratic_losses(dir, {"--precond", "unit", "--alpha", "3", "--lr", "0.04"}) == sgd);
  // Adam and GN in the reversed basis take the identity basis's steps, to the bit; the default
  // arm name comes from the diagonal's entry.
  for (const char* precond : {"adam", "gn"}) {
    const json identity = quadratic_losses(dir, {"--precond", precond, "--lr", "0.01", "--gn-batch", "population"});
    CHECK(quadratic_losses(dir, {"--precond", precond, "--lr", "0.01", "--gn-batch", "population", "--basis", "reversed"}) ==
          identity);
  }
  CHECK(read_json(dir + "/q.json")["arms"][0]["name"] == "gn^-1");
  // Unknown names list the registered ones.
  const Outcome bad = adamgn_cli({"quadratic", "--precond", "lion", "-q"});
  CHECK(bad.status == 2);
  CHECK(bad.err == "adamgn: error: arms[0].precond = lion is not a diagonal (one of adam, gn, sgd, unit)\n");
}

// Each generated block of the README (between "<!-- list WHAT: adamgn list WHAT --markdown -->"
// and "<!-- /list WHAT -->") is what that command prints from the registries.
TEST_CASE("the README's registry tables are the ones adamgn list --markdown prints") {
  std::ifstream in(std::string(ADAMGN_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  for (const std::string what : {"tasks", "optimizer"}) {
    INFO("list " << what);
    const std::string begin = "<!-- list " + what + ": adamgn list " + what + " --markdown -->\n";
    const std::string end = "<!-- /list " + what + " -->";
    const auto a = readme.find(begin), b = readme.find(end);
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    const std::string printed = test::run_adamgn("list " + what + " --markdown").out;
    CHECK(readme.substr(a + begin.size(), b - a - begin.size()) == printed);
  }
}
