#include "curvature/curvature.hpp"

#include "kernels/gemm.hpp"
#include "core/parallel.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <type_traits>

namespace adamgn {
namespace {

// Samples per piece of the GN-diagonal products. Fixed (not derived from the thread count), so
// the summation order, and with it every bit of the result, is the same for any thread count.
constexpr Index kChunk = 1024;

// q in scalar S: q itself when it already is, else a converted copy held in `storage`.
template <class S, class Q>
const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& in_scalar(const Q& q, Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& storage) {
  if constexpr (std::is_same_v<typename Q::Scalar, S>) {
    return q;
  } else {
    storage = q.template cast<S>();
    return storage;
  }
}

// kSpread[x]: byte i is bit i of x (eight samples' bits of one unit, one byte per sample).
constexpr std::array<std::uint64_t, 256> spread_bits() {
  std::array<std::uint64_t, 256> t{};
  for (unsigned x = 0; x < 256; ++x)
    for (unsigned i = 0; i < 8; ++i) t[x] |= static_cast<std::uint64_t>((x >> i) & 1u) << (8 * i);
  return t;
}
constexpr std::array<std::uint64_t, 256> kSpread = spread_bits();

// A row of 32 accumulators in 32-byte vectors (GCC/Clang vector extensions: AVX registers under
// -mavx, pairs of SSE registers otherwise), so that the sums below stay in registers.
template <class S>
struct RowOf32 {
  typedef S V __attribute__((vector_size(32)));
  typedef S Unaligned __attribute__((vector_size(32), aligned(alignof(S)), may_alias));
  static constexpr int kVectors = static_cast<int>(sizeof(S));  // 32 entries of sizeof(S) bytes
  V v[kVectors];
  void zero() {
    for (V& x : v) x = V{};
  }
  void load(const S* p) {
    for (int k = 0; k < kVectors; ++k) v[k] = reinterpret_cast<const Unaligned*>(p)[k];
  }
  void store(S* p) const {
    for (int k = 0; k < kVectors; ++k) reinterpret_cast<Unaligned*>(p)[k] = v[k];
  }
  void add(const S* p) {
    for (int k = 0; k < kVectors; ++k) v[k] += reinterpret_cast<const Unaligned*>(p)[k];
  }
};

// Rows of L Q for masked terms (ReluMask in task.hpp): row (j, s) is sum_{u on in s} A_ju Q(u, :),
// a sum of selected rows of diag(A_j) Q. The units go in groups of four, and a table holds, for
// each group, the sums of its scaled rows over all 16 subsets of the group; a row of L Q then
// costs one table row per group (units / 4 row additions) instead of one multiply-add per unit.
// On parity's hidden layer (512 units, GN batch 4096) that is 4x fewer operations than the
// product. The tables depend on Q and A only, so they are built once per call and shared by the
// pieces; the sums run in a fixed order, so the bits do not depend on the thread count.
template <class S>
class MaskTables {
 public:
  static constexpr Index kWidth = 32;  // columns per tile: one row of a table entry
  static constexpr Index kGroup = 4;   // units per group
  using Lanes = RowOf32<S>;

  MaskTables(const ReluMask& mk, const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& q)
      : mask_(mk), cols_(q.cols()), groups_((mk.units + kGroup - 1) / kGroup), tiles_((q.cols() + kWidth - 1) / kWidth),
        directions_(mk.out.rows()) {
    table_.assign(static_cast<std::size_t>(directions_ * tiles_ * groups_ * 16 * kWidth), S(0));
    const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = q;  // row u contiguous
    parallel_pieces(directions_ * tiles_, [&](Index p) {
      const Index j = p / tiles_, tile = p % tiles_, c0 = tile * kWidth, width = std::min(kWidth, cols_ - c0);
      for (Index g = 0; g < groups_; ++g) {
        S* t = entry(j, tile, g);
        for (Index pattern = 1; pattern < 16; ++pattern) {
          const Index u = g * kGroup + __builtin_ctzll(static_cast<unsigned long long>(pattern));
          if (u >= mk.units) continue;  // a unit past the last: its bit is never set
          const S* rest = t + (pattern & (pattern - 1)) * kWidth;
          S* to = t + pattern * kWidth;
          const S a = static_cast<S>(mk.out(j, u));
          for (Index c = 0; c < width; ++c) to[c] = rest[c] + a * rows(u, c0 + c);
        }
      }
    });
  }

