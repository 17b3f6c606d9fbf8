#include "tasks/transformer.hpp"

#include "core/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace adamgn {
namespace {

enum BlockId { kWin, kBin, kPos, kWq, kWk, kWv, kWo, kW1, kB1, kW2, kB2, kWout, kCout, kBlocks };

// Samples are drawn in pieces of kPiece; piece p comes from its own stream, seeded by the p-th
// number drawn from the caller's generator, so pieces can be drawn side by side and a batch is
// the same for any thread count.
constexpr Index kPiece = 1024;

std::vector<std::uint64_t> piece_seeds(Index n, Rng& rng) {
  std::vector<std::uint64_t> seeds(static_cast<std::size_t>(std::max<Index>(1, (n + kPiece - 1) / kPiece)));
  for (auto& s : seeds) s = rng.next_u64();
  return seeds;
}

// Standard normals for the tokens: Box-Muller on 24-bit uniforms in float, vectorized (Eigen's
// array log, sqrt, sin and cos), many times faster than drawing them one by one. Draws beyond
// 5.77 standard deviations (probability 8e-9) cannot occur.
void gaussians(Rng& rng, Index n, float* out) {
  const Index pairs = (n + 1) / 2;
  Eigen::ArrayXf u1(pairs), u2(pairs);
  constexpr float kScale = 1.0f / 16777216.0f;  // 2^-24
  for (Index i = 0; i < pairs; ++i) {
    const std::uint64_t bits = rng.next_u64();
    u1[i] = static_cast<float>((bits >> 40) + 1) * kScale;               // (0, 1]
    u2[i] = static_cast<float>((bits >> 16) & 0xFFFFFF) * kScale;        // [0, 1)
  }
  const Eigen::ArrayXf r = (-2.0f * u1.log()).sqrt();
  const Eigen::ArrayXf angle = 6.28318530717958647692f * u2;
  const Eigen::ArrayXf a = r * angle.cos(), b = r * angle.sin();
  for (Index i = 0; i < pairs; ++i) {
    out[2 * i] = a[i];
    if (2 * i + 1 < n) out[2 * i + 1] = b[i];
  }
}

// `count` samples into rows [0, count L) of x (row-major, L rows of d per sample) and `selected`.
template <class X>
void draw_piece(const TransformerConfig& c, std::uint64_t seed, Index count, X& x, Index* selected) {
  const Index L = c.positions(), T = c.tokens, d = c.dim;
  Rng rng = Rng::stream(seed, "tokens");
  x.setZero(count * L, d);
  std::vector<float> z(static_cast<std::size_t>(T * d));
  for (Index s = 0; s < count; ++s) {
    gaussians(rng, T * d, z.data());
    for (Index t = 0; t < T; ++t)
      for (Index j = 0; j < d; ++j) x(s * L + t, j) = static_cast<typename X::Scalar>(z[static_cast<std::size_t>(t * d + j)]);
    const Index i = static_cast<Index>(rng.below(static_cast<std::uint64_t>(T)));
    x(s * L + T, i) = 1;
    selected[s] = i;
  }
}

// n samples of L tokens each, row s L + t (a token is contiguous); the selected position of
// every sample.
struct Tokens {
  RowMat x;
  std::vector<Index> selected;
};

void draw_tokens(const TransformerConfig& c, Index n, Rng& rng, Tokens& out) {
  transformer_tokens(c, n, rng, out.x, out.selected);
}

Vec labels(const TransformerConfig& c, const Tokens& tok, const Vec& theta_star) {
  const Index n = static_cast<Index>(tok.selected.size()), L = c.positions();
  Vec y(n);
  for (Index s = 0; s < n; ++s) y[s] = tok.x.row(s * L + tok.selected[static_cast<std::size_t>(s)]).dot(theta_star);
  return y;
}

struct TransformerProblem {
  TransformerConfig cfg;
  Layout layout;
  Tokens probe, test;
};

// The model's batched computations in scalar type T, piece by piece.
template <class T>
class Model {
 public:
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using RM = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using V = Eigen::Matrix<T, Eigen::Dynamic, 1>;
  static constexpr Index kRows = 1024;  // samples per piece; fixed, so results do not depend on threads

  explicit Model(const TransformerProblem& p) : p_(p) {}

