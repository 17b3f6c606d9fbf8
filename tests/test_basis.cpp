// Bases checked against their defining properties, and the identity / permutation oracles.
#include "helpers.hpp"
#include "core/parallel.hpp"
#include "optim/eigensolver.hpp"
#include "optim/kronecker.hpp"
#include "optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

using namespace adamgn;
using namespace adamgn::test;

namespace {

std::unique_ptr<TaskFactory> rotated6() {
  return make_task_factory(json{{"name", "quadratic"}, {"cov", "spectrum"},
                                {"spectrum", {9.0, 4.0, 2.0, 1.0, 0.5, 0.1}}, {"rotate", true}});
}

std::unique_ptr<Basis> fixed(const Mat& u) {
  auto b = std::make_unique<MatrixBasis>(u.rows());
  b->set_matrix(u);
  return b;
}

}  // namespace

TEST_CASE("symmetric eigensolver: A V = V diag(w), V orthogonal, for any thread count") {
  // 300 rows: several blocks of reflectors and two column pieces in the back-transformation.
  Rng rng(17);
  Mat x(420, 300);
  rng.fill_normal(x);
  const Mat a = x.transpose() * x / 420.0;
  const Vec reference = Eigen::SelfAdjointEigenSolver<Mat>(a).eigenvalues().reverse();
  const Mat lower = a.triangularView<Eigen::Lower>();  // the solver reads the lower triangle only
  const int saved = inner_threads();
  Vec first_w;
  Mat first_v;
  for (int threads : {1, 2}) {
    set_inner_threads(threads);
    Vec w;
    Mat v;
    REQUIRE(symmetric_eigen(lower, w, v));
    CHECK((a * v - v * w.asDiagonal()).norm() < 1e-12 * a.norm());
    CHECK((v.transpose() * v - Mat::Identity(300, 300)).norm() < 1e-12);
    CHECK((w - reference).cwiseAbs().maxCoeff() < 1e-12 * reference[0]);
    Vec wf;
    Mat vf;
    REQUIRE(symmetric_eigen(MatF(lower.cast<float>()), wf, vf));
    CHECK((a * vf - vf * wf.asDiagonal()).norm() < 1e-5 * a.norm());
    CHECK((vf.transpose() * vf - Mat::Identity(300, 300)).norm() < 1e-4);  // about float eps per entry
    if (threads == 1) {
      first_w = wf;
      first_v = vf;
    } else {
      CHECK(wf == first_w);  // bit for bit: pieces and blocks do not depend on the thread count
      CHECK(vf == first_v);
    }
  }
  set_inner_threads(saved);
  for (Index n : {1, 2}) {
    Vec w;
    Mat v;
    const Mat small = Mat::Identity(n, n) * 3.0;
    REQUIRE(symmetric_eigen(small, w, v));
    CHECK(w == Vec::Constant(n, 3.0));
    CHECK(v == Mat::Identity(n, n));
  }
}

TEST_CASE("symmetric eigensolver above the threaded-reduction size (float32, 1100 rows)") {
  Rng rng(29);
  Mat x(1200, 1100);
  rng.fill_normal(x);
  const MatF a = (x.transpose() * x / 1200.0).cast<float>();
  const Mat ad = a.cast<double>();
  const int saved = inner_threads();
  set_inner_threads(2);
  Vec w;
  Mat v;
  REQUIRE(symmetric_eigen(MatF(a.triangularView<Eigen::Lower>()), w, v));
  set_inner_threads(saved);
  CHECK((ad * v - v * w.asDiagonal()).norm() < 1e-5 * ad.norm());
  CHECK((v.transpose() * v - Mat::Identity(1100, 1100)).norm() < 3e-4);  // about float eps per entry
  CHECK(std::is_sorted(w.data(), w.data() + w.size(), std::greater<double>()));
}

TEST_CASE("eigen basis: orthogonal, diagonalizes H, sorted decreasing, fixed signs") {
  Rng rng(3);
  Mat a(7, 7);
  rng.fill_normal(a);
  Curvature c;
  c.full = a * a.transpose();
  c.diag = c.full.diagonal();
  c.version = 1;
  EigenBasis b(7);
  CHECK(b.eigen_seconds() == 0.0);
  REQUIRE(b.refresh(c, nullptr));
  CHECK(b.eigen_seconds() > 0.0);  // the time inside the decomposition, for `adamgn bench`
  InterpolatedEigenBasis toward(7, 0.5);
  REQUIRE(toward.refresh(c, nullptr));
  CHECK(toward.eigen_seconds() > 0.0);  // its target's decomposition counts as its own
  const Mat u = b.dense();
  CHECK((u.transpose() * u - Mat::Identity(7, 7)).norm() < 1e-12);
  const Mat d = u.transpose() * c.full * u;
  CHECK((d - Mat(d.diagonal().asDiagonal())).norm() < 1e-10 * c.full.norm());
  Vec h;
  b.gn_diagonal(c, h);  // eigenvalues, since the basis was built from this estimate
  for (Index i = 0; i + 1 < 7; ++i) CHECK(h[i] >= h[i + 1]);
  CHECK((h - d.diagonal()).norm() < 1e-10 * c.full.norm());
  c.version = 2;  // a new estimate: computed as diag(U^T H U)
  Vec h2;
  b.gn_diagonal(c, h2);
  CHECK((h2 - d.diagonal()).norm() < 1e-10 * c.full.norm());
  for (Index j = 0; j < 7; ++j) {
    Index arg;
    u.col(j).cwiseAbs().maxCoeff(&arg);
    CHECK(u(arg, j) > 0);
  }
  // A refresh from the same matrix gives the same basis bit for bit.
  EigenBasis again(7);
  again.refresh(c, nullptr);
  CHECK((again.dense().array() == u.array()).all());
}

