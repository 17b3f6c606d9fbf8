#include "tasks/mlp.hpp"

#include "kernels/columns.hpp"
#include "kernels/gemm.hpp"
#include "core/memory.hpp"
#include "core/parallel.hpp"
#include "tasks/cifar.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <type_traits>
#include <sys/stat.h>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace adamgn {
namespace {

// Where samples come from. Inputs and targets are produced in float64 and cast once per batch.
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual void sample(Index n, Rng& rng, Mat& x, Mat& y) const = 0;
  // The same samples (same random numbers) straight into float32 inputs; sources with large
  // inputs override it to skip the float64 copy.
  virtual void sample_f32(Index n, Rng& rng, Eigen::MatrixXf& x, Mat& y) const {
    Mat x64;
    sample(n, rng, x64, y);
    x = x64.cast<float>();
  }
  virtual bool has_accuracy() const = 0;
  // Number of rows of prediction f that count as correct against y.
  virtual double correct(const Mat& f, const Mat& y) const = 0;
};

// Uniform signs, one random number each (its top bit: 1 gives +1, 0 gives -1), row by row (x is
// n x d, float32 or float64). Arithmetic rather than a branch, which the random bit mispredicts
// half the time.
template <class X>
void sign_inputs(Index n, Index d, Rng& rng, X& x) {
  using S = typename X::Scalar;
  x.resize(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) x(i, j) = static_cast<S>(2 * static_cast<int>(rng.next_u64() >> 63) - 1);
}

class ParitySource : public DataSource {
 public:
  ParitySource(Index d, Index k) : d_(d), k_(k) {}
  void sample(Index n, Rng& rng, Mat& x, Mat& y) const override { draw(n, rng, x, y); }
  // The same signs straight into float32 (products of signs are exact in either precision).
  void sample_f32(Index n, Rng& rng, Eigen::MatrixXf& x, Mat& y) const override { draw(n, rng, x, y); }
  bool has_accuracy() const override { return true; }
  double correct(const Mat& f, const Mat& y) const override {
    return ((f.col(0).array() > 0.0) == (y.col(0).array() > 0.0)).cast<double>().sum();
  }

 private:
  template <class X>
  void draw(Index n, Rng& rng, X& x, Mat& y) const {
    sign_inputs(n, d_, rng, x);
    y = x.leftCols(k_).rowwise().prod().template cast<double>();
  }

  Index d_, k_;
};

class StaircaseSource : public DataSource {
 public:
  StaircaseSource(Index d, Index k) : d_(d), k_(k) {}
  void sample(Index n, Rng& rng, Mat& x, Mat& y) const override { draw(n, rng, x, y); }
  // The same signs straight into float32 (the targets are small integers, exact either way).
  void sample_f32(Index n, Rng& rng, Eigen::MatrixXf& x, Mat& y) const override { draw(n, rng, x, y); }
  bool has_accuracy() const override { return true; }
  double correct(const Mat& f, const Mat& y) const override {
    double ok = 0.0;
    for (Index i = 0; i < f.rows(); ++i) {
      // nearest of -k, -k+2, ..., k
      double label = 2.0 * std::round((f(i, 0) + static_cast<double>(k_)) / 2.0) - static_cast<double>(k_);
      label = std::max(-static_cast<double>(k_), std::min(static_cast<double>(k_), label));
      ok += label == y(i, 0);
    }
    return ok;
  }

 private:
  template <class X>
  void draw(Index n, Rng& rng, X& x, Mat& y) const {
    sign_inputs(n, d_, rng, x);
    const Index len = d_ / k_;
    y = Mat::Zero(n, 1);
    for (Index s = 0; s < k_; ++s) y.col(0) += x.middleCols(s * len, len).rowwise().prod().template cast<double>();
  }
  Index d_, k_;
};

class TeacherSource : public DataSource {
 public:
  TeacherSource(Index d, Index h, double label_noise, Rng& rng) : label_noise_(label_noise) {
    Mat b(d, d);
    rng.fill_normal(b);
    factor_ = b / std::sqrt(static_cast<double>(d));  // Sigma_x = factor factor^T
    w_.resize(h, d);
    rng.fill_normal(w_);
    w_ /= std::sqrt(static_cast<double>(d));
    bias_.resize(h);
    rng.fill_normal(bias_);
    bias_ *= 0.1;
    a_.resize(h);
    rng.fill_normal(a_);
    a_ /= std::sqrt(static_cast<double>(h));
  }
  void sample(Index n, Rng& rng, Mat& x, Mat& y) const override {
    // Sample by sample (a column each: the input's normals, then the label noise's), so a batch
    // of n is n batches of one in a row.
    const Index d = factor_.cols();
    Mat z(label_noise_ > 0.0 ? d + 1 : d, n);
    rng.fill_normal(z);
    x.noalias() = z.topRows(d).transpose() * factor_.transpose();
    const Mat hidden = ((x * w_.transpose()).rowwise() + bias_.transpose()).cwiseMax(0.0);
    y = hidden * a_;
    if (label_noise_ > 0.0) y.col(0) += label_noise_ * z.row(d).transpose();
  }
  bool has_accuracy() const override { return false; }
  double correct(const Mat&, const Mat&) const override { return 0.0; }

 private:
  Mat factor_, w_;
  Vec bias_, a_;
  double label_noise_;
};