  void load(const Vec& theta) {
    auto mat = [&](BlockId b) {
      const Block& bl = p_.layout.blocks[b];
      return M(Eigen::Map<const RowMat>(theta.data() + bl.offset, bl.rows, bl.cols).cast<T>());
    };
    auto vec = [&](BlockId b) {
      const Block& bl = p_.layout.blocks[b];
      return V(theta.segment(bl.offset, bl.size()).cast<T>());
    };
    win_ = mat(kWin), pos_ = mat(kPos), wq_ = mat(kWq), wk_ = mat(kWk), wv_ = mat(kWv), wo_ = mat(kWo);
    w1_ = mat(kW1), w2_ = mat(kW2), wout_ = mat(kWout);
    bin_ = vec(kBin), b1_ = vec(kB1), b2_ = vec(kB2), cout_ = vec(kCout);
  }

  // Everything one piece of samples needs: the forward pass and the per-sample derivative
  // factors of f (backward with df = 1; the batch gradient weights them by df = (f - y) / n).
  struct Piece {
    Index n = 0;
    RM x;                 // n L x d tokens
    std::uint64_t seed = 0;
    std::vector<Index> selected;
    M xl, hl, q, u, hbar, att, r, pre, mh, z;
    RM w, a, zbar;        // row-major: read and written sample by sample
    V f;
    // derivative factors
    M dz, dm, dr, datt, c, htil, qs, dq, e;
    RM g, xg;
    V sa, sg;
  };

  // Fresh samples for a batch of n: the pieces and their seeds; fill() draws a piece's tokens.
  std::vector<Piece> fresh(Index n, Rng& rng) const {
    const auto seeds = piece_seeds(n, rng);
    std::vector<Piece> pieces(seeds.size());
    for (std::size_t p = 0; p < seeds.size(); ++p) {
      pieces[p].n = std::min(kRows, n - static_cast<Index>(p) * kRows);
      pieces[p].seed = seeds[p];
    }
    return pieces;
  }
  void fill(Piece& pc) const {
    pc.selected.resize(static_cast<std::size_t>(pc.n));
    draw_piece(p_.cfg, pc.seed, pc.n, pc.x, pc.selected.data());
  }
  // Labels <theta*, x_selected> of a filled piece.
  Vec labels_of(const Piece& pc, const Vec& theta_star) const {
    const Index L = p_.cfg.positions();
    Vec y(pc.n);
    for (Index s = 0; s < pc.n; ++s)
      y[s] = pc.x.row(s * L + pc.selected[static_cast<std::size_t>(s)]).template cast<double>().dot(theta_star);
    return y;
  }

  void forward(Piece& pc) const {
    const auto& cfg = p_.cfg;
    const Index n = pc.n, L = cfg.positions(), d = cfg.dim;
    const T inv_sqrt = T(1) / std::sqrt(static_cast<T>(cfg.width));
    pc.xl.resize(n, d);
    for (Index s = 0; s < n; ++s) pc.xl.row(s) = pc.x.row(s * L + L - 1);
    pc.hl.noalias() = pc.xl * win_.transpose();
    pc.hl.rowwise() += (bin_ + pos_.row(L - 1).transpose()).transpose();
    pc.q.noalias() = pc.hl * wq_.transpose();
    pc.u.noalias() = pc.q * wk_;
    pc.u *= inv_sqrt;
    pc.w.noalias() = pc.u * win_;
    const RM pu = pc.u * pos_.transpose();
    const V ub = pc.u * bin_;
    pc.a.resize(n, L);
    pc.zbar.setZero(n, d);
    pc.sa.resize(n);
    for (Index s = 0; s < n; ++s) {
      auto row = pc.a.row(s);
      for (Index t = 0; t < L; ++t) row(t) = pc.x.row(s * L + t).dot(pc.w.row(s)) + ub(s) + pu(s, t);
      row.array() -= row.maxCoeff();  // softmax without overflow, whatever the logits
      row = row.array().exp().matrix();
      row /= row.sum();
      for (Index t = 0; t < L; ++t) pc.zbar.row(s) += row(t) * pc.x.row(s * L + t);
      pc.sa(s) = row.sum();
    }
    pc.hbar.noalias() = pc.zbar * win_.transpose() + pc.a * pos_;
    pc.hbar += pc.sa * bin_.transpose();
    pc.att.noalias() = pc.hbar * wv_.transpose();
    pc.r = pc.hl;
    pc.r.noalias() += pc.att * wo_.transpose();
    pc.pre.noalias() = pc.r * w1_.transpose();
    pc.pre.rowwise() += b1_.transpose();
    pc.mh = pc.pre.cwiseMax(T(0));
    pc.z = pc.r;
    pc.z.noalias() += pc.mh * w2_.transpose();
    pc.z.rowwise() += b2_.transpose();
    pc.f = pc.z * wout_.transpose();
    pc.f.array() += cout_(0);
  }

