// `adamgn theory` against numbers worked out by hand from the paper's definitions (§3, §4, A.1,
// A.3, Lemma 2, Theorem 2 / Corollary 3), and its command line: table, JSON, usage errors.
#include "helpers.hpp"
#include "runner/theory.hpp"
#include "tasks/quadratic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace adamgn;
using namespace adamgn::test;

namespace {

json quadratic(const json& fields) {
  json t = fields;
  t["name"] = "quadratic";
  return theory_of(t);
}

json logistic(const json& fields) {
  json t = fields;
  t["name"] = "logistic";
  return theory_of(t);
}

double at(const json& t, const std::string& pointer) { return t.at(json::json_pointer(pointer)).get<double>(); }

void check_usage_error(const std::string& args, const std::string& must_mention) {
  INFO("adamgn " << args);
  const CliOutcome r = run_adamgn(args);
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err.rfind("adamgn: error: ", 0) == 0);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.find(must_mention) != std::string::npos);
}

}  // namespace

TEST_CASE("theory: the block quadratic of eq. (4) at 2d = 6") {
  // Sigma = [[1 1^T, 0], [0, I]] with 1 in R^3. 1 1^T has eigenvalues 3 (along 1) and 0, 0; I has
  // 1, 1, 1. So the spectrum is {3, 1, 1, 1, 0, 0} and the rank is 4.
  // diag(Sigma) = 1, so diag^-1 and diag^-1/2 are both I and A(P) = Sigma for both powers in the
  // identity basis: kappa = 3 / 1 and kappa_s = (3 + 3) / 1 = 6 on range(Sigma); r = 3 / 3 = 1.
  // Eigenbasis: GN^-1 gives the projection on range(Sigma) (kappa_s = rank = 4); GN^-1/2 gives
  // Sigma^1/2 with eigenvalues {sqrt 3, 1, 1, 1}: kappa_s = 3 + sqrt 3, kappa = sqrt 3.
  // Alignment of I: ||diag||^2 = 6, ||Sigma||_F^2 = 9 + 3 = 12, so 1/2 (in general 2 / (d + 1)).
  // Batch-1 GN^-1 lives on the rank-4 range: best lr 1/6, factor 5/6.
  const json t = quadratic({{"cov", "block"}, {"dim", 6}});
  CHECK(t.at("dim") == 6);
  CHECK(t.at("rank") == 4);
  const auto ev = t.at("eigenvalues").get<std::vector<double>>();
  const std::vector<double> expect = {3, 1, 1, 1, 0, 0};
  REQUIRE(ev.size() == expect.size());
  for (std::size_t i = 0; i < ev.size(); ++i) CHECK(ev[i] == doctest::Approx(expect[i]));
  CHECK(at(t, "/spectrum/min") == 0.0);
  CHECK(at(t, "/spectrum/max") == doctest::Approx(3.0));
  CHECK(at(t, "/spectrum/q50") == doctest::Approx(1.0));
  CHECK(at(t, "/r/value") == doctest::Approx(1.0));
  CHECK(t.at("r").at("favours") == "neither");
  CHECK(at(t, "/lemma2/identity/gn^-1/kappa_s") == doctest::Approx(6.0));
  CHECK(at(t, "/lemma2/identity/gn^-1/kappa") == doctest::Approx(3.0));
  CHECK(at(t, "/lemma2/identity/gn^-1~12/kappa_s") == doctest::Approx(6.0));
  CHECK(at(t, "/lemma2/eigen/gn^-1/kappa_s") == doctest::Approx(4.0));
  CHECK(at(t, "/lemma2/eigen/gn^-1/lemma2_factor") == doctest::Approx(1.0 - 1.0 / 12.0));
  CHECK(at(t, "/lemma2/eigen/gn^-1~12/kappa_s") == doctest::Approx(3.0 + std::sqrt(3.0)));
  CHECK(at(t, "/lemma2/eigen/gn^-1~12/kappa") == doctest::Approx(std::sqrt(3.0)));
  CHECK(at(t, "/alignment/identity") == doctest::Approx(0.5));
  CHECK(at(t, "/alignment/eigen") == 1.0);
  CHECK(t.at("batch1_gn_inverse").at("d") == 4);
  CHECK(at(t, "/batch1_gn_inverse/best_lr") == doctest::Approx(1.0 / 6.0));
  CHECK(at(t, "/batch1_gn_inverse/factor_at_best_lr") == doctest::Approx(5.0 / 6.0));

  // The paper's size, 2d = 100: rank d + 1 = 51 and alignment 2 / (d + 1) = 2 / 51.
  const json big = quadratic({{"cov", "block"}, {"dim", 100}});
  CHECK(big.at("rank") == 51);
  CHECK(at(big, "/alignment/identity") == doctest::Approx(2.0 / 51.0));
  CHECK(at(big, "/lemma2/identity/gn^-1/kappa") == doctest::Approx(50.0));
}

