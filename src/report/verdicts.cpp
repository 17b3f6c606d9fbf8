#include "report/verdicts.hpp"

#include "report/results.hpp"
#include "runner/claims.hpp"
#include "tasks/factory.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

namespace adamgn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Stats {
  double mean = kInf, se = 0.0;
  Index ok = 0, n = 0;
  bool reaches = false;  // every seed reached the target without diverging
  double steps = kInf;   // mean steps to target over the seeds that reached it
};

// The final value of a run's curve for a metric (NaN when the run has none).
double final_value(const json& run, const std::string& metric, double floor) {
  auto last = [](const json& series) {
    for (auto it = series.rbegin(); it != series.rend(); ++it)
      if (it->is_number()) return it->get<double>();
    return std::nan("");
  };
  if (metric.rfind(kMeasureMetric, 0) == 0) {
    const std::string name = metric.substr(std::string(kMeasureMetric).size());
    if (!run.contains("measures") || !run["measures"].is_object() || !run["measures"].contains(name)) return std::nan("");
    return last(run["measures"][name]);
  }
  const char* key = metric == "final-test" ? "test_loss" : "loss";
  if (!run.contains(key) || run[key].empty()) return std::nan("");
  double x = last(run[key]);
  if (metric == "final-excess") x -= floor;
  x = std::max(x, 1e-30);
  return metric == "log-final" ? std::log10(x) : x;
}

Stats stats_of(const json& arm, const std::string& metric, double floor) {
  Stats s;
  std::vector<double> v;
  Index reached = 0;
  double steps = 0.0;
  for (const auto& run : arm.at("runs")) {
    ++s.n;
    if (run.value("status", "") != "ok") continue;
    ++s.ok;
    if (metric != "steps")
      if (const double x = final_value(run, metric, floor); !std::isnan(x)) v.push_back(x);
    if (run.contains("steps_to_target") && !run["steps_to_target"].is_null()) {
      ++reached;
      steps += run["steps_to_target"].get<double>();
    }
  }
  s.reaches = s.n > 0 && reached == s.n;
  if (reached > 0) s.steps = steps / static_cast<double>(reached);
  if (v.empty()) return s;
  double m = 0.0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double ss = 0.0;
  for (double x : v) ss += (x - m) * (x - m);
  s.mean = m;
  s.se = v.size() > 1 ? std::sqrt(ss / static_cast<double>(v.size() - 1) / static_cast<double>(v.size())) : 0.0;
  return s;
}

