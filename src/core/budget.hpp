// Memory budget: byte counts that saturate instead of wrapping, the memory this process may still
// use (the tightest of physical memory, the cgroup limit and the address-space / data-segment
// rlimits), and the admission check that refuses a piece of work whose estimate does not fit.
// Estimates are computed from sizes before anything large is allocated; with sizes such as 1e12
// x 1e8 every product saturates at Bytes::max(), which no limit admits.
#pragma once

#include "core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <string>

namespace adamgn {

// A byte count with saturating arithmetic (negative factors count as 0).
class Bytes {
 public:
  constexpr Bytes() = default;
  constexpr explicit Bytes(std::size_t v) : v_(v) {}
  static constexpr Bytes max() { return Bytes(std::numeric_limits<std::size_t>::max()); }
  // n entries of `each` bytes.
  static Bytes of(Index n, std::size_t each) { return Bytes(each) * n; }
  constexpr std::size_t value() const { return v_; }
  bool saturated() const { return v_ == std::numeric_limits<std::size_t>::max(); }

  friend Bytes operator+(Bytes a, Bytes b) {
    return a.v_ > std::numeric_limits<std::size_t>::max() - b.v_ ? max() : Bytes(a.v_ + b.v_);
  }
  friend Bytes operator*(Bytes a, Index n) {
    if (n <= 0) return Bytes();
    const auto k = static_cast<std::size_t>(n);
    return a.v_ != 0 && k > std::numeric_limits<std::size_t>::max() / a.v_ ? max() : Bytes(a.v_ * k);
  }
  friend Bytes operator*(Bytes a, Bytes b) { return a * static_cast<Index>(std::min<std::size_t>(b.v_, kIndexMax)); }
  Bytes& operator+=(Bytes b) { return *this = *this + b; }
  friend bool operator<(Bytes a, Bytes b) { return a.v_ < b.v_; }
  friend bool operator==(Bytes a, Bytes b) { return a.v_ == b.v_; }

 private:
  static constexpr std::size_t kIndexMax = static_cast<std::size_t>(std::numeric_limits<Index>::max());
  std::size_t v_ = 0;
};

inline Bytes max(Bytes a, Bytes b) { return a < b ? b : a; }

// "1.5 GiB", "0.01 GiB"; a saturated count reads "more than 16 EiB".
std::string show_gib(Bytes b);

// Where the limits are read (tests point these at fake files).
struct MemorySources {
  std::string meminfo = "/proc/meminfo";
  std::string self_status = "/proc/self/status";                       // VmSize, VmData
  std::string cgroup_v2 = "/sys/fs/cgroup";                            // memory.max, memory.current, memory.stat
  std::string cgroup_v1 = "/sys/fs/cgroup/memory";                     // memory.limit_in_bytes, memory.usage_in_bytes
  bool rlimits = true;                                                 // RLIMIT_AS and RLIMIT_DATA of this process
};

// The memory still available and which limit sets it: "physical" (MemAvailable, or the physical
// pages when /proc/meminfo has none), "cgroup" (limit minus usage, reclaimable file pages not
// counted as used), "address-space" (RLIMIT_AS minus VmSize) or "data" (RLIMIT_DATA minus VmData).
struct MemoryLimit {
  Bytes available = Bytes::max();
  std::string source = "physical";
};
MemoryLimit available_memory(const MemorySources& sources = {});

// Address space a thread reserves beyond what an estimate counts (its stack and its malloc
// arena); added per run in flight when the address space is the limit.
constexpr std::size_t kThreadReserve = std::size_t{72} << 20;

// What `what` needs: per_run x in_flight + shared (in_flight 0: `shared` alone, e.g. a task's
// fixed data before it is built). Throws UsageError when that exceeds `limit`:
//   run needs about X GiB of memory (N runs in flight x Y GiB + S GiB shared) but Z GiB is
//   available (limit: L); <advice>
void admit_memory(Bytes per_run, Index in_flight, Bytes shared, const MemoryLimit& limit, const std::string& what,
                  const std::string& advice);
// The same against available_memory().
void admit_memory(Bytes per_run, Index in_flight, Bytes shared, const std::string& what, const std::string& advice);

}  // namespace adamgn
