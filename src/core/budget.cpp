#include "core/budget.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>

namespace adamgn {
namespace {

// The first whitespace-separated number after `key` at the start of a line of `path` (e.g.
// "MemAvailable:" in /proc/meminfo); false when the file or the key is missing.
bool read_keyed(const std::string& path, const std::string& key, std::size_t& out) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    std::istringstream rest(line.substr(key.size()));
    unsigned long long v = 0;
    if (!(rest >> v)) return false;
    out = static_cast<std::size_t>(v);
    return true;
  }
  return false;
}

// A file holding one number ("max" or a missing file: false).
bool read_number(const std::string& path, std::size_t& out) {
  std::ifstream in(path);
  unsigned long long v = 0;
  if (!(in >> v)) return false;
  out = static_cast<std::size_t>(v);
  return true;
}

void tighten(MemoryLimit& limit, Bytes available, const char* source) {
  if (available < limit.available) limit = MemoryLimit{available, source};
}

Bytes minus(std::size_t a, std::size_t b) { return Bytes(a > b ? a - b : 0); }

// limit - (usage - inactive file pages): page cache the kernel can reclaim is not in use.
void cgroup_limit(MemoryLimit& limit, const std::string& max_file, const std::string& usage_file,
                  const std::string& stat_file, const std::string& inactive_key) {
  std::size_t max = 0, usage = 0, inactive = 0;
  if (!read_number(max_file, max) || !read_number(usage_file, usage)) return;
  if (max >= (std::size_t{1} << 60)) return;  // v1 writes "no limit" as a huge number
  read_keyed(stat_file, inactive_key, inactive);
  tighten(limit, minus(max, usage - std::min(usage, inactive)), "cgroup");
}

}  // namespace

std::string show_gib(Bytes b) {
  if (b.saturated()) return "more than 16 EiB";
  const double gib = static_cast<double>(b.value()) / static_cast<double>(std::size_t{1} << 30);
  char buf[48];
  std::snprintf(buf, sizeof buf, gib >= 100 ? "%.0f GiB" : gib >= 1 ? "%.1f GiB" : "%.2f GiB", gib);
  return buf;
}

MemoryLimit available_memory(const MemorySources& s) {
  MemoryLimit limit;
  std::size_t kb = 0;
  if (read_keyed(s.meminfo, "MemAvailable:", kb)) {
    tighten(limit, Bytes(1024) * static_cast<Index>(kb), "physical");
  } else {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) tighten(limit, Bytes(static_cast<std::size_t>(page)) * pages, "physical");
  }
  cgroup_limit(limit, s.cgroup_v2 + "/memory.max", s.cgroup_v2 + "/memory.current", s.cgroup_v2 + "/memory.stat",
               "inactive_file ");
  cgroup_limit(limit, s.cgroup_v1 + "/memory.limit_in_bytes", s.cgroup_v1 + "/memory.usage_in_bytes",
               s.cgroup_v1 + "/memory.stat", "total_inactive_file ");
  if (s.rlimits) {
    struct rlimit r {};
    std::size_t used_kb = 0;
    if (getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
      read_keyed(s.self_status, "VmSize:", used_kb);
      tighten(limit, minus(static_cast<std::size_t>(r.rlim_cur), used_kb * 1024), "address-space");
    }
    used_kb = 0;
    if (getrlimit(RLIMIT_DATA, &r) == 0 && r.rlim_cur != RLIM_INFINITY) {
      read_keyed(s.self_status, "VmData:", used_kb);
      tighten(limit, minus(static_cast<std::size_t>(r.rlim_cur), used_kb * 1024), "data");
    }
  }
  return limit;
}

void admit_memory(Bytes per_run, Index in_flight, Bytes shared, const MemoryLimit& limit, const std::string& what,
                  const std::string& advice) {
  Bytes need = per_run * in_flight + shared;
  if (limit.source == "address-space") need += Bytes(kThreadReserve) * in_flight;
  if (!(limit.available < need)) return;
  std::string detail;
  if (in_flight > 0) {
    detail = " (" + std::to_string(in_flight) + (in_flight == 1 ? " run" : " runs") + " in flight x " +
             show_gib(per_run) + (shared.value() > 0 ? " + " + show_gib(shared) + " shared" : "") + ")";
  }
  throw UsageError(what + " needs about " + show_gib(need) + " of memory" + detail + " but " +
                   show_gib(limit.available) + " is available (limit: " + limit.source + "); " + advice);
}

void admit_memory(Bytes per_run, Index in_flight, Bytes shared, const std::string& what, const std::string& advice) {
  admit_memory(per_run, in_flight, shared, available_memory(), what, advice);
}

}  // namespace adamgn
