// Sweeps: a grid of optimizer settings per arm of an experiment, run on tuning seeds, optionally
// refined around each arm's best setting, and the winner rerun on fresh seeds (paper Appendix
// C.1). A sweep is data (SweepSpec, stored as DIR/sweep.json); its jobs are numbered in a stable
// order, so job k always means the same run, and each finished run lives in the results store
// under the hash of its configuration (io/store.hpp).
//
// Stages, each expandable only once the one before is complete:
//   grid    every arm x every point of its grid x tuning seeds
//   refine  for each arm and each key K of `refine` with factor F: the best grid setting with K
//           divided and multiplied by F (points already run are not repeated)
//   rerun   each arm's best setting over grid and refine, on `rerun_seeds` fresh seeds (the
//           experiment's own seeds run.seed, run.seed + 1, ...)
// Job order: stage by stage; within a stage, arms in experiment order, grid points with the last
// axis varying fastest (axes in the order lr, alpha, beta2, beta1, schedule, batch, gn_batch,
// basis, power, basis_every, then any other key alphabetically), seeds innermost.
// Selection: score = mean over tuning seeds of the metric, a diverged run scoring +inf (so any
// divergence rules a setting out); lowest score wins, ties go to the smaller lr, then to the
// earlier setting.
#pragma once

#include "io/store.hpp"
#include "runner/experiment.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace adamgn {

struct GridAxis {
  std::string key;
  std::vector<json> values;
};

struct SweepSpec {
  json experiment;                                      // resolved experiment document
  std::vector<GridAxis> grid;                           // axes for every arm
  std::map<std::string, std::vector<GridAxis>> arm_grid;  // per-arm axes (replace same-key axes)
  bool protocol = false;              // add the paper's default axes for keys not given
  std::vector<std::pair<std::string, double>> refine;   // key, factor
  Index seeds = 2;                    // tuning seeds per setting
  std::uint64_t seed = 1000;          // first tuning seed
  Index rerun_seeds = 0;              // fresh seeds for each arm's winner (0: no rerun stage)
  std::string metric = "final";       // final | final-test | log-auc

  // The canonical definition stored in DIR/sweep.json; from_json reads it back (strictly).
  json to_json() const;
  static SweepSpec from_json(const json& doc);
  void validate() const;
};

// "lr=0.001 beta2=0.9": a grid point as text.
std::string describe_setting(const json& setting);

// Axis syntax of `--grid KEY=VALUES`: "A:B:xF" (A, A*F, ... up to B within rounding), or a
// comma-separated list of values.
GridAxis parse_axis(const std::string& assignment);
// Merges a sweep document's keys (grid, arm_grid, protocol, refine, seeds, seed, rerun_seeds,
// metric; a preset's "sweep" section has the same form) into `spec`.
void read_sweep_fields(SweepSpec& spec, const json& fields, const std::string& where);

struct SweepJob {
  Index index = 0;
  std::string stage;         // grid | refine | rerun
  Index arm = 0;             // position in the experiment's arms
  json setting;              // the grid keys and their values
  Index setting_id = 0;      // position in the plan's settings
  json optimizer;            // the arm's resolved optimizer configuration
  std::uint64_t seed = 0;
  std::string hash;          // of the run's configuration: the store key
};

struct SweepSetting {
  Index id = 0;
  std::string stage;
  Index arm = 0;
  json setting;
  json optimizer;
  std::string hash;                // of the configuration without the seed
  std::vector<Index> jobs;         // indices into the plan's jobs
};

struct ArmSelection {
  Index arm = 0;
  Index winner = -1;  // setting id; -1 when every setting diverged
  double score = 0.0;
  Index settings_tried = 0;
};

struct SweepPlan {
  std::vector<SweepJob> jobs;          // every job of the stages that can be expanded now
  std::vector<SweepSetting> settings;
  std::vector<std::string> stages;     // the stages the sweep has
  std::vector<std::string> expanded;   // the stages in `jobs`
  std::string waiting;                 // the first stage that cannot be expanded yet ("" if none)
  std::vector<ArmSelection> selection; // filled when every tuning stage is complete
  std::vector<bool> stored;            // per job: its run is stored and verifies (empty without a store)
  bool complete = false;               // every stage expanded and every job stored
};

class Sweep {
 public:
  explicit Sweep(SweepSpec spec);
  const SweepSpec& spec() const { return spec_; }
  const ExperimentSpec& experiment() const { return experiment_; }
  const TaskFactory& factory() const { return *factory_; }
  // The task of arm `arm` (the experiment's, or its own when the arm sets task keys).
  const TaskFactory& arm_factory(Index arm) const { return *arm_factories_[static_cast<std::size_t>(arm)]; }

  // Expands every stage whose predecessors are complete in `store` (a run file that fails
  // verification counts as missing).
  SweepPlan plan(const RunStore& store) const;
  // The grid stage alone, which needs no store (its jobs' sizes bound the later stages' unless
  // `refine` scales a batch).
  SweepPlan grid() const { return expand(nullptr); }
  // The store key of one run and the configuration it hashes.
  json run_config(Index arm, const json& optimizer, std::uint64_t seed) const;
  // A stored run's score under the sweep's metric (+inf when diverged).
  double score(const json& run) const;
  // Runs one job to the stored document (throws Interrupted when a stop is requested).
  json execute(const SweepJob& job) const;

 private:
  SweepSpec spec_;
  ExperimentSpec experiment_;
  SweepPlan expand(const RunStore* store) const;  // nullptr: the grid stage only
  // One setting of an arm as a stage's setting and its jobs (seeds first_seed...), appended to p.
  void add_setting(SweepPlan& p, const std::string& stage, Index arm, const json& setting, std::uint64_t first_seed,
                   Index n_seeds) const;
  void expand_grid(SweepPlan& p) const;
  void expand_refine(SweepPlan& p, const std::vector<double>& scores) const;  // scores: per job of p
  std::shared_ptr<const TaskFactory> factory_;
  ArmFactories arm_factories_;
  std::vector<json> arm_docs_;  // each arm's optimizer keys, defaults merged
};

// The score of one run document under a metric (+inf for a diverged run or a missing value).
double run_score(const json& run, const std::string& metric);
// Mean of scores (+inf if any is +inf or there are none).
double mean_score(const std::vector<double>& scores);

// Per-arm selection over the settings of the given stages (ties to smaller lr, then earlier).
std::vector<ArmSelection> select_winners(const SweepPlan& plan, const std::vector<double>& job_scores,
                                         const std::vector<std::string>& stages, Index arms);

}  // namespace adamgn