  // out (cols x len) = sum_j ((L Q) rows (j, s0 + i))^2 as columns i: the squares, folded over the
  // directions. s0 is a multiple of 64.
  void folded_squares(Index s0, Index len, Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>& out) const {
    // nibble[g * padded + i]: the on-bits of group g's units for sample s0 + i, eight samples at a
    // time from one byte of each unit's bits.
    const Index padded = (len + 63) / 64 * 64;
    std::vector<std::uint8_t> nibble(static_cast<std::size_t>(groups_ * padded), 0);
    for (Index g = 0; g < groups_; ++g)
      for (Index b = 0; b < kGroup && g * kGroup + b < mask_.units; ++b) {
        const std::uint64_t* bits = mask_.bits.data() + (g * kGroup + b) * mask_.words + s0 / 64;
        std::uint8_t* to = nibble.data() + g * padded;
        for (Index w = 0; w < padded / 64; ++w)
          for (Index byte = 0; byte < 8; ++byte) {
            std::uint64_t spread = kSpread[(bits[w] >> (8 * byte)) & 0xffu] << b, eight;
            std::memcpy(&eight, to + w * 64 + byte * 8, 8);
            eight |= spread;
            std::memcpy(to + w * 64 + byte * 8, &eight, 8);
          }
      }
    constexpr Index kBlock = 8;  // groups whose tables stay in L1 while every sample passes by
    out.resize(cols_, len);
    std::vector<S> acc(static_cast<std::size_t>(len * kWidth));
    for (Index j = 0; j < directions_; ++j)
      for (Index tile = 0; tile < tiles_; ++tile) {
        for (Index g0 = 0; g0 < groups_; g0 += kBlock) {
          const Index ng = std::min(kBlock, groups_ - g0);
          const S* first = entry(j, tile, g0);
          const std::uint8_t* nib = nibble.data() + g0 * padded;
          // Two samples at a time: eight independent chains of additions hide their latency.
          for (Index i = 0; i < len; i += 2) {
            const bool pair = i + 1 < len;
            Lanes a, b;
            if (g0 == 0) a.zero();
            else a.load(acc.data() + i * kWidth);
            if (g0 == 0 || !pair) b.zero();
            else b.load(acc.data() + (i + 1) * kWidth);
            for (Index g = 0; g < ng; ++g) {
              const std::uint8_t* n = nib + g * padded + i;
              a.add(first + (g * 16 + n[0]) * kWidth);
              b.add(first + (g * 16 + n[1]) * kWidth);  // n[1] is padding (0) past the last sample
            }
            a.store(acc.data() + i * kWidth);
            if (pair) b.store(acc.data() + (i + 1) * kWidth);
          }
        }
        const Index c0 = tile * kWidth, width = std::min(kWidth, cols_ - c0);
        for (Index i = 0; i < len; ++i) {
          const S* v = acc.data() + i * kWidth;
          S* to = out.data() + i * cols_ + c0;
          for (Index c = 0; c < width; ++c) to[c] = j == 0 ? v[c] * v[c] : to[c] + v[c] * v[c];
        }
      }
  }

 private:
  S* entry(Index j, Index tile, Index g) { return table_.data() + ((j * tiles_ + tile) * groups_ + g) * 16 * kWidth; }
  const S* entry(Index j, Index tile, Index g) const {
    return table_.data() + ((j * tiles_ + tile) * groups_ + g) * 16 * kWidth;
  }

