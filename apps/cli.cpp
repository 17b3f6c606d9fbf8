// The adamgn command line (commands.hpp): every subcommand, built from the registries where there
// is one, then parsing and dispatch. Every error a user can cause ends here as one line on stderr
// and exit code 2.
#include "commands.hpp"
#include "core/types.hpp"
#include "io/version.hpp"

#include <iostream>
#include <new>
#include <stdexcept>

namespace adamgn::cli {

int run_command_line(int argc, const char* const* argv) {
  CLI::App app{"adamgn: Adam vs Gauss-Newton diagonal preconditioners, basis by basis"};
  app.set_version_flag("--version", version_string() + " (" + git_commit() + ")");
  app.require_subcommand(1);
  std::vector<Command> commands;
  for (const TaskEntry& task : task_registry()) add_task_command(app, task, commands);
  add_run_command(app, commands);
  add_presets_command(app, commands);
  add_list_command(app, commands);
  add_bench_command(app, commands);
  add_plot_command(app, commands);
  add_sweep_commands(app, commands);
  add_reproduce_commands(app, commands);
  add_theory_command(app, commands);
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
  } catch (const UsageError& e) {
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

}  // namespace adamgn::cli
