// Threads inside one run. The runner fills the cores with arms x seeds (OpenMP); when there are
// fewer runs than threads, each run gets the spare ones for pieces of work that are independent by
// construction: the eigendecompositions of different Kronecker factors, and products split into
// row chunks whose size does not depend on the thread count. Every piece runs single-threaded
// BLAS and pieces are combined in a fixed order, so results are bit-identical for any thread
// count.
//
// A run's pieces go to its own team of worker threads (one team per calling thread, kept between
// calls), not to a nested OpenMP region: on the 2-core development machine an empty two-thread
// OpenMP region cost 2.4-2.9 us against 0.4-0.7 us for a hand-off to a waiting worker, and a
// nested OpenMP team (runs side by side, each with spare threads) is started afresh each time
// (69-113 us). Workers wait spinning for a short while after each piece of work, then sleep.
#pragma once

#include "core/types.hpp"

#include <algorithm>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace adamgn {

// Threads one run may use (default 1). Not thread-local: it is set before runs start.
void set_inner_threads(int threads);
int inner_threads();

// Threads available to the process (OpenMP's default team size; 1 without OpenMP).
int max_threads();

// The loop over independent runs (an experiment's arms x seeds, a sweep's jobs): calls body(i) for
// i in [0, n) on `threads` OpenMP threads, each index going to whichever thread is free next
// (schedule(dynamic, 1)). Once a body has thrown, no further index starts (bodies already running
// finish), and when every thread is done the first exception caught is rethrown to the caller. A
// body that should stop for another reason (an interrupt) returns without working.
void parallel_for(Index n, int threads, const std::function<void(Index)>& body);

// Columns per piece of the products split by columns (rotations, large Gram matrices, the
// eigensolver's stages). Fixed, not derived from the thread count, so that every bit of a
// result is the same on any number of threads.
constexpr Index kPieceColumns = 256;
inline Index column_pieces(Index cols) { return (cols + kPieceColumns - 1) / kPieceColumns; }

// Pins a lone run's threads to distinct CPUs of the process's affinity mask for its lifetime, in
// order (the calling thread to the first), and restores the old masks when it ends. Steps of a
// fraction of a millisecond hand work between threads several times each; left to the scheduler,
// the two threads of such a run sometimes shared a core and the step took twice as long (parity
// at batch 32: a median of 0.10 ms over 5 runs unpinned, 0.05 ms pinned). Does nothing when the
// run has one thread, inside a parallel region (runs side by side), when OMP_PROC_BIND is set
// (OpenMP's binding, or none with OMP_PROC_BIND=false) or there are fewer CPUs than threads.
class PinnedRun {
 public:
  PinnedRun();
  ~PinnedRun();
  PinnedRun(const PinnedRun&) = delete;
  PinnedRun& operator=(const PinnedRun&) = delete;

 private:
  bool pinned_ = false;
  std::vector<int> saved_;  // the CPUs the process may use
};

// True on a thread while it runs a piece of a team's work (nested calls run their pieces in turn).
bool in_parallel_piece();

namespace detail {
using PieceFn = void (*)(void* context, Index piece);
// Runs fn(context, i) for i in [0, n) on the calling thread's team of `threads` threads.
void run_pieces(int threads, Index n, PieceFn fn, void* context);
}  // namespace detail

// Work below which a region runs on the calling thread alone. The hand-off itself is cheap (about
// half a microsecond), but pieces written on one core and read on the other move between the
// cores' caches: with parity at batch 32 (344k multiply-adds forward, 11264 parameters) split
// over two cores, a step took 0.040-0.044 ms against 0.028 ms on one. The pieces are the same
// either way, so no result changes.
constexpr double kMinParallelMultiplyAdds = 1 << 20;  // products
constexpr Index kMinParallelEntries = 1 << 15;        // elementwise passes over parameter vectors
inline bool worth_threads(double multiply_adds) { return multiply_adds >= kMinParallelMultiplyAdds; }

// Calls f(i) for i in [0, n), on up to inner_threads() threads when `threads_pay` and not already
// inside a piece. Pieces are taken in index order by whichever thread is free. When f throws, the
// pieces not yet started are skipped and the first exception is rethrown to the caller.
template <class F>
void parallel_pieces_if(bool threads_pay, Index n, F&& f) {
  const int t = static_cast<int>(std::min<Index>(inner_threads(), n));
  if (threads_pay && t > 1 && !in_parallel_piece()) {
    using Fn = std::remove_reference_t<F>;
    detail::run_pieces(inner_threads(), n, [](void* c, Index i) { (*static_cast<Fn*>(c))(i); },
                       const_cast<void*>(static_cast<const void*>(&f)));
    return;
  }
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
