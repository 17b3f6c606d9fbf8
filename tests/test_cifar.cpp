// CIFAR-10 binary reader and the cifar task on tiny files written here in the official layout.
#include "helpers.hpp"
#include "optim/kronecker.hpp"
#include "tasks/cifar.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace adamgn;
using namespace adamgn::test;

namespace {

std::string temp_dir() { return test::temp_dir("cifar"); }

}  // namespace

TEST_CASE("cifar reader: a generated 3-record file reads back exactly") {
  const std::string dir = temp_dir();
  write_bytes(dir + "/f.bin", cifar_records(2, 3));
  const CifarSplit s = read_cifar_files({dir + "/f.bin"});
  REQUIRE(s.pixels.rows() == 3);
  REQUIRE(s.pixels.cols() == 3072);
  for (int r = 0; r < 3; ++r) {
    CHECK(s.labels[static_cast<std::size_t>(r)] == (2 + r) % 10);
    for (int p = 0; p < 3072; p += 97) CHECK(s.pixels(r, p) == static_cast<float>((2 * 7 + r * 13 + p) % 256));
    CHECK(s.pixels(r, 3071) == static_cast<float>((14 + r * 13 + 3071) % 256));
  }
}

TEST_CASE("cifar reader: missing, truncated and malformed files are named errors") {
  const std::string dir = temp_dir();
  CHECK(error_of([&] { read_cifar_files({dir + "/nope.bin"}); }).find("nope.bin is missing") != std::string::npos);
  auto bytes = cifar_records(1, 2);
  bytes.pop_back();
  write_bytes(dir + "/short.bin", bytes);
  CHECK(error_of([&] { read_cifar_files({dir + "/short.bin"}); }).find("short.bin has 6145 bytes") != std::string::npos);
  bytes = cifar_records(1, 2);
  bytes[3073] = 12;
  write_bytes(dir + "/label.bin", bytes);
  CHECK(error_of([&] { read_cifar_files({dir + "/label.bin"}); }).find("record 1 has label 12") != std::string::npos);
  CHECK(error_of([&] { read_cifar_train(dir); }).find("data_batch_1.bin is missing") != std::string::npos);
}

TEST_CASE("cifar task: standardized inputs, one-hot targets, gradient check, test accuracy") {
  const std::string dir = tiny_cifar_dataset();
  auto f = make_task_factory(json{{"name", "cifar"}, {"data_dir", dir}, {"width", 3}, {"precision", "f64"}, {"eval_size", 8}});
  CHECK(f->config()["output_bias"] == true);
  auto task = f->make(0);
  CHECK(task->layout().blocks[2].rows == 10);
  const Vec theta = task->initial_parameters();
  Rng rng(3);
  const Rng copy = rng;
  Vec g;
  task->loss_and_gradient(theta, SampleSize::samples(5), rng, g);
  for (Index p : {Index(0), Index(5000), Index(9216), Index(9218), Index(9225), Index(9250)}) {
    CHECK(g[p] == doctest::Approx(loss_difference(*task, theta, SampleSize::samples(5), copy, p)).epsilon(1e-6).scale(1e-8));
  }
  const Evaluation e = task->evaluate(theta);
  CHECK(e.has_accuracy);
  CHECK(e.test_accuracy >= 0.0);
  CHECK(e.test_accuracy <= 1.0);
  // 6 test records: the accuracy is a multiple of 1/6.
  CHECK(std::fabs(e.test_accuracy * 6 - std::round(e.test_accuracy * 6)) < 1e-12);
}

TEST_CASE("cifar: GN from one random output direction per sample averages to the exact GN") {
  const std::string dir = tiny_cifar_dataset();
  auto exact = make_task_factory(json{{"name", "cifar"}, {"data_dir", dir}, {"width", 3}, {"precision", "f64"}, {"eval_size", 8}});
  auto sampled = make_task_factory(json{{"name", "cifar"}, {"data_dir", dir}, {"width", 3}, {"precision", "f64"},
                                        {"eval_size", 8}, {"gn_directions", "sampled"}});
  CHECK(sampled->config()["gn_directions"] == "sampled");
  auto te = exact->make(0), ts = sampled->make(0);
  const Vec theta = te->initial_parameters();
  Curvature ce, cs;
  Rng r1(1), r2(1);  // the same images (drawn first); only the directions differ
  te->curvature(theta, SampleSize::samples(4000), r1, CurvatureNeed::diagonal, ce);
  ts->curvature(theta, SampleSize::samples(4000), r2, CurvatureNeed::diagonal, cs);
  CHECK(cs.pseudo[2].terms() == 4000);       // one term per sample ...
  CHECK(ce.pseudo[2].terms() == 10 * 4000);  // ... instead of one per output direction
  CHECK(ce.pseudo[0].samples() == 4000);      // inputs are stored once per sample
  // The GN diagonal (all 9,259 entries: W, b, A, c) agrees to sampling error.
  CHECK((cs.diag - ce.diag).norm() <= 0.1 * ce.diag.norm());
}