#ifdef __AVX2__
// to[k * ld + r] = rows[r][j + k] for r, k < 8: an 8 x 8 block transposed in registers.
inline void transpose_8x8(const float* const* rows, Index j, float* to, Index ld) {
  __m256 r[8], t[8], u[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(rows[k] + j);
  for (int k = 0; k < 8; k += 2) {
    t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);      // (r0_0 r1_0 r0_1 r1_1 | r0_4 r1_4 r0_5 r1_5)
    t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);  // (r0_2 r1_2 r0_3 r1_3 | r0_6 r1_6 r0_7 r1_7)
  }
  for (int k = 0; k < 8; k += 4) {
    u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));      // column 0 | 4 of four rows
    u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));  // column 1 | 5
    u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));  // column 2 | 6
    u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));  // column 3 | 7
  }
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(to + k * ld, _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
    _mm256_storeu_ps(to + (k + 4) * ld, _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
  }
}
#endif

// CIFAR-10 (paper C.2): images flattened to 3072 values, standardized per channel with the
// training set's mean and standard deviation, one-hot targets; batches are drawn uniformly with
// replacement from the 50,000 training images. The test split is the held-out set.
class CifarSource : public DataSource {
 public:
  explicit CifarSource(const std::string& dir) : train_(read_cifar_train(dir)), test_(read_cifar_test(dir)) {
    for (Index ch = 0; ch < 3; ++ch) {
      auto block = train_.pixels.middleCols(ch * 1024, 1024);
      const double mean = block.cast<double>().mean();
      const double var = (block.cast<double>().array() - mean).square().mean();
      const float m = static_cast<float>(mean), inv = static_cast<float>(1.0 / std::sqrt(var));
      train_.pixels.middleCols(ch * 1024, 1024).array() = (block.array() - m) * inv;
      test_.pixels.middleCols(ch * 1024, 1024).array() = (test_.pixels.middleCols(ch * 1024, 1024).array() - m) * inv;
    }
  }
  void sample(Index n, Rng& rng, Mat& x, Mat& y) const override {
    Eigen::MatrixXf xf;
    sample_f32(n, rng, xf, y);
    x = xf.cast<double>();
  }
  void sample_f32(Index n, Rng& rng, Eigen::MatrixXf& x, Mat& y) const override {
    if (x.rows() != n || x.cols() != kCifarPixels) {
      x.resize(n, kCifarPixels);
      advise_huge_pages(x.data(), static_cast<std::size_t>(x.size()) * sizeof(float));
    }
    y = Mat::Zero(n, 10);
    std::vector<Index> picks(static_cast<std::size_t>(n));
    for (Index i = 0; i < n; ++i) {
      const Index r = static_cast<Index>(rng.below(static_cast<std::uint64_t>(train_.pixels.rows())));
      picks[static_cast<std::size_t>(i)] = r;
      y(i, train_.labels[static_cast<std::size_t>(r)]) = 1.0;
    }
    // x is column-major and the images are rows: a transpose. Groups of 64 images on the run's
    // threads (a copy: the same for any thread count); within a group, eight pixels at a time,
    // eight images at a time are transposed in registers, so each column gets 64 consecutive
    // entries (256 bytes) per visit. Columns are 4 n bytes apart, so writing fewer entries per
    // visit costs a TLB miss for every few bytes (a scalar copy of 16 images per visit spent about
    // 49 ms of CPU per batch of 4096).
    constexpr Index kImages = 64;
    parallel_pieces((n + kImages - 1) / kImages, [&](Index g) {
      const Index i0 = g * kImages, len = std::min(kImages, n - i0);
      const float* rows[kImages];
      for (Index i = 0; i < len; ++i) rows[i] = train_.pixels.row(picks[static_cast<std::size_t>(i0 + i)]).data();
      Index i = 0;
#ifdef __AVX2__
      const Index full = len / 8 * 8;
      for (Index j = 0; j < kCifarPixels; j += 8)
        for (Index b = 0; b < full; b += 8) transpose_8x8(rows + b, j, x.data() + j * n + i0 + b, n);
      i = full;
#endif
      for (; i < len; ++i)
        for (Index j = 0; j < kCifarPixels; ++j) x(i0 + i, j) = rows[i][j];
    });
  }
  Index train_size() const { return train_.pixels.rows(); }
  void test_set(Mat& x, Mat& y) const {
    x = test_.pixels.cast<double>();
    y = Mat::Zero(x.rows(), 10);
    for (Index i = 0; i < x.rows(); ++i) y(i, test_.labels[static_cast<std::size_t>(i)]) = 1.0;
  }
  bool has_accuracy() const override { return true; }
  double correct(const Mat& f, const Mat& y) const override {
    double ok = 0.0;
    for (Index i = 0; i < f.rows(); ++i) {
      Index a, b;
      f.row(i).maxCoeff(&a);
      y.row(i).maxCoeff(&b);
      ok += a == b;
    }
    return ok;
  }

 private:
  CifarSplit train_, test_;
};

// The folder holding the CIFAR-10 .bin files: DIR itself or DIR/cifar-10-batches-bin.
std::string cifar_folder(const std::string& dir) {
  struct stat st {};
  const std::string nested = dir + "/cifar-10-batches-bin";
  if (stat((nested + "/test_batch.bin").c_str(), &st) == 0) return nested;
  return dir;
}

// CIFAR-10 records in the training and test files of a folder, from the file sizes (before they
// are read; a file that is missing or not a regular file counts as empty and the reader reports it).
struct CifarCounts {
  Index train = 0, test = 0;
};
CifarCounts cifar_counts(const std::string& folder) {
  auto records = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) ? static_cast<Index>(st.st_size) / kCifarRecord : Index{0};
  };
  CifarCounts c;
  for (int i = 1; i <= 5; ++i) c.train += records(folder + "/data_batch_" + std::to_string(i) + ".bin");
  c.test = records(folder + "/test_batch.bin");
  return c;
}