  void derivatives(Piece& pc) const {
    const auto& cfg = p_.cfg;
    const Index n = pc.n, L = cfg.positions();
    const T inv_sqrt = T(1) / std::sqrt(static_cast<T>(cfg.width));
    pc.dz = wout_.replicate(n, 1);
    pc.dm = (pc.dz * w2_).cwiseProduct((pc.pre.array() > T(0)).template cast<T>().matrix());
    pc.dr = pc.dz;
    pc.dr.noalias() += pc.dm * w1_;
    pc.datt.noalias() = pc.dr * wo_;
    pc.c.noalias() = pc.datt * wv_;
    const RM cw = pc.c * win_, pc_pos = pc.c * pos_.transpose();
    const V cb = pc.c * bin_;
    pc.g.resize(n, L);
    pc.xg.setZero(n, cfg.dim);
    pc.sg.resize(n);
    for (Index s = 0; s < n; ++s) {
      V da(L);
      for (Index t = 0; t < L; ++t) da(t) = pc.x.row(s * L + t).dot(cw.row(s)) + cb(s) + pc_pos(s, t);
      const T mean = pc.a.row(s).dot(da.transpose());
      auto g = pc.g.row(s);
      g = pc.a.row(s).array() * (da.transpose().array() - mean);
      for (Index t = 0; t < L; ++t) pc.xg.row(s) += g(t) * pc.x.row(s * L + t);
      pc.sg(s) = g.sum();
    }
    pc.htil.noalias() = pc.xg * win_.transpose() + pc.g * pos_;
    pc.htil += pc.sg * bin_.transpose();
    pc.qs = pc.q * inv_sqrt;
    pc.dq.noalias() = pc.htil * wk_.transpose();
    pc.dq *= inv_sqrt;
    pc.e = pc.dr;
    pc.e.noalias() += pc.dq * wq_;
  }

  // The (rows, cols) factor pairs of one block's per-sample derivative: sum_r left_r^T right_r
  // over samples gives the block (row-major), one row per sample.
  struct Terms {
    std::vector<std::pair<M, M>> pairs;  // matrix blocks
    std::vector<M> vectors;              // vector blocks: per-sample derivative rows
  };

  Terms terms(const Piece& pc, BlockId b) const {
    const Index n = pc.n, L = p_.cfg.positions();
    Terms t;
    switch (b) {
      case kWin: t.pairs = {{pc.u, M(pc.xg)}, {pc.c, M(pc.zbar)}, {pc.e, pc.xl}}; break;
      case kBin:
        t.vectors = {M(pc.u.array().colwise() * pc.sg.array()), M(pc.c.array().colwise() * pc.sa.array()), pc.e};
        break;
      case kPos: {
        M last = M::Zero(n, L);
        last.col(L - 1).setOnes();
        t.pairs = {{M(pc.g), pc.u}, {M(pc.a), pc.c}, {last, pc.e}};
        break;
      }
      case kWq: t.pairs = {{pc.dq, pc.hl}}; break;
      case kWk: t.pairs = {{pc.qs, pc.htil}}; break;
      case kWv: t.pairs = {{pc.datt, pc.hbar}}; break;
      case kWo: t.pairs = {{pc.dr, pc.att}}; break;
      case kW1: t.pairs = {{pc.dm, pc.r}}; break;
      case kB1: t.vectors = {pc.dm}; break;
      case kW2: t.pairs = {{pc.dz, pc.mh}}; break;
      case kB2: t.vectors = {pc.dz}; break;
      case kWout: t.pairs = {{M::Ones(n, 1), pc.z}}; break;
      case kCout: t.vectors = {M::Ones(n, 1)}; break;
      default: break;
    }
    return t;
  }