  const ReluMask& mask_;
  Index cols_, groups_, tiles_, directions_;
  std::vector<S> table_;
};

// The GN diagonal of one block over the samples [s0, s0 + len), in the factors' precision:
//   vector block: sum_js (Q^T l_js)^2;  matrix block: sum_s (sum_j (Q_L^T l_js)^2) ((Q_R^T r_s)^2)^T.
// With `tables` (masked terms, a matrix block and Q_L) the rows of L Q_L come from them.
template <class M, class Q>
M diagonal_piece(const Block& blk, const M& left, const M* right, Index s0, Index len, const Q* ql,
                 const Q* qr, const MaskTables<typename M::Scalar>* tables) {
  using S = typename M::Scalar;
  const Index n = right ? right->rows() : left.rows();  // samples (vector blocks: terms)
  const Index k = right ? left.rows() / n : 1;
  M ql_storage, qr_storage;
  const auto rr = right ? right->middleRows(s0, len) : left.middleRows(0, 0);
  // The products go through gemm_into (kernels/gemm.hpp), squared in place afterwards.
  const auto product = [](const auto& a, const auto& b) {
    M c(a.rows(), b.cols());
    gemm_into(c, a, b);
    return c;
  };
  const auto right_squares = [&] {
    if (!qr) return M(rr.cwiseAbs2());
    M r = product(rr, in_scalar<S>(*qr, qr_storage));
    r.array() = r.array().square();
    return r;
  };
  if (tables) {
    M folded_t;
    tables->folded_squares(s0, len, folded_t);
    return product(folded_t, right_squares());
  }
  const M& qls = ql ? in_scalar<S>(*ql, ql_storage) : ql_storage;
  // The first direction is assigned rather than added to zeros (the same bits, one pass less).
  M folded(len, left.cols());
  if (k == 0) folded.setZero();
  for (Index j = 0; j < k; ++j) {
    const auto rows = left.middleRows(j * n + s0, len);
    if (ql && j == 0) folded = product(rows, qls).cwiseAbs2();
    else if (ql) folded += product(rows, qls).cwiseAbs2();
    else if (j == 0) folded = rows.cwiseAbs2();
    else folded += rows.cwiseAbs2();
  }
  if (!blk.matrix) return folded.colwise().sum().transpose();
  return product(folded.transpose(), right_squares());
}

// The same for grouped terms (task.hpp): sum_s (sum_r a_rs b_rs^T)^2 with a = Q_L^T l, b = Q_R^T r,
// expanded as sum_{r, r'} (a_r o a_r')^T (b_r o b_r') over the pairs, each unordered pair twice.
template <class M, class Q>
M grouped_diagonal_piece(const M& left, const M& right, Index group, Index s0, Index len, const Q* ql,
                         const Q* qr) {
  using S = typename M::Scalar;
  const Index n = right.rows() / group;
  M ql_storage, qr_storage;
  const M& qls = ql ? in_scalar<S>(*ql, ql_storage) : ql_storage;
  const M& qrs = qr ? in_scalar<S>(*qr, qr_storage) : qr_storage;
  std::vector<M> a(static_cast<std::size_t>(group)), b(static_cast<std::size_t>(group));
  for (Index r = 0; r < group; ++r) {
    const auto lr = left.middleRows(r * n + s0, len), rr = right.middleRows(r * n + s0, len);
    a[static_cast<std::size_t>(r)] = ql ? M(lr * qls) : M(lr);
    b[static_cast<std::size_t>(r)] = qr ? M(rr * qrs) : M(rr);
  }
  M out = M::Zero(left.cols(), right.cols());
  for (std::size_t r = 0; r < a.size(); ++r)
    for (std::size_t q = r; q < a.size(); ++q)
      out.noalias() += (r == q ? S(1) : S(2)) * (a[r].cwiseProduct(a[q]).transpose() * b[r].cwiseProduct(b[q]));
  return out;
}

}  // namespace

Vec fold_directions(const Vec& v, Index n) {
  Vec out = Vec::Zero(n);
  for (Index j = 0; j < v.size() / n; ++j) out += v.segment(j * n, n);
  return out;
}

namespace {

template <class Q>
void diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const Q* ql, const Q* qr,
                    Vec& out) {
  visit_factors(g, [&](const auto& left, const auto* right) {
    // Vector blocks without a right factor chunk over terms (one direction each).
    using M = std::decay_t<decltype(left)>;
    using S = typename M::Scalar;
    const Index n = (right ? right->rows() : left.rows()) / g.group;
    const Index pieces = (n + kChunk - 1) / kChunk;
    std::unique_ptr<MaskTables<S>> tables;
    M ql_storage;
    if (g.mask && ql && blk.matrix && right && g.group == 1)
      tables = std::make_unique<MaskTables<S>>(*g.mask, in_scalar<S>(*ql, ql_storage));
    // Pieces in the factors' precision, widened as they are added up (in piece order).
    std::vector<M> parts(static_cast<std::size_t>(pieces));
    parallel_pieces(pieces, [&](Index p) {
      const Index s0 = p * kChunk, len = std::min(kChunk, n - s0);
      parts[static_cast<std::size_t>(p)] = g.group > 1 ? grouped_diagonal_piece(left, *right, g.group, s0, len, ql, qr)
                                                       : diagonal_piece(blk, left, right, s0, len, ql, qr, tables.get());
    });
    Mat d = parts.empty() ? Mat::Zero(blk.matrix ? blk.rows : blk.size(), blk.matrix ? blk.cols : 1)
                          : Mat(parts[0].template cast<double>());
    for (std::size_t p = 1; p < parts.size(); ++p) d += parts[p].template cast<double>();
    d *= row_weight;
    if (blk.matrix) Eigen::Map<RowMat>(out.data() + blk.offset, blk.rows, blk.cols) = d;
    else out.segment(blk.offset, blk.size()) = d.col(0);
  });
}

}  // namespace