TEST_CASE("theory: a diagonal spectrum is aligned with the identity basis") {
  // Sigma = diag(4, 1, 1/4). The identity basis is an eigenbasis: alignment 1, and both bases give
  // the same A(P): I for GN^-1 (kappa_s = 3) and Sigma^1/2 = diag(2, 1, 1/2) for GN^-1/2
  // (kappa_s = 3.5 / 0.5 = 7, kappa = 4). r = kappa(I) / kappa(Sigma^1/2) = 1/4 favours GN^-1.
  const json t = quadratic({{"cov", "spectrum"}, {"spectrum", {4.0, 1.0, 0.25}}});
  CHECK(at(t, "/alignment/identity") == doctest::Approx(1.0));
  for (const char* basis : {"identity", "eigen"}) {
    INFO(basis);
    const std::string b = std::string("/lemma2/") + basis;
    CHECK(at(t, b + "/gn^-1/kappa_s") == doctest::Approx(3.0));
    CHECK(at(t, b + "/gn^-1/kappa") == doctest::Approx(1.0));
    CHECK(at(t, b + "/gn^-1~12/kappa_s") == doctest::Approx(7.0));
    CHECK(at(t, b + "/gn^-1~12/kappa") == doctest::Approx(4.0));
    CHECK(at(t, b + "/gn^-1~12/lemma2_factor") == doctest::Approx(1.0 - 1.0 / 21.0));
  }
  CHECK(at(t, "/r/value") == doctest::Approx(0.25));
  CHECK(t.at("r").at("favours") == "gn^-1");
  CHECK(t.at("rank") == 3);

  // Rotated, the eigenbasis quantities do not change and the identity basis loses alignment.
  const json rot = quadratic({{"cov", "spectrum"}, {"spectrum", {4.0, 1.0, 0.25}}, {"rotate", true}, {"problem_seed", 3}});
  CHECK(at(rot, "/lemma2/eigen/gn^-1~12/kappa_s") == doctest::Approx(7.0));
  CHECK(at(rot, "/alignment/identity") < 0.99);
  CHECK(at(rot, "/alignment/eigen") == 1.0);
}

TEST_CASE("theory: with label noise, the loss floor sigma^2/2 and the batch-1 ratio 2 there") {
  const json noiseless = quadratic({{"cov", "spectrum"}, {"spectrum", {4.0, 1.0}}});
  CHECK(noiseless.at("adam_gn_ratio").at("band") == json::array({2.0, 6.0}));
  CHECK(!noiseless.at("adam_gn_ratio").contains("at_floor"));
  const json noisy = quadratic({{"cov", "spectrum"}, {"spectrum", {4.0, 1.0}}, {"label_noise", 0.3}});
  CHECK(at(noisy, "/adam_gn_ratio/loss_floor") == doctest::Approx(0.045).epsilon(1e-14));
  CHECK(at(noisy, "/adam_gn_ratio/at_floor") == 2.0);
  const CliOutcome table = run_adamgn("theory quadratic --cov spectrum --spectrum 4,1 --label-noise 0.3");
  CHECK(table.code == 0);
  CHECK(table.out.find("label noise: loss floor sigma^2 / 2                      0.045") != std::string::npos);
  CHECK(table.out.find("label noise: the ratio at the floor                      2 ") != std::string::npos);
  const CliOutcome preset = run_adamgn("theory --preset sec3-noise-floor --json");
  REQUIRE(preset.code == 0);
  CHECK(at(json::parse(preset.out), "/adam_gn_ratio/loss_floor") == doctest::Approx(0.045));
}

TEST_CASE("theory: r(Sigma_half) > 1 and r(Sigma_one) < 1, as the task guarantees") {
  for (const char* cov : {"half", "one"}) {
    INFO(cov);
    const json task{{"name", "quadratic"}, {"cov", cov}};
    const json t = theory_of(task);
    const json info = make_task_factory(task)->info();
    const double r = at(t, "/r/value");
    const double ks = at(t, "/lemma2/identity/gn^-1/kappa_s") / at(t, "/lemma2/identity/gn^-1~12/kappa_s");
    // The task draws its rotation until both ratios favour the intended power by its margin 1.8.
    if (std::string(cov) == "half") {
      CHECK(r >= 1.8);
      CHECK(ks >= 1.8);
      CHECK(t.at("r").at("favours") == "gn^-1/2");
    } else {
      CHECK(r <= 1.0 / 1.8);
      CHECK(ks <= 1.0 / 1.8);
      CHECK(t.at("r").at("favours") == "gn^-1");
    }
    CHECK(r == doctest::Approx(info.at("r_ratio").get<double>()).epsilon(1e-9));
    CHECK(ks == doctest::Approx(info.at("kappa_s_ratio").get<double>()).epsilon(1e-9));
  }
}