std::string g3(double x) {
  if (std::isinf(x)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

std::string describe(const std::string& name, const Stats& s, bool steps) {
  std::string out = name + " ";
  if (steps) {
    out += s.reaches ? g3(s.steps) + " steps" : "target not reached by every seed";
  } else {
    out += !std::isinf(s.mean) ? g3(s.mean) + " ± " + g3(s.se) : s.ok == 0 ? std::string("all diverged") : std::string("no value");
  }
  if (s.ok < s.n) out += " [" + std::to_string(s.n - s.ok) + "/" + std::to_string(s.n) + " diverged]";
  return out;
}

// Worst verdict first: does not hold > not significant > holds.
int rank(const std::string& v) { return v == "does not hold" ? 2 : v == "not significant" ? 1 : 0; }

std::string verdict_less(const Stats& a, const Stats& b) {
  const double s = std::sqrt(a.se * a.se + b.se * b.se);
  if (std::isinf(a.mean) && std::isinf(b.mean)) return "not significant";
  if (b.mean - a.mean > 2 * s) return "holds";
  if (a.mean - b.mean > 2 * s) return "does not hold";
  return "not significant";
}

// On the log-final metric the means are log10 values: a ratio F becomes a difference log10 F.
std::string verdict_close(const Stats& a, const Stats& b, double factor, bool log) {
  if (std::isinf(a.mean) || std::isinf(b.mean)) return std::isinf(a.mean) && std::isinf(b.mean) ? "not significant" : "does not hold";
  const bool close = log ? std::fabs(a.mean - b.mean) <= std::log10(factor)
                         : std::max(a.mean, b.mean) / std::min(a.mean, b.mean) <= factor;
  if (close) return "holds";
  return std::fabs(a.mean - b.mean) <= 2 * std::sqrt(a.se * a.se + b.se * b.se) ? "not significant" : "does not hold";
}

std::string verdict_not_worse(const Stats& a, const Stats& b, double factor, bool log) {
  if (std::isinf(a.mean)) return std::isinf(b.mean) ? "not significant" : "does not hold";
  if (log) {
    const double excess = a.mean - b.mean - std::log10(factor);
    if (excess <= 0) return "holds";
    return excess <= 2 * std::sqrt(a.se * a.se + b.se * b.se) ? "not significant" : "does not hold";
  }
  if (a.mean <= factor * b.mean) return "holds";
  return a.mean - factor * b.mean <= 2 * std::sqrt(a.se * a.se + factor * factor * b.se * b.se) ? "not significant"
                                                                                                   : "does not hold";
}

// The least-squares slope of y on x (mean) and its standard error (se); +inf with fewer than 3
// points.
Stats fit_slope(const std::vector<double>& x, const std::vector<double>& y) {
  Stats s;
  const std::size_t n = x.size();
  if (n < 3) return s;
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < n; ++i) mx += x[i], my += y[i];
  mx /= static_cast<double>(n), my /= static_cast<double>(n);
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) sxx += (x[i] - mx) * (x[i] - mx), sxy += (x[i] - mx) * (y[i] - my);
  if (!(sxx > 0)) return s;
  s.mean = sxy / sxx;
  double rss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = y[i] - my - s.mean * (x[i] - mx);
    rss += e * e;
  }
  s.se = std::sqrt(rss / static_cast<double>(n - 2) / sxx);
  s.ok = s.n = static_cast<Index>(n);
  return s;
}

// Within [low, high], judged by the mean with a 2 se margin.
std::string verdict_band(const Stats& a, double low, double high) {
  if (std::isinf(a.mean)) return "does not hold";
  if (a.mean >= low && a.mean <= high) return "holds";
  if (a.mean < low - 2 * a.se || a.mean > high + 2 * a.se) return "does not hold";
  return "not significant";
}

std::string verdict_faster(const Stats& a, const Stats& b, double slack) {
  if (a.reaches && (!b.reaches || a.steps <= slack * b.steps)) return "holds";
  if (b.reaches) return "does not hold";
  return "not significant";
}

// The trivial loss of the curve a metric reads (NaN when the task states none).
double trivial_loss(const json& result, const std::string& metric) {
  const char* key = metric == "final-test" ? "trivial_test_loss" : "trivial_loss";
  if (metric != "final" && metric != "final-test" && metric != "log-final") return std::nan("");
  json info = result.value("task_info", json::object());
  if (!info.contains(key) && result.contains("config") && result["config"].contains("task")) {
    try {
      info = make_task_factory(result["config"]["task"])->info();
    } catch (const UsageError&) {
      return std::nan("");  // e.g. CIFAR-10 without its data on this machine
    }
  }
  return info.contains(key) && info[key].is_number() ? info[key].get<double>() : std::nan("");
}

// No arm ends below the trivial loss by more than 2 se.
bool vacuous(const std::vector<Stats>& arms, double trivial, bool log) {
  if (std::isnan(trivial)) return false;
  const double floor = log ? std::log10(std::max(trivial, 1e-30)) : trivial;
  bool any = false;  // an arm that did not diverge on every seed
  for (const auto& s : arms) {
    if (std::isinf(s.mean)) continue;
    if (s.mean < floor - 2 * s.se) return false;
    any = true;
  }
  return any;
}