TEST_CASE("eigen basis of a structurally diagonal GN is the sorting permutation") {
  Curvature c;
  c.structurally_diagonal = true;
  c.diag = Vec(5);
  c.diag << 0.5, 3.0, 0.5, 7.0, 1.0;
  EigenBasis b(5);
  REQUIRE(b.refresh(c, nullptr));
  CHECK(b.is_permutation());
  Vec g(5), gr, back;
  g << 1, 2, 3, 4, 5;
  b.rotate(g, gr);
  CHECK(gr == Vec((Vec(5) << 4, 2, 5, 1, 3).finished()));  // order 3, 1, 4, 0, 2 (ties by index)
  b.unrotate(gr, back);
  CHECK(back == g);
  Vec h;
  b.gn_diagonal(c, h);
  CHECK(h == Vec((Vec(5) << 7.0, 3.0, 1.0, 0.5, 0.5).finished()));
  // Adam's second moment follows its coordinates when the order changes.
  Vec v = gr;  // v_i belongs to coordinate perm[i]
  c.diag << 9.0, 3.0, 0.5, 7.0, 1.0;
  c.version = 1;
  REQUIRE(b.refresh(c, &v));
  b.rotate(g, gr);
  CHECK(v == gr);
}

TEST_CASE("a failed decomposition keeps the previous basis") {
  Curvature c;
  c.full = Mat::Identity(3, 3);
  c.full(0, 1) = c.full(1, 0) = std::numeric_limits<double>::quiet_NaN();
  c.diag = Vec::Ones(3);
  EigenBasis b(3);
  const auto before = b.version();
  CHECK_FALSE(b.refresh(c, nullptr));
  CHECK(b.version() == before);
  CHECK(b.dense() == Mat::Identity(3, 3));
}

TEST_CASE("D applied to g: IEEE square roots and quotients, zero where s + alpha is not positive") {
  // 1000 entries (vectors and a scalar tail) over many magnitudes, with zero, negative, NaN,
  // infinite and subnormal statistics mixed in; every entry against the scalar rule, bit for bit.
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> exponent(-300.0, 300.0), sign(-1.0, 1.0);
  const Index n = 1003;
  std::vector<double> s(n), g(n), out(n);
  const double inf = std::numeric_limits<double>::infinity();
  const double specials[] = {0.0, -0.0, -1e-3, -inf, inf, std::numeric_limits<double>::quiet_NaN(), 4.9e-324, 1e-310};
  for (Index i = 0; i < n; ++i) {
    s[i] = std::pow(10.0, exponent(gen) / 10.0) * (i % 7 == 0 ? 1e-290 : 1.0);
    g[i] = sign(gen) * std::pow(10.0, exponent(gen) / 30.0);
    if (i % 11 == 0) s[i] = specials[(i / 11) % 8];
  }
  for (const bool root : {true, false})
    for (const double alpha : {0.0, 1e-8}) {
      precondition_span(root, s.data(), g.data(), alpha, n, out.data());
      Index wrong = 0;
      for (Index i = 0; i < n; ++i) {
        const double shifted = s[i] + alpha;
        const double expected = shifted > 0.0 ? g[i] / (root ? std::sqrt(shifted) : shifted) : 0.0;
        if (!(out[i] == expected || (std::isnan(out[i]) && std::isnan(expected)))) ++wrong;
        if (!(shifted > 0.0)) CHECK(out[i] == 0.0);
      }
      CHECK(wrong == 0);
    }
}

