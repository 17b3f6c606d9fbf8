// The adamgn subcommands. Each turns parsed flags into an experiment document and hands it to the
// library; nothing here computes anything.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace adamgn::cli {

// Flag values as typed on the command line, keyed by the config field they set.
using FlagValues = std::map<std::string, std::string>;

struct Command {
  CLI::App* app;
  std::function<int()> run;
};

// A whole decimal integer: an optional '-' and digits, nothing else, within the range of long
// long. Returns false (out untouched) otherwise.
bool parse_integer(const std::string& text, long long& out);
// The check of an integer flag of sweep, reproduce and bench, applied while the command line is
// parsed (before any command runs): the value must be a whole decimal integer >= min, else one
// line "FLAG: ..." and exit code 2. The accepted text is rewritten in plain decimal form.
CLI::Validator integer_at_least(long long min);

void add_task_command(CLI::App& root, const std::string& task, std::vector<Command>& out);
// The task flags of `quadratic` or `logistic` (task is one of the two), shared with `theory`.
void add_convex_task_flags(CLI::App* app, const std::string& task, FlagValues& into);
void add_run_command(CLI::App& root, std::vector<Command>& out);
void add_presets_command(CLI::App& root, std::vector<Command>& out);
void add_bench_command(CLI::App& root, std::vector<Command>& out);
void add_plot_command(CLI::App& root, std::vector<Command>& out);    // plot_command.cpp
void add_sweep_commands(CLI::App& root, std::vector<Command>& out);  // sweep_commands.cpp
void add_reproduce_commands(CLI::App& root, std::vector<Command>& out);  // reproduce_command.cpp
void add_theory_command(CLI::App& root, std::vector<Command>& out);      // theory_command.cpp

}  // namespace adamgn::cli