struct MlpProblem {
  MlpConfig cfg;
  Index out = 1;
  Layout layout;
  std::unique_ptr<DataSource> source;
  Mat probe_x, probe_y, test_x, test_y;
  Eigen::MatrixXf probe_xf, test_xf;  // float32 copies of the evaluation inputs
  CifarCounts cifar;                   // records in the CIFAR files (cifar only)
};

// Bit b of out[w]: h[64 w + b] > 0 (the unit is on for that sample; NaN counts as off).
template <class T>
void pack_on(const T* h, Index n, std::uint64_t* out) {
  for (Index w = 0; w * 64 < n; ++w) {
    const Index s0 = w * 64, len = std::min<Index>(64, n - s0);
    std::uint64_t bits = 0;
    Index b = 0;
#ifdef __AVX2__
    if constexpr (std::is_same_v<T, float>) {
      const __m256 zero = _mm256_setzero_ps();
      for (; b + 8 <= len; b += 8) {
        const __m256 on = _mm256_cmp_ps(_mm256_loadu_ps(h + s0 + b), zero, _CMP_GT_OQ);
        bits |= static_cast<std::uint64_t>(static_cast<unsigned>(_mm256_movemask_ps(on))) << b;
      }
    }
#endif
    for (; b < len; ++b) bits |= static_cast<std::uint64_t>(h[s0 + b] > T(0)) << b;
    out[w] = bits;
  }
}

// The network's computations in scalar type T.
//
// Forward and backward run over a grid of pieces: kRows samples by kUnits hidden units. A piece
// owns its units' parameters, so within a block of rows nothing is summed across pieces except
// the outputs f (n x k per piece, added in piece order); across row blocks the gradients are
// summed in block order. Both sizes are fixed, so every bit of a result is the same on any number
// of threads (core/parallel.hpp). At batch 32 and width 512 this gives two pieces, one per unit
// half; at batch 4096 eight.
template <class T>
class Network {
 public:
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  using RM = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using V = Eigen::Matrix<T, Eigen::Dynamic, 1>;

  explicit Network(const MlpProblem& p) : p_(p) {}

  static constexpr Index kRows = 1024;
  static constexpr Index kUnits = kPieceColumns;
  static Index row_blocks(Index n) { return std::max<Index>(1, (n + kRows - 1) / kRows); }
  Index unit_blocks() const { return (w_.rows() + kUnits - 1) / kUnits; }

  // Parameters in T. W and A keep theta's row-major order, so this is a straight conversion.
  void load(const Vec& theta) {
    const auto& bl = p_.layout.blocks;
    w_ = Eigen::Map<const RowMat>(theta.data() + bl[0].offset, bl[0].rows, bl[0].cols).cast<T>();
    b_ = theta.segment(bl[1].offset, bl[1].size()).cast<T>();
    a_ = Eigen::Map<const RowMat>(theta.data() + bl[2].offset, bl[2].rows, bl[2].cols).cast<T>();
    if (p_.cfg.output_bias) c_ = theta.segment(bl[3].offset, bl[3].size()).cast<T>();
  }

  // f for inputs x (n x d); keeps the pre-activations for backward / pseudo-gradients.
  const M& forward(const M& x) {
    const Index n = x.rows(), m = w_.rows(), k = a_.rows(), nr = row_blocks(n), nu = unit_blocks();
    h_.resize(n, m);
    z_.resize(n, m);
    f_parts_.resize(static_cast<std::size_t>(nu));
    for (auto& f : f_parts_) f.resize(n, k);
    parallel_pieces_if(worth_threads(static_cast<double>(n) * m * (x.cols() + k)), nr * nu, [&](Index piece) {
      const Index r = piece / nu, u = piece % nu;
      const Index s0 = r * kRows, len = std::min(kRows, n - s0), u0 = u * kUnits, width = std::min(kUnits, m - u0);
      auto h = h_.block(s0, u0, len, width);
      auto z = z_.block(s0, u0, len, width);
      // One output and a small product: h, z and f in one pass over h's tiles (same bits).
      if (k == 1 && relu_layer(h, z, f_parts_[static_cast<std::size_t>(u)].middleRows(s0, len), x.middleRows(s0, len),
                               w_.middleRows(u0, width).transpose(), b_.data() + u0, a_.data() + u0))
        return;
      gemm_into(h, x.middleRows(s0, len), w_.middleRows(u0, width).transpose());
      for (Index j = 0; j < width; ++j) {
        const T bias = b_[u0 + j];
        T* hj = h.col(j).data();
        T* zj = z.col(j).data();
        for (Index i = 0; i < len; ++i) {
          hj[i] += bias;
          zj[i] = std::max(hj[i], T(0));
        }
      }
      gemm_into(f_parts_[static_cast<std::size_t>(u)].middleRows(s0, len), z, a_.middleCols(u0, width).transpose());
    });
    f_ = f_parts_[0];
    for (Index u = 1; u < nu; ++u) f_ += f_parts_[static_cast<std::size_t>(u)];
    if (p_.cfg.output_bias) f_.rowwise() += c_.transpose();
    return f_;
  }

