// Measures (docs/measures.md): alignment against its exact values and its estimator against the
// brute-force sums it factors, noise against the Gaussian-regression closed form, the Adam/GN
// ratio by hand, and runs whose loss curves are the same bits with measures on or off.
#include "helpers.hpp"
#include "io/presets.hpp"
#include "report/results.hpp"
#include "measures/measure.hpp"
#include "measures/probe.hpp"
#include "io/store.hpp"
#include "optim/kronecker.hpp"
#include "runner/sweep.hpp"

#include <algorithm>
#include <cmath>

using namespace adamgn;
using namespace adamgn::test;

namespace {

// A task instance and an optimizer after `steps` steps from theta0 (seed's data and curvature
// streams), kept alive for a probe.
struct Stepped {
  std::unique_ptr<Task> task;
  std::unique_ptr<Optimizer> opt;
  Vec theta;
};
Stepped stepped(const TaskFactory& f, const OptimizerConfig& c, Index steps, std::uint64_t seed,
                const std::string& prepare = "") {
  Stepped out{f.make(seed), nullptr, Vec()};
  out.opt = std::make_unique<Optimizer>(c, out.task->layout(), std::max<Index>(steps, 1));
  if (!prepare.empty() && find_measure(prepare).prepare) find_measure(prepare).prepare(*out.opt);
  Rng data = Rng::stream(seed, "data"), curv = Rng::stream(seed, "curvature");
  out.theta = out.task->initial_parameters();
  for (Index t = 0; t < steps; ++t) out.opt->step(*out.task, out.theta, t, data, curv);
  return out;
}
// The values measure `name` records there, on a probe of `batch` samples.
std::map<std::string, double> values_at(Stepped& s, const TaskFactory& f, const std::string& name, std::uint64_t seed,
                                        Index batch) {
  Probe probe(*s.task, f, s.theta, *s.opt, seed, batch);
  MeasureValues values;
  find_measure(name).compute(probe, values);
  return {values.begin(), values.end()};
}

// The values one measure records at theta for this optimizer (after `steps` steps from theta0).
struct Measured {
  std::map<std::string, double> values;
  Vec theta;
};
Measured measure_after(const TaskFactory& f, const json& arm, Index steps, const std::string& name,
                       std::uint64_t seed = 0, Index batch = 1024) {
  Stepped s = stepped(f, optimizer(arm), steps, seed, name);
  return {values_at(s, f, name, seed, batch), s.theta};
}

}  // namespace

TEST_CASE("alignment is exact where H is known") {
  SUBCASE("the eigenbasis diagonalizes H: 1 to 1e-12") {
    auto f = make_task_factory(json{{"name", "quadratic"}, {"cov", "spectrum"}, {"spectrum", {5.0, 3.0, 2.0, 1.0, 0.5, 0.1}},
                                    {"rotate", true}});
    const auto m = measure_after(*f, json{{"precond", "gn"}, {"basis", "eigen"}, {"gn_batch", "population"}, {"lr", 0.1}}, 3,
                                 "alignment");
    CHECK(std::abs(m.values.at("alignment") - 1.0) < 1e-12);
    // The identity basis on the same rotated problem is far from aligned.
    const auto id = measure_after(*f, json{{"precond", "gn"}, {"gn_batch", "population"}, {"lr", 0.1}}, 3, "alignment");
    CHECK(id.values.at("alignment") < 0.9);
  }
  SUBCASE("the identity basis on an unrotated diagonal spectrum: 1") {
    auto f = make_task_factory(json{{"name", "quadratic"}, {"cov", "spectrum"}, {"spectrum", {5.0, 3.0, 2.0, 1.0}}});
    const auto m = measure_after(*f, json{{"precond", "adam"}, {"lr", 0.01}}, 2, "alignment");
    CHECK(m.values.at("alignment") == 1.0);
  }
  SUBCASE("the identity basis on the block quadratic of eq. (4): 2 / (h + 1)") {
    // Sigma = [[1 1^T, 0], [0, I]] with h x h blocks: diag(Sigma) is all ones, so |diag|^2 = 2h,
    // and |Sigma|_F^2 = h^2 (the block of ones) + h (the identity): a = 2h / (h^2 + h) = 2 / (h + 1).
    for (Index dim : {2, 10, 100}) {
      auto f = make_task_factory(json{{"name", "quadratic"}, {"cov", "block"}, {"dim", dim}});
      const auto m = measure_after(*f, json{{"precond", "adam"}, {"lr", 0.01}}, 1, "alignment");
      const double h = static_cast<double>(dim / 2);
      CHECK(m.values.at("alignment") == doctest::Approx(2.0 / (h + 1.0)).epsilon(1e-14));
    }
  }
}

