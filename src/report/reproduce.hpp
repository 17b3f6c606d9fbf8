// `adamgn reproduce`: every built-in preset at one scale, each result document and its figure
// written to a folder, and REPORT.md with one row per claim of the paper and its verdict
// (report/verdicts.hpp states the rules).
#pragma once

#include "report/verdicts.hpp"
#include "runner/experiment.hpp"

#include <functional>
#include <string>
#include <vector>

namespace adamgn {

struct ReproduceOptions {
  std::string scale = "quick";
  std::string out_dir = "reproduce";
  std::vector<std::string> presets;  // empty: every built-in preset
  long threads = 0;                  // 0: all cores
};

struct PresetOutcome {
  std::string name, claim;
  // The result file's name without ".json" (reproduce: the preset's name) and its figure beside it
  // ("" when there is none); REPORT.md links both and names the file where it is not the preset.
  std::string file, figure;
  std::string skipped;  // why the preset was not run ("" when it ran)
  json result;          // the result document
  std::vector<ClaimVerdict> verdicts;
  double wall_seconds = 0.0;
};

struct PlannedPreset {
  std::string name;
  ExperimentSpec spec;  // at the options' scale, with their thread count
};

// The presets the options name, each parsed and checked: an unknown or repeated name, a scale a
// preset does not define, a negative thread count or an invalid preset throws UsageError here,
// before anything runs or is written.
std::vector<PlannedPreset> plan_reproduce(const ReproduceOptions& options);

// Runs the planned presets in order, writing DIR/NAME.json and DIR/NAME.svg for each; `on_preset`
// is called before each one starts (for progress).
std::vector<PresetOutcome> reproduce(const ReproduceOptions& options, const std::vector<PlannedPreset>& plan,
                                     const std::function<void(const std::string&, std::size_t, std::size_t)>& on_preset = {});

// An outcome from a result document already on disk (`adamgn report`), read from `path`: its
// figure is the .svg of the same name when that file exists.
PresetOutcome outcome_of(const json& result, const std::string& path);

// REPORT.md: the verdict table over every claim, then per result file its arms and claims.
// `command` names what wrote it (e.g. "adamgn reproduce --scale quick"); `reproduced` says the
// files were all written by that command, one per preset, beside the report.
std::string report_markdown(const std::vector<PresetOutcome>& outcomes, const std::string& scale, double wall_seconds,
                            const std::string& command, bool reproduced);

}  // namespace adamgn