std::string metric_text(const std::string& metric) {
  if (metric.rfind(kMeasureMetric, 0) == 0) return "final " + metric.substr(std::string(kMeasureMetric).size());
  return metric == "final-test"  ? "final test loss"
         : metric == "final-excess" ? "final excess loss (loss - floor)"
         : metric == "steps"     ? "steps to the target loss"
         : metric == "log-final" ? "log10 of the final loss"
                                 : "final loss";
}

}  // namespace

std::vector<ClaimVerdict> evaluate_claims(const json& result) {
  std::vector<ClaimVerdict> out;
  if (!result.contains("claims") || result["claims"].is_null()) return out;
  std::map<std::string, const json*> arms;
  std::vector<std::string> names;
  for (const auto& a : result.at("arms")) {
    arms[a.at("name").get<std::string>()] = &a;
    names.push_back(a.at("name").get<std::string>());
  }
  validate_claims(result["claims"], names, "claims");
  const double stated_floor = loss_floor(result);
  const double floor = std::isnan(stated_floor) ? 0.0 : stated_floor;  // final-excess: the loss above it
  for (const auto& c : result["claims"]) {
    const std::string kind = c.at("kind"), metric = c.value("metric", "final");
    const double factor = c.value("factor", 1.0);
    const auto a_names = claim_arms(c.at("a")), b_names = claim_arms(c.value("b", json()));
    const bool steps = metric == "steps", log = metric == "log-final";
    ClaimVerdict v;
    v.claim = c.at("claim");
    v.rule = kind + (factor != 1.0 ? ", factor " + g3(factor) : "") + ", " + metric_text(metric);
    if (kind == "exponent") {
      // Least squares of log statistic on log x over the arms of a; the slope's standard error
      // from the residuals (n - 2 degrees of freedom).
      const auto range = c.at("range").get<std::vector<double>>();
      const std::string x_key = c.at("x").get<std::string>().substr(5);
      v.rule = "exponent in [" + g3(range[0]) + ", " + g3(range[1]) + "] of " + metric_text(metric) + " against " +
               x_key + ", least squares on log-log";
      std::vector<double> lx, ly;
      std::string points, missing;
      for (const auto& n : a_names) {
        const json& arm_json = *arms.at(n);
        const json& task = arm_json.contains("task") ? arm_json["task"] : result.at("config").at("task");
        const Stats s = stats_of(arm_json, metric, floor);
        const double y = steps ? (s.reaches ? s.steps : kInf) : s.mean;
        if (!task.contains(x_key) || !task[x_key].is_number() || !(task[x_key].get<double>() > 0) || !(y > 0) ||
            std::isinf(y)) {
          missing += (missing.empty() ? "" : ", ") + n;
          continue;
        }
        lx.push_back(std::log(task[x_key].get<double>()));
        ly.push_back(std::log(y));
        char point[64];
        std::snprintf(point, sizeof point, "%.6g: %.4g", task[x_key].get<double>(), y);
        points += (points.empty() ? "" : ", ") + std::string(point);
      }
      const Stats fit = fit_slope(lx, ly);
      v.measured = "exponent " + (std::isinf(fit.mean) ? std::string("not fitted") : g3(fit.mean) + " ± " + g3(fit.se)) +
                   " (" + x_key + " " + points + ")";
      if (!missing.empty()) v.measured += "; no value for " + missing;
      v.verdict = missing.empty() ? verdict_band(fit, range[0], range[1]) : "does not hold";
      out.push_back(std::move(v));
      continue;
    }
    if (kind == "band") {
      // Every arm of a within the range.
      const auto range = c.at("range").get<std::vector<double>>();
      v.rule = "band [" + g3(range[0]) + ", " + g3(range[1]) + "], " + metric_text(metric);
      v.verdict = "holds";
      for (const auto& n : a_names) {
        const Stats s = stats_of(*arms.at(n), metric, floor);
        v.measured += (v.measured.empty() ? "" : "; ") + describe(n, s, false);
        const std::string one = verdict_band(s, range[0], range[1]);
        if (rank(one) > rank(v.verdict)) v.verdict = one;
      }
      out.push_back(std::move(v));
      continue;
    }
    const Stats a = stats_of(*arms.at(a_names.front()), metric, floor);
    std::vector<Stats> bs;
    for (const auto& n : b_names) bs.push_back(stats_of(*arms.at(n), metric, floor));
    v.measured = describe(a_names.front(), a, steps);
    for (std::size_t i = 0; i < bs.size(); ++i) v.measured += (i == 0 ? " vs " : "; ") + describe(b_names[i], bs[i], steps);
    if (kind == "not_worse") {
      // Against the best of the b arms.
      const auto best = std::min_element(bs.begin(), bs.end(), [](const Stats& x, const Stats& y) { return x.mean < y.mean; });
      v.verdict = verdict_not_worse(a, *best, factor, log);
      if (!std::isinf(best->mean) && !std::isinf(a.mean) && !log) v.measured += " (ratio " + g3(a.mean / best->mean) + ")";
    } else {
      v.verdict = "holds";
      for (const auto& b : bs) {
        std::string one = kind == "less"    ? verdict_less(a, b)
                          : kind == "close" ? verdict_close(a, b, factor, log)
                                            : verdict_faster(a, b, factor);
        if (rank(one) > rank(v.verdict)) v.verdict = one;
        if (kind == "close" && !std::isinf(a.mean) && !std::isinf(b.mean) && !log)
          v.measured += " (ratio " + g3(std::max(a.mean, b.mean) / std::min(a.mean, b.mean)) + ")";
      }
    }
    std::vector<Stats> all = bs;
    all.push_back(a);
    const double trivial = trivial_loss(result, metric);
    if (!steps && vacuous(all, trivial, log)) {
      v.verdict = "vacuous";
      v.measured += " (trivial loss " + g3(trivial) + ")";
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::string verdict_rules_markdown() {
  return "Each arm's statistic is the mean ± standard error, over its runs that did not diverge, of the final value "
         "of the claim's metric (an arm whose every run diverged counts as +inf; losses are floored at 1e-30). With "
         "s = sqrt(se_a² + se_b²):\n\n"
         "- **less** (a below each b): holds if mean_b − mean_a > 2s for every b; does not hold if mean_a − mean_b > 2s "
         "for some b; otherwise not significant.\n"
         "- **close F** (a and b track each other): holds if the ratio of the means is ≤ F; not significant if it is "
         "larger but |mean_a − mean_b| ≤ 2s; otherwise does not hold.\n"
         "- **not_worse F** (a close to or better than the best b): holds if mean_a ≤ F·mean_b; not significant if "
         "mean_a − F·mean_b ≤ 2·sqrt(se_a² + F²·se_b²); otherwise does not hold.\n"
         "- On the **log-final** metric the statistic is log10 of the final loss, and a factor F becomes a difference "
         "of log10 F between the means (with the same 2s significance margin).\n"
         "- **vacuous** replaces any of the verdicts above on a loss metric when no arm of the claim ends below the "
         "task's trivial loss (that of the best constant predictor) by more than 2 se_arm: a comparison of arms that "
         "learned nothing tests nothing.\n"
         "- **band [L, H]** (each arm of a within a range, e.g. a measure the theory predicts): holds if every "
         "mean is in [L, H]; does not hold if some mean is outside it by more than 2 se; otherwise not significant.\n"
         "- **exponent [L, H]** (how a's statistic scales with a task setting x, one arm per x): the least-squares "
         "slope of log statistic on log x with its standard error from the residuals, judged as a band; an arm without "
         "a value (e.g. a target not reached by every seed) makes it not hold.\n"
         "- The **final-excess** metric is the final loss minus the task's loss floor (label noise), and "
         "**measure:SERIES** the last recorded value of a measure series.\n"
         "- **faster S** (a reaches the target loss first): an arm reaches it when every seed does without diverging; "
         "holds if a reaches it and b does not or mean steps_a ≤ S·mean steps_b; does not hold if b reaches it and a "
         "does not or is slower; not significant if neither reaches it.\n";
}

}  // namespace adamgn
