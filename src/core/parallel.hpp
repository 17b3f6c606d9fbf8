// Threads inside one run. The runner fills the cores with arms x seeds; when there are fewer runs
// than threads, each run gets the spare ones for pieces of work that are independent by
// construction: the eigendecompositions of different Kronecker factors, and products split into
// row chunks whose size does not depend on the thread count. Every piece runs single-threaded
// BLAS and pieces are combined in a fixed order, so results are bit-identical for any thread
// count.
#pragma once

#include "core/types.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <utility>

namespace adamgn {

// Threads one run may use (default 1). Not thread-local: it is set before runs start.
void set_inner_threads(int threads);
int inner_threads();

// Threads available to the process (OpenMP's default team size; 1 without OpenMP).
int max_threads();

// Columns per piece of the products split by columns (rotations, large Gram matrices, the
// eigensolver's stages). Fixed, not derived from the thread count, so that every bit of a
// result is the same on any number of threads.
constexpr Index kPieceColumns = 256;
inline Index column_pieces(Index cols) { return (cols + kPieceColumns - 1) / kPieceColumns; }

// The first time a lone run splits work over `threads` threads, pins them to distinct CPUs of the
// process's affinity mask, in order (thread 0, the caller, to the first). Steps of a fraction of a
// millisecond hand work between threads several times each; left to the scheduler, the two
// threads of such a run sometimes shared a core and the step took twice as long (parity at batch
// 32: a median of 0.10 ms over 5 runs unpinned, 0.05 ms pinned). Skipped when OMP_PROC_BIND is
// set (OpenMP's binding, or none with OMP_PROC_BIND=false) or there are fewer CPUs than threads.
void pin_inner_team(int threads);

// Work below which a region runs on the calling thread alone. Starting and joining a team costs
// a few microseconds (an empty two-thread region: 3.6-4.6 us on the 2-core development machine),
// which is what a whole parity step at batch 32 spends on its update; there a second thread made
// the step slower (0.058-0.077 ms against 0.033-0.041 on one thread). The pieces are the same
// either way, so no result changes.
constexpr double kMinParallelMultiplyAdds = 1 << 20;  // products
constexpr Index kMinParallelEntries = 1 << 15;        // elementwise passes over parameter vectors
inline bool worth_threads(double multiply_adds) { return multiply_adds >= kMinParallelMultiplyAdds; }

// Calls f(i) for i in [0, n), on up to inner_threads() threads when `threads_pay` and not already
// inside an active parallel region. f must not throw.
template <class F>
void parallel_pieces_if(bool threads_pay, Index n, F&& f) {
#ifdef _OPENMP
  const int t = static_cast<int>(std::min<Index>(inner_threads(), n));
  if (threads_pay && t > 1 && !omp_in_parallel()) {
    pin_inner_team(inner_threads());
#pragma omp parallel for schedule(dynamic, 1) num_threads(t)
    for (Index i = 0; i < n; ++i) f(i);
    return;
  }
#endif
  for (Index i = 0; i < n; ++i) f(i);
}

template <class F>
void parallel_pieces(Index n, F&& f) {
  parallel_pieces_if(true, n, std::forward<F>(f));
}

// Calls f(begin, length) for fixed spans of [0, n) on up to inner_threads() threads: elementwise
// work over a parameter vector (the same entries in the same span for any thread count).
constexpr Index kSpanEntries = 2048;
template <class F>
void parallel_spans(Index n, F&& f) {
  parallel_pieces_if(n >= kMinParallelEntries, (n + kSpanEntries - 1) / kSpanEntries, [&](Index q) {
    const Index begin = q * kSpanEntries;
    f(begin, std::min(kSpanEntries, n - begin));
  });
}

}  // namespace adamgn
