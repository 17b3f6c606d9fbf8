// adamgn theory: what the paper's results predict for a quadratic or logistic problem, as a table
// on stdout or JSON with --json (runner/theory.hpp computes it). The problem comes from the task
// flags after `theory quadratic` / `theory logistic` (the same flags as those subcommands), or
// from a preset's task section (--preset, --scale, --set task.K=V); exactly one of the two.
#include "commands.hpp"

#include "io/files.hpp"
#include "io/presets.hpp"
#include "runner/experiment.hpp"
#include "runner/theory.hpp"
#include "tasks/factory.hpp"

#include <iostream>
#include <memory>

namespace adamgn::cli {

void add_theory_command(CLI::App& root, std::vector<Command>& out) {
  struct Args {
    std::map<std::string, FlagValues> flags;  // per task subcommand
    std::map<std::string, CLI::App*> tasks;
    std::vector<std::string> others, sets;
    std::string preset, scale;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* app = root.add_subcommand(
      "theory", "what the paper's theory predicts for a problem: theory quadratic|logistic [task flags] or --preset NAME");
  app->add_option("--preset", args->preset, "take the task from this preset (name or FILE.json)");
  app->add_option("--scale", args->scale, "with --preset: quick (default) | paper | another scale the preset defines");
  app->add_option("--set", args->sets, "with --preset: override task.KEY=VALUE");
  app->add_flag("--json", args->json, "print JSON instead of the table");
  app->require_subcommand(0, 1);
  for (const std::string task : {"quadratic", "logistic"}) {
    CLI::App* sub = app->add_subcommand(task, "the " + task + " task, with its flags");
    sub->fallthrough();  // --json and the preset flags may follow the task's flags
    add_field_flags(sub, find_task(task).fields, args->flags[task]);
    args->tasks[task] = sub;
  }
  // The other tasks are known names that theory does not cover: a clear error instead of CLI11's.
  for (const auto& task : task_names())
    if (!args->tasks.count(task)) {
      CLI::App* sub = app->add_subcommand(task)->group("")->allow_extras();
      args->tasks[task] = sub;
      args->others.push_back(task);
    }
  out.push_back({app, [args] {
                   std::string chosen;
                   for (const auto& [task, sub] : args->tasks)
                     if (sub->parsed()) chosen = task;
                   for (const auto& other : args->others)
                     if (chosen == other) throw UsageError("theory covers quadratic and logistic, not " + other);
                   json task;
                   if (chosen.empty()) {
                     if (args->preset.empty())
                       throw UsageError("theory needs a task: `adamgn theory quadratic|logistic [flags]` or --preset NAME");
                     json doc = resolve_scale(load_preset(args->preset), args->scale);
                     for (const auto& s : args->sets) {
                       if (s.rfind("task.", 0) != 0) throw UsageError("theory: --set " + s + " must set task.KEY");
                       apply_set(doc, s);
                     }
                     if (!doc.contains("task")) throw UsageError("theory: preset " + args->preset + " has no task");
                     task = doc["task"];
                   } else {
                     if (!args->preset.empty() || !args->scale.empty() || !args->sets.empty())
                       throw UsageError("theory: give either a task (theory " + chosen +
                                        " ...) or --preset/--scale/--set, not both");
                     task = json::object();
                     for (const auto& [k, v] : args->flags[chosen]) task[k] = parse_scalar(v);
                     task["name"] = chosen;
                   }
                   const json theory = theory_of(task);
                   write_stdout(args->json ? theory.dump(2) + "\n" : theory_table(theory));
                   return 0;
                 }});
}

}  // namespace adamgn::cli
