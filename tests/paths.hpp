// Where the tests find the adamgn binary of their build. The path lives in a generated source
// file (tests/CMakeLists.txt), not in a compile definition, so that every test file compiles the
// same way in the default and the portable build directories.
#pragma once

namespace adamgn::test {
extern const char* const kAdamgnBinary;
}  // namespace adamgn::test

#define ADAMGN_BINARY ::adamgn::test::kAdamgnBinary
