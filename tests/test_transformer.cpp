// The transformer selection task: the structured last-position computation against the plain
// per-position definition, finite-difference gradients of every block (also with saturated
// softmax logits), the GN matrix and diagonal against an explicit per-sample Jacobian, and a
// hand-set model that copies the selected token.
#include "helpers.hpp"

#include "optim/kronecker.hpp"
#include "tasks/transformer.hpp"

#include <unsupported/Eigen/KroneckerProduct>

using namespace adamgn;

namespace {

TransformerConfig tiny() {
  TransformerConfig c;
  c.tokens = 3;
  c.dim = 3;
  c.width = 4;
  c.mlp_width = 5;
  c.precision = "f64";
  c.eval_size = 16;
  return c;
}

json task_json(const TransformerConfig& c) {
  return json{{"name", "transformer"}, {"tokens", c.tokens},       {"dim", c.dim},
              {"width", c.width},      {"mlp_width", c.mlp_width}, {"precision", c.precision},
              {"eval_size", c.eval_size}};
}

// Parameters with every block away from zero (biases included), from a fixed stream.
Vec random_theta(const TransformerConfig& c, double scale, std::uint64_t seed) {
  Rng rng = Rng::stream(seed, "theta");
  Vec theta(transformer_layout(c).size());
  rng.fill_normal(theta);
  return scale * theta;
}

// The per-sample Jacobian of f by central differences of the per-position reference.
Mat explicit_jacobian(const TransformerConfig& c, const Vec& theta, const Mat& tokens) {
  const Index P = theta.size();
  Mat J(tokens.rows() / c.positions(), P);
  const double h = 1e-6;
  for (Index p = 0; p < P; ++p) {
    Vec tp = theta, tm = theta;
    tp[p] += h;
    tm[p] -= h;
    J.col(p) = (transformer_reference_outputs(c, tp, tokens) - transformer_reference_outputs(c, tm, tokens)) / (2 * h);
  }
  return J;
}

Vec theta_star_of(const Task& task) {
  const auto v = task.run_record().at("theta_star").get<std::vector<double>>();
  return Eigen::Map<const Vec>(v.data(), static_cast<Index>(v.size()));
}

}  // namespace

