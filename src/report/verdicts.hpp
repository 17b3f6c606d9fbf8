// Verdicts on the paper's claims. A preset lists its claims as data ("claims": [...]), each a
// comparison between arms of its result; evaluate_claims applies the stated rule to a result
// document and says holds / does not hold / not significant.
//
// Per arm the statistics are over its runs that did not diverge: mean and standard error
// (sample standard deviation / sqrt(n)) of the final value of the claim's metric; an arm whose
// every run diverged counts as +inf. Losses are floored at 1e-30 (float precision) in ratios.
// With s = sqrt(se_a^2 + se_b^2):
//   less       a below each b:           holds if mean_b - mean_a > 2s for every b; does not
//                                        hold if mean_a - mean_b > 2s for some b; else not
//                                        significant.
//   close F    a and b track each other: holds if max/min of the means <= F; not significant if
//                                        the ratio is larger but |mean_a - mean_b| <= 2s; else
//                                        does not hold.
//   not_worse F  a close to or better than the best b: holds if mean_a <= F mean_b; not
//                                        significant if mean_a - F mean_b <= 2 sqrt(se_a^2 +
//                                        F^2 se_b^2); else does not hold.
//   On the log-final metric the statistic is log10 of the final loss and a factor F becomes a
//   difference log10 F between the means, with the same 2s margin.
//   vacuous    overrides the rules above on the loss metrics when the task states a trivial loss
//              (the best constant predictor's, task_info.trivial_loss / trivial_test_loss): no
//              arm of the claim ends below it by more than 2 se (mean_x >= trivial - 2 se_x for
//              every arm x). Such a comparison tests nothing, whatever the ratio says.
//   band [L,H] every arm of a within a range (on a measure, e.g. measure:adam_gn_ratio_p50, or any
//              metric): holds if every mean is in [L, H]; does not hold if some mean is outside
//              by more than 2 se; else not significant.
//   exponent [L,H]  the slope of log statistic against log x (the arm's task key named by "x",
//              e.g. task.dim) over the arms of a, by least squares, with its standard error from
//              the residuals: judged as a band. An arm without a value (a target not reached by
//              every seed) makes it not hold.
//   Metrics: final, final-test, log-final, final-excess (the final loss minus the task's
//   loss_floor), measure:SERIES (the last recorded value of a measure series), steps.
//   faster S   a reaches run.target_loss in fewer steps (mean over seeds): an arm "reaches" when
//              every seed reaches it without diverging. Holds if a reaches and (b does not, or
//              mean_a <= S mean_b); does not hold if b reaches and (a does not, or mean_a > S
//              mean_b); not significant if neither reaches.
#pragma once

#include "core/reader.hpp"

#include <string>
#include <vector>

namespace adamgn {

struct ClaimVerdict {
  std::string claim;     // the paper's claim, in the preset's words
  std::string rule;      // the rule applied, e.g. "close, factor 2, final test loss"
  std::string measured;  // the numbers behind the verdict
  std::string verdict;   // holds | does not hold | not significant | vacuous
};

// The verdict of every claim of a result document (its "claims"; none: empty). The trivial loss
// comes from the document's task_info; a document written before tasks stated it gets it from its
// task configuration (make_task_factory(config.task).info()), when that task can be built here.
std::vector<ClaimVerdict> evaluate_claims(const json& result);

// The rules above as Markdown, for a report's preamble.
std::string verdict_rules_markdown();

}  // namespace adamgn