  // Adds sum_s weight_s J_s (the gradient, weight = df) into out (float64, layout order).
  void add_gradient(const Piece& pc, const V& weight, Vec& out) const {
    for (int b = 0; b < kBlocks; ++b) {
      const Block& bl = p_.layout.blocks[static_cast<std::size_t>(b)];
      const Terms t = terms(pc, static_cast<BlockId>(b));
      if (bl.matrix) {
        M sum = M::Zero(bl.rows, bl.cols);
        for (const auto& [l, r] : t.pairs) sum.noalias() += (l.array().colwise() * weight.array()).matrix().transpose() * r;
        Eigen::Map<RowMat>(out.data() + bl.offset, bl.rows, bl.cols) += sum.template cast<double>();
      } else {
        V sum = V::Zero(bl.size());
        for (const auto& v : t.vectors) sum.noalias() += v.transpose() * weight;
        out.segment(bl.offset, bl.size()) += sum.template cast<double>();
      }
    }
  }

  // Adds sum_s J_s o J_s (the GN diagonal times n) into out: for a block with per-sample
  // derivative sum_r l_r r_r^T, (sum_r l_r r_r^T)^2 = sum_{r, r'} (l_r o l_r')(r_r o r_r')^T.
  void add_squares(const Piece& pc, Vec& out) const {
    for (int b = 0; b < kBlocks; ++b) {
      const Block& bl = p_.layout.blocks[static_cast<std::size_t>(b)];
      const Terms t = terms(pc, static_cast<BlockId>(b));
      if (bl.matrix) {
        M sum = M::Zero(bl.rows, bl.cols);
        for (std::size_t i = 0; i < t.pairs.size(); ++i)
          for (std::size_t j = i; j < t.pairs.size(); ++j) {
            const M l = t.pairs[i].first.cwiseProduct(t.pairs[j].first);
            const M r = t.pairs[i].second.cwiseProduct(t.pairs[j].second);
            sum.noalias() += (i == j ? T(1) : T(2)) * (l.transpose() * r);
          }
        Eigen::Map<RowMat>(out.data() + bl.offset, bl.rows, bl.cols) += sum.template cast<double>();
      } else {
        M total = M::Zero(pc.n, bl.size());
        for (const auto& v : t.vectors) total += v;
        out.segment(bl.offset, bl.size()) += total.cwiseAbs2().colwise().sum().transpose().template cast<double>();
      }
    }
  }

  // Per-sample derivative vectors J (n x P, float64), for the full GN of small instances.
  Mat jacobian(const Piece& pc) const {
    Mat j = Mat::Zero(pc.n, p_.layout.size());
    for (Index s = 0; s < pc.n; ++s) {
      V onehot = V::Zero(pc.n);
      onehot(s) = T(1);
      Vec row = Vec::Zero(p_.layout.size());
      add_gradient(pc, onehot, row);
      j.row(s) = row.transpose();
    }
    return j;
  }

  // GN pseudo-gradients of every block over all pieces (task.hpp): one rank-one term per sample,
  // or three grouped terms per sample for W_in and P; b_in gets its three terms summed.
  void pseudo(const std::vector<Piece>& pieces, Index n, Curvature& c) const {
    c.pseudo.assign(kBlocks, PseudoGradients{});
    for (int b = 0; b < kBlocks; ++b) {
      const Block& bl = p_.layout.blocks[static_cast<std::size_t>(b)];
      const Terms first = terms(pieces[0], static_cast<BlockId>(b));
      const Index group = bl.matrix ? static_cast<Index>(first.pairs.size()) : 1;
      auto left = std::make_shared<M>(group * n, bl.rows);
      std::shared_ptr<M> right = bl.matrix ? std::make_shared<M>(group * n, bl.cols) : nullptr;
      Index s0 = 0;
      for (const Piece& pc : pieces) {
        const Terms t = &pc == &pieces[0] ? first : terms(pc, static_cast<BlockId>(b));
        if (bl.matrix) {
          for (Index r = 0; r < group; ++r) {
            left->middleRows(r * n + s0, pc.n) = t.pairs[static_cast<std::size_t>(r)].first;
            right->middleRows(r * n + s0, pc.n) = t.pairs[static_cast<std::size_t>(r)].second;
          }
        } else {
          M sum = t.vectors[0];
          for (std::size_t v = 1; v < t.vectors.size(); ++v) sum += t.vectors[v];
          left->middleRows(s0, pc.n) = sum;
        }
        s0 += pc.n;
      }
      PseudoGradients& g = c.pseudo[static_cast<std::size_t>(b)];
      g.group = group;
      if constexpr (std::is_same_v<T, float>) {
        g.left_f = std::move(left);
        g.right_f = std::move(right);
      } else {
        g.left = std::move(left);
        g.right = std::move(right);
      }
    }
  }

