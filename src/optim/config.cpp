#include "optim/config.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace adamgn {
namespace {


SampleSize read_sample_size(ObjectReader& r, const char* key, const char* exact_word) {
  const json& v = r.raw(key);
  if (v.is_string() && v.get<std::string>() == exact_word) return SampleSize::population();
  const json parsed = v.is_string() ? parse_scalar(v.get<std::string>()) : v;
  if (parsed.is_number_integer() && parsed.get<std::int64_t>() >= 1)
    return SampleSize::samples(parsed.get<Index>());
  throw UsageError(r.path_of(key) + " = " + show(v) + " must be a positive integer or '" +
                   exact_word + "'");
}

json sample_size_json(SampleSize s, const char* exact_word) {
  return s.exact ? json(exact_word) : json(s.n);
}

}  // namespace

const char* to_string(Precond p) {
  switch (p) {
    case Precond::adam: return "adam";
    case Precond::gn: return "gn";
    case Precond::sgd: return "sgd";
  }
  return "?";
}

const char* to_string(BasisKind b) {
  switch (b) {
    case BasisKind::identity: return "identity";
    case BasisKind::eigen: return "eigen";
    case BasisKind::kronecker: return "kronecker";
    case BasisKind::interp_kronecker: return "interp";
    case BasisKind::interp_eigen: return "interp-eigen";
  }
  return "?";
}

double Schedule::multiplier(Index t, Index total) const {
  switch (kind) {
    case Kind::constant: return 1.0;
    case Kind::step: {
      const Index k = every_percent > 0.0
                          ? std::max<Index>(1, std::llround(every_percent / 100.0 * static_cast<double>(total)))
                          : every;
      return std::pow(factor, static_cast<double>(t / k));
    }
    case Kind::cosine:
      return 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(t) / static_cast<double>(total)));
  }
  return 1.0;
}

std::string Schedule::text() const {
  switch (kind) {
    case Kind::constant: return "constant";
    case Kind::cosine: return "cosine";
    case Kind::step:
      return "step:" + (every_percent > 0.0 ? show_number(every_percent) + "%" : std::to_string(every)) + ":" + show_number(factor);
  }
  return "?";
}

Schedule Schedule::parse(const std::string& text, const std::string& where) {
  Schedule s;
  auto bad = [&] {
    return UsageError(where + " = " + text + " must be constant, cosine, step:K[:FACTOR] or step:P%[:FACTOR]");
  };
  if (text == "constant") return s;
  if (text == "cosine") {
    s.kind = Kind::cosine;
    return s;
  }
  if (text.rfind("step:", 0) != 0) throw bad();
  s.kind = Kind::step;
  const std::string rest = text.substr(5);
  const auto colon = rest.find(':');
  std::string every = rest.substr(0, colon);
  if (!every.empty() && every.back() == '%') {
    const json pct = parse_scalar(every.substr(0, every.size() - 1));
    if (!pct.is_number() || !(pct.get<double>() > 0.0 && pct.get<double>() <= 100.0)) throw bad();
    s.every_percent = pct.get<double>();
  } else {
    const json k = parse_scalar(every);
    if (!k.is_number_integer() || k.get<Index>() < 1) throw bad();
    s.every = k.get<Index>();
  }
  if (colon != std::string::npos) {
    const json f = parse_scalar(rest.substr(colon + 1));
    if (!f.is_number()) throw bad();
    s.factor = f.get<double>();
    if (!(s.factor > 0.0 && s.factor <= 1.0))
      throw UsageError(where + " = " + text + ": the decay factor must be in (0, 1]");
  }
  return s;
}

