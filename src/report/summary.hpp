// Tables over many runs: one row per run, or one row per setting (arm and sweep point) with the
// mean, standard error, count and diverged count of its final values, as CSV or Markdown. Rows
// come from result documents (adamgn.result/1) and from sweep folders.
#pragma once

#include "runner/sweep.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace adamgn {

struct RunRow {
  std::string source, stage, arm, setting;
  double lr = 0.0;
  std::uint64_t seed = 0;
  bool diverged = false;
  Index last_step = 0;
  double final_loss = 0.0, final_test_loss = 0.0, final_test_accuracy = 0.0;  // NaN when absent
  double score = 0.0;  // run_score under the summary's metric (+inf when diverged)
  double wall_seconds = 0.0;
  // Each extra series' last value (NaN: null), shown as final_NAME columns: every recorded measure
  // series, and excess_loss (final loss minus task_info.loss_floor) when the task states a floor.
  std::map<std::string, double> final_measures;
};

struct SettingRow {
  std::string source, stage, arm, setting;
  double lr = 0.0;
  Index n = 0, diverged = 0;
  // Over the runs that did not diverge (NaN when none or when absent).
  double loss_mean = 0.0, loss_se = 0.0, test_loss_mean = 0.0, test_loss_se = 0.0, accuracy_mean = 0.0,
         accuracy_se = 0.0;
  double score = 0.0;  // mean_score over every run: the selection rule (+inf if any diverged)
  // Each measure series' final value: mean and standard error over the runs with a finite one.
  std::map<std::string, std::pair<double, double>> measures;
};

RunRow run_row(const json& run, const std::string& metric);
std::vector<RunRow> rows_from_result(const json& doc, const std::string& source, const std::string& metric);
std::vector<RunRow> rows_from_sweep(const Sweep& sweep, const SweepPlan& plan, const RunStore& store,
                                    const std::string& source, const std::string& metric);
// Groups rows by (source, stage, arm, setting), in order of first appearance.
std::vector<SettingRow> group_settings(const std::vector<RunRow>& rows);

enum class TableFormat { markdown, csv };
std::string render_runs(const std::vector<RunRow>& rows, TableFormat format);
std::string render_settings(const std::vector<SettingRow>& rows, TableFormat format);

// Found against expected seeds per setting of every expanded stage (a file that does not verify
// is not found), the stage still waiting, every bad run file with its reason, stored files the
// sweep does not expect, runs without a checksum and the program versions the store holds.
// `complete` is set when nothing is missing and no file is bad.
std::string check_report(const Sweep& sweep, const SweepPlan& plan, const RunStore& store, bool& complete);

}  // namespace adamgn