  // Splits samples into pieces and prepares each piece's tokens.
  std::vector<Piece> split(const Tokens& tok) const {
    const Index L = p_.cfg.positions();
    const Index n = static_cast<Index>(tok.selected.size()), np = std::max<Index>(1, (n + kRows - 1) / kRows);
    std::vector<Piece> pieces(static_cast<std::size_t>(np));
    for (Index p = 0; p < np; ++p) {
      Piece& pc = pieces[static_cast<std::size_t>(p)];
      const Index s0 = p * kRows;
      pc.n = std::min(kRows, n - s0);
      pc.x = tok.x.middleRows(s0 * L, pc.n * L).template cast<T>();
    }
    return pieces;
  }

 private:
  const TransformerProblem& p_;
  M win_, pos_, wq_, wk_, wv_, wo_, w1_, w2_, wout_;
  V bin_, b1_, b2_, cout_;
};

template <class T>
class TransformerTask : public Task {
 public:
  TransformerTask(std::shared_ptr<const TransformerProblem> p, std::uint64_t seed) : p_(std::move(p)), model_(*p_) {
    const auto& c = p_->cfg;
    Rng rng = Rng::stream(seed, "task");
    theta_star_.resize(c.dim);
    rng.fill_normal(theta_star_);
    theta_star_ /= std::sqrt(static_cast<double>(c.dim));
    theta0_ = Vec::Zero(p_->layout.size());
    for (const Block& bl : p_->layout.blocks) {
      if (!bl.matrix) continue;
      const double scale = bl.name == "P" ? 0.02 : 1.0 / std::sqrt(static_cast<double>(bl.cols));
      for (Index i = 0; i < bl.size(); ++i) theta0_[bl.offset + i] = scale * rng.normal();
    }
    probe_y_ = labels(c, p_->probe, theta_star_);
    test_y_ = labels(c, p_->test, theta_star_);
  }

  const Layout& layout() const override { return p_->layout; }
  Vec initial_parameters() const override { return theta0_; }

  double loss_and_gradient(const Vec& theta, SampleSize n, Rng& rng, Vec& grad) override {
    if (n.exact) throw UsageError("batch = full is not available for task transformer (fresh samples every step): give a batch size");
    model_.load(theta);
    auto pieces = model_.fresh(n.n, rng);
    std::vector<Vec> parts(pieces.size());
    std::vector<double> losses(pieces.size());
    const double inv_n = 1.0 / static_cast<double>(n.n);
    parallel_pieces(static_cast<Index>(pieces.size()), [&](Index p) {
      auto& pc = pieces[static_cast<std::size_t>(p)];
      model_.fill(pc);
      model_.forward(pc);
      model_.derivatives(pc);
      const Vec r = pc.f.template cast<double>() - model_.labels_of(pc, theta_star_);
      losses[static_cast<std::size_t>(p)] = r.squaredNorm();
      parts[static_cast<std::size_t>(p)] = Vec::Zero(p_->layout.size());
      model_.add_gradient(pc, (r * inv_n).template cast<T>(), parts[static_cast<std::size_t>(p)]);
    });
    grad = parts[0];
    double loss = losses[0];
    for (std::size_t p = 1; p < parts.size(); ++p) {
      grad += parts[p];
      loss += losses[p];
    }
    return 0.5 * loss * inv_n;
  }

