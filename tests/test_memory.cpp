// Memory estimates and admission: saturating byte counts, each task's formula and the
// optimizer's against numbers worked out by hand for small configurations, the limit reader on
// fake /proc and cgroup files, the refusal message, the presets' quick scales admitted, and the
// command line under `ulimit -v` refusing oversize runs with one line and exit 2.
#include "helpers.hpp"

#include "core/budget.hpp"
#include "core/parallel.hpp"
#include "io/presets.hpp"
#include "runner/memory.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <new>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace adamgn;
using adamgn::test::error_of;
using adamgn::test::optimizer;
using adamgn::test::temp_dir;

namespace {

RunSizes sizes_of(const OptimizerConfig& o) { return RunSizes{o.batch, o.gn_batch, curvature_need(o)}; }

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

TEST_CASE("byte counts saturate instead of wrapping") {
  const Bytes huge = Bytes::of(static_cast<Index>(1e12), 8) * static_cast<Index>(1e8);
  CHECK(huge.saturated());
  CHECK((huge + Bytes(1)).saturated());
  CHECK((Bytes::max() * Bytes(2)).saturated());
  CHECK(Bytes::of(1000, 8) * 1000 == Bytes(8000000));
  CHECK(Bytes::of(-5, 8) == Bytes());
  CHECK(show_gib(Bytes(std::size_t{3} << 30)) == "3.0 GiB");
  CHECK(show_gib(Bytes::max()) == "more than 16 EiB");
}

TEST_CASE("quadratic estimate: the formula by hand") {
  // block, P = 10, rank r = 6; batch 4 sampled, exact GN, eigen basis (full curvature).
  const auto f = make_task_factory(json{{"name", "quadratic"}, {"dim", 10}});
  const OptimizerConfig o = optimizer({{"precond", "gn"}, {"basis", "eigen"}, {"batch", 4}, {"gn_batch", "population"}});
  const TaskMemory m = f->memory(sizes_of(o));
  CHECK(m.shared == Bytes(8 * (100 + 60 + 10)));
  // 8 (12 P + n (P + r + 2)) + 16 P^2
  CHECK(m.per_run == Bytes(8 * (120 + 4 * 18) + 16 * 100));
  CHECK(m.record_values == 20);
  // 12 x 8 P + 7 x 8 P^2
  CHECK(optimizer_memory(o, f->layout(), f->gn_is_diagonal()) == Bytes(96 * 10 + 56 * 100));
}

TEST_CASE("parity estimate: the formula by hand") {
  // d = 20, m = 8, k = 1, P = 176, f32, E = 16, B = 32, G = 64, Kronecker basis.
  const auto f = make_task_factory(json{{"name", "parity"}, {"width", 8}, {"eval_size", 16}});
  const OptimizerConfig o = optimizer({{"basis", "kronecker"}, {"batch", 32}, {"gn_batch", 64}});
  REQUIRE(f->dim() == 176);
  const TaskMemory m = f->memory(sizes_of(o));
  CHECK(m.shared == Bytes(2 * (16 * 12 * 20 + 16 * 8)));
  const std::size_t per_run = 12 * 176                  // theta0, weights
                              + 4 * 64 * (16 + 2 + 1)   // forward at n = 64
                              + 12 * 64 * 21            // batch inputs and targets
                              + 8 * 176                 // one row block's gradient
                              + 4 * 256 * 1045          // one backward piece
                              + 8 * 64 * 37 + 8 * 8     // pseudo-gradients and bits
                              + 16 * 24;                // evaluation outputs
  CHECK(m.per_run == Bytes(per_run));
  // Kronecker factors 8 x 8, 20 x 20, 8 (b), 1 x 1, 8 x 8 (A), each 52 k^2, plus 12 x 8 P.
  CHECK(optimizer_memory(o, f->layout(), false) == Bytes(96 * 176 + 52 * (64 + 400 + 64 + 1 + 64)));
}

TEST_CASE("transformer estimate: the formula by hand") {
  // T = 2 (L = 3), d = 3, D = 4, F = 5, E = 8, f32, B = G = 16, Kronecker basis: P = 146.
  const auto f = make_task_factory(json{{"name", "transformer"}, {"tokens", 2}, {"dim", 3}, {"width", 4},
                                        {"mlp_width", 5}, {"eval_size", 8}});
  const OptimizerConfig o = optimizer({{"basis", "kronecker"}, {"batch", 16}, {"gn_batch", 16}});
  REQUIRE(f->dim() == 146);
  const TaskMemory m = f->memory(sizes_of(o));
  CHECK(m.shared == Bytes(16 * 8 * 10));
  // a = 4 x 109, e = 4 x 63; pseudo-gradients 2 x 4 x 111 per sample.
  const std::size_t gradient = 436 * 16 + 8 * 146, kron = 888 * 16;
  CHECK(m.per_run == Bytes(20 * 146 + 8 * (3 + 16) + gradient + kron));
  CHECK(m.record_values == 3);
}

TEST_CASE("sizes that cannot fit saturate the estimate") {
  const auto f = make_task_factory(json{{"name", "parity"}, {"width", 8}, {"eval_size", 16}});
  OptimizerConfig o = optimizer({{"batch", 32}});
  o.batch = SampleSize::samples(static_cast<Index>(4e18));
  CHECK(!(f->memory(sizes_of(o)).per_run < Bytes(std::size_t{1} << 60)));
  ExperimentSpec spec = parse_experiment(json{{"task", {{"name", "quadratic"}, {"dim", 10}}},
                                              {"run", {{"seeds", Index{1000000000000000}}}},
                                              {"arms", json::array({json::object()})}});
  const auto q = make_task_factory(spec.task);
  CHECK(!(experiment_memory(spec, *q).total() < Bytes(std::size_t{1} << 60)));
}

TEST_CASE("available memory: the tightest of meminfo and cgroup files") {
  const std::string dir = temp_dir("memory");
  MemorySources s;
  s.meminfo = dir + "/meminfo";
  s.cgroup_v2 = dir + "/v2";
  s.cgroup_v1 = dir + "/v1";
  s.self_status = dir + "/status";
  s.rlimits = false;
  write_text(s.meminfo, "MemTotal:       8000 kB\nMemAvailable:    1000 kB\n");
  MemoryLimit l = available_memory(s);
  CHECK(l.available == Bytes(1024000));
  CHECK(l.source == "physical");

  // cgroup v2: limit minus usage, inactive file pages not counted as used.
  std::filesystem::create_directories(s.cgroup_v2);
  write_text(s.cgroup_v2 + "/memory.max", "500000\n");
  write_text(s.cgroup_v2 + "/memory.current", "200000\n");
  write_text(s.cgroup_v2 + "/memory.stat", "anon 150000\ninactive_file 50000\nactive_file 0\n");
  l = available_memory(s);
  CHECK(l.available == Bytes(350000));
  CHECK(l.source == "cgroup");
  write_text(s.cgroup_v2 + "/memory.max", "max\n");
  CHECK(available_memory(s).source == "physical");

  // cgroup v1: "no limit" is a huge number and is ignored.
  std::filesystem::create_directories(s.cgroup_v1);
  write_text(s.cgroup_v1 + "/memory.limit_in_bytes", "9223372036854771712\n");
  write_text(s.cgroup_v1 + "/memory.usage_in_bytes", "100\n");
  CHECK(available_memory(s).source == "physical");
  write_text(s.cgroup_v1 + "/memory.limit_in_bytes", "300000\n");
  write_text(s.cgroup_v1 + "/memory.stat", "total_inactive_file 0\n");
  l = available_memory(s);
  CHECK(l.available == Bytes(299900));
  CHECK(l.source == "cgroup");

  // Without MemAvailable: the physical pages.
  write_text(s.meminfo, "MemTotal: 8000 kB\n");
  std::filesystem::remove_all(s.cgroup_v1);
  l = available_memory(s);
  CHECK(l.source == "physical");
  CHECK(l.available == Bytes(static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGE_SIZE))));
}