TEST_CASE("transformer: the batched last-position model equals the per-position definition") {
  const TransformerConfig c = tiny();
  auto factory = make_task_factory(task_json(c));
  auto task = factory->make(3);
  const Vec theta = random_theta(c, 0.7, 1);
  // The loss the task reports on a batch equals the reference's on the same samples.
  Rng rng = Rng::stream(9, "data");
  Rng copy = rng;
  Mat tokens;
  std::vector<Index> selected;
  transformer_tokens(c, 50, copy, tokens, selected);
  const Vec f = transformer_reference_outputs(c, theta, tokens);
  const Vec star = theta_star_of(*task);
  double expected = 0.0;
  for (Index s = 0; s < 50; ++s) {
    const double y = tokens.row(s * c.positions() + selected[static_cast<std::size_t>(s)]).dot(star);
    expected += 0.5 * (f[s] - y) * (f[s] - y) / 50.0;
  }
  Vec grad;
  CHECK(task->loss_and_gradient(theta, SampleSize::samples(50), rng, grad) == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("transformer: finite-difference gradient of every block, with moderate and saturated logits") {
  for (double qk : {1.0, 15.0}) {  // 15: W_q and W_k scaled up, every logit multiplied by 225
    INFO("query/key scale " << qk);
    const TransformerConfig c = tiny();
    auto factory = make_task_factory(task_json(c));
    auto task = factory->make(5);
    Vec theta = random_theta(c, 0.7, 2);
    for (const Block& b : task->layout().blocks)
      if (b.name == "W_q" || b.name == "W_k") theta.segment(b.offset, b.size()) *= qk;
    const Rng rng = Rng::stream(4, "data");
    Rng r = rng;
    Vec grad;
    task->loss_and_gradient(theta, SampleSize::samples(20), r, grad);
    for (const Block& b : task->layout().blocks) {
      INFO("block " << b.name);
      for (Index i = 0; i < b.size(); i += std::max<Index>(1, b.size() / 7)) {
        const double fd = test::loss_difference(*task, theta, SampleSize::samples(20), rng, b.offset + i, 1e-6);
        CHECK(grad[b.offset + i] == doctest::Approx(fd).epsilon(1e-5).scale(1e-3 * (1 + std::fabs(fd))));
      }
    }
  }
}

TEST_CASE("transformer: GN matrix and diagonal against an explicit per-sample Jacobian (T = 3, d = 3, width 4)") {
  const TransformerConfig c = tiny();
  auto factory = make_task_factory(task_json(c));
  auto task = factory->make(7);
  const Vec theta = random_theta(c, 0.8, 3);
  const Index n = 12;
  const Rng rng = Rng::stream(6, "curvature");
  Rng r1 = rng, r2 = rng, r3 = rng;
  Mat tokens;
  std::vector<Index> selected;
  transformer_tokens(c, n, r1, tokens, selected);
  const Mat J = explicit_jacobian(c, theta, tokens);
  const Mat H = J.transpose() * J / static_cast<double>(n);
  Curvature full, diag;
  task->curvature(theta, SampleSize::samples(n), r2, CurvatureNeed::full, full);
  task->curvature(theta, SampleSize::samples(n), r3, CurvatureNeed::diagonal, diag);
  CHECK((full.full - H).norm() <= 1e-6 * H.norm());
  CHECK((diag.diag - H.diagonal()).norm() <= 1e-6 * H.diagonal().norm());
  // Every block contributes.
  for (const Block& b : task->layout().blocks) CHECK(diag.diag.segment(b.offset, b.size()).sum() > 0.0);
}

TEST_CASE("transformer: a model hand-set to copy the selected token has zero loss") {
  // Width D = 2d + L: dims [0, d) carry the token, [d, d + L) a one-hot position (from P), and
  // [d + L, 2d + L) the attended token. The query maps the selector e_i onto position slot i with
  // a logit of 100 (far beyond float range if not handled), keys read the position slots, values
  // copy the token part, W_o writes it to the free slots and the readout applies theta*.
  for (const char* precision : {"f64", "f32"}) {
    INFO("precision " << precision);
    TransformerConfig c;
    c.tokens = 5;
    c.dim = 6;
    c.width = 2 * c.dim + c.positions();
    c.mlp_width = 3;
    c.precision = precision;
    c.eval_size = 64;
    auto factory = make_task_factory(task_json(c));
    auto task = factory->make(11);
    const Vec star = theta_star_of(*task);
    const Layout layout = transformer_layout(c);
    Vec theta = Vec::Zero(layout.size());
    auto at = [&](const std::string& name, Index i, Index j) -> double& {
      for (const Block& b : layout.blocks)
        if (b.name == name) return theta[b.offset + i * b.cols + j];
      throw std::logic_error(name);
    };
    const Index d = c.dim, L = c.positions(), D = c.width;
    const double beta = 100.0 * std::sqrt(static_cast<double>(D));
    for (Index j = 0; j < d; ++j) at("W_in", j, 0 + j) = 1.0;
    for (Index t = 0; t < L; ++t) at("P", t, d + t) = 1.0;
    for (Index j = 0; j < c.tokens; ++j) at("W_q", d + j, j) = beta;
    for (Index t = 0; t < L; ++t) at("W_k", d + t, d + t) = 1.0;
    for (Index j = 0; j < d; ++j) at("W_v", j, j) = 1.0;
    for (Index j = 0; j < d; ++j) at("W_o", d + L + j, j) = 1.0;
    for (Index j = 0; j < d; ++j) at("w_out", 0, d + L + j) = star[j];
    const Evaluation e = task->evaluate(theta);
    const double tol = std::string(precision) == "f64" ? 1e-24 : 1e-10;
    CHECK(e.loss < tol);
    CHECK(e.test_loss < tol);
    // The same parameters, one coordinate of the readout off: the loss is no longer zero.
    at("w_out", 0, d + L) += 0.5;
    CHECK(task->evaluate(theta).loss > 1e-3);
  }
}

TEST_CASE("transformer: configuration errors name the field") {
  CHECK(test::error_of([] { make_task_factory(json{{"name", "transformer"}, {"tokens", 40}}); }).find("task.dim") !=
        std::string::npos);
  CHECK(test::error_of([] { make_task_factory(json{{"name", "transformer"}, {"width", 0}}); }).find("task.width") !=
        std::string::npos);
  CHECK(test::error_of([] { make_task_factory(json{{"name", "transformer"}, {"heads", 2}}); }).find("heads") !=
        std::string::npos);
}

TEST_CASE("transformer: tokens are standard normal and the selector one-hot and uniform") {
  TransformerConfig c;
  c.tokens = 4;
  c.dim = 5;
  Rng rng = Rng::stream(1, "data");
  Mat tokens;
  std::vector<Index> selected;
  transformer_tokens(c, 3000, rng, tokens, selected);
  const Index L = c.positions();
  double sum = 0.0, sq = 0.0, count = 0.0;
  std::vector<int> hits(static_cast<std::size_t>(c.tokens), 0);
  for (Index s = 0; s < 3000; ++s) {
    for (Index t = 0; t < c.tokens; ++t)
      for (Index j = 0; j < c.dim; ++j) {
        sum += tokens(s * L + t, j);
        sq += tokens(s * L + t, j) * tokens(s * L + t, j);
        count += 1;
      }
    const Index i = selected[static_cast<std::size_t>(s)];
    CHECK(tokens(s * L + c.tokens, i) == 1.0);
    CHECK(tokens.row(s * L + c.tokens).sum() == 1.0);
    ++hits[static_cast<std::size_t>(i)];
  }
  CHECK(std::fabs(sum / count) < 0.01);            // 60000 draws: standard error 0.004
  CHECK(std::fabs(sq / count - 1.0) < 0.025);      // standard error 0.006
  for (int h : hits) CHECK(std::abs(h - 750) < 120);  // binomial sd 24
}

TEST_CASE("transformer: Kronecker factors and the GN diagonal in the Kronecker basis against an explicit Jacobian") {
  const TransformerConfig c = tiny();
  auto factory = make_task_factory(task_json(c));
  auto task = factory->make(7);
  const Vec theta = random_theta(c, 0.8, 3);
  const Index n = 12, P = task->layout().size();
  const Rng rng = Rng::stream(8, "curvature");
  Rng r1 = rng, r2 = rng;
  Mat tokens;
  std::vector<Index> selected;
  transformer_tokens(c, n, r1, tokens, selected);
  const Mat J = explicit_jacobian(c, theta, tokens);
  const Mat H = J.transpose() * J / static_cast<double>(n);
  Curvature k;
  task->curvature(theta, SampleSize::samples(n), r2, CurvatureNeed::kronecker, k);
  KroneckerBasis basis(task->layout());
  REQUIRE(basis.refresh(k, nullptr));
  // Every matrix block's factors diagonalize E[G G^T] and E[G^T G] of the explicit per-sample G
  // (for W_in and P, G_s has rank three: the cross terms matter).
  for (std::size_t b = 0; b < task->layout().blocks.size(); ++b) {
    const Block& blk = task->layout().blocks[b];
    if (!blk.matrix) continue;
    INFO("block " << blk.name);
    Mat l = Mat::Zero(blk.rows, blk.rows), r = Mat::Zero(blk.cols, blk.cols);
    for (Index s = 0; s < n; ++s) {
      const Vec row = J.row(s).transpose();
      const Mat gs = Eigen::Map<const RowMat>(row.data() + blk.offset, blk.rows, blk.cols);
      l += gs * gs.transpose() / static_cast<double>(n);
      r += gs.transpose() * gs / static_cast<double>(n);
    }
    const Mat ql = basis.factors(b)[0], qr = basis.factors(b)[1];
    const Mat dl = ql.transpose() * l * ql, dr = qr.transpose() * r * qr;
    CHECK((dl - Mat(dl.diagonal().asDiagonal())).norm() <= 1e-6 * l.norm());
    CHECK((dr - Mat(dr.diagonal().asDiagonal())).norm() <= 1e-6 * r.norm());
  }
  // The GN diagonal in the basis equals diag(U^T H U).
  Vec hk;
  basis.gn_diagonal(k, hk);
  Mat u = Mat::Zero(P, P);
  for (std::size_t b = 0; b < task->layout().blocks.size(); ++b) {
    const Block& blk = task->layout().blocks[b];
    const auto& q = basis.factors(b);
    u.block(blk.offset, blk.offset, blk.size(), blk.size()) = blk.matrix ? Mat(Eigen::kroneckerProduct(q[0], q[1])) : q[0];
  }
  CHECK((hk - Vec((u.transpose() * H * u).diagonal())).norm() <= 1e-6 * H.diagonal().norm());
  // The identity basis's diagonal from the same pseudo-gradients (through the shared code path)
  // agrees with the task's own.
  Vec hi = Vec::Zero(P);
  for (std::size_t b = 0; b < task->layout().blocks.size(); ++b)
    gn_diagonal_block(task->layout().blocks[b], k.pseudo[b], k.row_weight, static_cast<const Mat*>(nullptr), nullptr, hi);
  CHECK((hi - Vec(H.diagonal())).norm() <= 1e-6 * H.diagonal().norm());
}
