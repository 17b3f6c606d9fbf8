// Running a sweep (runner/sweep.hpp) into its results store, on this machine or as Slurm job
// arrays. run_sweep_jobs first verifies the stored runs (a bad file is quarantined, so its job
// runs again), then runs the pending jobs of every stage that can be expanded, a stage at a time,
// with arms x seeds spread over threads; each finished run is stored at once. SIGINT or SIGTERM
// stops it between steps: unfinished runs leave nothing and rerunning the same command finishes
// the sweep. slurm_script writes the same work as one job array per stage.
#pragma once

#include "io/store.hpp"
#include "runner/sweep.hpp"

#include <cstddef>
#include <string>

namespace adamgn {

struct SweepRunOptions {
  Index shard = 0, shards = 0;  // shards > 0: only the jobs with index % shards == shard, one pass
  Index index = -1;             // >= 0: only this job of the stages expandable now, one pass
  bool overwrite = false;       // rerun jobs whose results are stored
  Index threads = 0;            // 0: all cores
  bool progress = false;        // a progress line on stderr
};

struct SweepRunOutcome {
  SweepPlan plan;          // the plan once the last jobs ran
  std::size_t ran = 0;     // runs this call stored
  bool interrupted = false;
  int signal = 0;          // the signal that interrupted it
  double seconds = 0.0;
};

// Runs the sweep's pending jobs. One shard or one job (`index`) runs once; otherwise stages are
// expanded and run until the sweep is complete or no job is left.
SweepRunOutcome run_sweep_jobs(const Sweep& sweep, const RunStore& store, const SweepRunOptions& options);

// The numbered jobs of the stages expandable now, one tab-separated line each (index, stage, arm,
// seed, stored, setting, hash) under a header line, and a note on the stage still waiting.
std::string job_list(const Sweep& sweep, const SweepPlan& plan);

struct SlurmOptions {
  std::string binary;   // the adamgn binary the jobs run
  std::string out;      // the sweep folder (absolute)
  std::string script;   // where the script will be written (named in its comments)
  Index shards = 4;     // array tasks per stage
  Index cpus = 1;       // cpus (threads) per array task
};

// A bash script that submits one job array per stage, each waiting for the one before, then a
// job that writes the sweep's documents.
std::string slurm_script(const SweepPlan& plan, const SlurmOptions& options);

// A duration for people: "4.2s", "38s", "12m05s", "2.5h".
std::string format_duration(double seconds);

}  // namespace adamgn