  void curvature(const Vec& theta, SampleSize n, Rng& rng, CurvatureNeed need, Curvature& out) override {
    if (n.exact) throw UsageError("gn_batch = population is not available for task transformer: give a GN batch size");
    model_.load(theta);
    auto pieces = model_.fresh(n.n, rng);
    const double inv_n = 1.0 / static_cast<double>(n.n);
    out.level = need;
    out.structurally_diagonal = false;
    if (need == CurvatureNeed::kronecker) {
      parallel_pieces(static_cast<Index>(pieces.size()), [&](Index p) {
        auto& pc = pieces[static_cast<std::size_t>(p)];
        model_.fill(pc);
        model_.forward(pc);
        model_.derivatives(pc);
      });
      model_.pseudo(pieces, n.n, out);
      out.row_weight = inv_n;
      return;
    }
    if (need == CurvatureNeed::full) {
      std::vector<Mat> parts(pieces.size());
      parallel_pieces(static_cast<Index>(pieces.size()), [&](Index p) {
        auto& pc = pieces[static_cast<std::size_t>(p)];
        model_.fill(pc);
        model_.forward(pc);
        model_.derivatives(pc);
        const Mat j = model_.jacobian(pc);
        parts[static_cast<std::size_t>(p)] = j.transpose() * j;
      });
      out.full = parts[0];
      for (std::size_t p = 1; p < parts.size(); ++p) out.full += parts[p];
      out.full *= inv_n;
      out.diag = out.full.diagonal();
      return;
    }
    std::vector<Vec> parts(pieces.size());
    parallel_pieces(static_cast<Index>(pieces.size()), [&](Index p) {
      auto& pc = pieces[static_cast<std::size_t>(p)];
      model_.fill(pc);
      model_.forward(pc);
      model_.derivatives(pc);
      parts[static_cast<std::size_t>(p)] = Vec::Zero(p_->layout.size());
      model_.add_squares(pc, parts[static_cast<std::size_t>(p)]);
    });
    out.diag = parts[0];
    for (std::size_t p = 1; p < parts.size(); ++p) out.diag += parts[p];
    out.diag *= inv_n;
  }

  Evaluation evaluate(const Vec& theta) override {
    model_.load(theta);
    Evaluation e;
    e.loss = loss_on(p_->probe, probe_y_);
    e.test_loss = loss_on(p_->test, test_y_);
    e.has_test = true;
    return e;
  }

  json run_record() const override {
    return json{{"theta_star", std::vector<double>(theta_star_.data(), theta_star_.data() + theta_star_.size())}};
  }

 private:
  double loss_on(const Tokens& tok, const Vec& y) {
    auto pieces = model_.split(tok);
    std::vector<double> losses(pieces.size());
    parallel_pieces(static_cast<Index>(pieces.size()), [&](Index p) {
      auto& pc = pieces[static_cast<std::size_t>(p)];
      model_.forward(pc);
      losses[static_cast<std::size_t>(p)] = (pc.f.template cast<double>() - y.segment(p * Model<T>::kRows, pc.n)).squaredNorm();
    });
    double sum = 0.0;
    for (double l : losses) sum += l;
    return 0.5 * sum / static_cast<double>(y.size());
  }