  // Batch-mean loss 1/2 |f - y|^2 and its gradient (after forward(x)): each row block's sums in
  // T, added up in double in block order.
  double backward(const M& x, const M& y, Vec& grad) {
    const auto& bl = p_.layout.blocks;
    const Index n = x.rows(), m = w_.rows(), d = w_.cols(), nr = row_blocks(n), nu = unit_blocks();
    const T inv_n = T(1) / static_cast<T>(n);
    df_ = (f_ - y) * inv_n;
    double loss = 0.0;
    for (Index r = 0; r < nr; ++r) {
      const Index s0 = r * kRows, len = std::min(kRows, n - s0);
      loss += static_cast<double>((f_.middleRows(s0, len) - y.middleRows(s0, len)).squaredNorm());
    }
    // One gradient per row block; with one block the gradient itself.
    std::vector<Vec>& parts = parts_;  // kept between steps: no fresh pages every step
    parts.resize(static_cast<std::size_t>(nr - 1));
    for (auto& g : parts) g.resize(p_.layout.size());
    grad.resize(p_.layout.size());
    auto part = [&](Index r) -> Vec& { return r == 0 ? grad : parts[static_cast<std::size_t>(r - 1)]; };
    scratch_.resize(static_cast<std::size_t>(nr * nu));
    parallel_pieces_if(worth_threads(static_cast<double>(n) * m * (d + 2 * df_.cols())), nr * nu, [&](Index piece) {
      const Index r = piece / nu, u = piece % nu;
      const Index s0 = r * kRows, len = std::min(kRows, n - s0), u0 = u * kUnits, width = std::min(kUnits, m - u0);
      Vec& g = part(r);
      Scratch& work = scratch_[static_cast<std::size_t>(piece)];
      const auto df = df_.middleRows(s0, len);
      work.dh.resize(len, width);
      const auto h = h_.block(s0, u0, len, width);
      // With one output, units in groups of 16 take one pass for dL/dh, dL/db and dL/dA (same
      // bits as the steps below); `done` of them.
      Index done = 0;
      if constexpr (std::is_same_v<T, float>)
        if (df.cols() == 1)
          done = relu_backward_columns(df.data(), h.data(), z_.block(s0, u0, len, width).data(), h_.outerStride(), len,
                                       width, a_.data() + u0, work.dh.data(), work.dh.outerStride(),
                                       g.data() + bl[2].offset + u0, g.data() + bl[1].offset + u0);
      const Index rest = width - done;
      if (rest > 0) {
        // dL/dA for these units: df^T z (k x rest), into A's row-major columns from u0 + done.
        work.da.resize(df.cols(), rest);
        gemm_into(work.da, df.transpose(), z_.block(s0, u0 + done, len, rest));
        Eigen::Map<RowMat>(g.data() + bl[2].offset, bl[2].rows, bl[2].cols).middleCols(u0 + done, rest) =
            work.da.template cast<double>();
        // dL/dh = df A, zero where the unit is off (k is small: a few passes over each column),
        // and dL/db its column sums.
        for (Index j = done; j < width; ++j) {
          T* out = work.dh.col(j).data();
          const T* hj = h.col(j).data();
          const T a0 = a_(0, u0 + j);
          const T* d0 = df.col(0).data();
          for (Index i = 0; i < len; ++i) out[i] = d0[i] * a0;
          for (Index o = 1; o < df.cols(); ++o) {
            const T ao = a_(o, u0 + j);
            const T* dO = df.col(o).data();
            for (Index i = 0; i < len; ++i) out[i] += dO[i] * ao;
          }
          for (Index i = 0; i < len; ++i) out[i] = hj[i] > T(0) ? out[i] : T(0);  // vectorizes, unlike a mask cast
        }
        column_sums(work.dh.rightCols(rest), g.data() + bl[1].offset + u0 + done);
      }
      // dW^T for rows [u0, u0 + width) of W: column-major d x width, the memory order of those
      // rows of the row-major W in theta.
      work.dwt.resize(d, width);
      gemm_into(work.dwt, x.middleRows(s0, len).transpose(), work.dh);
      Eigen::Map<Mat>(g.data() + bl[0].offset + u0 * d, d, width) = work.dwt.template cast<double>();
      if (p_.cfg.output_bias && u == 0)
        g.segment(bl[3].offset, bl[3].size()) = df.colwise().sum().transpose().template cast<double>();
    });
    // Sum the row blocks' gradients in block order, over fixed spans of entries.
    if (nr > 1)
      parallel_spans(grad.size(), [&](Index b, Index len) {
        auto out = grad.segment(b, len);
        for (const Vec& g : parts) out += g.segment(b, len);
      });
    return 0.5 * loss / static_cast<double>(n);
  }

  // Per-sample gradients of 1/2 |f - y|^2 (after forward(x)) as rank-one factors: with
  // e_s = f_s - y_s and d_s = (A^T e_s) o [h_s > 0], dW_s = d_s x_s^T, db_s = d_s, dA_s = e_s z_s^T
  // and dc_s = e_s (Task::sample_gradient_factors).
  void gradient_factors(const M& x, const M& y, std::vector<PseudoGradients>& out) const {
    auto e = std::make_shared<M>(f_ - y);
    auto d = std::make_shared<M>(*e * a_);
    d->array() *= (h_.array() > T(0)).template cast<T>();
    out.assign(p_.layout.blocks.size(), PseudoGradients{});
    set_factors(out[0], d, std::make_shared<const M>(x));
    set_factors(out[1], d, nullptr);
    set_factors(out[2], e, std::make_shared<const M>(z_));
    if (p_.cfg.output_bias) set_factors(out[3], e, nullptr);
  }