TEST_CASE("theory: the batch-1 GN^-1 factor 1 - 2 lr + (d + 2) lr^2 at d = 5") {
  // d = 5: the factor is 1 - 2 lr + 7 lr^2, minimal at lr = 1/7 where it is 1 - 1/7 = 6/7.
  // At lr = 0.1: 1 - 0.2 + 0.07 = 0.87. Eq. (8) as printed would give 1 - 0.2 + 0.12 = 0.92.
  CHECK(batch1_gn_inverse_factor(5, 0.1) == doctest::Approx(0.87));
  CHECK(batch1_gn_inverse_factor(5, 1.0 / 7.0) == doctest::Approx(6.0 / 7.0));
  const json t = quadratic({{"cov", "spectrum"}, {"spectrum", {5.0, 2.0, 1.0, 0.5, 0.1}}, {"rotate", true}});
  CHECK(t.at("batch1_gn_inverse").at("d") == 5);
  const double lr = at(t, "/batch1_gn_inverse/best_lr");
  CHECK(lr == doctest::Approx(1.0 / 7.0));
  CHECK(at(t, "/batch1_gn_inverse/factor_at_best_lr") == doctest::Approx(6.0 / 7.0));
  CHECK(batch1_gn_inverse_factor(5, lr * 1.01) > batch1_gn_inverse_factor(5, lr));
  CHECK(batch1_gn_inverse_factor(5, lr * 0.99) > batch1_gn_inverse_factor(5, lr));
  // (6/7)^s = 1/2 at s = ln 2 / ln(7/6) = 4.4966.
  CHECK(at(t, "/batch1_gn_inverse/steps_per_halving") == doctest::Approx(std::log(2.0) / std::log(7.0 / 6.0)));
}

TEST_CASE("theory: logistic kappa(nu) = d^c, delta and Theorem 2's slowdown") {
  // nu_i ∝ i^-c: kappa = nu_1 / nu_d = d^c. d = 2048 = 2^11, c = 0.6: kappa = 2^6.6 = 97.00586,
  // delta = 0.6 - 1/2 = 0.1. sqrt(d) / kappa = 2^(5.5 - 6.6) = 2^-1.1 = 0.466516 > 1/sqrt(d), so
  // B = sqrt(11 ln 2) 2^-1.1 = 1.288179, the slowdown 1/B = 0.776290 and d^delta = 2^1.1 = 2.143547.
  const json t = logistic({{"dim", 2048}, {"power_law", 0.6}});
  CHECK(at(t, "/kappa_nu") == doctest::Approx(97.00586025666546).epsilon(1e-10));
  CHECK(at(t, "/delta") == doctest::Approx(0.1).epsilon(1e-10));
  CHECK(at(t, "/theorem2/bound") == doctest::Approx(1.2881785933362842).epsilon(1e-10));
  CHECK(at(t, "/theorem2/slowdown") == doctest::Approx(0.7762898756220412).epsilon(1e-10));
  CHECK(t.at("theorem2").at("binding") == "sqrt(d)/kappa");
  CHECK(t.at("corollary3").at("applies") == true);
  CHECK(at(t, "/corollary3/d_pow_delta") == doctest::Approx(2.1435469250725863).epsilon(1e-10));
  for (const auto& item : t.at("assumptions").items()) {
    INFO(item.key());  // not a structured binding: INFO's lambda captures it
    CHECK(item.value() == true);
  }

  // c = 1, d = 4096: kappa = 4096, delta = 1/2, both terms 1/64: slowdown 64 / sqrt(ln 4096).
  const json c1 = logistic({{"dim", 4096}, {"power_law", 1.0}});
  CHECK(at(c1, "/delta") == doctest::Approx(0.5));
  CHECK(at(c1, "/theorem2/slowdown") == doctest::Approx(64.0 / std::sqrt(std::log(4096.0))));
  CHECK(at(c1, "/corollary3/d_pow_delta") == doctest::Approx(64.0));
  // c = 1.2, d = 1024: kappa = 2^12 > d, delta = 0.7; the corollary holds at delta = 1/2 and the
  // 1/sqrt(d) term binds: slowdown sqrt(d) / sqrt(ln d) = 32 / sqrt(ln 1024).
  const json c12 = logistic({{"dim", 1024}, {"power_law", 1.2}});
  CHECK(at(c12, "/delta") == doctest::Approx(0.7));
  CHECK(at(c12, "/corollary3/delta_used") == 0.5);
  CHECK(at(c12, "/corollary3/d_pow_delta") == doctest::Approx(32.0));
  CHECK(c12.at("theorem2").at("binding") == "1/sqrt(d)");
  CHECK(at(c12, "/theorem2/slowdown") == doctest::Approx(32.0 / std::sqrt(std::log(1024.0))));
  // c = 0.3, d = 1024: kappa = 8 < sqrt(d) = 32, delta = -0.2: Corollary 3 says nothing.
  const json c03 = logistic({{"dim", 1024}, {"power_law", 0.3}});
  CHECK(at(c03, "/kappa_nu") == doctest::Approx(8.0));
  CHECK(at(c03, "/delta") == doctest::Approx(-0.2));
  CHECK(c03.at("corollary3").at("applies") == false);
  CHECK_FALSE(c03.at("corollary3").contains("d_pow_delta"));
  // Theorem 2 assumes theta0 = 1/sqrt(d) and P in [0.6, 0.8]; other settings are flagged.
  const json off = logistic({{"dim", 64}, {"init", 0.9}, {"p_label", 0.9}});
  CHECK(off.at("assumptions").at("init = 1/sqrt(d)") == false);
  CHECK(off.at("assumptions").at("p_label in [0.6, 0.8]") == false);
  CHECK(off.at("assumptions").at("sigma(init^2) <= 0.55") == false);
}

