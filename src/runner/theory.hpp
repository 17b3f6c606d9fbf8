// What the paper's theory predicts for one problem (`adamgn theory`), computed from the task
// itself: the covariance Sigma of a quadratic (its exact population GN matrix) or the input
// probabilities nu of a logistic task. Each quantity, its paper reference and its formula as
// implemented are listed in docs/theory.md; in short:
//   quadratic  spectrum of Sigma; r(Sigma) (A.3); kappa_s(A(P)) = Tr A / lambda_min A, A(P) =
//              Sigma^1/2 P Sigma^1/2, for GN^-1 and GN^-1/2 in the identity and eigen bases
//              (Lemma 2); the batch-1 GN^-1 loss factor 1 - 2 lr + (d + 2) lr^2 (A.1, eq. (7):
//              eq. (8) as printed has 2 (d + 1) lr^2); the alignment of both bases.
//   logistic   kappa(nu) = nu_max / nu_min and delta = ln kappa / ln d - 1/2 (§4, Corollary 3);
//              Theorem 2's bound 1 - gamma <= c B with B = sqrt(ln d) max{1/sqrt d, sqrt d / kappa}
//              (the proof's last line; the statement prints sqrt(d / kappa)) and the slowdown 1/B.
// A singular Sigma (the block covariance of eq. (4)) is treated on its range: the part of
// theta - theta* in the null space never moves and never enters the loss, so lambda_min is the
// smallest nonzero eigenvalue and d is the rank.
#pragma once

#include "core/reader.hpp"

#include <string>

namespace adamgn {

// The predictions for a task object as an experiment holds it ({"name": "quadratic", ...}).
// Throws UsageError for invalid task fields, for tasks other than quadratic and logistic, and for
// a logistic task of dimension 1 (delta needs ln d > 0).
json theory_of(const json& task);

// The predictions for a covariance (symmetric, positive semi-definite, positive diagonal) and the
// labels' noise level (0: none).
json quadratic_theory(const Mat& sigma, double label_noise = 0.0);

// The predictions of theory_of in one line of text, for a report beside the measurements.
std::string theory_brief(const json& theory);

// The predictions for logistic input probabilities nu (positive, dimension >= 2), with the task's
// initial weight and label probability (checked against Theorem 2's assumptions).
json logistic_theory(const Vec& nu, double init, double p_label);

// E[l_t+1] / E[l_t] for batch-1 GN^-1 (P = Sigma^-1) on Gaussian linear regression in dimension d.
double batch1_gn_inverse_factor(Index d, double lr);

// The human-readable table of a theory_of document (ends with a newline).
std::string theory_table(const json& theory);

}  // namespace adamgn
