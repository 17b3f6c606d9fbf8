// The results store of a sweep, one folder chosen by the user:
//   DIR/sweep.json            the sweep's definition (what it runs) and its hash
//   DIR/runs/HH/HASH.json     one finished run; HASH = config_hash of the run's resolved
//                             configuration (task, run length, optimizer, seed), HH its first two
//                             hex digits
// Files are written to a temporary name (NAME.tmp.HOST.PID), synced and renamed (io/files.hpp),
// so a reader, a killed job, a concurrent shard or a power cut never sees a partial file. The program version is not part of the
// hash: after changing the code, rerun with --overwrite.
#pragma once

#include "io/files.hpp"
#include "io/reader.hpp"

#include <string>
#include <vector>

namespace adamgn {

// 16 hex digits of a 64-bit FNV-1a hash of the canonical text of `config` (keys sorted).
std::string config_hash(const json& config);

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

  bool has(const std::string& hash) const;
  json load(const std::string& hash) const;
  void save(const std::string& hash, const json& run) const;
  std::string path_of(const std::string& hash) const;
  // Every stored run's hash (sorted).
  std::vector<std::string> hashes() const;
  // Deletes temporary files left by processes of this host that no longer exist (a killed
  // job); returns how many.
  int remove_stale_temporaries() const;

 private:
  std::string dir_;
};

}  // namespace adamgn
