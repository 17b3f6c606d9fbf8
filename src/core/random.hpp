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

  std::uint64_t next_u64();
  double uniform();             // in [0, 1)
  double normal();              // standard normal
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n)

  void fill_normal(Vec& v);
  void fill_normal(Mat& m);

 private:
  std::uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// A uniformly distributed (Haar) orthogonal matrix: QR of a Gaussian matrix with the signs of
// R's diagonal moved into Q.
Mat random_rotation(Index n, Rng& rng);

}  // namespace adamgn
