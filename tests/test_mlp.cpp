// MLP tasks (parity, staircase, teacher): gradients against finite differences, GN pseudo-gradient
// statistics against an explicit per-sample Jacobian, and the Kronecker / interpolated bases.
#include "helpers.hpp"

#include <unsupported/Eigen/MatrixFunctions>
#include "core/parallel.hpp"
#include "optim/kronecker.hpp"

#include <unsupported/Eigen/KroneckerProduct>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace adamgn;
using namespace adamgn::test;

namespace {

std::unique_ptr<TaskFactory> tiny(const std::string& kind, bool output_bias = true) {
  json t{{"name", kind}, {"dim", 4}, {"width", 3}, {"precision", "f64"}, {"eval_size", 64},
         {"output_bias", output_bias}};
  if (kind == "teacher") t["teacher_width"] = 2;
  else t["k"] = 2;
  return make_task_factory(t);
}

// Per-sample Jacobian of f (one output) by central differences of single-sample losses: with y
// fixed, dl/dtheta = (f - y) df/dtheta and |f - y| = sqrt(2 l); the sign of f - y cancels in J^T J
// and in every statistic built from it.
Mat jacobian_by_differences(Task& task, const Vec& theta, const Rng& rng, Index n) {
  Mat j(n, theta.size());
  Rng r = rng;
  for (Index s = 0; s < n; ++s) {
    const Rng sample = r;
    for (Index p = 0; p < theta.size(); ++p) j(s, p) = loss_difference(task, theta, SampleSize::samples(1), sample, p);
    Vec g;
    j.row(s) /= std::sqrt(2.0 * task.loss_and_gradient(theta, SampleSize::samples(1), r, g));
  }
  return j;
}

}  // namespace

TEST_CASE("mlp: batch gradients match finite differences for every block, every task") {
  for (const char* kind : {"parity", "staircase", "teacher"}) {
    auto f = tiny(kind);
    auto task = f->make(1);
    Vec theta = task->initial_parameters();
    Rng init(5);
    for (Index i = 0; i < theta.size(); ++i) theta[i] += 0.3 * init.normal();  // b, c nonzero too
    Rng rng(7);
    const Rng copy = rng;
    Vec g;
    task->loss_and_gradient(theta, SampleSize::samples(16), rng, g);
    for (const Block& blk : task->layout().blocks)
      for (Index i = 0; i < blk.size(); ++i) {
        const Index p = blk.offset + i;
        INFO(kind << " block " << blk.name << " entry " << i);
        CHECK(g[p] == doctest::Approx(loss_difference(*task, theta, SampleSize::samples(16), copy, p)).epsilon(1e-6).scale(1e-8));
      }
  }
}

