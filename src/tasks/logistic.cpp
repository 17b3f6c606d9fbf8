#include "tasks/logistic.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace adamgn {
namespace {

struct LogisticProblem {
  LogisticConfig cfg;
  Vec nu;
  std::vector<double> cdf;
  double theta_star = 0.0;
};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
// log sigma(z) and log(1 - sigma(z)) for z >= 0 without cancellation.
double log_sigmoid(double z) { return -std::log1p(std::exp(-z)); }
double log_one_minus_sigmoid(double z) { return -z - std::log1p(std::exp(-z)); }

class LogisticTask : public Task {
 public:
  explicit LogisticTask(std::shared_ptr<const LogisticProblem> p)
      : p_(std::move(p)), layout_(Layout::single_vector("theta", p_->cfg.dim)) {}

  const Layout& layout() const override { return layout_; }
  Vec initial_parameters() const override { return Vec::Constant(p_->cfg.dim, p_->cfg.init); }

  double loss_and_gradient(const Vec& theta, SampleSize n, Rng& rng, Vec& grad) override {
    const double P = p_->cfg.p_label;
    const Index d = p_->cfg.dim;
    if (n.exact) {
      double loss = 0.0;
      grad.resize(d);
      for (Index i = 0; i < d; ++i) {
        const double z = theta[i] * theta[i];
        grad[i] = 2.0 * p_->nu[i] * theta[i] * (sigmoid(z) - P);
        loss -= p_->nu[i] * (P * log_sigmoid(z) + (1.0 - P) * log_one_minus_sigmoid(z));
      }
      return loss;
    }
    grad = Vec::Zero(d);
    double loss = 0.0;
    for (Index k = 0; k < n.n; ++k) {
      const Index i = draw(rng);
      const bool y = rng.uniform() < P;
      const double z = theta[i] * theta[i];
      grad[i] += (sigmoid(z) - (y ? 1.0 : 0.0)) * 2.0 * theta[i];
      loss -= y ? log_sigmoid(z) : log_one_minus_sigmoid(z);
    }
    grad /= static_cast<double>(n.n);
    return loss / static_cast<double>(n.n);
  }

  void curvature(const Vec& theta, SampleSize n, Rng& rng, CurvatureNeed, Curvature& out) override {
    const Index d = p_->cfg.dim;
    out.structurally_diagonal = true;
    auto per_coordinate = [&](Index i) {
      const double q = sigmoid(theta[i] * theta[i]);
      return 4.0 * theta[i] * theta[i] * q * (1.0 - q);
    };
    if (n.exact) {
      out.diag.resize(d);
      for (Index i = 0; i < d; ++i) out.diag[i] = p_->nu[i] * per_coordinate(i);
      return;
    }
    out.diag = Vec::Zero(d);
    for (Index k = 0; k < n.n; ++k) {
      const Index i = draw(rng);
      out.diag[i] += per_coordinate(i);
    }
    out.diag /= static_cast<double>(n.n);
  }

  Evaluation evaluate(const Vec& theta) override {
    const double P = p_->cfg.p_label;
    double excess = 0.0;
    for (Index i = 0; i < p_->cfg.dim; ++i) {
      // KL(P || q) with r = q - P, written with log1p so it stays accurate (and >= 0) as q -> P.
      const double r = sigmoid(theta[i] * theta[i]) - P;
      const double kl = -P * std::log1p(r / P) - (1.0 - P) * std::log1p(-r / (1.0 - P));
      excess += p_->nu[i] * std::max(kl, 0.0);
    }
    return Evaluation{excess};
  }

 private:
  Index draw(Rng& rng) const {
    const double u = rng.uniform();
    const auto it = std::upper_bound(p_->cdf.begin(), p_->cdf.end(), u);
    return std::min<Index>(static_cast<Index>(it - p_->cdf.begin()), p_->cfg.dim - 1);
  }

  std::shared_ptr<const LogisticProblem> p_;
  Layout layout_;
};

// Memory from the sizes, in bytes (P = dim): shared 16 P (nu and its cumulative sums); per run
// 8 P x 8 (theta, the gradient, the GN diagonal and the optimizer's work vectors). Batches are
// drawn one sample at a time and the GN is diagonal by structure, so no size depends on them.
TaskMemory logistic_memory(Index dim) { return TaskMemory{Bytes::of(dim, 16), Bytes::of(dim, 64)}; }

class LogisticFactory : public TaskFactory {
 public:
  explicit LogisticFactory(std::shared_ptr<const LogisticProblem> p) : p_(std::move(p)) {}
  std::string name() const override { return "logistic"; }
  Index dim() const override { return p_->cfg.dim; }
  bool gn_is_diagonal() const override { return true; }
  std::unique_ptr<Task> make(std::uint64_t) const override { return std::make_unique<LogisticTask>(p_); }
  json config() const override {
    const auto& c = p_->cfg;
    return json{{"name", "logistic"}, {"dim", c.dim}, {"power_law", c.power_law},
                {"p_label", c.p_label}, {"init", c.init}};
  }
  const Vec& nu() const { return p_->nu; }
  json info() const override {
    return json{{"theta_star", p_->theta_star},
                {"nu_max_over_nu_min", p_->nu.maxCoeff() / p_->nu.minCoeff()}};
  }
  TaskMemory memory(const RunSizes&) const override { return logistic_memory(p_->cfg.dim); }

 private:
  std::shared_ptr<const LogisticProblem> p_;
};


}  // namespace

const Vec& logistic_input_probabilities(const TaskFactory& f) {
  const auto* l = dynamic_cast<const LogisticFactory*>(&f);
  if (l == nullptr) throw std::invalid_argument("logistic_input_probabilities: not a logistic task");
  return l->nu();
}

TaskEntry logistic_task() {
  return {"logistic", "reparameterized logistic regression (paper §4)",
          {Field("dim", FieldType::integer, "dimension").defaults(2048).at_least(1),
           Field("power_law", FieldType::number, "input probabilities nu_i proportional to i^-C").defaults(0.6).at_least(0),
           Field("p_label", FieldType::number, "Pr(y = 1 | x)")
               .defaults(0.75)
               .strictly_within(0.5, 1)
               .because("so that sigma(theta^2) = P has a solution"),
           Field("init", FieldType::number, "theta0 in every coordinate").derives("1/sqrt(dim)").above(0)},
          make_logistic};
}

std::unique_ptr<TaskFactory> make_logistic(FieldReader& r) {
  auto p = std::make_shared<LogisticProblem>();
  LogisticConfig& c = p->cfg;
  c.dim = r.integer("dim");
  c.power_law = r.number("power_law");
  c.p_label = r.number("p_label");
  c.init = r.given("init") ? r.number("init") : 1.0 / std::sqrt(static_cast<double>(c.dim));
  r.finish();

  admit_memory(Bytes(), 0, logistic_memory(c.dim).shared, "task logistic at dim " + std::to_string(c.dim),
               "reduce --dim");
  p->nu.resize(c.dim);
  for (Index i = 0; i < c.dim; ++i) p->nu[i] = std::pow(static_cast<double>(i + 1), -c.power_law);
  p->nu /= p->nu.sum();
  p->cdf.resize(static_cast<std::size_t>(c.dim));
  double acc = 0.0;
  for (Index i = 0; i < c.dim; ++i) p->cdf[static_cast<std::size_t>(i)] = acc += p->nu[i];
  p->theta_star = std::sqrt(std::log(c.p_label / (1.0 - c.p_label)));
  return std::make_unique<LogisticFactory>(std::move(p));
}

}  // namespace adamgn
