// Small helpers shared by the tests.
#pragma once

#include "optim/optimizer.hpp"
#include "runner/experiment.hpp"
#include "tasks/factory.hpp"
#include "paths.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/wait.h>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace adamgn::test {

inline OptimizerConfig optimizer(const json& fields) {
  OptimizerConfig c;
  ObjectReader r(fields, "optimizer");
  c.read(r);
  r.finish();
  c.validate();
  return c;
}

// Runs `steps` optimizer steps on the task of `seed` and returns the final parameters.
inline Vec trajectory_end(const TaskFactory& f, const OptimizerConfig& c, Index steps, std::uint64_t seed,
                          std::unique_ptr<Basis> basis = nullptr, Vec* second_moment = nullptr) {
  auto task = f.make(seed);
  Rng data = Rng::stream(seed, "data"), curv = Rng::stream(seed, "curvature");
  Vec theta = task->initial_parameters();
  Optimizer opt(c, task->layout(), steps, std::move(basis));
  for (Index t = 0; t < steps; ++t) opt.step(*task, theta, t, data, curv);
  if (second_moment && opt.diagonal() && opt.diagonal()->second_moment())
    *second_moment = *opt.diagonal()->second_moment();
  return theta;
}

// Central difference of the batch loss in coordinate p, with the batch drawn from `rng` on both
// sides (the same samples).
inline double loss_difference(Task& task, const Vec& theta, SampleSize n, const Rng& rng, Index p,
                              double h = 1e-6) {
  Vec tp = theta, tm = theta, scratch;
  tp[p] += h;
  tm[p] -= h;
  Rng a = rng, b = rng;
  return (task.loss_and_gradient(tp, n, a, scratch) - task.loss_and_gradient(tm, n, b, scratch)) / (2 * h);
}

// The message of the UsageError `f` throws ("" if none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

// A fresh folder /tmp/adamgn-TAG-XXXXXX. Every folder made here is removed, with its contents,
// when the test program exits.
inline std::string temp_dir(const std::string& tag) {
  struct Registry {
    std::vector<std::string> dirs;
    ~Registry() {
      for (const auto& d : dirs) {
        std::error_code ec;
        std::filesystem::remove_all(d, ec);
      }
    }
  };
  static Registry registry;
  std::string tmpl = "/tmp/adamgn-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("cannot create a folder under /tmp");
  registry.dirs.emplace_back(buf.data());
  return registry.dirs.back();
}

// CIFAR-10 records in the official layout: record r has label (seed + r) % 10 and pixel
// p = (seed * 7 + r * 13 + p) % 256.
inline std::vector<unsigned char> cifar_records(int seed, int n) {
  std::vector<unsigned char> bytes;
  for (int r = 0; r < n; ++r) {
    bytes.push_back(static_cast<unsigned char>((seed + r) % 10));
    for (int p = 0; p < 3072; ++p) bytes.push_back(static_cast<unsigned char>((seed * 7 + r * 13 + p) % 256));
  }
  return bytes;
}

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A folder with five 4-image training files and a 6-image test file.
inline std::string tiny_cifar_dataset() {
  const std::string dir = temp_dir("cifar");
  for (int i = 1; i <= 5; ++i) write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin", cifar_records(i, 4));
  write_bytes(dir + "/test_batch.bin", cifar_records(9, 6));
  return dir;
}

// fig6's arms that the preset-wide tests run: one per basis and diagonal kind. Each Kronecker arm
// decomposes the 3072 x 3072 input factor, which takes seconds.
inline const char* const kFig6ArmsRun = "adam id large,adam kron small,gn^-1 kron large";

// The whole of a file ("" when it cannot be read).
inline std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What the adamgn binary did with `args` (run through the shell, under a 10-minute timeout so a
// hang shows as exit 124): its exit code and everything it wrote to stdout and stderr.
struct CliOutcome {
  int code = -1;
  std::string out, err;
};
inline CliOutcome run_adamgn(const std::string& args) {
  static const std::string dir = temp_dir("cli-io");
  const std::string cmd = "timeout 600 " + std::string(ADAMGN_BINARY) + " " + args + " >" + dir + "/stdout 2>" + dir + "/stderr";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, file_text(dir + "/stdout"), file_text(dir + "/stderr")};
}

inline Vec theta_star_of(const Task& task) {
  const auto v = task.run_record().at("theta_star").get<std::vector<double>>();
  return Eigen::Map<const Vec>(v.data(), static_cast<Index>(v.size()));
}

}  // namespace adamgn::test