TEST_CASE("mlp: GN pseudo-gradients give the full GN, Kronecker factors and diagonals of the explicit Jacobian") {
  auto f = tiny("teacher");
  auto task = f->make(2);
  Vec theta = task->initial_parameters();
  Rng init(3);
  for (Index i = 0; i < theta.size(); ++i) theta[i] += 0.3 * init.normal();
  const Index n = 12;
  Rng rng(11);
  const Rng copy = rng;
  Curvature c;
  task->curvature(theta, SampleSize::samples(n), rng, CurvatureNeed::full, c);
  // The same n samples one at a time: a batch of n draws the inputs in the same order as n
  // batches of one (inputs are generated row by row from one stream).
  const Mat j = jacobian_by_differences(*task, theta, copy, n);
  const Mat h = j.transpose() * j / static_cast<double>(n);
  CHECK((c.full - h).norm() <= 1e-6 * h.norm());
  CHECK((c.diag - h.diagonal()).norm() <= 1e-6 * h.norm());

  // Kronecker factors of W (3 x 4): E[G G^T] and E[G^T G] with G the per-sample dF/dW.
  const Block& w = task->layout().blocks[0];
  Mat l = Mat::Zero(3, 3), r = Mat::Zero(4, 4);
  for (Index s = 0; s < n; ++s) {
    const Vec row = j.row(s).transpose();  // a row of a column-major matrix is strided: copy it
    const Mat gs = Eigen::Map<const RowMat>(row.data() + w.offset, 3, 4);
    l += gs * gs.transpose() / static_cast<double>(n);
    r += gs.transpose() * gs / static_cast<double>(n);
  }
  Curvature k;
  Rng again = copy;
  task->curvature(theta, SampleSize::samples(n), again, CurvatureNeed::kronecker, k);
  KroneckerBasis basis(task->layout());
  REQUIRE(basis.refresh(k, nullptr));
  const Mat ql = basis.factors(0)[0], qr = basis.factors(0)[1];
  const Mat dl = ql.transpose() * l * ql, dr = qr.transpose() * r * qr;
  CHECK((dl - Mat(dl.diagonal().asDiagonal())).norm() <= 1e-8 * l.norm());
  CHECK((dr - Mat(dr.diagonal().asDiagonal())).norm() <= 1e-8 * r.norm());
  CHECK((ql.transpose() * ql - Mat::Identity(3, 3)).norm() < 1e-12);

  // GN diagonal in the Kronecker basis = diag(U^T H U) with U = blockdiag(Q_L (x) Q_R, Q_b, ...)
  // (row-major vec(Q_L^T G Q_R) = (Q_L (x) Q_R)^T vec(G)).
  Vec hk;
  basis.gn_diagonal(k, hk);
  Mat u = Mat::Zero(theta.size(), theta.size());
  for (std::size_t b = 0; b < task->layout().blocks.size(); ++b) {
    const Block& blk = task->layout().blocks[b];
    const auto& q = basis.factors(b);
    const Mat ub = blk.matrix ? Mat(Eigen::kroneckerProduct(q[0], q[1])) : q[0];
    u.block(blk.offset, blk.offset, blk.size(), blk.size()) = ub;
  }
  CHECK((hk - Vec((u.transpose() * h * u).diagonal())).norm() <= 1e-6 * h.norm());
  // rotate / unrotate agree with U
  Vec g = Vec::LinSpaced(theta.size(), -1.0, 1.0), gr, back;
  basis.rotate(g, gr);
  CHECK((gr - u.transpose() * g).norm() < 1e-12);
  basis.unrotate(gr, back);
  CHECK((back - g).norm() < 1e-12);
}

TEST_CASE("Kronecker basis with vector blocks kept in the identity basis") {
  auto f = tiny("teacher");
  auto task = f->make(2);
  const Vec theta = task->initial_parameters();
  Curvature c;
  Rng rng(5);
  task->curvature(theta, SampleSize::samples(32), rng, CurvatureNeed::full, c);
  KroneckerBasis basis(task->layout(), 1.0, true);
  REQUIRE(basis.refresh(c, nullptr));
  Vec h;
  basis.gn_diagonal(c, h);
  for (std::size_t b = 0; b < task->layout().blocks.size(); ++b) {
    const Block& blk = task->layout().blocks[b];
    if (blk.matrix) continue;
    CHECK(basis.factors(b)[0] == Mat::Identity(blk.rows, blk.rows));
    CHECK((h.segment(blk.offset, blk.size()) - c.full.diagonal().segment(blk.offset, blk.size())).norm() <=
          1e-12 * c.full.norm());
  }
  CHECK(optimizer({{"basis", "kronecker"}, {"kron_vectors", "identity"}}).kron_vectors_identity);
}