  // GN pseudo-gradients (after forward(x)): one term per (sample, output direction), or with
  // `directions` (n x k Gaussian) one term per sample along the random output direction xi:
  // G_xi = sum_j xi_j G_j, unbiased for the GN because E[xi xi^T] = I.
  void pseudo(const M& x, const Mat* directions, Curvature& c) const {
    const Index n = x.rows(), k = p_.out, m = w_.rows();
    // The previous call's factors are written over when nothing else holds them (at CIFAR's GN
    // batch the inputs alone are 50 MB: fresh pages every step otherwise).
    std::shared_ptr<const M> old_inputs, old_hidden, old_delta;
    if (c.pseudo.size() == p_.layout.blocks.size()) {
      old_inputs = factor(c.pseudo[0], true);
      old_delta = factor(c.pseudo[0], false);
      old_hidden = factor(c.pseudo[2], true);
    }
    c.pseudo.assign(p_.layout.blocks.size(), PseudoGradients{});
    c.row_weight = 1.0 / static_cast<double>(n);
    const auto inputs = reuse(std::move(old_inputs), n, x.cols());
    *inputs = x;
    auto hidden = reuse(std::move(old_hidden), n, m);
    std::shared_ptr<const M> delta, out_dirs;
    // delta rows j*n + s: the output direction j (or xi_s) pulled back through a_, zero where the
    // unit is off; built with the copy of the hidden activations in column pieces on spare threads.
    auto d = reuse(std::move(old_delta), directions ? n : n * k, m);
    M xa;  // sampled directions: row s is xi_s^T a_
    if (directions) {
      const M xi = directions->cast<T>();
      xa.noalias() = xi * a_;
      out_dirs = std::make_shared<const M>(xi);
    } else {
      auto e = std::make_shared<M>(M::Zero(n * k, k));
      for (Index j = 0; j < k; ++j) e->block(j * n, j, n, 1).setOnes();
      out_dirs = std::move(e);
    }
    // With exact directions the hidden layer's terms are A's rows times the on-units: keep those
    // as bits too (ReluMask in task.hpp).
    std::shared_ptr<ReluMask> mask;
    if (!directions) {
      mask = std::make_shared<ReluMask>();
      mask->samples = n;
      mask->units = m;
      mask->words = (n + 63) / 64;
      mask->bits.resize(static_cast<std::size_t>(m * mask->words));
      mask->out = a_.template cast<double>();
    }
    constexpr Index kCols = 64;
    parallel_pieces((m + kCols - 1) / kCols, [&](Index p) {
      for (Index u = p * kCols; u < std::min(m, (p + 1) * kCols); ++u) {
        hidden->col(u) = z_.col(u);
        const T* h = h_.col(u).data();
        if (mask) pack_on(h, n, mask->bits.data() + u * mask->words);
        if (directions) {
          T* out = d->col(u).data();
          const T* v = xa.col(u).data();
          for (Index s = 0; s < n; ++s) out[s] = h[s] > T(0) ? v[s] : T(0);
        } else {
          for (Index j = 0; j < k; ++j) {
            T* out = d->col(u).data() + j * n;
            const T v = a_(j, u);
            for (Index s = 0; s < n; ++s) out[s] = h[s] > T(0) ? v : T(0);
          }
        }
      }
    });
    delta = std::move(d);
    set_factors(c.pseudo[0], delta, std::move(inputs));
    set_factors(c.pseudo[1], delta, nullptr);
    c.pseudo[0].mask = c.pseudo[1].mask = mask;
    set_factors(c.pseudo[2], out_dirs, std::move(hidden));
    if (p_.cfg.output_bias) set_factors(c.pseudo[3], out_dirs, nullptr);
  }

 private:
  static std::shared_ptr<const M> factor(const PseudoGradients& g, bool right) {
    if constexpr (std::is_same_v<T, float>) return right ? g.right_f : g.left_f;
    else return right ? g.right : g.left;
  }
  // `old` resized to rows x cols when this is its last holder (every factor is made here, never
  // const), else a new matrix.
  static std::shared_ptr<M> reuse(std::shared_ptr<const M> old, Index rows, Index cols) {
    std::shared_ptr<M> out = old && old.use_count() == 1 ? std::const_pointer_cast<M>(std::move(old)) : std::make_shared<M>();
    resize_huge(*out, rows, cols);
    return out;
  }
  static void set_factors(PseudoGradients& g, std::shared_ptr<const M> left, std::shared_ptr<const M> right) {
    if constexpr (std::is_same_v<T, float>) {
      g.left_f = std::move(left);
      g.right_f = std::move(right);
    } else {
      g.left = std::move(left);
      g.right = std::move(right);
    }
  }

  // Work matrices of one backward piece, kept between steps.
  struct Scratch {
    M da, dh, dwt;
  };

  const MlpProblem& p_;
  RM w_, a_;  // row-major, as in theta
  M h_, z_, f_, df_;
  V b_, c_;
  std::vector<M> f_parts_;
  std::vector<Scratch> scratch_;
  std::vector<Vec> parts_;
};

template <class T>
class MlpTask : public Task {
 public:
  using M = typename Network<T>::M;
  MlpTask(std::shared_ptr<const MlpProblem> p, std::uint64_t seed) : p_(std::move(p)), net_(*p_) {
    Rng rng = Rng::stream(seed, "task");
    theta0_ = Vec::Zero(p_->layout.size());
    const auto& bl = p_->layout.blocks;
    for (Index i = 0; i < bl[0].size(); ++i) theta0_[bl[0].offset + i] = rng.normal() / std::sqrt(static_cast<double>(bl[0].cols));
    for (Index i = 0; i < bl[2].size(); ++i) theta0_[bl[2].offset + i] = rng.normal() / std::sqrt(static_cast<double>(bl[2].cols));
  }

