#include "runner/claims.hpp"

#include <algorithm>

namespace adamgn {

std::vector<std::string> claim_arms(const json& side) {
  if (side.is_string()) return {side.get<std::string>()};
  std::vector<std::string> out;
  if (side.is_array())
    for (const auto& x : side)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

void validate_claims(const json& claims, const std::vector<std::string>& arm_names, const std::string& where) {
  if (claims.is_null()) return;
  if (!claims.is_array()) throw UsageError(where + " must be a list");
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    ObjectReader r(claims[i], at);
    std::string claim, kind, metric = "final";
    double factor = 1.0;
    r.read("claim", claim);
    r.read("kind", kind);
    r.read("metric", metric);
    r.read("factor", factor);
    if (claim.empty()) throw UsageError(at + ".claim is missing");
    if (kind != "less" && kind != "close" && kind != "not_worse" && kind != "faster" && kind != "band" && kind != "exponent")
      throw UsageError(at + ".kind = " + kind + " must be less, close, not_worse, faster, band or exponent");
    const bool measure = metric.rfind(kMeasureMetric, 0) == 0 && metric.size() > std::string(kMeasureMetric).size();
    if (metric != "final" && metric != "final-test" && metric != "final-excess" && metric != "log-final" &&
        metric != "steps" && !measure)
      throw UsageError(at + ".metric = " + metric + " must be final, final-test, final-excess, log-final, steps or measure:SERIES");
    if (!(factor >= 1.0)) throw UsageError(at + ".factor = " + show_number(factor) + " must be >= 1");
    const bool band = kind == "band" || kind == "exponent";
    if (band) {
      std::vector<double> range;
      r.read("range", range);
      if (range.size() != 2 || !(range[0] < range[1]))
        throw UsageError(at + ".range must be [LOW, HIGH] with LOW < HIGH for kind = " + kind);
      if (r.has("b")) throw UsageError(at + ".b does not apply to kind = " + kind + " (the arms are all in a)");
    }
    if (kind == "exponent") {
      std::string x;
      r.read("x", x);
      if (x.rfind("task.", 0) != 0 || x.size() <= 5)
        throw UsageError(at + ".x must name a task key, task.KEY, for kind = exponent");
      if (claim_arms(r.raw("a")).size() < 3)
        throw UsageError(at + ".a must list at least 3 arms for kind = exponent (a slope and its standard error)");
    } else if (r.has("x")) {
      throw UsageError(at + ".x applies only to kind = exponent");
    }
    for (const char* side : {"a", "b"}) {
      if (band && std::string(side) == "b") continue;
      if (!r.has(side)) throw UsageError(at + "." + side + " is missing");
      const auto names = claim_arms(r.raw(side));
      if (names.empty()) throw UsageError(at + "." + side + " must name an arm or a list of arms");
      for (const auto& n : names)
        if (std::find(arm_names.begin(), arm_names.end(), n) == arm_names.end())
          throw UsageError(at + "." + side + ": no arm named " + n);
    }
    r.finish();
  }
}

}  // namespace adamgn