TEST_CASE("Kronecker factors of a wide layer: pieces of columns and on-unit bits against the explicit Gram") {
  // Width 300: the hidden layer's factors are built in two pieces of columns. Parity's inputs lie
  // on the hypercube (equal weights: the Gram of the on-unit bits, counted); teacher's do not
  // (the weighted product of the bits). 200 samples leave the last 64-bit word partly empty.
  for (const char* kind : {"parity", "teacher"})
    for (const char* precision : {"f64", "f32"}) {
      INFO(kind << " " << precision);
      json t{{"name", kind}, {"dim", 6}, {"width", 300}, {"precision", precision}, {"eval_size", 64}};
      if (std::string(kind) == "teacher") t["teacher_width"] = 4;
      else t["k"] = 2;
      auto task = make_task_factory(t)->make(4);
      Vec theta = task->initial_parameters();
      Rng init(8);
      for (Index i = 0; i < theta.size(); ++i) theta[i] += 0.2 * init.normal();
      Curvature c;
      Rng rng(13);
      const Index n = 200;
      task->curvature(theta, SampleSize::samples(n), rng, CurvatureNeed::kronecker, c);
      REQUIRE(c.pseudo[0].mask != nullptr);
      Mat left, right;
      visit_factors(c.pseudo[0], [&](const auto& l, const auto* r) {
        left = l.template cast<double>();
        right = r->template cast<double>();
      });
      // Explicit factors: E[G G^T] = sum_s |x_s|^2 l_s l_s^T / n, the bias block sum_s l_s l_s^T / n.
      const Vec w = right.rowwise().squaredNorm();
      const Mat gl = left.transpose() * w.asDiagonal() * left / static_cast<double>(n);
      const Mat gb = left.transpose() * left / static_cast<double>(n);
      KroneckerBasis basis(task->layout());
      REQUIRE(basis.refresh(c, nullptr));
      const double tol = std::string(precision) == "f64" ? 1e-10 : 1e-5;
      const Mat& ql = basis.factors(0)[0];
      const Mat dl = ql.transpose() * gl * ql;
      CHECK((dl - Mat(dl.diagonal().asDiagonal())).norm() <= tol * gl.norm());
      // The bias block's GN diagonal in its basis is its Gram's eigenvalues.
      const Block& b = task->layout().blocks[1];
      Vec h;
      basis.gn_diagonal(c, h);
      const Mat& qb = basis.factors(1)[0];
      CHECK((h.segment(b.offset, b.size()) - Vec((qb.transpose() * gb * qb).diagonal())).norm() <= tol * gb.norm());
      // The weight block's GN diagonal in its basis (built from the on-unit bits): sum_s
      // (Q_L^T l_s)^2 ((Q_R^T x_s)^2)^T / n, explicitly in double.
      const Block& wb = task->layout().blocks[0];
      const Mat& qr = basis.factors(0)[1];
      const Mat dw = (left * ql).cwiseAbs2().transpose() * (right * qr).cwiseAbs2() / static_cast<double>(n);
      const Mat got = Eigen::Map<const RowMat>(h.data() + wb.offset, wb.rows, wb.cols);
      CHECK((got - dw).norm() <= tol * dw.norm());
    }
}

