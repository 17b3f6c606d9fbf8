// A process-wide request to stop early, set from a SIGINT/SIGTERM handler while a sweep runs.
// Runs poll it once per optimizer step and stop by throwing Interrupted; nothing is stored for an
// interrupted run, so the results store only ever holds finished runs.
#pragma once

#include <stdexcept>

namespace adamgn {

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Installs handlers for SIGINT and SIGTERM that record the signal (the first one wins).
void install_interrupt_handlers();
// The signal received since the handlers were installed, or 0.
int interrupt_signal();
inline bool interrupt_requested() { return interrupt_signal() != 0; }
// Throws Interrupted when a stop was requested.
inline void check_interrupt() {
  if (interrupt_requested()) throw Interrupted();
}

}  // namespace adamgn
