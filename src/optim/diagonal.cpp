// Built with -ffp-contract=off (CMakeLists.txt): every product and sum here is rounded as written,
// and the one fused multiply-add (Adam's v) is spelled out, so the fused and the two-pass forms
// of a step give the same bits whatever the compiler would contract.
#include "optim/diagonal.hpp"

#include "optim/config.hpp"
#include "optim/registry.hpp"

#include <cmath>

namespace adamgn {
namespace {

using Eigen::internal::packet_traits;
using Packet = packet_traits<double>::type;
constexpr Index kLanes = packet_traits<double>::size;

// The IEEE square root of each entry. Eigen's own packet sqrt for AVX-512 (with its default
// EIGEN_FAST_MATH) is a reciprocal-square-root estimate refined by Newton steps: it differed from
// std::sqrt in the last bit for 43% of 2^20 random doubles, and flushes results below the
// smallest normal number to zero. Exactness costs a little: g / sqrt(s) over 11264 entries took
// 4.7 us with the instruction against 3.9 us with the estimate (one core, AVX-512 development
// machine).
#if defined(EIGEN_VECTORIZE_AVX512)
inline Eigen::internal::Packet8d ieee_sqrt(const Eigen::internal::Packet8d& x) { return _mm512_sqrt_pd(x); }
#endif
#if defined(EIGEN_VECTORIZE_AVX)
inline Eigen::internal::Packet4d ieee_sqrt(const Eigen::internal::Packet4d& x) { return _mm256_sqrt_pd(x); }
#endif
#if defined(EIGEN_VECTORIZE_SSE2)
inline Eigen::internal::Packet2d ieee_sqrt(const Eigen::internal::Packet2d& x) { return _mm_sqrt_pd(x); }
#endif
inline double ieee_sqrt(double x) { return std::sqrt(x); }

// g / sqrt(s + alpha) or g / (s + alpha), 0 where s + alpha > 0 is false (NaN included): the
// zero rule is a mask.
inline Packet quotient(bool sqrt_power, const Packet& s, const Packet& g, const Packet& alpha) {
  using namespace Eigen::internal;
  const Packet shifted = padd(s, alpha);
  const Packet q = pdiv(g, sqrt_power ? ieee_sqrt(shifted) : shifted);
  return pand(q, pcmp_lt(pset1<Packet>(0.0), shifted));
}
inline double quotient(bool sqrt_power, double s, double g, double alpha) {
  const double shifted = s + alpha;
  return shifted > 0.0 ? g / (sqrt_power ? std::sqrt(shifted) : shifted) : 0.0;
}

// Adam's second moment after one more gradient: fma(g^2, 1 - beta2, beta2 v), rounded once at
// the end where the machine has a fused multiply-add.
inline Packet moment(const Packet& v, const Packet& g, const Packet& beta2, const Packet& weight) {
  using namespace Eigen::internal;
  return pmadd(pmul(g, g), weight, pmul(beta2, v));
}
inline double moment(double v, double g, double beta2, double weight) {
#ifdef __FMA__
  return std::fma(g * g, weight, beta2 * v);
#else
  return g * g * weight + beta2 * v;
#endif
}

}  // namespace

// One vectorized pass. As Eigen expressions, the quotient and a check for non-positive entries
// were three passes over each span.
void precondition_span(bool sqrt_power, const double* s, const double* g, double alpha, Index n, double* out) {
  using namespace Eigen::internal;
  const Packet a = pset1<Packet>(alpha);
  Index i = 0;
  for (; i + kLanes <= n; i += kLanes)
    pstoreu(out + i, quotient(sqrt_power, ploadu<Packet>(s + i), ploadu<Packet>(g + i), a));
  for (; i < n; ++i) out[i] = quotient(sqrt_power, s[i], g[i], alpha);
}

void Diagonal::precondition(const Vec& g_rot, const Vec& d_rot, Index begin, Index len, bool sqrt_power, double alpha,
                            Vec& s, double* out) {
  statistic(g_rot, begin, len, s);
  precondition_span(sqrt_power, s.data() + begin, d_rot.data() + begin, alpha, len, out);
}

void AdamDiagonal::prepare(const Curvature&, const Basis&, Index t, Index size) {
  if (v_.size() != size) v_ = Vec::Zero(size);
  inverse_correction_ = 1.0 / (1.0 - std::pow(beta2_, static_cast<double>(t)));
}

// s = v * (1 / (1 - beta2^t)): a product, as division is several times slower.
void AdamDiagonal::statistic(const Vec& g_rot, Index begin, Index len, Vec& s) {
  using namespace Eigen::internal;
  double* v = v_.data() + begin;
  const double* g = g_rot.data() + begin;
  double* out = s.data() + begin;
  const double weight = 1.0 - beta2_;
  const Packet b = pset1<Packet>(beta2_), w = pset1<Packet>(weight), c = pset1<Packet>(inverse_correction_);
  Index i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    const Packet vi = moment(ploadu<Packet>(v + i), ploadu<Packet>(g + i), b, w);
    pstoreu(v + i, vi);
    pstoreu(out + i, pmul(vi, c));
  }
  for (; i < len; ++i) {
    v[i] = moment(v[i], g[i], beta2_, weight);
    out[i] = v[i] * inverse_correction_;
  }
}

