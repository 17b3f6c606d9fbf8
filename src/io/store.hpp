// The results store of a sweep, one folder chosen by the user:
//   DIR/sweep.json            the sweep's definition (what it runs) and its hash
//   DIR/runs/HH/HASH.json     one finished run; HASH = config_hash of the run's resolved
//                             configuration (task, run length, optimizer, seed), HH its first two
//                             hex digits
//   DIR/quarantine/HASH.json  a run file that failed verification, moved aside by a resume
// Files are written to a temporary name (NAME.tmp.HOST.PID), synced and renamed (io/files.hpp),
// so a reader, a killed job, a concurrent shard or a power cut never sees a partial file.
// Every run file is verified whenever it is read (run_problem), and a file that fails is never
// used: the plan, check and summarize treat it as missing, and a resume moves it to
// DIR/quarantine/ (RunStore::quarantine) and reruns it. save() adds a "checksum" over the rest
// of the document; a file without one (written before checksums existed) is accepted when every
// other check passes. The program version is recorded in each run but is not part of the hash:
// check and summarize report the versions a store holds, a resume warns when they differ from
// the running program, and --overwrite reruns everything with the current one.
#pragma once

#include "core/reader.hpp"
#include "io/files.hpp"

#include <string>
#include <vector>

namespace adamgn {

// 16 hex digits of a 64-bit FNV-1a hash of the canonical text of `config` (keys sorted).
std::string config_hash(const json& config);

// Why the run document `doc`, stored under the name `hash`, cannot be used; "" when it verifies.
// Checked: schema adamgn.run/1 and the type of every field; hash = `hash` = config_hash(config);
// seed = config.seed; optimizer = config.optimizer; status ok (diverged_at null) or diverged
// (diverged_at in [0, config.run.steps]); steps exactly the steps run_one logs (0, every
// multiple of log_every, the last step), all of them for an ok run and those before diverged_at
// for a diverged one; loss, test_loss and test_accuracy as long as steps; every number finite,
// losses in [0, diverge_factor x the first loss], accuracies in [0, 1], steps_to_target the
// first logged step at or below target_loss; and the checksum, when there is one.
std::string run_problem(const json& doc, const std::string& hash);
// The "checksum" save() writes: config_hash of the document without its "checksum" field.
std::string run_checksum(const json& doc);
// "VERSION (COMMIT)" of the program that wrote a run or result document ("unknown" if absent).
std::string program_label(const json& doc);

// A stored run that cannot be used: its path and the reason.
class BadRun : public UsageError {
 public:
  BadRun(const std::string& path, const std::string& reason);
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_, reason_;
};

// One run file found under DIR/runs, verified.
struct StoredFile {
  std::string path, hash;
  std::string problem;     // "" when the file verifies
  bool checksum = false;   // it carries a checksum (and, when problem is "", it matched)
  std::string program;     // program_label of a file that verifies
};

// "VERSION (COMMIT): N runs; ..." over the files that verify, by label ("" when there are none).
std::string describe_programs(const std::vector<StoredFile>& files);
// The distinct program labels of the files that verify.
std::vector<std::string> programs_of(const std::vector<StoredFile>& files);

class RunStore {
 public:
  // Creates DIR and DIR/runs when missing (the parent folder must exist); with create = false
  // the folder must already hold a sweep.
  explicit RunStore(std::string dir, bool create = true);

  const std::string& dir() const { return dir_; }
  // Records `definition` as this folder's sweep, or checks that the folder already holds the same
  // one. A different sweep is refused with a UsageError.
  void claim(const json& definition) const;
  // The stored definition; UsageError when the folder holds no sweep.
  json definition() const;
  bool has_definition() const;

  // The run of `hash` is stored and verifies.
  bool has(const std::string& hash) const;
  // "" when the run of `hash` is stored and verifies, else why not ("no file" when absent).
  std::string problem(const std::string& hash) const;
  // The verified run; throws BadRun when it is absent or does not verify.
  json load(const std::string& hash) const;
  // The verified run, or null when it is absent or does not verify.
  json find(const std::string& hash) const;
  // Writes `run` with its "checksum" (any "checksum" it holds is replaced).
  void save(const std::string& hash, const json& run) const;
  std::string path_of(const std::string& hash) const;
  // Every stored run's hash (sorted).
  std::vector<std::string> hashes() const;
  // Every file named HASH.json under DIR/runs (sorted by path), each verified; a file outside
  // its folder runs/HH is reported as a problem.
  std::vector<StoredFile> scan() const;
  // Moves the file at `path` to DIR/quarantine/ under its own name (NAME.1, NAME.2, ... when
  // taken) with rename(2); returns the new path, or "" when the file was already gone (moved by
  // a concurrent shard). Throws UsageError when the move fails.
  std::string quarantine(const std::string& path) const;
  // Deletes temporary files left by processes of this host that no longer exist (a killed
  // job); returns how many.
  int remove_stale_temporaries() const;

 private:
  std::string dir_;
};

}  // namespace adamgn
