#include "core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __linux__
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace adamgn {
namespace {

std::atomic<int> g_inner_threads{1};
thread_local bool t_in_piece = false;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// CPUs the process may run on, in order (empty where that cannot be read).
std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
#ifdef __linux__
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
#endif
  return cpus;
}

// How long a waiting thread spins before it sleeps (workers) or starts yielding its CPU (the
// caller waiting for its workers). Long enough to span the serial parts of a step between its
// parallel pieces (with 0.2 ms, waking the sleeping worker made a parity Kronecker step's update
// 0.80 ms against 0.67 ms with OpenMP's team), short enough that an idle team costs nothing
// measurable. With more threads than CPUs a spinning
// thread would hold a CPU that a working one needs, so then nobody spins.
constexpr auto kSpin = std::chrono::microseconds(2000);

// All threads of the process's teams when the caller builds one of `threads`: the runs side by
// side, each with its own team.
int threads_in_all_teams(int threads) {
#ifdef _OPENMP
  if (omp_in_parallel()) return threads * omp_get_num_threads();
#endif
  return threads;
}

// The calling thread's team: threads - 1 workers that take pieces beside it. A job is published
// by bumping `generation_`; each thread takes the next piece index from `next_` until none is
// left, and the caller waits until every worker has reported that it is done with the job.
class Team {
 public:
  explicit Team(int threads) : spin_(static_cast<int>(allowed_cpus().size()) >= threads_in_all_teams(threads)) {
    ids_.assign(static_cast<std::size_t>(threads - 1), 0);
    for (int w = 0; w < threads - 1; ++w) workers_.emplace_back([this, w] { work(w); });
    // Every worker has written its thread id (for pinning) once it has started.
    while (started_.load(std::memory_order_acquire) < threads - 1) std::this_thread::yield();
  }
  ~Team() {
    {
      const std::lock_guard<std::mutex> lock(m_);
      stop_.store(true);
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  const std::vector<long>& worker_ids() const { return ids_; }

  void run(Index n, detail::PieceFn fn, void* context) {
    fn_ = fn;
    context_ = context;
    n_ = n;
    next_.store(0, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1);  // seq_cst: publishes the job, ordered before the sleepers check
    if (sleepers_.load() > 0) {
      { const std::lock_guard<std::mutex> lock(m_); }
      cv_.notify_all();
    }
    take_pieces(fn, context, n);
    const int workers = threads() - 1;
    const auto start = std::chrono::steady_clock::now();
    for (unsigned spins = 0; done_.load(std::memory_order_acquire) < workers; ++spins) {
      if (!spin_ || (spins % 64 == 63 && std::chrono::steady_clock::now() - start > kSpin))
        std::this_thread::yield();
      else
        cpu_relax();
    }
    // Every thread has left the job: the first exception a piece threw (on any of them) goes on
    // to the caller, as it would have from a loop on one thread.
    if (failed_.load(std::memory_order_acquire)) {
      std::exception_ptr e;
      std::swap(e, error_);
      failed_.store(false, std::memory_order_relaxed);
      std::rethrow_exception(e);
    }
  }

 private:
  // A piece that throws (std::bad_alloc, most likely) must not end a worker thread, which would
  // terminate the process: its exception is kept, the pieces not yet started are skipped, and
  // run() rethrows it once every thread is done.
  void take_pieces(detail::PieceFn fn, void* context, Index n) {
    t_in_piece = true;
    for (Index i = next_.fetch_add(1, std::memory_order_relaxed); i < n; i = next_.fetch_add(1, std::memory_order_relaxed)) {
      if (failed_.load(std::memory_order_relaxed)) continue;
      try {
        fn(context, i);
      } catch (...) {
        const std::lock_guard<std::mutex> lock(error_m_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true, std::memory_order_release);
      }
    }
    t_in_piece = false;
  }

  void work(int w) {
#ifdef __linux__
    ids_[static_cast<std::size_t>(w)] = static_cast<long>(syscall(SYS_gettid));
#else
    (void)w;
#endif
    started_.fetch_add(1, std::memory_order_release);
    std::uint64_t seen = 0;
    for (;;) {
      // Wait for a new job: spin, then sleep.
      std::uint64_t g = generation_.load(std::memory_order_acquire);
      if (g == seen && spin_) {
        const auto start = std::chrono::steady_clock::now();
        for (unsigned spins = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++spins) {
          cpu_relax();
          if (spins % 64 == 63 && std::chrono::steady_clock::now() - start > kSpin) break;
        }
      }
      if (g == seen) {
        std::unique_lock<std::mutex> lock(m_);
        sleepers_.fetch_add(1);  // seq_cst: ordered before the check below
        cv_.wait(lock, [&] { return (g = generation_.load()) != seen; });
        sleepers_.fetch_sub(1);
      }
      seen = g;
      if (stop_.load()) return;
      take_pieces(fn_, context_, n_);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  const bool spin_;
  std::vector<std::thread> workers_;
  std::vector<long> ids_;
  std::atomic<int> started_{0};
  // The job (written by the caller before it bumps the generation).
  detail::PieceFn fn_ = nullptr;
  void* context_ = nullptr;
  Index n_ = 0;
  alignas(64) std::atomic<std::uint64_t> generation_{0};
  alignas(64) std::atomic<Index> next_{0};
  alignas(64) std::atomic<int> done_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex m_;
  std::condition_variable cv_;
  // The first exception of the current job (written under error_m_, read by the caller after
  // every worker has reported done).
  std::mutex error_m_;
  std::exception_ptr error_;
  std::atomic<bool> failed_{false};
};

thread_local std::unique_ptr<Team> t_team;

Team& team_of_size(int threads) {
  if (!t_team || t_team->threads() != threads) {
    t_team.reset();
    t_team = std::make_unique<Team>(threads);
  }
  return *t_team;
}

#ifdef __linux__
bool set_affinity(long tid, int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(static_cast<pid_t>(tid), sizeof one, &one) == 0;
}
#endif

}  // namespace

void set_inner_threads(int threads) { g_inner_threads = std::max(1, threads); }
int inner_threads() { return g_inner_threads; }

bool in_parallel_piece() { return t_in_piece; }

namespace detail {
void run_pieces(int threads, Index n, PieceFn fn, void* context) { team_of_size(threads).run(n, fn, context); }
}  // namespace detail

// The old masks are the process's: a lone run is pinned only when nothing else is.
PinnedRun::PinnedRun() {
#ifdef __linux__
  const int threads = inner_threads();
  if (threads < 2 || std::getenv("OMP_PROC_BIND")) return;
#ifdef _OPENMP
  if (omp_in_parallel()) return;
#endif
  const std::vector<int> cpus = allowed_cpus();
  if (static_cast<int>(cpus.size()) < threads) return;
  Team& team = team_of_size(threads);
  pinned_ = set_affinity(0, cpus[0]);
  for (std::size_t w = 0; w < team.worker_ids().size(); ++w)
    pinned_ = set_affinity(team.worker_ids()[w], cpus[w + 1]) || pinned_;
  if (pinned_) saved_ = cpus;
#endif
}

PinnedRun::~PinnedRun() {
#ifdef __linux__
  if (!pinned_) return;
  cpu_set_t all;
  CPU_ZERO(&all);
  for (int c : saved_) CPU_SET(c, &all);
  sched_setaffinity(0, sizeof all, &all);
  if (t_team)
    for (long id : t_team->worker_ids()) sched_setaffinity(static_cast<pid_t>(id), sizeof all, &all);
#endif
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void parallel_for(Index n, int threads, const std::function<void(Index)>& body) {
  std::atomic<bool> failed{false};  // read by every thread before it starts an index
  std::mutex m;
  std::exception_ptr first;  // set under m; read once the loop's threads have joined
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(threads, 1))
#endif
  for (Index i = 0; i < n; ++i) {
    if (failed.load(std::memory_order_acquire)) continue;
    try {
      body(i);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(m);
      if (!first) first = std::current_exception();
      failed.store(true, std::memory_order_release);
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace adamgn