TEST_CASE("GN diagonal of masked terms: the on-unit tables agree with the product, any thread count") {
  // 70 units (groups of four with a partial last one; two column tiles of 32 and a tail of 6), three
  // output directions, 1100 samples (two pieces of 1024, the second ending inside a 64-bit word).
  const Index units = 70, inputs = 5, k = 3, n = 1100;
  Rng rng(21);
  auto mask = std::make_shared<ReluMask>();
  mask->samples = n;
  mask->units = units;
  mask->words = (n + 63) / 64;
  mask->bits.assign(static_cast<std::size_t>(units * mask->words), 0);
  mask->out = Mat(k, units);
  rng.fill_normal(mask->out);
  for (Index u = 0; u < units; ++u)
    for (Index s = 0; s < n; ++s)
      if (rng.uniform() < 0.5) mask->bits[static_cast<std::size_t>(u * mask->words + s / 64)] |= std::uint64_t{1} << (s % 64);
  Mat left = Mat::Zero(k * n, units), right(n, inputs), ql(units, units), qr(inputs, inputs);
  for (Index j = 0; j < k; ++j)
    for (Index s = 0; s < n; ++s)
      for (Index u = 0; u < units; ++u)
        if (mask->on(s, u)) left(j * n + s, u) = mask->out(j, u);
  rng.fill_normal(right);
  rng.fill_normal(ql);
  rng.fill_normal(qr);
  Block blk;
  blk.rows = units;
  blk.cols = inputs;
  blk.matrix = true;
  auto diagonal = [&](bool f32, bool with_mask, int threads) {
    PseudoGradients g;
    if (f32) {
      g.left_f = std::make_shared<const MatF>(left.cast<float>());
      g.right_f = std::make_shared<const MatF>(right.cast<float>());
    } else {
      g.left = std::make_shared<const Mat>(left);
      g.right = std::make_shared<const Mat>(right);
    }
    if (with_mask) g.mask = mask;
    set_inner_threads(threads);
    Vec h(blk.size());
    if (f32) {
      const MatF qlf = ql.cast<float>(), qrf = qr.cast<float>();
      gn_diagonal_block(blk, g, 1.0 / static_cast<double>(n), &qlf, &qrf, h);
    } else {
      gn_diagonal_block(blk, g, 1.0 / static_cast<double>(n), &ql, &qr, h);
    }
    set_inner_threads(1);
    return h;
  };
  for (bool f32 : {false, true}) {
    INFO((f32 ? "f32" : "f64"));
    const Vec product = diagonal(f32, false, 1), tables = diagonal(f32, true, 1);
    CHECK((tables - product).norm() <= (f32 ? 1e-5 : 1e-12) * product.norm());
    CHECK((diagonal(f32, true, 2).array() == tables.array()).all());
  }
}

TEST_CASE("Kronecker basis diagonalizes a GN matrix that is exactly a Kronecker product") {
  // One matrix block 3 x 2 whose terms are l_r r_r^T with (l, r) from independent sets: then
  // E[vec G vec G^T] = E[l l^T] (x) E[r r^T] exactly, and the Kronecker eigenbasis is its eigenbasis.
  Layout layout;
  layout.add_matrix("W", 3, 2);
  Rng rng(4);
  Mat ls(5, 3), rs(4, 2);
  rng.fill_normal(ls);
  rng.fill_normal(rs);
  Curvature c;
  c.pseudo.resize(1);
  auto left = std::make_shared<Mat>(20, 3), right = std::make_shared<Mat>(20, 2);
  for (Index a = 0; a < 5; ++a)
    for (Index b = 0; b < 4; ++b) {
      left->row(a * 4 + b) = ls.row(a);
      right->row(a * 4 + b) = rs.row(b);
    }
  c.pseudo[0].left = left;
  c.pseudo[0].right = right;
  c.row_weight = 1.0 / 20.0;
  complete_from_pseudo(layout, CurvatureNeed::full, c);
  const Mat expected = Eigen::kroneckerProduct(Mat(ls.transpose() * ls / 5.0), Mat(rs.transpose() * rs / 4.0));
  CHECK((c.full - expected).norm() < 1e-12 * expected.norm());
  KroneckerBasis basis(layout);
  REQUIRE(basis.refresh(c, nullptr));
  const Mat u = Eigen::kroneckerProduct(basis.factors(0)[0], basis.factors(0)[1]);
  const Mat d = u.transpose() * c.full * u;
  CHECK((d - Mat(d.diagonal().asDiagonal())).norm() < 1e-10 * c.full.norm());
  Vec h;
  basis.gn_diagonal(c, h);
  CHECK((h - d.diagonal()).norm() < 1e-10 * c.full.norm());
}

TEST_CASE("geodesic interpolation: endpoints, orthogonality, permutation") {
  Rng rng(8);
  const Mat q = random_rotation(6, rng);
  CHECK(geodesic_from_identity(q, 0.0) == Mat::Identity(6, 6));
  CHECK(geodesic_from_identity(q, 1.0) == q);
  for (double g : {0.25, 0.5, 0.75}) {
    const Mat u = geodesic_from_identity(q, g);
    CHECK((u.transpose() * u - Mat::Identity(6, 6)).norm() < 1e-10);
    if (g != 0.5) continue;
    // Half-way twice is the whole way to Q with its columns' signs aligned (det +1).
    const Mat whole = u * u;
    for (Index j = 0; j < 6; ++j)
      CHECK(((whole.col(j) - q.col(j)).norm() < 1e-10 || (whole.col(j) + q.col(j)).norm() < 1e-10));
    CHECK(whole.determinant() == doctest::Approx(1.0));
  }
}

