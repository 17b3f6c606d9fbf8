#include "optim/config.hpp"

#include "optim/registry.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
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

std::vector<Field> optimizer_fields() {
  std::string powers;
  for (const DiagonalEntry& d : diagonal_registry().entries())
    if (d.make) powers += (powers.empty() ? "" : ", ") + d.name + " " + show_number(d.default_power);
  return {
      Field("precond", FieldType::text, "the diagonal s (`adamgn list diagonals`)")
          .defaults("adam")
          .one_of(diagonal_registry().names()),
      Field("power", FieldType::number, "p in D = (s + alpha)^p").derives(powers).at_least(-2).below(0),
      Field("basis", FieldType::text, "the basis U (`adamgn list bases`)").defaults("identity").shown_as(basis_forms()),
      Field("lr", FieldType::number, "learning rate").defaults(1e-3).above(0),
      Field("schedule", FieldType::text, "learning-rate schedule; step multiplies it by F (0.5 if omitted) every K steps or P% of the run")
          .defaults("constant")
          .shown_as("constant|cosine|step:K[:F]|step:P%[:F]"),
      Field("alpha", FieldType::number, "added to the statistic before the power").defaults(0).at_least(0),
      Field("beta2", FieldType::number, "Adam's second-moment decay").defaults(0.99).at_least(0).below(1),
      Field("beta1", FieldType::number, "momentum, kept in parameter space").defaults(0).at_least(0).below(1),
      Field("batch", FieldType::text, "gradient batch (full: the exact population gradient)").defaults("full").shown_as("N|full"),
      Field("gn_batch", FieldType::text, "GN batch (population: the exact GN matrix)").defaults(4096).shown_as("N|population"),
      Field("basis_every", FieldType::integer, "refresh the basis every K steps").defaults(1).at_least(1),
      Field("kron_vectors", FieldType::text, "Kronecker bases: vector blocks in their own eigenbasis or the identity")
          .defaults("eigen")
          .one_of({"eigen", "identity"}),
  };
}

OptimizerConfig::OptimizerConfig() {
  json defaults = json::object();
  for (const Field& f : optimizer_fields())
    if (!f.default_value.is_null()) defaults[f.key] = f.default_value;
  ObjectReader r(defaults, "optimizer defaults");
  read(r);
}

const BasisEntry& OptimizerConfig::basis_entry() const { return basis_registry().find(basis, "basis"); }
const DiagonalEntry& OptimizerConfig::diagonal_entry() const { return diagonal_registry().find(precond, "precond"); }

void OptimizerConfig::read(ObjectReader& r) {
  if (r.has("precond")) {
    std::string p;
    r.read("precond", p);
    const DiagonalEntry& d = diagonal_registry().find(p, r.path_of("precond"));
    precond = d.name;
    if (!r.has("power")) power = d.default_power;
  }
  r.read("power", power);
  if (r.has("basis")) {
    std::string text;
    r.read("basis", text);
    const std::string where = r.path_of("basis");
    const auto colon = text.find(':');
    const BasisEntry* e = basis_registry().lookup(text.substr(0, colon));
    if (e == nullptr || (colon == std::string::npos) == e->argument.has_value())
      throw UsageError(where + " = " + text + " must be one of " + basis_forms());
    basis = e->name;
    basis_argument = std::numeric_limits<double>::quiet_NaN();
    if (e->argument) {
      const json value = parse_scalar(text.substr(colon + 1));
      basis_argument = value.is_number() ? value.get<double>() : std::numeric_limits<double>::quiet_NaN();
      check_range(*e->argument, basis_argument, where + " = " + text + ": " + e->argument->key, text.substr(colon + 1));
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
  // The table's ranges, on the values as the arm resolved them.
  const json values = to_json();
  for (const Field& f : optimizer_fields())
    if (f.type == FieldType::number || f.type == FieldType::integer)
      check_range(f, values.at(f.key).get<double>(), f.key, show(values.at(f.key)));
  if (!diagonal_entry().make && basis != "identity")
    throw UsageError("basis = " + basis_text() + " does not apply to precond = " + precond + " (no diagonal: U = I, D = I)");
}

json OptimizerConfig::to_json() const {
  return json{{"precond", precond},
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
  return std::isnan(basis_argument) ? basis : basis + ":" + show_number(basis_argument);
}

std::string OptimizerConfig::label() const {
  const DiagonalEntry& d = diagonal_entry();
  if (!d.make) return d.name;
  if (power == d.default_power && !d.power_in_label) return d.name;
  const std::string p = power == -1.0 ? "-1" : power == -0.5 ? "-1/2" : show_number(power);
  return d.name + "^" + p;
}

}  // namespace adamgn