// statistic() and precondition_span() in one pass: the same operations, entry by entry.
void AdamDiagonal::precondition(const Vec& g_rot, const Vec& d_rot, Index begin, Index len, bool sqrt_power,
                                double alpha, Vec&, double* out) {
  using namespace Eigen::internal;
  double* v = v_.data() + begin;
  const double* g = g_rot.data() + begin;
  const double* d = d_rot.data() + begin;
  const double weight = 1.0 - beta2_;
  const Packet b = pset1<Packet>(beta2_), w = pset1<Packet>(weight), c = pset1<Packet>(inverse_correction_),
               a = pset1<Packet>(alpha);
  Index i = 0;
  for (; i + kLanes <= len; i += kLanes) {
    const Packet vi = moment(ploadu<Packet>(v + i), ploadu<Packet>(g + i), b, w);
    pstoreu(v + i, vi);
    pstoreu(out + i, quotient(sqrt_power, pmul(vi, c), ploadu<Packet>(d + i), a));
  }
  for (; i < len; ++i) {
    v[i] = moment(v[i], g[i], beta2_, weight);
    out[i] = quotient(sqrt_power, v[i] * inverse_correction_, d[i], alpha);
  }
}

void GaussNewtonDiagonal::prepare(const Curvature& c, const Basis& b, Index, Index) {
  if (c.version != curvature_version_ || b.version() != basis_version_) {
    b.gn_diagonal(c, h_);
    curvature_version_ = c.version;
    basis_version_ = b.version();
  }
}

void GaussNewtonDiagonal::statistic(const Vec&, Index begin, Index len, Vec& s) {
  s.segment(begin, len) = h_.segment(begin, len);
}

}  // namespace adamgn

namespace adamgn {

DiagonalEntry adam_diagonal() {
  DiagonalEntry e;
  e.name = "adam";
  e.description = "Adam's bias-corrected second moment of the rotated gradient (decay beta2)";
  e.default_power = -0.5;
  e.make = [](const OptimizerConfig& o) { return std::make_unique<AdamDiagonal>(o.beta2); };
  e.tuning_axes = [](const OptimizerConfig&) {
    return std::vector<TuningAxis>{{"beta2", {0.0, 0.9, 0.95, 0.99}}};
  };
  return e;
}

DiagonalEntry gn_diagonal() {
  DiagonalEntry e;
  e.name = "gn";
  e.description = "the GN diagonal in the basis, diag(U^T H U), with H from its own batch (gn_batch)";
  e.default_power = -1.0;
  e.power_in_label = true;
  e.make = [](const OptimizerConfig&) { return std::make_unique<GaussNewtonDiagonal>(); };
  e.needs = [](const BasisNeeds& b) { return b.gn; };
  e.tuning_axes = [](const OptimizerConfig& o) {
    if (!(o.alpha > 0.0)) return std::vector<TuningAxis>{};
    return std::vector<TuningAxis>{{"alpha", {o.alpha / 10, o.alpha, o.alpha * 10}}};
  };
  return e;
}

DiagonalEntry sgd_diagonal() {
  DiagonalEntry e;
  e.name = "sgd";
  e.description = "no diagonal and no basis: the plain gradient (or momentum) step";
  return e;
}

}  // namespace adamgn
