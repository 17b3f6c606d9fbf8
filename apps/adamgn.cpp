// adamgn: the executable. The command line itself is apps/cli.cpp (run_command_line); here only
// what belongs to the process: allocator settings, the standard descriptors and the final flush.
#include "commands.hpp"
#include "io/files.hpp"

#include <iostream>
#include <malloc.h>

int main(int argc, char** argv) {
  if (!adamgn::guard_standard_descriptors()) {
    std::cerr << "adamgn: error: a standard descriptor is closed and /dev/null cannot be opened\n";
    return 2;
  }
  // Steps allocate the same large temporaries over and over; keeping them in the heap instead of
  // mapping and unmapping them each time removes most of the page-fault cost (measured: the
  // parity batch-4096 step spent half its time in the kernel without this).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  const int status = adamgn::cli::run_command_line(argc, argv);
  const std::string failure = adamgn::flush_standard_streams();
  // A non-zero status has been explained already (or is check's "incomplete"); keep it.
  if (failure.empty() || status != 0) return status;
  std::cerr << "adamgn: error: " << failure << "\n" << std::flush;
  return 2;
}
