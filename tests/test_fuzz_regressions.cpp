// Replays the fuzz targets' seed corpus (tests/fuzz/corpus/TARGET/) and every input a fuzzing
// campaign found to crash (tests/fuzz/regressions/TARGET/) through the same target bodies as the
// libFuzzer build (tests/fuzz/targets.hpp), so that a fixed crash stays fixed in an ordinary
// build. A target swallows UsageError only: any other exception fails the case, a crash fails
// the run.
#include "fuzz/targets.hpp"
#include "io/store.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kFuzzDir = fs::path(__FILE__).parent_path() / "fuzz";

// The files of tests/fuzz/KIND/TARGET, sorted.
std::vector<fs::path> inputs(const char* kind, const char* target) {
  std::vector<fs::path> out;
  const fs::path dir = kFuzzDir / kind / target;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().filename() != "README.md") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void replay(const char* kind, const char* target, void (*body)(const std::uint8_t*, std::size_t)) {
  for (const auto& path : inputs(kind, target)) {
    CAPTURE(path.string());
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK_NOTHROW(body(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  }
}

struct Target {
  const char* name;
  void (*body)(const std::uint8_t*, std::size_t);
};
const Target kTargets[] = {{"preset", adamgn::fuzz::preset},
                           {"set_assignments", adamgn::fuzz::set_assignments},
                           {"stored_run", adamgn::fuzz::stored_run},
                           {"cifar", adamgn::fuzz::cifar}};

}  // namespace

TEST_CASE("fuzz seed corpus: every target has seeds and takes each of them") {
  for (const auto& t : kTargets) {
    CAPTURE(t.name);
    CHECK(inputs("corpus", t.name).size() >= 3);
    replay("corpus", t.name, t.body);
  }
}

TEST_CASE("fuzz regressions: the inputs that crashed a target are handled") {
  for (const auto& t : kTargets) {
    CAPTURE(t.name);
    replay("regressions", t.name, t.body);
  }
}

TEST_CASE("fuzz regression: a preset nested 300,000 levels deep is refused, not a stack overflow") {
  // The input (600 KB), generated here rather than stored: the recursive copy of the
  // parsed document overflowed the stack. A UsageError (nesting limit) is the accepted outcome.
  const std::size_t depth = 300000;
  const std::string text = "{\"task\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
  CHECK_NOTHROW(adamgn::fuzz::preset(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

TEST_CASE("fuzz stored_run: the valid seeds verify under the target's fixed hashes") {
  // Otherwise every input would stop at verification and the scorer would never be fuzzed.
  const adamgn::RunStore store(adamgn::fuzz::scratch_dir() + "/verify-seeds");
  const auto& hashes = adamgn::fuzz::kStoredRunHashes;
  for (const std::string& hash : hashes) std::filesystem::create_directories(store.dir() + "/runs/" + hash.substr(0, 2));
  const std::vector<std::pair<const char*, std::string>> seeds = {{"valid.json", hashes[0]},
                                                                   {"valid-checksum.json", hashes[0]},
                                                                   {"measured-quadratic.json", hashes[1]},
                                                                   {"measured-parity.json", hashes[2]}};
  for (const auto& [name, hash] : seeds) {
    CAPTURE(name);
    std::filesystem::copy_file(kFuzzDir / "corpus" / "stored_run" / name, store.path_of(hash),
                               std::filesystem::copy_options::overwrite_existing);
    CHECK(store.problem(hash) == "");
  }
  // The measured seeds carry measures, and a damaged one is refused.
  std::ifstream in(kFuzzDir / "corpus" / "stored_run" / "measured-parity.json");
  nlohmann::json doc = nlohmann::json::parse(in);
  CHECK(doc["measures"].contains("alignment.W"));
  doc.erase("checksum");
  doc["measures"]["noise"][1] = "x";
  std::ofstream(store.path_of(hashes[2])) << doc.dump();
  CHECK(store.problem(hashes[2]) != "");
  std::filesystem::copy_file(kFuzzDir / "regressions" / "stored_run" / "empty-curves.json",
                             store.path_of(hashes[0]), std::filesystem::copy_options::overwrite_existing);
  CHECK(store.problem(hashes[0]) != "");
}
