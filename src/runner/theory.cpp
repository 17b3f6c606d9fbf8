#include "runner/theory.hpp"

#include "tasks/factory.hpp"
#include "tasks/logistic.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace adamgn {
namespace {

constexpr const char* kGnInverse = "gn^-1";
constexpr const char* kGnHalf = "gn^-1/2";
// Quadratics with more eigenvalues than this get a summary line in the table (JSON lists all).
constexpr Index kListedEigenvalues = 12;

Vec eigenvalues_ascending(const Mat& a) {
  Eigen::SelfAdjointEigenSolver<Mat> s(a, Eigen::EigenvaluesOnly);
  return s.eigenvalues();
}

// kappa = lambda_max / lambda_min and kappa_s = Tr / lambda_min of A(P) from its eigenvalues on
// range(Sigma) (all positive), with Lemma 2's loss factor 1 - 1 / (3 kappa_s).
json conditioning(const Vec& positive) {
  const double lo = positive.minCoeff();
  const double kappa_s = positive.sum() / lo;
  return json{{"kappa", positive.maxCoeff() / lo}, {"kappa_s", kappa_s}, {"lemma2_factor", 1.0 - 1.0 / (3.0 * kappa_s)}};
}

// Linear interpolation between order statistics (the default of NumPy and R).
double quantile(const Vec& ascending, double q) {
  const double pos = q * static_cast<double>(ascending.size() - 1);
  const Index lo = static_cast<Index>(std::floor(pos));
  const Index hi = std::min<Index>(lo + 1, ascending.size() - 1);
  return ascending[lo] + (pos - static_cast<double>(lo)) * (ascending[hi] - ascending[lo]);
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

// "cov half, dim 5, ..." from a resolved task config: numbers to 6 digits, arrays by their length,
// empty arrays left out.
std::string describe_task(const json& task) {
  std::string fields;
  for (const auto& [key, value] : task.items()) {
    if (key == "name" || (value.is_array() && value.empty())) continue;
    const std::string shown = value.is_array()          ? "[" + std::to_string(value.size()) + " values]"
                              : value.is_number_float() ? num(value.get<double>())
                                                        : show(value);
    fields += (fields.empty() ? "" : ", ") + key + " " + shown;
  }
  const std::string name = task.value("name", "");
  return fields.empty() ? name : name + " (" + fields + ")";
}

// One table line: the label padded to a fixed width in characters (UTF-8 aware), then the value
// (a heading when there is none).
void row(std::ostringstream& out, const std::string& label, const std::string& value) {
  if (value.empty()) {
    out << "  " << label << "\n";
    return;
  }
  constexpr std::size_t kWidth = 58;
  std::size_t chars = 0;
  for (unsigned char c : label) chars += (c & 0xC0) != 0x80;
  out << "  " << label << std::string(kWidth > chars ? kWidth - chars : 0, ' ') << " " << value << "\n";
}

void quadratic_table(const json& t, std::ostringstream& out) {
  const auto ev = t.at("eigenvalues").get<std::vector<double>>();
  const json& s = t.at("spectrum");
  std::string spectrum;
  if (static_cast<Index>(ev.size()) <= kListedEigenvalues) {
    for (double x : ev) spectrum += (spectrum.empty() ? "" : " ") + num(x);
  } else {
    spectrum = "min " + num(s.at("min")) + ", q10 " + num(s.at("q10")) + ", median " + num(s.at("q50")) +
               ", q90 " + num(s.at("q90")) + ", max " + num(s.at("max"));
  }
  row(out, "eigenvalues of Sigma (" + std::to_string(ev.size()) + ", rank " + std::to_string(t.at("rank").get<Index>()) + ")",
      spectrum);
  const json& r = t.at("r");
  row(out, "r(Sigma) = kappa(A(diag^-1)) / kappa(A(diag^-1/2)) (A.3)",
      num(r.at("value")) + " (favours " + r.at("favours").get<std::string>() + ")");
  row(out, "Lemma 2, A(P) = Sigma^1/2 P Sigma^1/2:", "kappa_s      1 - 1/(3 kappa_s)  kappa");
  for (const char* basis : {"identity", "eigen"})
    for (const char* p : {kGnInverse, kGnHalf}) {
      const json& c = t.at("lemma2").at(basis).at(p);
      char buf[128];
      std::snprintf(buf, sizeof buf, "%-12s %-18s %s", num(c.at("kappa_s")).c_str(), num(c.at("lemma2_factor")).c_str(),
                    num(c.at("kappa")).c_str());
      row(out, std::string("  ") + (std::string(basis) == "eigen" ? "eigenbasis" : "identity basis") + ", " + p, buf);
    }
  const json& b = t.at("batch1_gn_inverse");
  const std::string d = std::to_string(b.at("d").get<Index>());
  row(out, "batch-1 GN^-1, eigenbasis (A.1, eq. (7)): E[l+] / E[l]", "1 - 2 lr + (d+2) lr^2, d = " + d + " (rank of Sigma)");
  row(out, "  best lr = 1 / (d+2)", num(b.at("best_lr")));
  row(out, "  factor at the best lr = (d+1) / (d+2)",
      num(b.at("factor_at_best_lr")) + " (loss halves every " + num(b.at("steps_per_halving")) + " steps)");
  row(out, "alignment ||diag(U^T Sigma U)||^2 / ||Sigma||_F^2:", "");
  row(out, "  identity basis", num(t.at("alignment").at("identity")));
  row(out, "  eigenbasis", num(t.at("alignment").at("eigen")));
  const json& a = t.at("adam_gn_ratio");
  row(out, "batch 1 (Lemma 1, Cor. 1): ratio E[g_i^2] / (l s_i)", "in [2, 6], any basis");
  if (a.contains("at_floor")) {
    row(out, "  label noise: loss floor sigma^2 / 2", num(a.at("loss_floor")));
    row(out, "  label noise: the ratio at the floor", num(a.at("at_floor")) + " (adam-gn-ratio at batch 1)");
  }
}

void logistic_table(const json& t, std::ostringstream& out) {
  row(out, "nu_i = Pr(x = e_i)", "min " + num(t.at("nu_min")) + ", max " + num(t.at("nu_max")));
  row(out, "kappa(nu) = nu_max / nu_min (§4)", num(t.at("kappa_nu")));
  row(out, "delta = ln kappa(nu) / ln d - 1/2 (Corollary 3)", num(t.at("delta")));
  const json& th = t.at("theorem2");
  row(out, "Theorem 2: 1 - gamma <= c B for a universal constant c", "B = " + num(th.at("bound")));
  row(out, "  B = sqrt(ln d) max{1/sqrt(d), sqrt(d)/kappa(nu)}", "binding term " + th.at("binding").get<std::string>());
  row(out, "  slowdown: GN^-1 steps / Adam steps >= 1/B (times 1/c)", num(th.at("slowdown")));
  const json& co = t.at("corollary3");
  if (co.at("applies").get<bool>())
    row(out, "Corollary 3: GN^-1 steps = Omega~(d^delta ln(1/eps))", "d^delta = " + num(co.at("d_pow_delta")) +
                                                                        (t.at("delta").get<double>() > 0.5 ? " (delta taken as 1/2)" : ""));
  else
    row(out, "Corollary 3: GN^-1 steps = Omega~(d^delta ln(1/eps))", "does not apply (delta < 0)");
  for (const auto& [name, holds] : t.at("assumptions").items())
    row(out, "  assumption " + name, holds.get<bool>() ? "holds" : "does not hold");
}

}  // namespace

double batch1_gn_inverse_factor(Index d, double lr) {
  return 1.0 - 2.0 * lr + static_cast<double>(d + 2) * lr * lr;
}

// Lemma 1 / Corollary 1 for batch-1 gradients in any basis U (docs/theory.md derives it): with
// loss l = l_ex + sigma^2 / 2, E[g_i^2] = 2 (u_i^T Sigma D)^2 + 2 l s_i, so the ratio
// E[g_i^2] / (l s_i) lies in [2, 2 + 4 l_ex / l]: [2, 6] without label noise, and it tends to
// exactly 2 as the loss reaches the floor sigma^2 / 2.
json adam_gn_ratio_prediction(double label_noise) {
  json j{{"band", {2.0, 6.0}}};
  if (label_noise > 0.0) {
    j["loss_floor"] = 0.5 * label_noise * label_noise;
    j["at_floor"] = 2.0;
  }
  return j;
}

json quadratic_theory(const Mat& sigma, double label_noise) {
  const Index n = sigma.rows();
  const Vec ev = eigenvalues_ascending(sigma);
  // Eigenvalues within rounding of zero (relative to the largest) are the null space.
  const double tol = 64.0 * static_cast<double>(n) * std::numeric_limits<double>::epsilon() * ev[n - 1];
  const Index rank = (ev.array() > tol).count();
  const Vec positive = ev.tail(rank);
  Vec shown = ev;
  shown.head(n - rank).setZero();

  // Eigenvalues of A(P) for P = diag(Sigma)^power (the identity basis) on range(Sigma): P is
  // positive definite, so A(P) has exactly n - rank zero eigenvalues.
  const Vec diag = sigma.diagonal();
  auto identity_basis = [&](double power) {
    const Vec half = diag.array().pow(power / 2.0).matrix();
    return conditioning(eigenvalues_ascending(half.asDiagonal() * sigma * half.asDiagonal()).tail(rank));
  };
  const json id_inverse = identity_basis(-1.0), id_half = identity_basis(-0.5);
  // In the eigenbasis P = Sigma^p, so A(P) = Sigma^(1 + p): the projection onto range(Sigma) for
  // GN^-1 and Sigma^1/2 for GN^-1/2.
  const json eig_inverse = conditioning(Vec::Ones(rank)), eig_half = conditioning(positive.cwiseSqrt());

  const double r = id_inverse.at("kappa").get<double>() / id_half.at("kappa").get<double>();
  const double best_lr = 1.0 / static_cast<double>(rank + 2);
  const double best_factor = batch1_gn_inverse_factor(rank, best_lr);

  std::vector<double> descending(shown.data(), shown.data() + n);
  std::reverse(descending.begin(), descending.end());
  return json{
      {"dim", n},
      {"rank", rank},
      {"eigenvalues", descending},
      {"spectrum",
       {{"min", shown[0]}, {"q10", quantile(shown, 0.1)}, {"q50", quantile(shown, 0.5)}, {"q90", quantile(shown, 0.9)},
        {"max", shown[n - 1]}}},
      {"r",
       {{"value", r},
        {"kappa_gn^-1", id_inverse.at("kappa")},
        {"kappa_gn^-1/2", id_half.at("kappa")},
        {"favours", r > 1.0 ? kGnHalf : (r < 1.0 ? kGnInverse : "neither")}}},
      {"lemma2",
       {{"identity", {{kGnInverse, id_inverse}, {kGnHalf, id_half}}},
        {"eigen", {{kGnInverse, eig_inverse}, {kGnHalf, eig_half}}}}},
      {"batch1_gn_inverse",
       {{"d", rank},
        {"best_lr", best_lr},
        {"factor_at_best_lr", best_factor},
        {"steps_per_halving", std::log(0.5) / std::log(best_factor)}}},
      {"alignment", {{"identity", diag.squaredNorm() / sigma.squaredNorm()}, {"eigen", 1.0}}},
      {"adam_gn_ratio", adam_gn_ratio_prediction(label_noise)}};
}

json logistic_theory(const Vec& nu, double init, double p_label) {
  const Index d = nu.size();
  if (d < 2) throw UsageError("theory: task.dim = " + std::to_string(d) + " must be >= 2 (delta divides by ln d)");
  const double ld = std::log(static_cast<double>(d));
  const double sqrt_d = std::sqrt(static_cast<double>(d));
  const double kappa = nu.maxCoeff() / nu.minCoeff();
  const double delta = std::log(kappa) / ld - 0.5;
  const bool dimension_binds = 1.0 / sqrt_d >= sqrt_d / kappa;
  const double bound = std::sqrt(ld) * std::max(1.0 / sqrt_d, sqrt_d / kappa);
  json corollary{{"applies", delta >= 0.0}};
  if (delta >= 0.0) {
    // kappa >= d^(1/2 + delta) with delta > 1/2 also satisfies the corollary at delta = 1/2.
    const double used = std::min(delta, 0.5);
    corollary["delta_used"] = used;
    corollary["d_pow_delta"] = std::pow(static_cast<double>(d), used);
  }
  const double init_sq = init * init;
  return json{{"dim", d},
              {"nu_min", nu.minCoeff()},
              {"nu_max", nu.maxCoeff()},
              {"kappa_nu", kappa},
              {"delta", delta},
              {"theorem2",
               {{"bound", bound}, {"binding", dimension_binds ? "1/sqrt(d)" : "sqrt(d)/kappa"}, {"slowdown", 1.0 / bound}}},
              {"corollary3", corollary},
              {"assumptions",
               {{"init = 1/sqrt(d)", std::abs(init * sqrt_d - 1.0) <= 1e-6},
                {"p_label in [0.6, 0.8]", p_label >= 0.6 && p_label <= 0.8},
                {"sigma(init^2) <= 0.55", 1.0 / (1.0 + std::exp(-init_sq)) <= 0.55}}}};
}

json theory_of(const json& task) {
  if (task.is_object() && task.contains("name") && task["name"].is_string()) {
    const std::string name = task["name"].get<std::string>();
    if (name != "quadratic" && name != "logistic")
      throw UsageError("theory covers quadratic and logistic, not task.name = " + name);
  }
  const auto factory = make_task_factory(task);
  json out;
  if (factory->name() == "quadratic") {
    // The exact population GN matrix of a quadratic is Sigma (tasks/quadratic.hpp).
    const auto t = factory->make(0);
    Rng unused(0);
    Curvature c;
    t->curvature(t->initial_parameters(), SampleSize::population(), unused, CurvatureNeed::full, c);
    out = quadratic_theory(c.full, factory->config().value("label_noise", 0.0));
  } else {
    const json cfg = factory->config();
    out = logistic_theory(logistic_input_probabilities(*factory), cfg.at("init").get<double>(),
                          cfg.at("p_label").get<double>());
  }
  out["task"] = factory->config();
  return out;
}

std::string theory_table(const json& theory) {
  std::ostringstream out;
  const json& task = theory.at("task");
  out << "adamgn theory: " << describe_task(task) << "\n";
  if (task.at("name") == "quadratic") quadratic_table(theory, out);
  else logistic_table(theory, out);
  return out.str();
}

std::string theory_brief(const json& t) {
  auto n = [](const json& v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v.get<double>());
    return std::string(buf);
  };
  std::string out;
  if (t.contains("lemma2")) {
    const json& l = t.at("lemma2");
    out = "r(Σ) = " + n(t.at("r").at("value")) + " (favours " + t.at("r").at("favours").get<std::string>() +
          "); Lemma 2's κ_s, identity basis: GN⁻¹ " + n(l.at("identity").at(kGnInverse).at("kappa_s")) + ", GN^−½ " +
          n(l.at("identity").at(kGnHalf).at("kappa_s")) + "; eigenbasis: GN⁻¹ " + n(l.at("eigen").at(kGnInverse).at("kappa_s")) +
          ", GN^−½ " + n(l.at("eigen").at(kGnHalf).at("kappa_s")) + "; batch-1 GN⁻¹ in the eigenbasis at its best lr " +
          n(t.at("batch1_gn_inverse").at("best_lr")) + ": loss factor " + n(t.at("batch1_gn_inverse").at("factor_at_best_lr")) +
          " per step; alignment of the identity basis " + n(t.at("alignment").at("identity")) +
          "; batch-1 v/(ℓ s) in [2, 6]";
    const json& a = t.at("adam_gn_ratio");
    if (a.contains("at_floor"))
      out += "; label noise: loss floor " + n(a.at("loss_floor")) + ", v/(ℓ s) = " + n(a.at("at_floor")) + " there";
  } else {
    const json& co = t.at("corollary3");
    out = "d = " + std::to_string(t.at("dim").get<Index>()) + ", κ(ν) = " + n(t.at("kappa_nu")) + ", δ = " + n(t.at("delta")) +
          "; Theorem 2: GN⁻¹ steps / Adam steps ≥ " + n(t.at("theorem2").at("slowdown")) + " / c";
    if (co.at("applies").get<bool>())
      out += "; Corollary 3: GN⁻¹ steps grow as d^δ with δ = " + n(co.at("delta_used")) + " (d^δ = " + n(co.at("d_pow_delta")) + ")";
    else
      out += "; Corollary 3 does not apply (δ < 0)";
  }
  return out;
}

}  // namespace adamgn