  const Layout& layout() const override { return p_->layout; }
  Vec initial_parameters() const override { return theta0_; }

  double loss_and_gradient(const Vec& theta, SampleSize n, Rng& rng, Vec& grad) override {
    if (n.exact) throw UsageError("batch = full is not available for task " + p_->cfg.kind + " (fresh samples every step): give a batch size");
    draw(n.n, rng);
    y_ = y64_.cast<T>();
    net_.load(theta);
    net_.forward(x_);
    return net_.backward(x_, y_, grad);
  }

  bool sample_gradient_factors(const Vec& theta, Index n, Rng& rng, std::vector<PseudoGradients>& out) override {
    draw(n, rng);
    y_ = y64_.cast<T>();
    net_.load(theta);
    net_.forward(x_);
    net_.gradient_factors(x_, y_, out);
    return true;
  }

  void curvature(const Vec& theta, SampleSize n, Rng& rng, CurvatureNeed need, Curvature& out) override {
    if (n.exact) throw UsageError("gn_batch = population is not available for task " + p_->cfg.kind + ": give a GN batch size");
    draw(n.n, rng);
    net_.load(theta);
    net_.forward(x_);
    if (p_->cfg.gn_directions == "sampled" && p_->out > 1) {
      Mat xi(p_->out, n.n);  // sample by sample, like the inputs
      rng.fill_normal(xi);
      const Mat directions = xi.transpose();
      net_.pseudo(x_, &directions, out);
    } else {
      net_.pseudo(x_, nullptr, out);
    }
    complete_from_pseudo(p_->layout, need, out);
  }

  Evaluation evaluate(const Vec& theta) override {
    net_.load(theta);
    Evaluation e;
    e.loss = loss_on(p_->probe_x, p_->probe_xf, p_->probe_y, nullptr);
    double correct = 0.0;
    e.test_loss = loss_on(p_->test_x, p_->test_xf, p_->test_y, &correct);
    e.has_test = true;
    e.has_accuracy = p_->source->has_accuracy();
    e.test_accuracy = correct / static_cast<double>(p_->test_x.rows());
    return e;
  }

 private:
  // Inputs x_ for a batch of n (float32 tasks skip the float64 copy), targets in y64_.
  void draw(Index n, Rng& rng) {
    if constexpr (std::is_same_v<T, float>) {
      p_->source->sample_f32(n, rng, x_, y64_);
    } else {
      p_->source->sample(n, rng, x_, y64_);
    }
  }

  double loss_on(const Mat& x, const Eigen::MatrixXf& xf, const Mat& y, double* correct) {
    M f;
    if constexpr (std::is_same_v<T, float>) f = net_.forward(xf);
    else f = net_.forward(x);
    const Mat fd = f.template cast<double>();
    if (correct) *correct = p_->source->correct(fd, y);
    return 0.5 * (fd - y).squaredNorm() / static_cast<double>(x.rows());
  }

  std::shared_ptr<const MlpProblem> p_;
  Network<T> net_;
  Vec theta0_;
  Mat y64_;
  M x_, y_;
};

// Memory from the sizes, in bytes. d inputs, m hidden units, k outputs, P parameters, s = 4 (f32)
// or 8 (f64), E = eval_size, B and G the gradient and GN batches, N_tr / N_te the CIFAR records,
// T = E (N_te for cifar) the test rows, n = max(B, G, E, T) the largest forward pass:
//   shared   E (12 d + 8 k) + T (12 d + 8 k)        probe and test sets, float64 and float32 copies
//            + 4 x 3072 (N_tr + N_te) + N_tr + N_te   cifar: the images as floats, the labels
//            + 8 (d^2 + h d + 2 h)                  teacher: input factor and teacher of width h
//   build    shared + 3073 N_tr (cifar: the file bytes while they are converted)
//   per run  8 P + s P                              theta0, the weights in s
//            + s n (2 m + 2 k + k ceil(m / 256))    pre-activations, activations and outputs
//            + (s + 8) max(B, G) (d + k)            a batch's inputs and targets (drawn in float64)
//            + 8 P ceil(B / 1024)                   per-row-block gradients
//            + s 256 (1024 + d + k) ceil(B / 1024) ceil(m / 256)   backward work per piece
//            + 2 s G (d + m + k' m + k k) + m G / 8   pseudo-gradients (k' = k, or 1 sampled) and
//                                                   the basis's copies of them, the on-unit bits
//            + 8 (G k' P + 3 P^2)                   full curvature: Jacobian, GN matrix, product
//            + 2 (s + 8) T k                        evaluation outputs
struct MlpMemory {
  TaskMemory memory;
  Bytes build;
};
MlpMemory mlp_memory(const MlpConfig& c, Index k, const CifarCounts& counts, const RunSizes& sizes) {
  const bool cifar = c.kind == "cifar";
  const Index d = c.dim, m = c.width;
  const Bytes P = Bytes(1) * m * d + Bytes(1) * m * (k + 1) + Bytes(c.output_bias ? 1 : 0) * k;
  const std::size_t s = c.precision == "f64" ? 8 : 4;
  const Index test = cifar ? counts.test : c.eval_size;
  const Index B = sizes.batch.exact ? 0 : sizes.batch.n;
  const Index G = sizes.gn_batch.exact || sizes.need == CurvatureNeed::none ? 0 : sizes.gn_batch.n;
  const Index n = std::max({B, G, c.eval_size, test});
  const Index kd = c.gn_directions == "sampled" ? 1 : k;
  auto blocks = [](Index x, Index per) { return (x + per - 1) / per; };
  MlpMemory out;
  Bytes& shared = out.memory.shared;
  shared = Bytes::of(c.eval_size, 12) * d + Bytes::of(c.eval_size, 8) * k + Bytes::of(test, 12) * d + Bytes::of(test, 8) * k;
  if (cifar) shared += Bytes::of(counts.train + counts.test, 4 * kCifarPixels + 1);
  if (c.kind == "teacher") shared += Bytes::of(d, 8) * d + Bytes::of(c.teacher_width, 8) * d + Bytes::of(c.teacher_width, 16);
  out.build = shared + (cifar ? Bytes::of(counts.train, kCifarRecord) : Bytes());
  Bytes& run = out.memory.per_run;
  run = Bytes(8 + s) * P + Bytes::of(n, s) * (2 * m + 2 * k + k * blocks(m, 256));
  run += Bytes::of(std::max(B, G), s + 8) * (d + k);
  run += Bytes(8) * P * blocks(B, 1024);
  run += Bytes::of(256 * (1024 + d + k), s) * blocks(B, 1024) * blocks(m, 256);
  if (G > 0) run += Bytes::of(G, 2 * s) * (d + m + kd * m + k * k) + Bytes::of(m, 1) * blocks(G, 8);
  if (sizes.need == CurvatureNeed::full) run += Bytes::of(G, 8) * kd * P + Bytes(24) * P * P;
  run += Bytes::of(test, 2 * (s + 8)) * k;
  return out;
}

