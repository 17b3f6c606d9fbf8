#include "core/parallel.hpp"

#include <atomic>

namespace adamgn {
namespace {
std::atomic<int> g_inner_threads{1};
}

void set_inner_threads(int threads) { g_inner_threads = std::max(1, threads); }
int inner_threads() { return g_inner_threads; }

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace adamgn
