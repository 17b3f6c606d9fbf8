// The hand-tuned kernels of src/kernels/ against their plain definitions: GEMM against Eigen's
// product, the column reductions and fused ReLU passes against Eigen bit for bit, and the
// tridiagonal reduction against its defining factorization. The only suite that includes a kernel
// header, so the portable build recompiles this one alone of the suites.
#include "helpers.hpp"
#include "core/parallel.hpp"
#include "kernels/columns.hpp"
#include "kernels/gemm.hpp"
#include "kernels/tridiagonal.hpp"

#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

using namespace adamgn;
using namespace adamgn::test;

namespace {

// gemm_into against Eigen's product, for one shape and operand storage orders.
template <class T, bool RowA, bool RowB>
void check_gemm(Index m, Index n, Index k, double tol) {
  using A = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, RowA ? Eigen::RowMajor : Eigen::ColMajor>;
  using B = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, RowB ? Eigen::RowMajor : Eigen::ColMajor>;
  using C = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  // Operands are blocks of larger matrices, so leading dimensions differ from the sizes.
  const A abig = A::Random(m + 3, k + 2);
  const B bbig = B::Random(k + 1, n + 4);
  C cbig = C::Constant(m + 2, n + 1, T(7));
  auto a = abig.block(1, 2, m, k);
  auto b = bbig.block(1, 0, k, n);
  gemm_into(cbig.block(2, 1, m, n), a, b);
  const Mat expected = a.template cast<double>() * b.template cast<double>();
  INFO("m " << m << " n " << n << " k " << k << " row-major a " << RowA << " b " << RowB);
  CHECK((cbig.block(2, 1, m, n).template cast<double>() - expected).norm() <= tol * (1.0 + expected.norm()));
  CHECK((cbig.topRows(2).array() == T(7)).all());  // nothing written outside c
  CHECK((cbig.col(0).array() == T(7)).all());
}

template <class T>
void check_gemm_shapes(double tol) {
  // Register-blocked kernel (a full packet of rows or more, small work), with row tails and
  // column tails; dot products (fewer rows than a packet, row-major a); BLAS or Eigen (large).
  for (auto [m, n, k] : {std::array<Index, 3>{32, 256, 20}, {20, 256, 32}, {24, 13, 7}, {41, 9, 1}, {8, 1, 256}, {300, 200, 100}}) {
    check_gemm<T, false, false>(m, n, k, tol);
    check_gemm<T, true, false>(m, n, k, tol);
    check_gemm<T, false, true>(m, n, k, tol);
    check_gemm<T, true, true>(m, n, k, tol);
  }
  for (auto [m, n, k] : {std::array<Index, 3>{1, 256, 32}, {3, 5, 4}, {10, 300, 17}}) {
    check_gemm<T, true, false>(m, n, k, tol);
    check_gemm<T, false, false>(m, n, k, tol);
  }
}

}  // namespace

TEST_CASE("gemm_into: every path agrees with Eigen's product, in float32 and float64") {
  check_gemm_shapes<float>(1e-5);
  check_gemm_shapes<double>(1e-13);
}