  std::shared_ptr<const TransformerProblem> p_;
  Model<T> model_;
  Vec theta_star_, theta0_, probe_y_, test_y_;
};

// Memory from the sizes, in bytes. T tokens, L = T + 1, d token dimension, D width, F MLP width,
// P parameters, s = 4 (f32) or 8 (f64), E = eval_size, B and G the gradient and GN batches:
//   shared   16 E (L d + 1)                          probe and test tokens, selected positions
//   per run  8 (2 P + d + 2 E) + s P                 theta*, theta0, labels, the weights in s
//            + max(B a + 8 P ceil(B / 1024),         gradient: every piece's samples at once,
//                  G a + 8 P ceil(G / 1024),         GN diagonal,
//                  G a + 8 P^2 (ceil(G / 1024) + 1) + 8 1024 P   full GN (Jacobian per piece),
//                  E e)                              evaluation of a fixed set
//            + 2 s G sum_b g_b (rows_b + cols_b)     Kronecker: pseudo-gradients (g_b = 3 for
//                                                    W_in and P, else 1; a vector block: rows_b)
//                                                    and the basis's copies of them
// with a = s (L d + 4 d + 16 D + 3 F + 3 L) and e = s (L d + 2 d + 8 D + 2 F + 2 L) bytes per
// sample of a piece's tokens and activations with and without the derivative factors. Each run's
// record holds theta* (d numbers).
TaskMemory transformer_memory(const TransformerConfig& c, const RunSizes& sizes) {
  const Index L = c.positions(), d = c.dim, D = c.width, F = c.mlp_width, E = c.eval_size;
  const std::size_t s = c.precision == "f64" ? 8 : 4;
  const Layout layout = transformer_layout(c);
  Bytes P, pseudo;
  for (const Block& bl : layout.blocks) {
    P += Bytes(1) * bl.rows * bl.cols;
    const Index group = bl.name == "W_in" || bl.name == "P" ? 3 : 1;
    pseudo += Bytes::of(group, 2 * s) * (bl.matrix ? bl.rows + bl.cols : bl.rows);
  }
  const Bytes a = Bytes(s) * (L * d + 4 * d + 16 * D + 3 * F + 3 * L);
  const Bytes e = Bytes(s) * (L * d + 2 * d + 8 * D + 2 * F + 2 * L);
  auto pieces = [](Index n) { return (n + 1023) / 1024; };
  const Index B = sizes.batch.exact ? 0 : sizes.batch.n;
  const Index G = sizes.gn_batch.exact || sizes.need == CurvatureNeed::none ? 0 : sizes.gn_batch.n;
  TaskMemory m;
  m.shared = Bytes::of(E, 16) * (L * d + 1);
  Bytes phase = max(a * B + Bytes(8) * P * pieces(B), e * E);
  if (sizes.need == CurvatureNeed::diagonal) phase = max(phase, a * G + Bytes(8) * P * pieces(G));
  if (sizes.need == CurvatureNeed::full)
    phase = max(phase, a * G + Bytes(8) * P * P * (pieces(G) + 1) + Bytes(8 * 1024) * P);
  if (sizes.need == CurvatureNeed::kronecker) phase = max(phase, a * G) + pseudo * G;
  m.per_run = Bytes(16 + s) * P + Bytes::of(d + 2 * E, 8) + phase;
  m.record_values = d;
  return m;
}

class TransformerFactory : public TaskFactory {
 public:
  explicit TransformerFactory(std::shared_ptr<const TransformerProblem> p) : p_(std::move(p)) {}
  std::string name() const override { return "transformer"; }
  Index dim() const override { return p_->layout.size(); }
  Layout layout() const override { return p_->layout; }
  bool has_population() const override { return false; }
  bool provides(CurvatureNeed) const override { return true; }
  std::unique_ptr<Task> make(std::uint64_t seed) const override {
    if (p_->cfg.precision == "f64") return std::make_unique<TransformerTask<double>>(p_, seed);
    return std::make_unique<TransformerTask<float>>(p_, seed);
  }
  json config() const override {
    const auto& c = p_->cfg;
    return json{{"name", "transformer"},      {"tokens", c.tokens},       {"dim", c.dim},
                {"width", c.width},           {"mlp_width", c.mlp_width}, {"precision", c.precision},
                {"eval_size", c.eval_size},   {"problem_seed", c.problem_seed}};
  }
  json info() const override { return json{{"parameters", p_->layout.size()}}; }
  TaskMemory memory(const RunSizes& sizes) const override { return transformer_memory(p_->cfg, sizes); }

 private:
  std::shared_ptr<const TransformerProblem> p_;
};

}  // namespace

template <class X>
void transformer_tokens_impl(const TransformerConfig& c, Index n, Rng& rng, X& tokens, std::vector<Index>& selected) {
  const Index L = c.positions();
  const auto seeds = piece_seeds(n, rng);
  tokens.resize(n * L, c.dim);
  selected.resize(static_cast<std::size_t>(n));
  for (std::size_t p = 0; p < seeds.size(); ++p) {
    const Index s0 = static_cast<Index>(p) * kPiece, count = std::min(kPiece, n - s0);
    RowMat piece;
    draw_piece(c, seeds[p], count, piece, selected.data() + s0);
    tokens.middleRows(s0 * L, count * L) = piece;
  }
}

void transformer_tokens(const TransformerConfig& c, Index n, Rng& rng, Mat& tokens, std::vector<Index>& selected) {
  transformer_tokens_impl(c, n, rng, tokens, selected);
}
void transformer_tokens(const TransformerConfig& c, Index n, Rng& rng, RowMat& tokens, std::vector<Index>& selected) {
  transformer_tokens_impl(c, n, rng, tokens, selected);
}

Layout transformer_layout(const TransformerConfig& c) {
  Layout l;
  l.add_matrix("W_in", c.width, c.dim);
  l.add_vector("b_in", c.width);
  l.add_matrix("P", c.positions(), c.width);
  l.add_matrix("W_q", c.width, c.width);
  l.add_matrix("W_k", c.width, c.width);
  l.add_matrix("W_v", c.width, c.width);
  l.add_matrix("W_o", c.width, c.width);
  l.add_matrix("W_1", c.mlp_width, c.width);
  l.add_vector("b_1", c.mlp_width);
  l.add_matrix("W_2", c.width, c.mlp_width);
  l.add_vector("b_2", c.width);
  l.add_matrix("w_out", 1, c.width);
  l.add_vector("c_out", 1);
  return l;
}