namespace {

// The per-sample Jacobian rows of the probe's GN terms, expanded to full P-vectors in the layout's
// order (a matrix block's entry (i, c) at offset + i cols + c): rows[s][j] = g_js.
std::vector<std::vector<Vec>> expanded_terms(const Layout& layout, const Curvature& c, Index n) {
  std::vector<std::vector<Vec>> rows(static_cast<std::size_t>(n));
  for (std::size_t b = 0; b < layout.blocks.size(); ++b) {
    const Block& blk = layout.blocks[b];
    const PseudoGradients& g = c.pseudo[b];
    Mat left, right;
    visit_factors(g, [&](const auto& l, const auto* r) {
      left = l.template cast<double>();
      if (r) right = r->template cast<double>();
    });
    const Index per = left.rows() / n;            // directions, or grouped pieces
    const Index dirs = g.group > 1 ? 1 : per;
    for (Index s = 0; s < n; ++s) {
      auto& mine = rows[static_cast<std::size_t>(s)];
      if (mine.empty()) mine.assign(static_cast<std::size_t>(dirs), Vec::Zero(layout.size()));
      for (Index q = 0; q < per; ++q) {
        const Index j = g.group > 1 ? 0 : q;
        const Vec l = left.row(q * n + s).transpose();
        Vec& out = mine[static_cast<std::size_t>(j)];
        if (!blk.matrix) {
          out.segment(blk.offset, blk.size()) += l;
          continue;
        }
        const Vec r = right.row(g.group > 1 ? q * n + s : s).transpose();
        for (Index i = 0; i < blk.rows; ++i) out.segment(blk.offset + i * blk.cols, blk.cols) += l[i] * r;
      }
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("alignment on a network: the estimator equals the brute-force U-statistics it factors") {
  // Small float64 networks: one output (teacher), ten outputs (cifar), grouped terms (transformer).
  const std::vector<json> tasks = {
      json{{"name", "teacher"}, {"dim", 3}, {"teacher_width", 2}, {"precision", "f64"}, {"eval_size", 8}},
      json{{"name", "cifar"}, {"width", 8}, {"precision", "f64"}, {"eval_size", 8}, {"data_dir", tiny_cifar_dataset()}},
      json{{"name", "transformer"}, {"tokens", 3}, {"dim", 4}, {"width", 3}, {"mlp_width", 8}, {"precision", "f64"},
           {"eval_size", 8}}};
  for (const json& task : tasks) {
    auto f = make_task_factory(task);
    for (const char* basis : {"identity", "kronecker"}) {
      CAPTURE(task.dump());
      CAPTURE(basis);
      // Small Adam steps (3072 inputs move a unit by about d lr per step): the basis is built and
      // the ReLU units stay on for some samples.
      Stepped run = stepped(*f, optimizer(json{{"precond", "adam"}, {"basis", basis}, {"batch", 16}, {"gn_batch", 64}, {"lr", 1e-5}, {"basis_every", 3}}), 3, 1);
      auto& t = run.task;
      const Optimizer& opt = *run.opt;
      const Index n = 6;
      const std::map<std::string, double> got = values_at(run, *f, "alignment", 1, n);
      Probe probe(*t, *f, run.theta, opt, 1, n);

      // Brute force over the expanded terms: <A_s, A_t> = sum_{j, j'} (g_js . g_j't)^2 over pairs
      // s != t; the diagonal of U^T A_s U from the basis's rotation of each term.
      const Layout& layout = t->layout();
      const auto terms = expanded_terms(layout, probe.curvature(CurvatureNeed::kronecker, n), n);
      std::vector<Vec> diag;
      for (const auto& sample : terms) {
        Vec d = Vec::Zero(layout.size()), rotated;
        for (const Vec& g : sample) {
          opt.basis().rotate(g, rotated);
          d += rotated.cwiseAbs2();
        }
        diag.push_back(d);
      }
      auto check_block = [&](Index offset, Index size, const std::string& series) {
        double den = 0.0, sq = 0.0;
        Vec sum = Vec::Zero(size);
        for (Index s = 0; s < n; ++s) {
          const Vec d = diag[static_cast<std::size_t>(s)].segment(offset, size);
          sum += d;
          sq += d.squaredNorm();
          for (Index r = 0; r < n; ++r)
            if (r != s)
              for (const Vec& a : terms[static_cast<std::size_t>(s)])
                for (const Vec& b : terms[static_cast<std::size_t>(r)]) {
                  const double dot = a.segment(offset, size).dot(b.segment(offset, size));
                  den += dot * dot;
                }
        }
        CAPTURE(series);
        // A block without GN mass (ReLU units that are off for every probe sample) has no
        // alignment: the measure records NaN (null).
        if (den == 0.0) CHECK(std::isnan(got.at(series)));
        else CHECK(got.at(series) == doctest::Approx((sum.squaredNorm() - sq) / den).epsilon(1e-9));
        return den > 0.0;
      };
      Index live = 0;
      for (const Block& blk : layout.blocks) live += check_block(blk.offset, blk.size(), "alignment." + blk.name) ? 1 : 0;
      CHECK(live >= 2);
      // The whole matrix: the same sums with the cross-block products in the denominator.
      double den = 0.0, sq = 0.0;
      Vec sum = Vec::Zero(layout.size());
      for (Index s = 0; s < n; ++s) {
        sum += diag[static_cast<std::size_t>(s)];
        sq += diag[static_cast<std::size_t>(s)].squaredNorm();
        for (Index r = 0; r < n; ++r)
          if (r != s)
            for (const Vec& a : terms[static_cast<std::size_t>(s)])
              for (const Vec& b : terms[static_cast<std::size_t>(r)]) den += a.dot(b) * a.dot(b);
      }
      CHECK(got.at("alignment") == doctest::Approx((sum.squaredNorm() - sq) / den).epsilon(1e-9));
    }
  }
}

TEST_CASE("noise on Gaussian regression matches tr Cov[g_b] / |E g|^2 = (|S D|^2 + (D^T S D) tr S) / (b |S D|^2)") {
  const std::vector<double> spectrum = {4.0, 2.0, 1.0, 0.5, 0.25};
  auto f = make_task_factory(json{{"name", "quadratic"}, {"cov", "spectrum"}, {"spectrum", spectrum}});
  const Vec lambda = Eigen::Map<const Vec>(spectrum.data(), 5);
  const Index b = 8;
  std::vector<double> ratios;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto m = measure_after(*f, json{{"precond", "sgd"}, {"batch", b}, {"lr", 0.01}}, 0, "noise", seed, 4096);
    const Vec delta = m.theta - theta_star_of(*f->make(seed));
    const Vec sd = lambda.cwiseProduct(delta);
    const double predicted = (sd.squaredNorm() + delta.dot(sd) * lambda.sum()) / (static_cast<double>(b) * sd.squaredNorm());
    ratios.push_back(m.values.at("noise") / predicted);
    // The simple noise scale is b times the batch's ratio; sgd's metric is the identity.
    CHECK(m.values.at("noise_scale") == doctest::Approx(m.values.at("noise") * b).epsilon(1e-12));
    CHECK(m.values.at("noise_precond") == m.values.at("noise"));
  }
  double mean = 0.0, ss = 0.0;
  for (double r : ratios) mean += r / static_cast<double>(ratios.size());
  for (double r : ratios) ss += (r - mean) * (r - mean);
  const double se = std::sqrt(ss / static_cast<double>(ratios.size() - 1) / static_cast<double>(ratios.size()));
  CAPTURE(mean);
  CAPTURE(se);
  CHECK(se < 0.03);
  CHECK(std::abs(mean - 1.0) < 3.0 * se + 0.01);
  // Full batch: no noise.
  const auto full = measure_after(*f, json{{"precond", "sgd"}, {"batch", "full"}, {"lr", 0.01}}, 0, "noise", 0, 512);
  CHECK(full.values.at("noise") == 0.0);
}

TEST_CASE("noise on the networks: the batched estimate equals the sums over per-sample gradients") {
  // The networks give their per-sample gradients as factors (Task::sample_gradient_factors); the
  // measure must agree with the definition applied to the n gradients one by one, raw and rotated
  // into the step's metric by the basis itself. The transformer has no factors: the same code
  // path as the brute force, which still checks the formula. Float32 parity: the same to 1e-4.
  const std::vector<json> tasks = {
      json{{"name", "teacher"}, {"dim", 3}, {"teacher_width", 2}, {"precision", "f64"}, {"eval_size", 8}, {"label_noise", 0.3}},
      json{{"name", "parity"}, {"dim", 6}, {"k", 2}, {"width", 8}, {"eval_size", 8}},
      json{{"name", "cifar"}, {"width", 8}, {"precision", "f64"}, {"eval_size", 8}, {"data_dir", tiny_cifar_dataset()}},
      json{{"name", "transformer"}, {"tokens", 3}, {"dim", 4}, {"width", 3}, {"mlp_width", 8}, {"precision", "f64"},
           {"eval_size", 8}}};
  for (const json& task : tasks) {
    auto f = make_task_factory(task);
    const bool single = !task.contains("precision");
    for (const json& arm : {json{{"precond", "gn"}, {"power", -0.5}, {"basis", "kronecker"}},
                            json{{"precond", "adam"}, {"basis", "identity"}}, json{{"precond", "sgd"}}}) {
      CAPTURE(task.dump());
      CAPTURE(arm.dump());
      json a = arm;
      a.update(json{{"batch", 4}, {"gn_batch", 64}, {"lr", 1e-4}, {"basis_every", 2}});
      Stepped run = stepped(*f, optimizer(a), 3, 2);
      auto& t = run.task;
      const Optimizer& opt = *run.opt;
      const Index n = 40;
      const std::map<std::string, double> got = values_at(run, *f, "noise", 2, n);
      Probe probe(*t, *f, run.theta, opt, 2, n);

      // D^1/2 from the optimizer's statistic (identity for sgd), then the definition.
      Vec root = Vec::Ones(t->layout().size());
      if (opt.diagonal() != nullptr) {
        const Vec stat = opt.diagonal()->current_statistic();
        for (Index i = 0; i < root.size(); ++i) {
          const double shifted = stat[i] + opt.config().alpha;  // no curvature yet: left out (0)
          root[i] = shifted > 0.0 ? std::pow(shifted, opt.config().power / 2.0) : 0.0;
        }
      }
      std::vector<Vec> raw, metric;
      probe.for_each_sample_gradient([&](const Vec& g) {
        raw.push_back(g);
        Vec r;
        opt.basis().rotate(g, r);
        metric.push_back(opt.diagonal() ? Vec(r.cwiseProduct(root)) : g);
      });
      REQUIRE(static_cast<Index>(raw.size()) == n);
      const auto scale = [&](const std::vector<Vec>& gs) {
        Vec mean = Vec::Zero(gs[0].size());
        for (const Vec& g : gs) mean += g / static_cast<double>(n);
        double trace = 0.0;
        for (const Vec& g : gs) trace += (g - mean).squaredNorm() / static_cast<double>(n - 1);
        return trace / (mean.squaredNorm() - trace / static_cast<double>(n));
      };
      const double tol = single ? 1e-4 : 1e-9;
      CHECK(got.at("noise_scale") == doctest::Approx(scale(raw)).epsilon(tol));
      CHECK(got.at("noise") == doctest::Approx(scale(raw) / 4.0).epsilon(tol));
      CHECK(got.at("noise_scale_precond") == doctest::Approx(scale(metric)).epsilon(tol));
    }
  }
}

TEST_CASE("adam-gn-ratio by hand: beta2 = 0, full batch, identity basis") {
  // With beta2 = 0 and the exact gradient, v = (Lambda D)^2 from the last step; a step of 1e-300
  // leaves theta as it was, so r_i = (lambda_i D_i)^2 / (l lambda_i) = lambda_i D_i^2 / l with
  // l = 1/2 sum lambda_i D_i^2.
  const std::vector<double> spectrum = {8.0, 4.0, 2.0, 1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125};
  auto f = make_task_factory(json{{"name", "quadratic"}, {"cov", "spectrum"}, {"spectrum", spectrum}});
  for (const char* precond : {"adam", "gn"}) {
    CAPTURE(precond);
    const auto m = measure_after(*f, json{{"precond", precond}, {"beta2", 0.0}, {"batch", "full"}, {"gn_batch", "population"}, {"lr", 1e-300}},
                                 1, "adam-gn-ratio", 3);
    const Vec delta = m.theta - theta_star_of(*f->make(3));
    const Vec lambda = Eigen::Map<const Vec>(spectrum.data(), 11);
    const double loss = 0.5 * lambda.dot(delta.cwiseAbs2());
    std::vector<double> r;
    for (Index i = 0; i < 11; ++i) r.push_back(lambda[i] * delta[i] * delta[i] / loss);
    std::sort(r.begin(), r.end());
    // Nearest rank over 11 values: positions 1, 5 and 9.
    CHECK(m.values.at("adam_gn_ratio_p10") == doctest::Approx(r[1]).epsilon(1e-12));
    CHECK(m.values.at("adam_gn_ratio_p50") == doctest::Approx(r[5]).epsilon(1e-12));
    CHECK(m.values.at("adam_gn_ratio_p90") == doctest::Approx(r[9]).epsilon(1e-12));
  }
  // sgd arms record nothing.
  CHECK(measure_after(*f, json{{"precond", "sgd"}, {"lr", 0.01}}, 1, "adam-gn-ratio").values.empty());
}

TEST_CASE("measures on or off: every preset's loss curves are the same bits") {
  const std::string cifar = tiny_cifar_dataset();
  for (const auto& preset : embedded_presets()) {
    const std::string name = preset.name;
    CAPTURE(name);
    json doc = load_preset(name);
    doc["run"]["steps"] = 6;
    doc["run"]["seeds"] = 1;
    doc["run"]["log_every"] = 2;
    if (doc["task"]["name"] == "cifar") {
      doc["task"]["data_dir"] = cifar;
      doc["task"]["eval_size"] = 8;
      keep_arms(doc, kFig6ArmsRun);
    }
    // Every arm at most 64-sample batches, so the check stays fast on the network presets.
    for (auto& arm : doc["arms"]) {
      for (const char* key : {"batch", "gn_batch"})
        if (arm.contains(key) && arm[key].is_number() && arm[key].get<Index>() > 64) arm[key] = 64;
    }
    if (doc.contains("defaults"))
      for (const char* key : {"batch", "gn_batch"})
        if (doc["defaults"].contains(key) && doc["defaults"][key].is_number() && doc["defaults"][key].get<Index>() > 64)
          doc["defaults"][key] = 64;
    doc.erase("scales");
    doc["run"].erase("measure");  // a preset may record measures of its own
    const auto off = run_experiment(parse_experiment(doc));
    doc["run"]["measure"] = "all";
    doc["run"]["measure_batch"] = 32;
    const auto on = run_experiment(parse_experiment(doc));
    for (std::size_t a = 0; a < off.runs.size(); ++a) {
      const RunResult& x = off.runs[a][0];
      const RunResult& y = on.runs[a][0];
      CAPTURE(off.spec.arms[a].name);
      CHECK(x.loss == y.loss);
      CHECK(x.test_loss == y.test_loss);
      CHECK(x.test_accuracy == y.test_accuracy);
      CHECK(x.measures.empty());
      CHECK(y.measure_steps == y.steps);
      CHECK(y.measures.count("alignment") == 1);
      CHECK(y.measures.count("noise") == 1);
      for (const auto& [series, values] : y.measures) CHECK(values.size() == y.steps.size());
    }
  }
}

TEST_CASE("stored runs with measures verify, and a damaged measure is a bad file") {
  const json experiment{
      {"task", json::parse(R"({"name": "parity", "dim": 4, "k": 2, "width": 3, "eval_size": 64})")},
      {"run", {{"steps", 23}, {"log_every", 5}, {"measure", "all"}, {"measure_batch", 16}, {"measure_every", 2}}},
      {"arms", json::parse(R"([{"name": "adam", "precond": "adam", "lr": 0.01, "batch": 4},
                               {"name": "gn", "precond": "gn", "basis": "kronecker", "lr": 0.01, "batch": 4, "gn_batch": 8, "alpha": 0.01}])")}};
  SweepSpec spec;
  spec.experiment = experiment;
  read_sweep_fields(spec, json{{"seeds", 1}}, "test");
  const Sweep sweep(spec);
  const RunStore store(temp_dir("measures-store"));
  for (const auto& job : sweep.plan(store).jobs) {
    const json run = sweep.execute(job);
    CHECK(run_problem(run, job.hash) == "");
    REQUIRE(run.contains("measures"));
    // Every other logged point of 0, 5, 10, 15, 20, 23.
    CHECK(run["measures"]["steps"] == json::parse("[0, 10, 20]"));
    CHECK(run["measures"]["alignment"].size() == 3);
    store.save(job.hash, run);
    CHECK(store.problem(job.hash) == "");
    CHECK(run_from_json(store.load(job.hash)).measures.at("noise").size() == 3);
    auto problem_after = [&](const std::function<void(json&)>& edit) {
      json doc = run;
      doc.erase("checksum");
      edit(doc);
      return run_problem(doc, job.hash);
    };
    CHECK(problem_after([](json& d) { d["measures"]["alignment"].erase(1); }) == "measures.alignment is not an array of 3 values");
    CHECK(problem_after([](json& d) { d["measures"]["steps"][1] = 5; }) == "measures.steps[1] = 5, expected 10");
    CHECK(problem_after([](json& d) { d["measures"]["noise"][2] = "x"; }) == "measures.noise[2] = \"x\" is not a finite number or null");
    CHECK(problem_after([](json& d) { d.erase("measures"); }) == "config.run.measure is set but the run has no measures");
    CHECK(problem_after([](json& d) { d["measures"] = 3; }) == "measures is not an object");
  }
  // A run without measures may not carry them.
  json plain = experiment;
  plain["run"].erase("measure");
  SweepSpec plain_spec;
  plain_spec.experiment = plain;
  read_sweep_fields(plain_spec, json{{"seeds", 1}}, "test");
  const Sweep plain_sweep(plain_spec);
  const auto job = plain_sweep.plan(store).jobs.front();
  json run = plain_sweep.execute(job);
  CHECK_FALSE(run["config"]["run"].contains("measure_batch"));
  run.erase("checksum");
  run["measures"] = json{{"steps", json::array()}};
  CHECK(run_problem(run, job.hash) == "measures without config.run.measure");
}

TEST_CASE("the command line: --measure flags, unknown names and sizes refused with nothing written") {
  const std::string dir = temp_dir("measures-cli");
  const auto bad = run_adamgn("quadratic --cov half --steps 5 --measure alignment,bogus -o " + dir + "/x.json");
  CHECK(bad.code == 2);
  CHECK(bad.err == "adamgn: error: run.measure: measure bogus is not one of alignment, noise, adam-gn-ratio (or all)\n");
  CHECK(run_adamgn("quadratic --cov half --steps 5 --measure all --measure-every 0 -o " + dir + "/x.json").code == 2);
  CHECK_FALSE(std::filesystem::exists(dir + "/x.json"));
  const auto ok = run_adamgn("quadratic --cov half --steps 6 --log-every 2 --batch 4 --measure noise,alignment -q -o " + dir + "/x.json");
  REQUIRE(ok.code == 0);
  std::ifstream in(dir + "/x.json");
  const json doc = json::parse(in);
  const json& run = doc["arms"][0]["runs"][0];
  CHECK(run["measures"]["steps"] == json::parse("[0, 2, 4, 6]"));
  CHECK(doc["config"]["run"]["measure"] == json::parse(R"(["alignment", "noise"])"));
  CHECK(doc["arms"][0]["summary"]["measures"]["noise"]["final_mean"].is_number());
  const auto csv = run_adamgn("summarize " + dir + "/x.json --format csv");
  CHECK(csv.out.find("final_alignment_mean,final_alignment_se") != std::string::npos);
  const auto svg = run_adamgn("plot " + dir + "/x.json -o " + dir + "/x.svg");
  CHECK(svg.code == 0);
  const std::string text = file_text(dir + "/x.svg");
  CHECK(text.find("data-metric=\"alignment\"") != std::string::npos);
  CHECK(text.find("data-metric=\"noise\"") != std::string::npos);
}
