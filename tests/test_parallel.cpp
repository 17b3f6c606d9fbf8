// parallel_for (core/parallel.hpp), the loop over an experiment's runs and a sweep's jobs: every
// index once, nothing new after a body throws, and the first exception back in the caller.
#include "core/parallel.hpp"
#include "core/types.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace adamgn;

TEST_CASE("parallel_for calls the body once for every index, on the threads it is given") {
  const Index n = 200;
  std::vector<std::atomic<int>> calls(static_cast<std::size_t>(n));
  std::mutex m;
  std::set<std::thread::id> threads;
  parallel_for(n, 2, [&](Index i) {
    calls[static_cast<std::size_t>(i)].fetch_add(1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // gives the second thread a share
    const std::lock_guard<std::mutex> lock(m);
    threads.insert(std::this_thread::get_id());
  });
  for (const auto& c : calls) CHECK(c.load() == 1);
#ifdef _OPENMP
  CHECK(threads.size() == 2);
#endif
  bool called = false;
  parallel_for(0, 2, [&](Index) { called = true; });
  CHECK_FALSE(called);
}

TEST_CASE("on one thread parallel_for stops at the first exception and rethrows it as it was") {
  std::vector<Index> ran;
  CHECK_THROWS_WITH_AS(parallel_for(10, 1,
                                    [&](Index i) {
                                      ran.push_back(i);
                                      if (i == 3) throw UsageError("index 3");
                                      if (i > 3) throw std::runtime_error("ran after the failure");
                                    }),
                       "index 3", UsageError);
  CHECK(ran == std::vector<Index>{0, 1, 2, 3});
}

TEST_CASE("on several threads parallel_for starts nothing new after a body throws") {
  // Index 0 throws at once; every other body takes a millisecond. Without the stop, all 500
  // would run (half a second on each of two threads); with it, the thread that was busy finishes
  // its one body and no other starts.
  const Index n = 500;
  std::atomic<Index> started{0};
  CHECK_THROWS_WITH_AS(parallel_for(n, 2,
                                    [&](Index i) {
                                      started.fetch_add(1);
                                      if (i == 0) throw std::runtime_error("first");
                                      std::this_thread::sleep_for(std::chrono::milliseconds(1));
                                    }),
                       "first", std::runtime_error);
  CHECK(started.load() < 20);

  // Every body throws: exactly one exception comes back, one of those thrown.
  std::atomic<Index> thrown{0};
  try {
    parallel_for(n, 2, [&](Index i) {
      thrown.fetch_add(1);
      throw std::runtime_error("index " + std::to_string(i));
    });
    FAIL("no exception came back");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).rfind("index ", 0) == 0);
  }
  CHECK(thrown.load() >= 1);
  CHECK(thrown.load() < 20);
}