TEST_CASE("theory: only quadratic and logistic, and their own field checks") {
  CHECK(error_of([] { theory_of(json{{"name", "parity"}}); }).find("theory covers quadratic and logistic") == 0);
  CHECK(error_of([] { logistic({{"dim", 1}}); }).find("must be >= 2") != std::string::npos);
  CHECK(error_of([] { quadratic({{"cov", "bogus"}}); }).find("task.cov") != std::string::npos);
}

TEST_CASE("theory CLI: table, JSON from flags and presets, usage errors") {
  const CliOutcome table = run_adamgn("theory quadratic --cov block --dim 6");
  CHECK(table.code == 0);
  CHECK(table.err.empty());
  CHECK(table.out.find("adamgn theory: quadratic (cov block, dim 6") == 0);
  CHECK(table.out.find("3 1 1 1 0 0") != std::string::npos);
  CHECK(table.out.find("best lr = 1 / (d+2)") != std::string::npos);
  CHECK(table.out.find("0.166667") != std::string::npos);

  const CliOutcome j = run_adamgn("theory logistic --dim 2048 --json");
  REQUIRE(j.code == 0);
  const json doc = json::parse(j.out);
  CHECK(doc.at("task").at("dim") == 2048);
  CHECK(at(doc, "/kappa_nu") == doctest::Approx(97.00586025666546));

  // A preset's task section, with its scale and task overrides; --json before the task works too.
  const CliOutcome p = run_adamgn("theory --preset fig1-left --json");
  REQUIRE(p.code == 0);
  CHECK(json::parse(p.out).at("rank") == 51);
  const CliOutcome s = run_adamgn("theory --preset fig1-right --set task.dim=1024 --json");
  REQUIRE(s.code == 0);
  CHECK(at(json::parse(s.out), "/kappa_nu") == doctest::Approx(std::pow(1024.0, 0.6)));
  const CliOutcome before = run_adamgn("theory --json quadratic --cov half");
  REQUIRE(before.code == 0);
  CHECK(at(json::parse(before.out), "/r/value") > 1.0);
  const CliOutcome lt = run_adamgn("theory --preset fig1-right");
  CHECK(lt.code == 0);
  CHECK(lt.out.find("kappa(nu) = nu_max / nu_min") != std::string::npos);

  check_usage_error("theory quadratic --bogus 1", "--bogus");
  check_usage_error("theory parity --dim 20", "theory covers quadratic and logistic");
  check_usage_error("theory --preset fig4", "theory covers quadratic and logistic");
  check_usage_error("theory", "theory needs a task");
  check_usage_error("theory quadratic --cov half --preset fig2", "not both");
  check_usage_error("theory --preset fig2 --set run.steps=3", "task.KEY");
  check_usage_error("theory quadratic --cov bogus", "task.cov");
  check_usage_error("theory --preset fig2 --scale huge", "huge");
}
