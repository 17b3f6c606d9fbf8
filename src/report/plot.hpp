// SVG figure of a result document: one panel per (basis, batch) cell and metric, one series per
// arm (mean with a band of ± one standard error), colored by preconditioner.
#pragma once

#include "core/reader.hpp"

#include <string>

namespace adamgn {

struct PlotOptions {
  std::string title;  // empty: from preset + claim
};

// Renders a result document (schema "adamgn.result/1") as one standalone SVG document.
// Throws UsageError when the document is not a result or has no arms.
std::string plot_svg(const json& result, const PlotOptions& options = {});

}  // namespace adamgn
