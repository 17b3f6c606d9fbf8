// adamgn plot: a result document as a standalone SVG figure.
#include "commands.hpp"

#include "io/files.hpp"
#include "report/plot.hpp"
#include "report/results.hpp"

#include <filesystem>
#include <fstream>
#include <memory>

namespace adamgn::cli {

void add_plot_command(CLI::App& root, std::vector<Command>& out) {
  struct Args {
    std::string input, output, title;
  };
  auto args = std::make_shared<Args>();
  CLI::App* app = root.add_subcommand("plot", "draw a result JSON as an SVG figure (mean ± standard error per arm)");
  app->add_option("file", args->input, "result document written by run or a task subcommand")->required();
  app->add_option("-o,--output", args->output, "SVG file to write")->required();
  app->add_option("--title", args->title, "figure title (default: preset name and claim)");
  out.push_back({app, [args] {
                   if (std::filesystem::is_directory(args->input))
                     throw UsageError(args->input + " is a folder, not a result file");
                   std::ifstream in(args->input, std::ios::binary);
                   if (!in) throw UsageError("cannot read " + args->input);
                   const json doc = parse_json(in, args->input, kJsonResultBytes);
                   check_output_path(args->output);
                   std::string svg;
                   try {
                     svg = plot_svg(doc, PlotOptions{args->title});
                   } catch (const UsageError& e) {
                     throw UsageError(args->input + ": " + e.what());
                   }
                   write_file_atomically(args->output, svg);
                   return 0;
                 }});
}

}  // namespace adamgn::cli