TEST_CASE("rotation_power: agrees with the matrix exp of the principal log; angles of pi") {
  Rng rng(9);
  Mat q = random_rotation(7, rng);
  if (q.determinant() < 0.0) q.col(0) = -q.col(0);
  for (double g : {0.25, 0.5, 0.9}) {
    const Mat expected = (g * q.log()).exp();  // Eigen's general matrix functions, as a reference
    CHECK((rotation_power(q, g) - expected).norm() < 1e-10);
  }
  // A half turn in the (0, 1) plane times a quarter turn in (2, 3): eigenvalues -1, -1, +-i, 1.
  Mat u = Mat::Identity(5, 5);
  u(0, 0) = u(1, 1) = -1.0;
  u(2, 2) = u(3, 3) = 0.0;
  u(3, 2) = 1.0;
  u(2, 3) = -1.0;
  const Mat half = rotation_power(u, 0.5);
  CHECK((half.transpose() * half - Mat::Identity(5, 5)).norm() < 1e-12);
  CHECK((half * half - u).norm() < 1e-12);
  CHECK(half(4, 4) == doctest::Approx(1.0));
}

TEST_CASE("rotation_power: planes near a half turn, mixed with planes far from it") {
  // u = Z R Z^T with R block diagonal: rotations by known angles (some within 1e-3 of pi, where
  // the eigenvalues of (u + u^T)/2 crowd at -1), and +1s; the exact power is Z R^gamma Z^T.
  Rng rng(10);
  const std::vector<double> angles{M_PI - 1e-7, M_PI - 1e-4, M_PI - 3e-4, M_PI - 2e-3, M_PI - 0.05, 3.0,
                                   2.0, 1.0, 0.3, 1e-3, 1e-9, 2.5, 0.7, M_PI - 1e-4, 1.5, 0.1};
  const Index n = 2 * static_cast<Index>(angles.size()) + 3;
  const Mat z = random_rotation(n, rng);
  for (double g : {0.25, 0.5, 0.75}) {
    Mat r = Mat::Identity(n, n), rg = Mat::Identity(n, n);
    for (std::size_t i = 0; i < angles.size(); ++i) {
      const Index a = 2 * static_cast<Index>(i), b = a + 1;
      auto plane = [&](Mat& m, double t) {
        m(a, a) = m(b, b) = std::cos(t);
        m(b, a) = std::sin(t);
        m(a, b) = -std::sin(t);
      };
      plane(r, angles[i]);
      plane(rg, g * angles[i]);
    }
    const Mat u = z * r * z.transpose(), expected = z * rg * z.transpose();
    const Mat power = rotation_power(u, g);
    CHECK((power - expected).norm() < 1e-10);
    CHECK((power.transpose() * power - Mat::Identity(n, n)).norm() < 1e-12);
  }
}

