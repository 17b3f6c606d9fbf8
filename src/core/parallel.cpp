#include "core/parallel.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

namespace adamgn {
namespace {
std::atomic<int> g_inner_threads{1};
}

void set_inner_threads(int threads) { g_inner_threads = std::max(1, threads); }
int inner_threads() { return g_inner_threads; }

void pin_inner_team(int threads) {
#if defined(_OPENMP) && defined(__linux__)
  static std::atomic<int> pinned{0};
  if (pinned.load(std::memory_order_relaxed) == threads) return;
  static std::mutex m;
  const std::lock_guard<std::mutex> lock(m);
  if (pinned == threads) return;
  pinned = threads;
  if (std::getenv("OMP_PROC_BIND")) return;  // the user's binding (or explicitly none)
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (static_cast<int>(cpus.size()) < threads) return;  // more threads than CPUs: the OS places them
#pragma omp parallel num_threads(threads)
  {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<std::size_t>(omp_get_thread_num())], &one);
    sched_setaffinity(0, sizeof one, &one);  // 0: the calling thread
  }
#else
  (void)threads;
#endif
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace adamgn
