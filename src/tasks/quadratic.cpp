#include "tasks/quadratic.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace adamgn {
namespace {

// Eigenvalues chosen for the A.3 constructions (5-dim); the rotation is searched.
const double kHalfSpectrum[5] = {1000.0, 1.0, 1.0, 1.0, 1.0};
const double kOneSpectrum[5] = {1.0, 1.0, 1.0, 1.0, 0.001};
constexpr int kMaxRotationTries = 100000;
constexpr Index kMaxRecordDim = 1000;  // larger runs keep no theta0 / theta* record

double loss_floor(const QuadraticConfig& c) { return 0.5 * c.label_noise * c.label_noise; }

struct QuadraticProblem {
  QuadraticConfig cfg;
  Index dim = 0;
  Mat sigma;
  Vec sigma_diag;
  Mat factor;  // sigma = factor * factor^T, factor is dim x rank
  json info = json::object();
};

class QuadraticTask : public Task {
 public:
  QuadraticTask(std::shared_ptr<const QuadraticProblem> p, std::uint64_t seed)
      : p_(std::move(p)), layout_(Layout::single_vector("theta", p_->dim)) {
    Rng rng = Rng::stream(seed, "task");
    theta_star_.resize(p_->dim);
    rng.fill_normal(theta_star_);
  }

  const Layout& layout() const override { return layout_; }
  Vec initial_parameters() const override { return Vec::Zero(p_->dim); }

  double loss_and_gradient(const Vec& theta, SampleSize n, Rng& rng, Vec& grad) override {
    const Vec delta = theta - theta_star_;
    if (n.exact) {
      grad.noalias() = p_->sigma * delta;
      return population_loss(delta);
    }
    sample(n.n, rng);
    Vec residual = x_ * delta;
    if (p_->cfg.label_noise > 0.0) {
      noise_.resize(n.n);
      rng.fill_normal(noise_);
      residual -= p_->cfg.label_noise * noise_;
    }
    grad.noalias() = x_.transpose() * residual / static_cast<double>(n.n);
    return 0.5 * residual.squaredNorm() / static_cast<double>(n.n);
  }

  void curvature(const Vec&, SampleSize n, Rng& rng, CurvatureNeed need, Curvature& out) override {
    if (n.exact) {
      out.diag = p_->sigma_diag;
      if (need == CurvatureNeed::full) out.full = p_->sigma;
      return;
    }
    sample(n.n, rng);
    const double inv = 1.0 / static_cast<double>(n.n);
    if (need == CurvatureNeed::full) {
      out.full.noalias() = x_.transpose() * x_ * inv;
      out.diag = out.full.diagonal();
    } else {
      out.diag = x_.colwise().squaredNorm().transpose() * inv;
    }
  }

  bool curvature_is_constant(SampleSize n) const override { return n.exact; }

  Evaluation evaluate(const Vec& theta) override { return Evaluation{population_loss(theta - theta_star_)}; }

  json run_record() const override {
    if (p_->dim > kMaxRecordDim) return json::object();
    return json{{"theta0", std::vector<double>(static_cast<std::size_t>(p_->dim), 0.0)},
                {"theta_star", std::vector<double>(theta_star_.data(), theta_star_.data() + theta_star_.size())}};
  }

 private:
  // 1/2 D^T Sigma D as 1/2 |F^T D|^2 (Sigma = F F^T): never negative, accurate near the optimum;
  // plus the floor sigma^2 / 2 that label noise puts under it.
  double population_loss(const Vec& delta) const {
    const double excess = 0.5 * (p_->factor.transpose() * delta).squaredNorm();
    return p_->cfg.label_noise > 0.0 ? excess + loss_floor(p_->cfg) : excess;
  }

  void sample(Index n, Rng& rng) {
    z_.resize(n, p_->factor.cols());
    rng.fill_normal(z_);
    x_.noalias() = z_ * p_->factor.transpose();
  }