TEST_CASE("admission: one line naming the need, the runs in flight and the limit") {
  const MemoryLimit four{Bytes(std::size_t{4} << 30), "physical"};
  const Bytes gib(std::size_t{1} << 30);
  CHECK(error_of([&] { admit_memory(gib, 3, gib, four, "run", "reduce --batch"); }).empty());
  const std::string e = error_of([&] { admit_memory(gib * 3, 2, gib, four, "run", "reduce --batch"); });
  CHECK(e ==
        "run needs about 7.0 GiB of memory (2 runs in flight x 3.0 GiB + 1.0 GiB shared) but 4.0 GiB is available "
        "(limit: physical); reduce --batch");
  // Against the address space every run in flight also reserves its thread's stack and arena.
  const MemoryLimit space{Bytes(std::size_t{4} << 30), "address-space"};
  CHECK(error_of([&] { admit_memory(gib, 4, Bytes(), space, "run", "x"); }).find("limit: address-space") !=
        std::string::npos);
  CHECK(error_of([&] { admit_memory(gib, 4, Bytes(), four, "run", "x"); }).empty());
}

TEST_CASE("the quick scales of the presets and the tests' sizes are admitted") {
  for (const std::string name : {"fig3", "fig4", "fig5", "fig7", "fig9"}) {
    INFO(name);
    const ExperimentSpec spec = parse_experiment(load_preset(name));
    const auto f = make_task_factory(spec.task);
    const MemoryPlan plan = experiment_memory(spec, *f);
    CHECK(plan.total() < Bytes(std::size_t{1} << 30));
    CHECK(plan.per_run.value() > 0);
    CHECK(error_of([&] { admit(plan); }).empty());
  }
}

