// alignment (docs/measures.md): how diagonal the GN matrix H is in the optimizer's basis U,
//   a(U) = |diag(U^T H U)|^2 / |U^T H U|_F^2 = |diag(U^T H U)|^2 / |H|_F^2,
// which is 1 exactly when U diagonalizes H. The diagonal comes from the basis itself
// (Basis::gn_diagonal, the same code the GN arms use), so no P x P matrix is formed for it.
//
// Where the population exists (quadratic, logistic) H is exact and so is a(U). On the networks H
// is the mean of per-sample terms A_s = sum_j g_js g_js^T over a sub-probe of n samples, and both
// squared norms are estimated without bias from the pairs of distinct samples:
//   |H|_F^2            ~ sum_{s != t} <A_s, A_t> / (n (n - 1)),
//                        <A_s, A_t> = sum_{j, j'} (g_js . g_j't)^2, and for a block's rank-one
//                        terms g . g' = (l . l')(r . r'): Grams of the factors, never the P-vectors;
//   |diag(U^T H U)|^2  ~ (|sum_s a_s|^2 - sum_s |a_s|^2) / (n (n - 1)),  a_s = diag(U^T A_s U).
// Each is unbiased; their ratio is the reported estimate. In a Kronecker-factored basis (identity,
// kron, interp-kron) the a_s of all samples come from one product per factor and block
// (gn_diagonal_per_sample). Other bases (eigen, interp-eigen) use the plug-in ratio on the
// sub-probe's H instead, which is biased upward by O(1/n).
//
// With several parameter blocks it also records, per block b, a_b = |diag_b|^2 / |H_bb|_F^2 (the
// block's own GN) as alignment.NAME, and their Frobenius-mass-weighted mean
// alignment_blocks = sum_b |diag_b|^2 / sum_b |H_bb|_F^2: the alignment of H's block diagonal,
// which is all a block-diagonal basis (Kronecker) can reach. `alignment` keeps the cross-block
// mass in its denominator.
#include "measures/measure.hpp"
#include "measures/probe.hpp"

#include <algorithm>
#include <limits>
#include <memory>