void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const Mat* ql,
                       const Mat* qr, Vec& out) {
  diagonal_block(blk, g, row_weight, ql, qr, out);
}

void gn_diagonal_block(const Block& blk, const PseudoGradients& g, double row_weight, const MatF* ql,
                       const MatF* qr, Vec& out) {
  diagonal_block(blk, g, row_weight, ql, qr, out);
}

double gn_diagonal_per_sample(const Block& blk, const PseudoGradients& g, Index n, const Mat* ql, const Mat* qr,
                              Vec& sum) {
  double squares = 0.0;
  visit_factors(g, [&](const auto& left_s, const auto* right_s) {
    const Mat left = left_s.template cast<double>();
    const Mat right = right_s ? Mat(right_s->template cast<double>()) : Mat();
    const auto rotated = [](const Mat& m, const Mat* q) { return q ? Mat(m * *q) : m; };
    const Mat a = rotated(left, ql);
    if (g.group > 1) {
      // a_s = (sum_r (Q_L^T l_rs)(Q_R^T r_rs)^T)^2, formed sample by sample.
      const Mat b = rotated(right, qr);
      auto out = Eigen::Map<RowMat>(sum.data() + blk.offset, blk.rows, blk.cols);
      Mat m(blk.rows, blk.cols);
      for (Index s = 0; s < n; ++s) {
        m.setZero();
        for (Index r = 0; r < g.group; ++r) m.noalias() += a.row(r * n + s).transpose() * b.row(r * n + s);
        const Mat sq = m.cwiseAbs2();
        out += sq;
        squares += sq.squaredNorm();
      }
      return;
    }
    // F_s = sum_j (Q_L^T l_js)^2, one row per sample; a matrix block's a_s = F_s (x) (Q_R^T r_s)^2.
    Mat f = Mat::Zero(n, a.cols());
    for (Index j = 0; j < a.rows() / n; ++j) f += a.middleRows(j * n, n).cwiseAbs2();
    if (!blk.matrix) {
      sum.segment(blk.offset, blk.size()) += f.colwise().sum().transpose();
      squares = f.squaredNorm();
      return;
    }
    const Mat e = rotated(right, qr).cwiseAbs2();
    Eigen::Map<RowMat>(sum.data() + blk.offset, blk.rows, blk.cols) += f.transpose() * e;
    squares = (f.rowwise().squaredNorm().array() * e.rowwise().squaredNorm().array()).sum();
  });
  return squares;
}

void complete_from_pseudo(const Layout& layout, CurvatureNeed need, Curvature& c) {
  if (need == CurvatureNeed::kronecker) return;
  const Index p = layout.size();
  c.diag.resize(p);
  for (std::size_t b = 0; b < layout.blocks.size(); ++b)
    gn_diagonal_block(layout.blocks[b], c.pseudo[b], c.row_weight, static_cast<const Mat*>(nullptr), nullptr, c.diag);
  if (need != CurvatureNeed::full) return;
  const Index rows = c.pseudo.empty() ? 0 : c.pseudo[0].terms();
  for (const auto& g : c.pseudo)
    if (g.group > 1) throw std::logic_error("complete_from_pseudo: grouped terms give no full GN matrix here");
  Mat j(rows, p);  // one Jacobian row per term
  for (std::size_t b = 0; b < layout.blocks.size(); ++b) {
    const Block& blk = layout.blocks[b];
    visit_factors(c.pseudo[b], [&](const auto& left_s, const auto* right_s) {
      const Mat left = left_s.template cast<double>();
      if (!blk.matrix) {
        j.middleCols(blk.offset, blk.size()) = left;
        return;
      }
      const Mat right = right_s->template cast<double>().replicate(rows / right_s->rows(), 1);  // one row per term
      for (Index i = 0; i < blk.rows; ++i)
        j.middleCols(blk.offset + i * blk.cols, blk.cols) = right.array().colwise() * left.col(i).array();
    });
  }
  c.full.noalias() = j.transpose() * j * c.row_weight;
}

}  // namespace adamgn