TEST_CASE("interp:0 reproduces the identity run and interp:1 the Kronecker run, bit for bit") {
  for (const char* precision : {"f64", "f32"}) {
    const auto f = make_task_factory(json{{"name", "parity"}, {"dim", 4}, {"k", 2}, {"width", 3}, {"precision", precision},
                                          {"eval_size", 64}});
    const auto task = f->make(3);  // owns the layout below
    const Layout& layout = task->layout();
    for (const char* precond : {"adam", "gn"}) {
      const std::string cell = std::string(precision) + " " + precond;
      CAPTURE(cell);
      json base{{"precond", precond}, {"lr", 0.01}, {"alpha", 1e-3}, {"batch", 8}, {"gn_batch", 32}, {"basis_every", 2}};
      json id = base, k = base, i0 = base, i1 = base;
      id["basis"] = "identity";
      k["basis"] = "kronecker";
      i0["basis"] = "interp:0";
      i1["basis"] = "interp:1";
      const Vec a = trajectory_end(*f, optimizer(i0), 15, 3);
      const Vec b = trajectory_end(*f, optimizer(id), 15, 3);
      CHECK((a.array() == b.array()).all());
      // interp:0 is the identity basis itself. The Kronecker basis at gamma = 0, refreshed from
      // curvature, gives the same bits in float64; a float32 task would carry Adam's second
      // moment through float32 products at each refresh and round it.
      if (std::string(precision) == "f64") {
        const Vec a_kron = trajectory_end(*f, optimizer(i0), 15, 3, std::make_unique<KroneckerBasis>(layout, 0.0));
        CHECK((a_kron.array() == b.array()).all());
      }
      const Vec c1 = trajectory_end(*f, optimizer(i1), 15, 3);
      const Vec c2 = trajectory_end(*f, optimizer(k), 15, 3);
      CHECK((c1.array() == c2.array()).all());
    }
  }
}

TEST_CASE("Kronecker basis from float32 pseudo-gradients: rotations, carried second moment, any thread count") {
  // W is 40 x 300, so the right factor's products run in two pieces of columns.
  const auto f = make_task_factory(json{{"name", "parity"}, {"dim", 300}, {"k", 2}, {"width", 40}, {"eval_size", 64}});
  auto task = f->make(3);
  const Layout& layout = task->layout();
  const Vec theta = task->initial_parameters();
  Curvature c1, c2;
  Rng rng(9);
  task->curvature(theta, SampleSize::samples(256), rng, CurvatureNeed::kronecker, c1);
  task->curvature(theta, SampleSize::samples(256), rng, CurvatureNeed::kronecker, c2);
  ++c2.version;
  REQUIRE(c1.pseudo[0].single());

  Vec g(layout.size()), v0(layout.size());
  Rng fill(4);
  fill.fill_normal(g);
  for (Index i = 0; i < v0.size(); ++i) v0[i] = 1.0 + std::abs(fill.normal());

  struct Out { Vec rotated, back, v, h; };
  auto run = [&](int threads) {
    set_inner_threads(threads);
    KroneckerBasis basis(layout);
    Out o;
    CHECK(basis.eigen_seconds() == 0.0);
    REQUIRE(basis.refresh(c1, nullptr));
    CHECK(basis.single_precision());
    CHECK(basis.eigen_seconds() > 0.0);
    o.v = v0;
    const std::vector<Mat> old = basis.factors(0);
    REQUIRE(basis.refresh(c2, &o.v));
    basis.rotate(g, o.rotated);
    basis.unrotate(o.rotated, o.back);
    basis.gn_diagonal(c2, o.h);
    set_inner_threads(1);

    // Against the same products in double from the (double) factors.
    const Block& w = layout.blocks[0];
    const Mat& ql = basis.factors(0)[0];
    const Mat& qr = basis.factors(0)[1];
    const Mat gw = Eigen::Map<const RowMat>(g.data() + w.offset, w.rows, w.cols);
    const Mat expected = ql.transpose() * gw * qr;
    const Mat got = Eigen::Map<const RowMat>(o.rotated.data() + w.offset, w.rows, w.cols);
    CHECK((got - expected).norm() <= 1e-5 * expected.norm());
    CHECK((o.back - g).norm() <= 1e-5 * g.norm());
    const Mat rl = (ql.transpose() * old[0]).cwiseAbs2(), rr = (qr.transpose() * old[1]).cwiseAbs2();
    const Mat vw = Eigen::Map<const RowMat>(v0.data() + w.offset, w.rows, w.cols);
    const Mat carried = rl * vw * rr.transpose();
    const Mat vgot = Eigen::Map<const RowMat>(o.v.data() + w.offset, w.rows, w.cols);
    CHECK((vgot - carried).norm() <= 1e-5 * carried.norm());
    return o;
  };
  const Out one = run(1), two = run(2);
  CHECK((one.rotated.array() == two.rotated.array()).all());
  CHECK((one.back.array() == two.back.array()).all());
  CHECK((one.v.array() == two.v.array()).all());
  CHECK((one.h.array() == two.h.array()).all());
}