Vec transformer_reference_outputs(const TransformerConfig& c, const Vec& theta, const Mat& tokens) {
  const Layout layout = transformer_layout(c);
  auto mat = [&](BlockId b) {
    const Block& bl = layout.blocks[b];
    return Mat(Eigen::Map<const RowMat>(theta.data() + bl.offset, bl.rows, bl.cols));
  };
  auto vec = [&](BlockId b) { return Vec(theta.segment(layout.blocks[b].offset, layout.blocks[b].size())); };
  const Mat win = mat(kWin), pos = mat(kPos), wq = mat(kWq), wk = mat(kWk), wv = mat(kWv), wo = mat(kWo);
  const Mat w1 = mat(kW1), w2 = mat(kW2), wout = mat(kWout);
  const Vec bin = vec(kBin), b1 = vec(kB1), b2 = vec(kB2), cout = vec(kCout);
  const Index L = c.positions(), n = tokens.rows() / L;
  Vec f(n);
  for (Index s = 0; s < n; ++s) {
    Mat h(L, c.width), k(L, c.width), v(L, c.width);
    for (Index t = 0; t < L; ++t) {
      h.row(t) = (win * tokens.row(s * L + t).transpose() + bin + pos.row(t).transpose()).transpose();
      k.row(t) = (wk * h.row(t).transpose()).transpose();
      v.row(t) = (wv * h.row(t).transpose()).transpose();
    }
    const Vec q = wq * h.row(L - 1).transpose();
    Vec score = k * q / std::sqrt(static_cast<double>(c.width));
    score.array() -= score.maxCoeff();
    Vec a = score.array().exp();
    a /= a.sum();
    const Vec r = h.row(L - 1).transpose() + wo * (v.transpose() * a);
    const Vec z = r + w2 * (w1 * r + b1).cwiseMax(0.0) + b2;
    f(s) = (wout * z)(0) + cout(0);
  }
  return f;
}

TaskEntry transformer_task() {
  return {"transformer", "selection task with a one-layer attention model (paper §5, C.4)",
          {Field("tokens", FieldType::integer, "Gaussian tokens T before the selector").defaults(32).at_least(1),
           Field("dim", FieldType::integer, "token dimension d (at least T)").defaults(32).at_least(1),
           Field("width", FieldType::integer, "model width D").defaults(128).at_least(1),
           Field("mlp_width", FieldType::integer, "MLP width F").defaults(512).at_least(1),
           Field("precision", FieldType::text, "precision of the batched products").defaults("f32").one_of({"f32", "f64"}),
           Field("eval_size", FieldType::integer, "size of the fixed probe and test batches").defaults(4096).at_least(1),
           Field("problem_seed", FieldType::seed, "seed of the probe and test inputs").defaults(0)},
          make_transformer};
}

std::unique_ptr<TaskFactory> make_transformer(FieldReader& r) {
  auto p = std::make_shared<TransformerProblem>();
  TransformerConfig& c = p->cfg;
  c.tokens = r.integer("tokens");
  c.dim = r.integer("dim");
  c.width = r.integer("width");
  c.mlp_width = r.integer("mlp_width");
  c.precision = r.text("precision");
  c.eval_size = r.integer("eval_size");
  c.problem_seed = r.seed("problem_seed");
  r.finish();
  if (c.dim < c.tokens)
    throw UsageError(r.path_of("dim") + " = " + std::to_string(c.dim) + " must be >= tokens = " + std::to_string(c.tokens) +
                     " (the selector is one-hot over the token positions)");
  p->layout = transformer_layout(c);
  admit_memory(Bytes(), 0, transformer_memory(c, RunSizes{}).shared,
               "task transformer's probe and test sets (eval_size " + std::to_string(c.eval_size) + ", dim " +
                   std::to_string(c.dim) + ", tokens " + std::to_string(c.tokens) + ")",
               "reduce --eval-size/--dim/--tokens");
  Rng probe = Rng::stream(c.problem_seed, "probe"), test = Rng::stream(c.problem_seed, "test");
  draw_tokens(c, c.eval_size, probe, p->probe);
  draw_tokens(c, c.eval_size, test, p->test);
  return std::make_unique<TransformerFactory>(std::move(p));
}

}  // namespace adamgn
