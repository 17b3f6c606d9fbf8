// The adamgn subcommands. Each turns parsed flags into an experiment document and hands it to the
// library; nothing here computes anything.
#pragma once

#include "tasks/factory.hpp"

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

// The whole command line: builds every subcommand (one per registered task, then the others),
// parses argv and runs the chosen one. Every error a user can cause is one line on stderr and
// exit code 2; the return value is the exit code.
int run_command_line(int argc, const char* const* argv);

// `adamgn NAME` for a registered task: its flags come from the task's field table.
void add_task_command(CLI::App& root, const TaskEntry& task, std::vector<Command>& out);
// One flag per field of a table (a task's, the optimizer's), each setting its key in `into`
// (shared with `theory`).
void add_field_flags(CLI::App* app, const std::vector<Field>& fields, FlagValues& into);
void add_run_command(CLI::App& root, std::vector<Command>& out);
void add_presets_command(CLI::App& root, std::vector<Command>& out);
void add_list_command(CLI::App& root, std::vector<Command>& out);
void add_bench_command(CLI::App& root, std::vector<Command>& out);
void add_plot_command(CLI::App& root, std::vector<Command>& out);    // plot_command.cpp
void add_sweep_commands(CLI::App& root, std::vector<Command>& out);  // sweep_commands.cpp
void add_reproduce_commands(CLI::App& root, std::vector<Command>& out);  // reproduce_command.cpp
void add_theory_command(CLI::App& root, std::vector<Command>& out);      // theory_command.cpp

}  // namespace adamgn::cli