  std::shared_ptr<const QuadraticProblem> p_;
  Layout layout_;
  Vec theta_star_;
  Mat z_, x_;
  Vec noise_;
};

// Memory from the sizes, in bytes (P = dim, r = the covariance factor's rank: P/2 + 1 for block,
// P otherwise; n = the largest sampled batch the run draws, 0 when both batches are exact):
//   shared   8 (P^2 + P r + P)                 Sigma, its factor and diagonal
//   build    shared + 24 P^2 when a rotation is drawn (the rotation and two P x P temporaries)
//   per run  8 (12 P + n (P + r + 2))          theta*, vectors, the batch z (n x r), x (n x P),
//                                              the residual and the label noise
//            + 16 P^2 for full curvature        the GN matrix and its product temporary
// and a record of 2 P numbers (theta0, theta*) per run up to P = 1000.
struct QuadraticMemory {
  TaskMemory memory;
  Bytes build;
};
QuadraticMemory quadratic_memory(const QuadraticConfig& c, Index dim, const RunSizes& sizes) {
  const Index rank = c.cov == "block" ? dim / 2 + 1 : dim;
  QuadraticMemory m;
  m.memory.shared = Bytes::of(dim, 8) * dim + Bytes::of(dim, 8) * rank + Bytes::of(dim, 8);
  m.build = m.memory.shared + (c.cov != "block" && (c.rotate || c.cov != "spectrum") ? Bytes::of(dim, 24) * dim : Bytes());
  Index n = 0;
  if (!sizes.batch.exact) n = sizes.batch.n;
  if (!sizes.gn_batch.exact && sizes.need != CurvatureNeed::none) n = std::max(n, sizes.gn_batch.n);
  m.memory.per_run = Bytes::of(dim, 8 * 12) + Bytes::of(n, 8) * dim + Bytes::of(n, 8) * rank + Bytes::of(n, 16);
  if (sizes.need == CurvatureNeed::full) m.memory.per_run += Bytes::of(dim, 16) * dim;
  m.memory.record_values = dim > kMaxRecordDim ? 0 : 2 * dim;
  return m;
}

class QuadraticFactory : public TaskFactory {
 public:
  explicit QuadraticFactory(std::shared_ptr<const QuadraticProblem> p) : p_(std::move(p)) {}
  std::string name() const override { return "quadratic"; }
  Index dim() const override { return p_->dim; }
  std::unique_ptr<Task> make(std::uint64_t seed) const override {
    return std::make_unique<QuadraticTask>(p_, seed);
  }
  json config() const override {
    const auto& c = p_->cfg;
    json j{{"name", "quadratic"}, {"cov", c.cov},         {"dim", p_->dim},
                {"spectrum", c.spectrum}, {"rotate", c.rotate}, {"problem_seed", c.problem_seed},
                {"margin", c.margin}};
    // Written only when set, so a noiseless task's configuration (and its runs' identity) is
    // what it was before the key existed.
    if (c.label_noise > 0.0) j["label_noise"] = c.label_noise;
    return j;
  }
  json info() const override { return p_->info; }
  TaskMemory memory(const RunSizes& sizes) const override { return quadratic_memory(p_->cfg, p_->dim, sizes).memory; }

 private:
  std::shared_ptr<const QuadraticProblem> p_;
};

double kappa(const Vec& ev) { return ev.maxCoeff() / ev.minCoeff(); }
double kappa_s(const Vec& ev) { return ev.sum() / ev.minCoeff(); }

Vec eigenvalues_of(const Mat& a) {
  Eigen::SelfAdjointEigenSolver<Mat> s(a, Eigen::EigenvaluesOnly);
  return s.eigenvalues();
}


}  // namespace

PowerRatios power_ratios(const Mat& sigma) {
  const Vec d = sigma.diagonal();
  const Vec p1 = d.cwiseInverse().cwiseSqrt();           // P^1/2 for P = diag^-1
  const Vec p2 = d.cwiseSqrt().cwiseInverse().cwiseSqrt();  // P^1/2 for P = diag^-1/2
  const Vec e1 = eigenvalues_of(p1.asDiagonal() * sigma * p1.asDiagonal());
  const Vec e2 = eigenvalues_of(p2.asDiagonal() * sigma * p2.asDiagonal());
  return PowerRatios{kappa(e1) / kappa(e2), kappa_s(e1) / kappa_s(e2)};
}

TaskEntry quadratic_task() {
  return {"quadratic", "linear regression with Gaussian inputs (paper §3)",
          {Field("cov", FieldType::text, "input covariance: eq. (4)'s block matrix, the r > 1 / r < 1 examples of §3, or --spectrum")
               .defaults("block").one_of({"block", "half", "one", "spectrum"}),
           Field("dim", FieldType::integer, "dimension").derives("block 100, half/one 5, spectrum its length").at_least(1),
           Field("spectrum", FieldType::numbers, "eigenvalues for --cov spectrum").defaults(json::array()),
           Field("rotate", FieldType::boolean, "rotate the spectrum by a random rotation").defaults(false).as_switch(),
           Field("problem_seed", FieldType::seed, "seed of the covariance's rotation").defaults(0),
           Field("margin", FieldType::number, "half/one: required advantage of the intended power in both ratios")
               .defaults(1.8).at_least(1),
           Field("label_noise", FieldType::number, "labels y = theta*^T x + SIGMA xi, xi ~ N(0, 1)").defaults(0.0).within(0, 1e6)},
          make_quadratic};
}