namespace adamgn {
namespace {

// Samples of the sub-probe on the networks: the Grams are (k n)^2 and the diagonals one basis
// call per sample.
constexpr Index kSamples = 256;

double ratio(double num, double den) { return den > 0.0 ? num / den : std::numeric_limits<double>::quiet_NaN(); }

void exact(Probe& probe, MeasureValues& out) {
  const Curvature& c = probe.curvature(CurvatureNeed::full, 0);
  Vec d;
  probe.optimizer().basis().gn_diagonal(c, d);
  const double frobenius = c.structurally_diagonal ? c.diag.squaredNorm() : c.full.squaredNorm();
  out.emplace_back("alignment", ratio(d.squaredNorm(), frobenius));
}

// K[(j, s), (j', t)] = <G_js, G_j't> of one block, for n samples with `per` rows each (k
// directions; grouped blocks: one term per sample, summed over its R pieces).
Mat block_gram(const PseudoGradients& g, Index n) {
  Mat out;
  visit_factors(g, [&](const auto& left_s, const auto* right_s) {
    const Mat left = left_s.template cast<double>();
    const Mat ll = left * left.transpose();
    if (g.group > 1) {
      const Mat right = right_s->template cast<double>();
      const Mat e = ll.cwiseProduct(right * right.transpose());
      out = Mat::Zero(n, n);
      for (Index r = 0; r < g.group; ++r)
        for (Index q = 0; q < g.group; ++q) out += e.block(r * n, q * n, n, n);
      return;
    }
    if (!right_s) {
      out = ll;
      return;
    }
    const Mat right = right_s->template cast<double>();
    const Mat rr = right * right.transpose();
    const Index k = left.rows() / n;
    out = ll;
    for (Index j = 0; j < k; ++j)
      for (Index jj = 0; jj < k; ++jj) out.block(j * n, jj * n, n, n).array() *= rr.array();
  });
  return out;
}

// sum over pairs of distinct samples of <A_s, A_t>, from a Gram indexed (j, s).
double distinct_pairs(const Mat& k, Index n) {
  const Index dirs = k.rows() / n;
  double same = 0.0;
  for (Index j = 0; j < dirs; ++j)
    for (Index jj = 0; jj < dirs; ++jj) same += k.block(j * n, jj * n, n, n).diagonal().squaredNorm();
  return k.squaredNorm() - same;
}

void estimated(Probe& probe, MeasureValues& out) {
  const Basis& basis = probe.optimizer().basis();
  const Layout& layout = probe.layout();
  const Index n = std::min(probe.batch(), kSamples);
  const std::size_t blocks = layout.blocks.size();
  std::vector<double> num(blocks, 0.0), den(blocks, 0.0);
  double den_full = 0.0;
  const Mat *ql = nullptr, *qr = nullptr;
  if (!basis.kronecker_factors(0, ql, qr)) {
    // Plug-in on the sub-probe's H (P <= the dense limit for these bases).
    const Curvature& c = probe.curvature(CurvatureNeed::full, n);
    Vec d;
    basis.gn_diagonal(c, d);
    for (std::size_t b = 0; b < blocks; ++b) {
      const Block& blk = layout.blocks[b];
      num[b] = d.segment(blk.offset, blk.size()).squaredNorm();
      den[b] = c.full.block(blk.offset, blk.offset, blk.size(), blk.size()).squaredNorm();
    }
    den_full = c.full.squaredNorm();
  } else {
    const Curvature& c = probe.curvature(CurvatureNeed::kronecker, n);
    Mat total;
    for (std::size_t b = 0; b < blocks; ++b) {
      const Mat k = block_gram(c.pseudo[b], n);
      den[b] = distinct_pairs(k, n);
      if (total.size() == 0) total = k;
      else if (total.rows() == k.rows()) total += k;
      else throw std::logic_error("alignment: blocks with different numbers of output directions");
    }
    den_full = distinct_pairs(total, n);
    // Per-sample diagonals in the basis, all samples of a block at once.
    Vec sum = Vec::Zero(layout.size());
    for (std::size_t b = 0; b < blocks; ++b) {
      basis.kronecker_factors(b, ql, qr);
      const double squares = gn_diagonal_per_sample(layout.blocks[b], c.pseudo[b], n, ql, qr, sum);
      num[b] = sum.segment(layout.blocks[b].offset, layout.blocks[b].size()).squaredNorm() - squares;
    }
  }
  double num_all = 0.0, den_blocks = 0.0;
  for (std::size_t b = 0; b < blocks; ++b) {
    num_all += num[b];
    den_blocks += den[b];
  }
  out.emplace_back("alignment", ratio(num_all, den_full));
  if (blocks > 1) {
    out.emplace_back("alignment_blocks", ratio(num_all, den_blocks));
    for (std::size_t b = 0; b < blocks; ++b) out.emplace_back("alignment." + layout.blocks[b].name, ratio(num[b], den[b]));
  }
}

}  // namespace

Measure alignment_measure() {
  const auto compute = [](Probe& probe, MeasureValues& out) {
    if (probe.population()) exact(probe, out);
    else estimated(probe, out);
  };
  const auto check = [](const TaskFactory& f) {
    if (!f.has_population() && !f.provides(CurvatureNeed::kronecker))
      throw UsageError("measure alignment needs the exact GN matrix or per-sample pseudo-gradients, which task " +
                       f.name() + " does not provide");
  };
  return {"alignment",
          "|diag(U^T H U)|^2 / |H|_F^2: 1 when the optimizer's basis U diagonalizes the GN matrix H (exact on "
          "quadratic and logistic, an unbiased estimate per term on the networks)",
          "alignment", compute, check};
}

}  // namespace adamgn