class MlpFactory : public TaskFactory {
 public:
  explicit MlpFactory(std::shared_ptr<const MlpProblem> p) : p_(std::move(p)) {}
  std::string name() const override { return p_->cfg.kind; }
  Index dim() const override { return p_->layout.size(); }
  Layout layout() const override { return p_->layout; }
  bool provides(CurvatureNeed) const override { return true; }
  bool has_population() const override { return false; }
  std::unique_ptr<Task> make(std::uint64_t seed) const override {
    if (p_->cfg.precision == "f64") return std::make_unique<MlpTask<double>>(p_, seed);
    return std::make_unique<MlpTask<float>>(p_, seed);
  }
  json config() const override {
    const auto& c = p_->cfg;
    json j{{"name", c.kind}, {"dim", c.dim}, {"width", c.width}, {"output_bias", c.output_bias},
           {"precision", c.precision}, {"eval_size", c.eval_size}, {"problem_seed", c.problem_seed},
           {"gn_directions", c.gn_directions}};
    if (c.kind == "teacher") {
      j["teacher_width"] = c.teacher_width;
      if (c.label_noise > 0.0) j["label_noise"] = c.label_noise;  // only when set: old configurations keep their identity
    } else if (c.kind == "cifar") j["data_dir"] = c.data_dir;
    else j["k"] = c.k;
    return j;
  }
  // The trivial loss of each evaluation set: that of the best constant predictor, the mean label,
  // 1/2 mean_i |y_i - mean y|^2 (parity: 1/2, staircase: about k/2). A run that never ends below
  // it has learned nothing (report/verdicts.hpp's vacuous verdict).
  json info() const override {
    auto trivial = [](const Mat& y) {
      return 0.5 * (y.rowwise() - y.colwise().mean()).squaredNorm() / static_cast<double>(y.rows());
    };
    json j{{"parameters", p_->layout.size()},
           {"trivial_loss", trivial(p_->probe_y)},
           {"trivial_test_loss", trivial(p_->test_y)}};
    // Label noise sigma puts a floor sigma^2 / 2 under the population loss (the student can
    // represent the teacher); the evaluation sets' own floors differ from it by sampling error.
    if (p_->cfg.label_noise > 0.0) j["loss_floor"] = 0.5 * p_->cfg.label_noise * p_->cfg.label_noise;
    return j;
  }
  TaskMemory memory(const RunSizes& sizes) const override {
    return mlp_memory(p_->cfg, p_->out, p_->cifar, sizes).memory;
  }

 private:
  std::shared_ptr<const MlpProblem> p_;
};

}  // namespace

namespace {

// The "task" keys of one network task, in the order its flags are listed.
std::vector<Field> mlp_fields(const std::string& kind) {
  std::vector<Field> f;
  if (kind == "cifar") {
    f.push_back(Field("data_dir", FieldType::text, "folder with the CIFAR-10 .bin files").derives("$ADAMGN_DATA").shown_as("DIR"));
  } else {
    f.push_back(Field("dim", FieldType::integer, "input dimension").defaults(kind == "staircase" ? 21 : 20).at_least(1));
  }
  if (kind == "parity") f.push_back(Field("k", FieldType::integer, "parity degree (at most dim)").defaults(6).at_least(1));
  if (kind == "staircase")
    f.push_back(Field("k", FieldType::integer, "number of segments (divides dim)").defaults(3).at_least(1));
  if (kind == "teacher") {
    f.push_back(Field("teacher_width", FieldType::integer, "teacher hidden width").defaults(16).at_least(1));
    f.push_back(Field("label_noise", FieldType::number, "labels teacher(x) + SIGMA xi, xi ~ N(0, 1)").defaults(0.0).within(0, 1e6));
    f.push_back(Field("width", FieldType::integer, "student hidden width").derives("2 x teacher width").at_least(1));
  } else {
    f.push_back(Field("width", FieldType::integer, "hidden width").defaults(512).at_least(1));
  }
  f.push_back(Field("precision", FieldType::text, "precision of forward, backward and curvature").defaults("f32").one_of({"f32", "f64"}));
  if (kind == "cifar") f.push_back(Field("output_bias", FieldType::boolean, "an output bias c").defaults(true));
  else f.push_back(Field("output_bias", FieldType::boolean, "add an output bias c").defaults(false).as_switch());
  f.push_back(Field("eval_size", FieldType::integer, "size of the fixed probe and test batches").defaults(4096).at_least(1));
  f.push_back(Field("problem_seed", FieldType::seed, "seed of the data distribution and test set").defaults(0));
  f.push_back(Field("gn_directions", FieldType::text,
                    "GN output directions: exact (a term per output) or sampled (one Gaussian direction per sample)")
                  .defaults("exact")
                  .one_of({"exact", "sampled"}));
  return f;
}

TaskEntry mlp_task(const std::string& kind, const std::string& description) {
  return {kind, description, mlp_fields(kind), [kind](FieldReader& r) { return make_mlp(kind, r); }};
}

}  // namespace