TEST_CASE("mlp: float32 gradient over several unit and row pieces, any thread count") {
  // Width 300: two pieces of hidden units; batch 1100: two blocks of rows.
  auto make = [](const char* precision) {
    return make_task_factory(json{{"name", "parity"}, {"dim", 20}, {"k", 3}, {"width", 300}, {"eval_size", 64}, {"precision", precision}});
  };
  const auto f32 = make("f32"), f64 = make("f64");
  auto t32 = f32->make(2), t64 = f64->make(2);
  Vec theta = t32->initial_parameters();
  Rng init(3);
  for (Index i = 0; i < theta.size(); ++i) theta[i] += 0.1 * init.normal();
  auto gradient = [&](Task& task, int threads, double& loss) {
    set_inner_threads(threads);
    Rng rng(11);
    Vec g;
    loss = task.loss_and_gradient(theta, SampleSize::samples(1100), rng, g);
    set_inner_threads(1);
    return g;
  };
  double l1, l2, l64;
  const Vec one = gradient(*t32, 1, l1), two = gradient(*t32, 2, l2), exact = gradient(*t64, 1, l64);
  CHECK((one.array() == two.array()).all());
  CHECK(l1 == l2);
  CHECK(l1 == doctest::Approx(l64).epsilon(1e-5));
  CHECK((one - exact).norm() <= 1e-4 * exact.norm());
  // Small batches take the register-blocked products: the same check at batch 32.
  auto small = [&](Task& task) {
    Rng rng(12);
    Vec g;
    task.loss_and_gradient(theta, SampleSize::samples(32), rng, g);
    return g;
  };
  const Vec s32 = small(*t32), s64 = small(*t64);
  CHECK((s32 - s64).norm() <= 1e-4 * s64.norm());
}

TEST_CASE("teacher with label noise: the labels' variance grows by sigma^2, batches stay sample by sample") {
  const json clean{{"name", "teacher"}, {"precision", "f64"}, {"eval_size", 4096}, {"problem_seed", 3}};
  json noisy = clean;
  noisy["label_noise"] = 3.0;
  const auto fc = make_task_factory(clean), fn = make_task_factory(noisy);
  CHECK(!fc->config().contains("label_noise"));
  CHECK(!fc->info().contains("loss_floor"));
  CHECK(fn->config().at("label_noise") == 3.0);
  CHECK(fn->info().at("loss_floor") == 4.5);
  // The trivial loss is half the labels' variance: the noise adds sigma^2 / 2 = 4.5 to it, up to
  // the sampling error of two sets of 4096 (about 0.1 for the noise's share).
  for (const char* key : {"trivial_loss", "trivial_test_loss"}) {
    const double gap = fn->info().at(key).get<double>() - fc->info().at(key).get<double>();
    INFO(std::string(key) << " gap " << gap);
    CHECK(std::fabs(gap - 4.5) < 0.5);
  }
  // A batch of 3 is 3 batches of one in a row, noise included.
  auto task = fn->make(0);
  const Vec theta = task->initial_parameters();
  Vec g;
  Rng a(7), b(7);
  const double batch = task->loss_and_gradient(theta, SampleSize::samples(3), a, g);
  double singles = 0.0;
  for (int i = 0; i < 3; ++i) singles += task->loss_and_gradient(theta, SampleSize::samples(1), b, g) / 3.0;
  CHECK(batch == doctest::Approx(singles).epsilon(1e-12));
  noisy["label_noise"] = -1.0;
  CHECK(error_of([&] { make_task_factory(noisy); }) == "task.label_noise = -1 must be in [0, 1e6]");
  json parity{{"name", "parity"}, {"label_noise", 0.1}};
  CHECK(error_of([&] { make_task_factory(parity); }).find("label_noise") != std::string::npos);
}