TEST_CASE("blocked_sgemm: several cache blocks in every dimension, tails, both storage orders of a") {
  // 437 rows: several row blocks and a partial register tile; 2061 columns: past one column
  // panel (2048) with a partial tile; k 530: two full depth blocks (256) and a partial one.
  const Index m = 437, n = 2061, k = 530;
  const MatF acol = MatF::Random(m + 3, k);
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> arow = acol;
  const MatF b = MatF::Random(k + 2, n);
  const Mat expected = acol.topRows(m).cast<double>() * b.topRows(k).cast<double>();
  for (bool row_major : {false, true}) {
    INFO("row-major a " << row_major);
    MatF c = MatF::Constant(m + 1, n, 5.0f);
    const gemm_detail::Strided<float> as = row_major ? gemm_detail::Strided<float>{arow.data(), arow.outerStride(), 1}
                                                     : gemm_detail::Strided<float>{acol.data(), 1, acol.outerStride()};
    gemm_detail::blocked_sgemm(m, n, k, as, gemm_detail::Strided<float>{b.data(), 1, b.outerStride()}, c.data(), c.outerStride());
    CHECK((c.topRows(m).cast<double>() - expected).cwiseAbs().maxCoeff() <= 2e-5 * expected.cwiseAbs().maxCoeff());
    CHECK((c.row(m).array() == 5.0f).all());  // nothing written below c
    // subtract: c -= a b, from a c that is not zero (every depth block subtracts).
    MatF d = MatF::Constant(m + 1, n, 5.0f);
    d.topRows(m) = c.topRows(m) * 0.5f;
    const MatF before = d;
    gemm_detail::blocked_sgemm(m, n, k, as, gemm_detail::Strided<float>{b.data(), 1, b.outerStride()}, d.data(),
                               d.outerStride(), true);
    const Mat want = before.topRows(m).cast<double>() - expected;
    CHECK((d.topRows(m).cast<double>() - want).cwiseAbs().maxCoeff() <= 2e-5 * expected.cwiseAbs().maxCoeff());
    CHECK((d.row(m).array() == 5.0f).all());
  }
}

TEST_CASE("gemm_subtract: c -= a b on blocks, small and large, float32 and float64") {
  for (const auto& size : {std::array<Index, 3>{40, 30, 20}, {700, 256, 32}, {64, 300, 900}}) {
    const Index m = size[0], n = size[1], k = size[2];  // not a structured binding: INFO captures them
    INFO("m " << m << " n " << n << " k " << k);
    const MatF af = MatF::Random(m + 2, k), bf = MatF::Random(n + 1, k);
    MatF cf = MatF::Random(m + 3, n + 2);
    const MatF cf0 = cf;
    // b as a transposed block (row-major view), as the eigensolver's updates use it.
    gemm_subtract(cf.block(1, 2, m, n), af.topRows(m), bf.bottomRows(n).transpose());
    const Mat want = cf0.block(1, 2, m, n).cast<double>() - af.topRows(m).cast<double>() * bf.bottomRows(n).cast<double>().transpose();
    CHECK((cf.block(1, 2, m, n).cast<double>() - want).cwiseAbs().maxCoeff() <= 1e-4 * (1.0 + want.cwiseAbs().maxCoeff()));
    CHECK((cf.row(0).array() == cf0.row(0).array()).all());
    CHECK((cf.col(0).array() == cf0.col(0).array()).all());
    const Mat ad = af.cast<double>(), bd = bf.cast<double>();
    Mat cd = cf0.cast<double>();
    gemm_subtract(cd.block(1, 2, m, n), ad.topRows(m), bd.bottomRows(n).transpose());
    CHECK((cd.block(1, 2, m, n) - want).cwiseAbs().maxCoeff() <= 1e-12 * (1.0 + want.cwiseAbs().maxCoeff()));
  }
}

TEST_CASE("tridiagonal reduction: A = Q T Q^T with Q orthogonal, bit for bit on any thread count") {
  // 300 rows: ten panels, two column pieces, several blocks of reflectors.
  Rng rng(23);
  Mat x(350, 300);
  rng.fill_normal(x);
  const Mat a = x.transpose() * x / 350.0;
  const int saved = inner_threads();
  std::vector<Mat> q_of;
  std::vector<Vec> d_of;
  for (int threads : {1, 2, 3}) {
    set_inner_threads(threads);
    Mat work = a.triangularView<Eigen::Lower>();
    Vec d, e, tau;
    reduce_to_tridiagonal(work, d, e, tau);
    Mat q = Mat::Identity(300, 300);
    apply_reduction(work, tau, q);
    Mat t = Mat::Zero(300, 300);
    t.diagonal() = d;
    t.diagonal(-1) = e;
    t.diagonal(1) = e;
    CHECK((q * t * q.transpose() - a).norm() < 1e-12 * a.norm());
    CHECK((q.transpose() * q - Mat::Identity(300, 300)).norm() < 1e-12);
    q_of.push_back(q);
    d_of.push_back(d);
  }
  set_inner_threads(saved);
  CHECK(q_of[1] == q_of[0]);
  CHECK(q_of[2] == q_of[0]);
  CHECK(d_of[1] == d_of[0]);
  CHECK(d_of[2] == d_of[0]);
}

