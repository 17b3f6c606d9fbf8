// adamgn: command-line entry point. Parses flags with CLI11 and dispatches to a subcommand; every
// error a user can cause ends here as one line on stderr and exit code 2. So does output lost on
// the way out: a closed descriptor is guarded at start, and both streams are flushed and checked
// at exit (io/files.hpp).
#include "commands.hpp"
#include "core/types.hpp"
#include "io/files.hpp"
#include "io/version.hpp"

#include <iostream>
#include <new>
#include <stdexcept>
#include <malloc.h>

namespace {

int dispatch(int argc, char** argv) {
  // Steps allocate the same large temporaries over and over; keeping them in the heap instead of
  // mapping and unmapping them each time removes most of the page-fault cost (measured: the
  // parity batch-4096 step spent half its time in the kernel without this).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{"adamgn: Adam vs Gauss-Newton diagonal preconditioners, basis by basis"};
  app.set_version_flag("--version", adamgn::version_string() + " (" + adamgn::git_commit() + ")");
  app.require_subcommand(1);
  std::vector<adamgn::cli::Command> commands;
  adamgn::cli::add_task_command(app, "quadratic", commands);
  adamgn::cli::add_task_command(app, "logistic", commands);
  adamgn::cli::add_task_command(app, "parity", commands);
  adamgn::cli::add_task_command(app, "staircase", commands);
  adamgn::cli::add_task_command(app, "teacher", commands);
  adamgn::cli::add_task_command(app, "cifar", commands);
  adamgn::cli::add_task_command(app, "transformer", commands);
  adamgn::cli::add_run_command(app, commands);
  adamgn::cli::add_presets_command(app, commands);
  adamgn::cli::add_bench_command(app, commands);
  adamgn::cli::add_plot_command(app, commands);
  adamgn::cli::add_sweep_commands(app, commands);
  adamgn::cli::add_reproduce_commands(app, commands);
  adamgn::cli::add_theory_command(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "adamgn: error: " << e.what() << "\n";
    return 2;
  }
  try {
    for (auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const adamgn::UsageError& e) {
    std::cerr << "adamgn: error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "adamgn: error: out of memory (an allocation failed; reduce the sizes or --threads)\n";
    return 2;
  } catch (const std::length_error& e) {
    std::cerr << "adamgn: error: out of memory (a size is beyond what can be allocated: " << e.what() << ")\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "adamgn: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (!adamgn::guard_standard_descriptors()) {
    std::cerr << "adamgn: error: a standard descriptor is closed and /dev/null cannot be opened\n";
    return 2;
  }
  const int status = dispatch(argc, argv);
  const std::string failure = adamgn::flush_standard_streams();
  // A non-zero status has been explained already (or is check's "incomplete"); keep it.
  if (failure.empty() || status != 0) return status;
  std::cerr << "adamgn: error: " << failure << "\n" << std::flush;
  return 2;
}