TaskEntry parity_task() { return mlp_task("parity", "sparse parity with a one-hidden-layer ReLU MLP (paper §5, C.2)"); }
TaskEntry staircase_task() {
  return mlp_task("staircase", "staircase (sum of parities) with a one-hidden-layer ReLU MLP (paper §5, C.2)");
}
TaskEntry teacher_task() { return mlp_task("teacher", "random ReLU teacher, student twice as wide (paper §5, C.2)"); }
TaskEntry cifar_task() {
  return mlp_task("cifar", "CIFAR-10 with a one-hidden-layer ReLU MLP, one-hot squared loss (paper §5, C.2)");
}

std::unique_ptr<TaskFactory> make_mlp(const std::string& kind, FieldReader& r) {
  auto p = std::make_shared<MlpProblem>();
  MlpConfig& c = p->cfg;
  c.kind = kind;
  if (kind == "cifar") {
    c.dim = kCifarPixels;
    if (r.given("data_dir")) c.data_dir = r.text("data_dir");
    else if (const char* env = std::getenv("ADAMGN_DATA")) c.data_dir = env;
    if (c.data_dir.empty())
      throw UsageError(r.path_of("data_dir") + " is required for cifar (--data-dir DIR or ADAMGN_DATA)");
  } else {
    c.dim = r.integer("dim");
  }
  if (kind == "parity" || kind == "staircase") c.k = r.integer("k");
  if (kind == "teacher") {
    c.teacher_width = r.integer("teacher_width");
    c.label_noise = r.number("label_noise");
    c.width = r.given("width") ? r.integer("width") : 2 * c.teacher_width;
  } else {
    c.width = r.integer("width");
  }
  c.precision = r.text("precision");
  c.output_bias = r.boolean("output_bias");
  c.eval_size = r.integer("eval_size");
  c.problem_seed = r.seed("problem_seed");
  c.gn_directions = r.text("gn_directions");
  r.finish();
  if (kind == "parity" && c.k > c.dim)
    throw UsageError(r.path_of("k") + " = " + std::to_string(c.k) + " must be in [1, dim]");
  if (kind == "staircase" && c.dim % c.k != 0)
    throw UsageError(r.path_of("k") + " = " + std::to_string(c.k) + " must divide dim = " + std::to_string(c.dim));

  // The fixed data (probe and test sets, CIFAR's images) is checked against the memory available
  // before any of it is built.
  if (kind == "cifar") p->cifar = cifar_counts(cifar_folder(c.data_dir));
  admit_memory(Bytes(), 0, mlp_memory(c, kind == "cifar" ? 10 : 1, p->cifar, RunSizes{}).build,
               "task " + kind + "'s data (eval_size " + std::to_string(c.eval_size) + ", dim " + std::to_string(c.dim) + ")",
               "reduce --eval-size/--dim");
  Rng problem = Rng::stream(c.problem_seed, "problem");
  CifarSource* cifar = nullptr;
  if (kind == "parity") p->source = std::make_unique<ParitySource>(c.dim, c.k);
  else if (kind == "staircase") p->source = std::make_unique<StaircaseSource>(c.dim, c.k);
  else if (kind == "teacher") p->source = std::make_unique<TeacherSource>(c.dim, c.teacher_width, c.label_noise, problem);
  else {
    auto source = std::make_unique<CifarSource>(cifar_folder(c.data_dir));
    // The probe is drawn from the training images (the test set is the whole test split): a
    // probe larger than the data it comes from is refused before it is allocated.
    if (c.eval_size > source->train_size())
      throw UsageError(r.path_of("eval_size") + " = " + std::to_string(c.eval_size) + " is more than the " +
                       std::to_string(source->train_size()) + " CIFAR-10 training images the probe is drawn from");
    cifar = source.get();
    p->source = std::move(source);
    p->out = 10;
  }
  p->layout.add_matrix("W", c.width, c.dim);
  p->layout.add_vector("b", c.width);
  p->layout.add_matrix("A", p->out, c.width);
  if (c.output_bias) p->layout.add_vector("c", p->out);
  Rng probe = Rng::stream(c.problem_seed, "probe"), test = Rng::stream(c.problem_seed, "test");
  p->source->sample(c.eval_size, probe, p->probe_x, p->probe_y);
  if (cifar) cifar->test_set(p->test_x, p->test_y);
  else p->source->sample(c.eval_size, test, p->test_x, p->test_y);
  p->probe_xf = p->probe_x.cast<float>();
  p->test_xf = p->test_x.cast<float>();
  return std::make_unique<MlpFactory>(std::move(p));
}

}  // namespace adamgn