TEST_CASE("column sums 16 at a time give Eigen's sums bit for bit") {
  std::mt19937_64 gen(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& [rows, cols] : {std::pair<Index, Index>{32, 256}, {1024, 40}, {64, 17}, {96, 16}, {33, 20}, {16, 32}}) {
    Eigen::MatrixXf a(rows, cols);
    for (Index j = 0; j < cols; ++j)
      for (Index i = 0; i < rows; ++i) a(i, j) = normal(gen) * std::pow(10.0f, static_cast<float>(i % 7) - 3.0f);
    std::vector<double> sums(static_cast<std::size_t>(cols));
    column_sums(a, sums.data());
    Index wrong = 0;
    for (Index j = 0; j < cols; ++j) wrong += sums[static_cast<std::size_t>(j)] != static_cast<double>(a.col(j).sum());
    CHECK(wrong == 0);
  }
}

TEST_CASE("dot products 16 columns at a time give Eigen's dot products bit for bit") {
  std::mt19937_64 gen(6);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  using RowF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  for (const auto& [k, n] : {std::pair<Index, Index>{32, 256}, {64, 40}, {1024, 17}, {96, 16}, {48, 20}, {33, 20}, {16, 32}}) {
    for (const Index m : {1, 3}) {
      // a as the transpose of a column-major block with a row offset (rows start anywhere), b
      // as a block of a taller matrix, like the network's dL/dA = df^T z.
      Eigen::MatrixXf df(k + 1, m), z(k + 3, n);
      for (Index j = 0; j < m; ++j)
        for (Index i = 0; i <= k; ++i) df(i, j) = normal(gen) * std::pow(10.0f, static_cast<float>(i % 5) - 2.0f);
      for (Index j = 0; j < n; ++j)
        for (Index i = 0; i < k + 3; ++i) z(i, j) = normal(gen);
      const auto a = df.middleRows(1, k).transpose();
      const auto b = z.middleRows(2, k);
      Eigen::MatrixXf c(m, n), via_gemm(m, n);
      row_column_dots(c, a, b);
      gemm_into(via_gemm, a, b);
      Index wrong = 0;
      for (Index j = 0; j < n; ++j)
        for (Index i = 0; i < m; ++i) {
          const float eigen = a.row(i).dot(b.col(j));
          wrong += c(i, j) != eigen;
          // The small kernel's dot products; a portable build sends the product to BLAS, whose
          // order differs (cmake/portable_check.cmake compares the builds end to end).
          wrong += !ADAMGN_KERNELS_PORTABLE && via_gemm(i, j) != eigen;
        }
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("a ReLU layer with one output in one pass gives the bits of its three steps") {
  std::mt19937_64 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Same bits, NaN included (x or a NaN entry, std::max keeps it).
  auto same = [](float a, float b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; };
  using RowF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  for (const auto& [m, n, k] : {std::array<Index, 3>{32, 256, 20}, {40, 7, 3}, {64, 13, 20}, {128, 256, 21}, {16, 1, 5}, {80, 50, 2}}) {
    Eigen::MatrixXf x(m + 2, k);  // a block of rows, as a row block of a batch
    RowF w(n + 1, k);             // row-major weights, as in theta
    Eigen::VectorXf bias(n), v(n);
    for (float* p : {x.data(), w.data()})
      for (Index i = 0; i < (p == x.data() ? x.size() : w.size()); ++i) p[i] = normal(gen);
    for (Index j = 0; j < n; ++j) {
      bias[j] = normal(gen);
      v[j] = normal(gen);
    }
    x(3, 0) = std::numeric_limits<float>::quiet_NaN();
    const auto a = x.middleRows(1, m);
    const auto b = w.middleRows(1, n).transpose();
    Eigen::MatrixXf h(m, n), z(m, n), f(m, 1), h2(m, n), z2(m, n), f2(m, 1);
    if (ADAMGN_KERNELS_PORTABLE) {  // no fused layer: the callers take the three steps
      CHECK_FALSE(relu_layer(h, z, f, a, b, bias.data(), v.data()));
      continue;
    }
    REQUIRE(relu_layer(h, z, f, a, b, bias.data(), v.data()));
    gemm_into(h2, a, b);
    for (Index j = 0; j < n; ++j)
      for (Index i = 0; i < m; ++i) {
        h2(i, j) += bias[j];
        z2(i, j) = std::max(h2(i, j), 0.0f);
      }
    gemm_into(f2, z2, v);
    Index wrong = 0;
    for (Index j = 0; j < n; ++j)
      for (Index i = 0; i < m; ++i) wrong += !same(h(i, j), h2(i, j)) + !same(z(i, j), z2(i, j));
    for (Index i = 0; i < m; ++i) wrong += !same(f(i, 0), f2(i, 0));
    CHECK(wrong == 0);
    CHECK(std::isnan(f(2, 0)));
  }
  // Fewer rows than a packet: not this path.
  Eigen::MatrixXf x(8, 4), h(8, 3), z(8, 3), f(8, 1);
  RowF w(3, 4);
  Eigen::VectorXf bias(3), v(3);
  CHECK(!relu_layer(h, z, f, x, w.transpose(), bias.data(), v.data()));
}

TEST_CASE("the one-output ReLU backward pass gives the bits of its separate steps") {
  std::mt19937_64 gen(8);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& [len, width] : {std::pair<Index, Index>{32, 256}, {64, 40}, {1024, 17}, {96, 7}, {48, 32}, {16, 32}}) {
    // h and z as blocks of taller matrices (a row block of a batch), df a column.
    Eigen::MatrixXf h(len + 5, width), df(len, 1);
    for (Index j = 0; j < width; ++j)
      for (Index i = 0; i < len + 5; ++i) h(i, j) = normal(gen);
    for (Index i = 0; i < len; ++i) df(i, 0) = normal(gen) * std::pow(10.0f, static_cast<float>(i % 5) - 2.0f);
    h(7, 3) = std::numeric_limits<float>::quiet_NaN();
    h(8, 3) = 0.0f;
    const Eigen::MatrixXf z = h.cwiseMax(0.0f);
    Eigen::VectorXf a(width);
    for (Index j = 0; j < width; ++j) a[j] = normal(gen);
    const auto hb = h.middleRows(5, len);
    const auto zb = z.middleRows(5, len);
    Eigen::MatrixXf dh(len, width);
    std::vector<double> da(static_cast<std::size_t>(width), -1.0), db(static_cast<std::size_t>(width), -1.0);
    const Index done = relu_backward_columns(df.data(), hb.data(), zb.data(), h.outerStride(), len, width, a.data(), dh.data(),
                                             dh.outerStride(), da.data(), db.data());
#ifdef ADAMGN_EIGEN_REDUX_ORDER
    CHECK(done == (len % 32 == 0 ? width / 16 * 16 : 0));
#else
    CHECK(done == 0);
#endif
    Index wrong = 0;
    for (Index j = 0; j < done; ++j) {
      Eigen::VectorXf expect(len);
      for (Index i = 0; i < len; ++i) {
        const float product = df(i, 0) * a[j];
        expect[i] = hb(i, j) > 0.0f ? product : 0.0f;
        wrong += dh(i, j) != expect[i];
      }
      const double sum = expect.sum(), dot = df.col(0).dot(zb.col(j));  // NaN for a NaN z
      wrong += std::memcmp(&db[static_cast<std::size_t>(j)], &sum, sizeof sum) != 0;
      wrong += std::memcmp(&da[static_cast<std::size_t>(j)], &dot, sizeof dot) != 0;
    }
    CHECK(wrong == 0);
    for (Index j = done; j < width; ++j) CHECK(da[static_cast<std::size_t>(j)] == -1.0);  // the rest untouched
  }
}