TEST_CASE("cifar: a float32 batch holds the standardized training images the stream picks") {
  // 20 training images; a batch of 150 is two groups of 64 (eight 8 x 8 blocks each) and a group
  // of 22 (two blocks and six images copied one by one).
  const std::string dir = tiny_cifar_dataset();
  auto f = make_task_factory(json{{"name", "cifar"}, {"data_dir", dir}, {"width", 3}, {"eval_size", 8}});
  auto task = f->make(0);
  const Vec theta = task->initial_parameters();
  Curvature c;
  Rng rng(12);
  const Rng copy = rng;
  task->curvature(theta, SampleSize::samples(150), rng, CurvatureNeed::kronecker, c);
  REQUIRE(c.pseudo[0].right_f != nullptr);
  const MatF& x = *c.pseudo[0].right_f;
  REQUIRE(x.rows() == 150);
  // Standardize as the task does: per channel, the training set's mean and standard deviation.
  CifarSplit train = read_cifar_train(dir);
  REQUIRE(train.pixels.rows() == 20);
  for (Index ch = 0; ch < 3; ++ch) {
    auto block = train.pixels.middleCols(ch * 1024, 1024);
    const double mean = block.cast<double>().mean();
    const double var = (block.cast<double>().array() - mean).square().mean();
    const float m = static_cast<float>(mean), inv = static_cast<float>(1.0 / std::sqrt(var));
    block.array() = (block.array() - m) * inv;
  }
  Rng picks = copy;
  Index exact = 0;
  for (Index i = 0; i < 150; ++i) {
    const Index r = static_cast<Index>(picks.below(20));
    exact += (x.row(i).array() == train.pixels.row(r).array()).all();
  }
  CHECK(exact == 150);
}

TEST_CASE("cifar (10 outputs): Kronecker factors and diagonal agree with the term-by-term Jacobian") {
  const std::string dir = tiny_cifar_dataset();
  auto f = make_task_factory(json{{"name", "cifar"}, {"data_dir", dir}, {"width", 2}, {"precision", "f64"}, {"eval_size", 4}});
  auto task = f->make(1);
  const Vec theta = task->initial_parameters();
  Curvature c;
  Rng rng(4);
  task->curvature(theta, SampleSize::samples(3), rng, CurvatureNeed::full, c);
  // Rebuild every term's Jacobian row from the full form's definition and the W block's factors.
  const Block& w = task->layout().blocks[0];
  const PseudoGradients& g = c.pseudo[0];
  REQUIRE(g.left != nullptr);  // f64 task: double factors
  REQUIRE(g.left->rows() == 30);
  // R = sum_t gt^T gt = G^T G with G the terms' rows stacked (60 x 3072), so Q_R^T R Q_R is
  // formed as (G Q_R)^T (G Q_R), without 3072-cubed products.
  Mat l = Mat::Zero(2, 2), stacked(60, 3072);
  Vec diag_w = Vec::Zero(w.size());
  for (Index t = 0; t < 30; ++t) {
    const Mat gt = g.left->row(t).transpose() * g.right->row(t % 3);  // term (j, s), s = t mod n
    l += gt * gt.transpose() * c.row_weight;
    stacked.middleRows(2 * t, 2) = gt * std::sqrt(c.row_weight);
    const RowMat gr = gt;  // row-major, the layout of the block in the parameter vector
    diag_w += Eigen::Map<const Vec>(gr.data(), w.size()).cwiseAbs2() * c.row_weight;
  }
  const double r_norm = (stacked * stacked.transpose()).norm();  // |G^T G|_F = |G G^T|_F
  CHECK((diag_w - c.diag.segment(w.offset, w.size())).norm() <= 1e-12 * diag_w.norm());
  KroneckerBasis basis(task->layout());
  REQUIRE(basis.refresh(c, nullptr));
  const Mat ql = basis.factors(0)[0], qr = basis.factors(0)[1];
  const Mat dl = ql.transpose() * l * ql;
  CHECK((dl - Mat(dl.diagonal().asDiagonal())).norm() <= 1e-10 * l.norm());
  const Mat gq = stacked * qr;
  const Mat dr = gq.transpose() * gq;
  CHECK((dr - Mat(dr.diagonal().asDiagonal())).norm() <= 1e-8 * r_norm);
}