TEST_CASE("Adam's one-pass statistic and quotient match the two passes bit for bit") {
  // Two copies of the same Adam state over several steps: one through the fused pass, one
  // through statistic() and precondition_span(); spans with a scalar tail, tiny and huge
  // gradients, zero gradients (s = 0, so alpha = 0 gives the zero rule).
  std::mt19937_64 gen(11);
  std::uniform_real_distribution<double> exponent(-150.0, 150.0), sign(-1.0, 1.0);
  const Index n = 1003;
  for (const bool root : {true, false})
    for (const double alpha : {0.0, 1e-8}) {
      AdamDiagonal fused(0.99), passes(0.99);
      const Curvature none;
      const IdentityBasis basis;
      Vec s1(n), s2(n), out1(n), out2(n), g(n), d(n);
      Index wrong = 0;
      for (Index t = 1; t <= 5; ++t) {
        for (Index i = 0; i < n; ++i) {
          g[i] = i % 13 == 0 ? 0.0 : sign(gen) * std::pow(10.0, exponent(gen) / 10.0);
          d[i] = sign(gen) * std::pow(10.0, exponent(gen) / 30.0);
        }
        fused.prepare(none, basis, t, n);
        passes.prepare(none, basis, t, n);
        for (Index b = 0; b < n; b += 500) {
          const Index len = std::min<Index>(500, n - b);
          fused.precondition(g, d, b, len, root, alpha, s1, out1.data() + b);
          passes.Diagonal::precondition(g, d, b, len, root, alpha, s2, out2.data() + b);
        }
        for (Index i = 0; i < n; ++i) wrong += !(out1[i] == out2[i]) || !((*fused.second_moment())[i] == (*passes.second_moment())[i]);
      }
      CHECK(wrong == 0);
    }
}

TEST_CASE("identity matrix through the dense basis path reproduces the identity run bit for bit") {
  auto f = rotated6();
  for (const json& fields :
       {json{{"precond", "adam"}, {"beta2", 0.9}, {"lr", 0.01}, {"batch", 4}},
        json{{"precond", "gn"}, {"power", -1}, {"lr", 0.1}, {"batch", 4}, {"gn_batch", "population"}},
        json{{"precond", "gn"}, {"power", -0.5}, {"lr", 0.05}, {"batch", "full"}, {"gn_batch", "population"}}}) {
    const auto c = optimizer(fields);
    const Vec a = trajectory_end(*f, c, 25, 1);
    const Vec b = trajectory_end(*f, c, 25, 1, fixed(Mat::Identity(6, 6)));
    CHECK((a.array() == b.array()).all());
  }
}

TEST_CASE("a permutation basis permutes the run: same trajectory, permuted Adam state") {
  auto f = rotated6();
  std::vector<Index> perm = {4, 0, 5, 2, 1, 3};
  Mat p = Mat::Zero(6, 6);
  for (Index i = 0; i < 6; ++i) p(perm[static_cast<std::size_t>(i)], i) = 1.0;
  const auto adam = optimizer({{"precond", "adam"}, {"beta2", 0.9}, {"lr", 0.01}, {"batch", 4}});
  Vec v_identity, v_perm;
  const Vec a = trajectory_end(*f, adam, 25, 2, std::make_unique<IdentityBasis>(), &v_identity);
  const Vec b = trajectory_end(*f, adam, 25, 2, fixed(p), &v_perm);
  CHECK((a.array() == b.array()).all());
  for (Index i = 0; i < 6; ++i) CHECK(v_perm[i] == v_identity[perm[static_cast<std::size_t>(i)]]);
  // With momentum the step follows the rotated momentum while the second moment still tracks
  // the rotated gradient, in either basis.
  const auto heavy = optimizer({{"precond", "adam"}, {"beta1", 0.9}, {"beta2", 0.9}, {"lr", 0.01}, {"batch", 4}});
  const Vec m_identity = trajectory_end(*f, heavy, 25, 2, std::make_unique<IdentityBasis>(), &v_identity);
  const Vec m_perm = trajectory_end(*f, heavy, 25, 2, fixed(p), &v_perm);
  CHECK((m_identity.array() == m_perm.array()).all());
  for (Index i = 0; i < 6; ++i) CHECK(v_perm[i] == v_identity[perm[static_cast<std::size_t>(i)]]);
  CHECK(!(m_identity.array() == a.array()).all());  // momentum changed the run
  // A sampled GN diagonal is summed in a different order by the dense path (diag(U^T H U) from
  // the full estimate) than by the identity path (column norms), so here the runs agree to
  // rounding rather than bit for bit.
  const auto gn = optimizer({{"precond", "gn"}, {"lr", 0.1}, {"batch", 4}, {"gn_batch", 64}});
  const Vec c = trajectory_end(*f, gn, 25, 2), d = trajectory_end(*f, gn, 25, 2, fixed(p));
  CHECK((c - d).norm() <= 1e-12 * c.norm());
}

TEST_CASE("second moment carried across a dense basis change is the diagonal seen from the new basis") {
  Rng rng(9);
  Mat a(4, 4), b(4, 4);
  rng.fill_normal(a);
  rng.fill_normal(b);
  Curvature c1, c2;
  c1.full = a * a.transpose();
  c2.full = b * b.transpose();
  c1.diag = c1.full.diagonal();
  c2.diag = c2.full.diagonal();
  c2.version = 1;
  EigenBasis basis(4);
  basis.refresh(c1, nullptr);
  const Mat u_old = basis.dense();
  Vec v(4);
  v << 1.0, 2.0, 3.0, 4.0;
  const Mat old_moment = u_old * v.asDiagonal() * u_old.transpose();
  basis.refresh(c2, &v);
  const Mat u_new = basis.dense();
  CHECK((v - Vec((u_new.transpose() * old_moment * u_new).diagonal())).norm() < 1e-12);
}
