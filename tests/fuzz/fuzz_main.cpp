// libFuzzer entry point of one target, chosen at compile time by ADAMGN_FUZZ_TARGET (a function
// of targets.hpp). Built only with -DADAMGN_FUZZ=ON (clang); tests/fuzz/run.sh runs them.
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  adamgn::fuzz::ADAMGN_FUZZ_TARGET(data, size);
  return 0;
}