std::unique_ptr<TaskFactory> make_quadratic(FieldReader& r) {
  auto p = std::make_shared<QuadraticProblem>();
  QuadraticConfig& c = p->cfg;
  c.cov = r.text("cov");
  c.dim = r.given("dim") ? r.integer("dim") : 0;
  c.spectrum = r.numbers("spectrum");
  c.rotate = r.boolean("rotate");
  c.problem_seed = r.seed("problem_seed");
  c.margin = r.number("margin");
  c.label_noise = r.number("label_noise");
  r.finish();

  if (c.cov != "spectrum" && !c.spectrum.empty())
    throw UsageError(r.path_of("spectrum") + " applies only to cov = spectrum");
  Rng problem_rng = Rng::stream(c.problem_seed, "problem");
  // The covariance is P x P: its size is checked against the memory available before it is built.
  const Index planned = c.cov == "spectrum" ? static_cast<Index>(c.spectrum.size())
                        : c.cov == "block"  ? (c.dim == 0 ? 100 : c.dim)
                                            : 5;
  admit_memory(Bytes(), 0, quadratic_memory(c, planned, RunSizes{}).build, "task quadratic at dim " + std::to_string(planned),
               "reduce --dim");

  if (c.cov == "block") {
    if (c.dim == 0) c.dim = 100;
    if (c.dim < 2 || c.dim % 2 != 0)
      throw UsageError(r.path_of("dim") + " = " + std::to_string(c.dim) + " must be even and >= 2 for cov = block");
    const Index h = c.dim / 2;
    p->sigma = Mat::Zero(c.dim, c.dim);
    p->sigma.topLeftCorner(h, h).setOnes();
    p->sigma.bottomRightCorner(h, h).setIdentity();
    p->factor = Mat::Zero(c.dim, h + 1);  // x = (z0 * 1, z_1..z_h)
    p->factor.block(0, 0, h, 1).setOnes();
    p->factor.bottomRightCorner(h, h).setIdentity();
    if (c.rotate) throw UsageError(r.path_of("rotate") + " does not apply to cov = block");
  } else {  // half, one, spectrum (the field's choices)
    Vec lambda;
    if (c.cov == "spectrum") {
      if (c.spectrum.empty()) throw UsageError(r.path_of("spectrum") + " is required for cov = spectrum");
      lambda = Eigen::Map<const Vec>(c.spectrum.data(), static_cast<Index>(c.spectrum.size()));
      if (c.dim != 0 && c.dim != lambda.size())
        throw UsageError(r.path_of("dim") + " = " + std::to_string(c.dim) + " does not match the " +
                         std::to_string(lambda.size()) + " spectrum values");
      if (lambda.minCoeff() <= 0.0)
        throw UsageError(r.path_of("spectrum") + " values must all be > 0");
    } else {
      if (c.dim != 0 && c.dim != 5)
        throw UsageError(r.path_of("dim") + " = " + std::to_string(c.dim) + " must be 5 for cov = " + c.cov);
      if (c.rotate) throw UsageError(r.path_of("rotate") + " does not apply to cov = " + c.cov + " (always rotated)");
      lambda = Eigen::Map<const Vec>(c.cov == "half" ? kHalfSpectrum : kOneSpectrum, 5);
    }
    c.dim = lambda.size();
    Mat u = Mat::Identity(c.dim, c.dim);
    if (c.cov == "spectrum") {
      if (c.rotate) u = random_rotation(c.dim, problem_rng);
    } else {
      const bool want_half = c.cov == "half";
      int tries = 0;
      for (;; ++tries) {
        if (tries == kMaxRotationTries)
          throw UsageError("cov = " + c.cov + ": no rotation with margin " + show_number(c.margin) +
                           " found for problem_seed " + std::to_string(c.problem_seed));
        u = random_rotation(c.dim, problem_rng);
        const Mat s = u * lambda.asDiagonal() * u.transpose();
        const PowerRatios pr = power_ratios(s);
        const double a = want_half ? pr.r : 1.0 / pr.r;
        const double b = want_half ? pr.kappa_s : 1.0 / pr.kappa_s;
        if (a >= c.margin && b >= c.margin) break;
      }
      p->info["rotation_tries"] = tries + 1;
    }
    p->sigma = u * lambda.asDiagonal() * u.transpose();
    p->sigma = 0.5 * (p->sigma + p->sigma.transpose());
    p->factor = u * lambda.cwiseSqrt().asDiagonal();
    p->info["eigenvalues"] = std::vector<double>(lambda.data(), lambda.data() + lambda.size());
  }
  p->dim = c.dim;
  p->sigma_diag = p->sigma.diagonal();
  if (c.label_noise > 0.0) p->info["loss_floor"] = loss_floor(c);
  if (c.cov != "block") {
    const PowerRatios pr = power_ratios(p->sigma);
    p->info["r_ratio"] = pr.r;
    p->info["kappa_s_ratio"] = pr.kappa_s;
    p->info["ratio_note"] =
        "ratios of GN^-1 over GN^-1/2 condition numbers in the identity basis; > 1 favours GN^-1/2";
    if (c.dim <= 50) {
      json rows = json::array();
      for (Index i = 0; i < c.dim; ++i) {
        std::vector<double> row(static_cast<std::size_t>(c.dim));
        for (Index j = 0; j < c.dim; ++j) row[static_cast<std::size_t>(j)] = p->sigma(i, j);
        rows.push_back(row);
      }
      p->info["covariance"] = rows;
    }
  }
  return std::make_unique<QuadraticFactory>(std::move(p));
}

}  // namespace adamgn