TEST_CASE("an exception thrown in a piece on a worker thread reaches the caller") {
  set_inner_threads(2);
  std::vector<int> ran(64, 0);
  bool caught = false;
  try {
    parallel_pieces(64, [&](Index i) {
      ran[static_cast<std::size_t>(i)] = 1;
      if (i == 5) throw std::bad_alloc();
    });
  } catch (const std::bad_alloc&) {
    caught = true;
  }
  CHECK(caught);
  // The team still works afterwards.
  std::vector<int> again(64, 0);
  parallel_pieces(64, [&](Index i) { again[static_cast<std::size_t>(i)] = 1; });
  CHECK(std::count(again.begin(), again.end(), 1) == 64);
  set_inner_threads(1);
}

namespace {

struct Limited {
  int code = -1;
  std::string err;
  double seconds = 0;
};

// ADAMGN_BINARY with `args` under a 6 GB address-space limit (ulimit -v 6000000).
Limited run_limited(const std::string& args, const std::string& dir) {
  const std::string err = dir + "/stderr";
  const std::string cmd = "timeout 60 bash -c 'ulimit -v 6000000; exec " + std::string(ADAMGN_BINARY) + " " + args +
                          "' >/dev/null 2>" + err;
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system(cmd.c_str());
  Limited r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err);
  std::stringstream ss;
  ss << in.rdbuf();
  r.err = ss.str();
  return r;
}

}  // namespace

TEST_CASE("oversize runs under ulimit -v are refused with one line, exit 2, nothing written") {
  const std::string dir = temp_dir("memory-cli");
  const std::string out = dir + "/out.json";
  for (const std::string args :
       {"parity --batch 1000000000000 --steps 2", "parity --batch 32 --width 100000000 --steps 2",
        "parity --batch 32 --dim 100000000 --steps 2", "quadratic --dim 100000000 --steps 2",
        "parity --batch 32 --eval-size 10000000000 --steps 2", "transformer --batch 32 --gn-batch 32 --dim 1000000",
        "quadratic --seeds 1000000000 --steps 2", "quadratic --cov spectrum --spectrum 1,2 --batch 1000000000000"}) {
    INFO(args);
    const Limited r = run_limited(args + " -o " + out, dir);
    CHECK(r.code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("adamgn: error: ", 0) == 0);
    CHECK(r.err.find("memory") != std::string::npos);
    CHECK(r.seconds < 30);
    CHECK(access(out.c_str(), F_OK) != 0);
  }
  // A sweep is refused before its folder is created.
  const std::string store = dir + "/sweep";
  const Limited s = run_limited("sweep --preset fig4 --arms \"adam id small\" --set task.width=100000000 --out " + store, dir);
  CHECK(s.code == 2);
  CHECK(s.err.find("memory") != std::string::npos);
  CHECK(access(store.c_str(), F_OK) != 0);
  // A normal quick run is admitted under the same limit.
  const Limited ok = run_limited("quadratic --steps 3 -q -o " + out, dir);
  CHECK(ok.code == 0);
  CHECK(access(out.c_str(), F_OK) == 0);
}