void OptimizerConfig::read(ObjectReader& r) {
  bool power_given = r.has("power");
  if (r.has("precond")) {
    std::string p;
    r.read("precond", p);
    if (p == "adam") precond = Precond::adam;
    else if (p == "gn") precond = Precond::gn;
    else if (p == "sgd") precond = Precond::sgd;
    else throw UsageError(r.path_of("precond") + " = " + p + " must be adam, gn or sgd");
    if (!power_given) power = precond == Precond::gn ? -1.0 : -0.5;
  }
  r.read("power", power);
  if (r.has("basis")) {
    std::string b;
    r.read("basis", b);
    const auto bad = [&] {
      return UsageError(r.path_of("basis") + " = " + b +
                        " must be identity, eigen, kronecker, interp:G or interp-eigen:G (G in [0, 1])");
    };
    if (b == "identity") basis = BasisKind::identity;
    else if (b == "eigen") basis = BasisKind::eigen;
    else if (b == "kronecker") basis = BasisKind::kronecker;
    else if (b.rfind("interp:", 0) == 0 || b.rfind("interp-eigen:", 0) == 0) {
      const bool eig = b.rfind("interp-eigen:", 0) == 0;
      const json g = parse_scalar(b.substr(b.find(':') + 1));
      if (!g.is_number() || !(g.get<double>() >= 0.0 && g.get<double>() <= 1.0)) throw bad();
      basis = eig ? BasisKind::interp_eigen : BasisKind::interp_kronecker;
      gamma = g.get<double>();
    } else {
      throw bad();
    }
  }
  if (r.has("kron_vectors")) {
    std::string v;
    r.read("kron_vectors", v);
    if (v != "eigen" && v != "identity")
      throw UsageError(r.path_of("kron_vectors") + " = " + v + " must be eigen or identity");
    kron_vectors_identity = v == "identity";
  }
  r.read("lr", lr);
  if (r.has("schedule")) {
    std::string s;
    r.read("schedule", s);
    schedule = Schedule::parse(s, r.path_of("schedule"));
  }
  r.read("alpha", alpha);
  r.read("beta2", beta2);
  r.read("beta1", beta1);
  if (r.has("batch")) batch = read_sample_size(r, "batch", "full");
  if (r.has("gn_batch")) gn_batch = read_sample_size(r, "gn_batch", "population");
  r.read("basis_every", basis_every);
}

void OptimizerConfig::validate() const {
  if (!(lr > 0.0)) throw UsageError("lr = " + show_number(lr) + " must be > 0");
  if (!(power < 0.0 && power >= -2.0)) throw UsageError("power = " + show_number(power) + " must be in [-2, 0)");
  if (!(alpha >= 0.0)) throw UsageError("alpha = " + show_number(alpha) + " must be >= 0");
  if (!(beta2 >= 0.0 && beta2 < 1.0)) throw UsageError("beta2 = " + show_number(beta2) + " must be in [0, 1)");
  if (!(beta1 >= 0.0 && beta1 < 1.0)) throw UsageError("beta1 = " + show_number(beta1) + " must be in [0, 1)");
  if (basis_every < 1)
    throw UsageError("basis_every = " + std::to_string(basis_every) + " must be >= 1");
  if (precond == Precond::sgd && basis != BasisKind::identity)
    throw UsageError("basis = " + basis_text() +
                     " does not apply to precond = sgd (sgd uses U = I, D = I)");
}

json OptimizerConfig::to_json() const {
  return json{{"precond", to_string(precond)},
              {"power", power},
              {"basis", basis_text()},
              {"lr", lr},
              {"schedule", schedule.text()},
              {"alpha", alpha},
              {"beta2", beta2},
              {"beta1", beta1},
              {"batch", sample_size_json(batch, "full")},
              {"gn_batch", sample_size_json(gn_batch, "population")},
              {"basis_every", basis_every},
              {"kron_vectors", kron_vectors_identity ? "identity" : "eigen"}};
}

std::string OptimizerConfig::basis_text() const {
  if (basis == BasisKind::interp_kronecker || basis == BasisKind::interp_eigen)
    return std::string(to_string(basis)) + ":" + show_number(gamma);
  return to_string(basis);
}

std::string OptimizerConfig::label() const {
  if (precond == Precond::sgd) return "sgd";
  std::string p = power == -1.0 ? "-1" : power == -0.5 ? "-1/2" : show_number(power);
  if (precond == Precond::adam) return power == -0.5 ? "adam" : "adam^" + p;
  return "gn^" + p;
}

}  // namespace adamgn
