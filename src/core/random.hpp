// Deterministic random streams. Every run owns its generators, derived from
// (seed, stream name), so that the same seed gives every arm the same data and results do not
// depend on thread scheduling. The generator (xoshiro256**) and the normal sampler are written
// here rather than taken from <random> so that a seed means the same numbers on every platform.
#pragma once

#include "core/types.hpp"

#include <cstdint>
#include <string_view>

namespace adamgn {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);
  // Independent generator for the named stream of a seed, e.g. Rng::stream(3, "data").
  static Rng stream(std::uint64_t seed, std::string_view name);

  // Inline: the batch samplers call these once per coordinate, and a call per number kept the
  // generator state in memory.
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }  // in [0, 1)
  double normal();              // standard normal
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n)

  void fill_normal(Vec& v);
  void fill_normal(Mat& m);

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// A uniformly distributed (Haar) orthogonal matrix: QR of a Gaussian matrix with the signs of
// R's diagonal moved into Q.
Mat random_rotation(Index n, Rng& rng);

}  // namespace adamgn
