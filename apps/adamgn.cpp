// adamgn: command-line entry point. Parses flags with CLI11 and dispatches to a subcommand; every
// error a user can cause ends here as one line on stderr and exit code 2.
#include "commands.hpp"
#include "core/types.hpp"
#include "io/version.hpp"

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"adamgn: Adam vs Gauss-Newton diagonal preconditioners, basis by basis"};
  app.set_version_flag("--version", adamgn::version_string() + " (" + adamgn::git_commit() + ")");
  app.require_subcommand(1);
  std::vector<adamgn::cli::Command> commands;
  adamgn::cli::add_task_command(app, "quadratic", commands);
  adamgn::cli::add_task_command(app, "logistic", commands);
  adamgn::cli::add_task_command(app, "parity", commands);
  adamgn::cli::add_task_command(app, "staircase", commands);
  adamgn::cli::add_task_command(app, "teacher", commands);
  adamgn::cli::add_run_command(app, commands);
  adamgn::cli::add_presets_command(app, commands);
  adamgn::cli::add_bench_command(app, commands);
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
  } catch (const std::exception& e) {
    std::cerr << "adamgn: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
