#include "io/store.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace adamgn {
namespace {

bool is_dir(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0777) != 0 && errno != EEXIST)
    throw UsageError("cannot create folder " + path + ": " + std::strerror(errno));
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string config_hash(const json& config) {
  const std::string text = config.dump();
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

RunStore::RunStore(std::string dir, bool create) : dir_(std::move(dir)) {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  if (dir_.empty()) throw UsageError("empty folder name");
  if (!create) {
    if (!has_definition()) throw UsageError(dir_ + " holds no sweep (no sweep.json)");
    return;
  }
  const auto slash = dir_.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir_.substr(0, slash));
  if (!is_dir(parent)) throw UsageError(dir_ + ": folder " + parent + " does not exist");
  make_dir(dir_);
  make_dir(dir_ + "/runs");
}

bool RunStore::has_definition() const { return access((dir_ + "/sweep.json").c_str(), F_OK) == 0; }

json RunStore::definition() const {
  if (!has_definition()) throw UsageError(dir_ + " holds no sweep (no sweep.json)");
  try {
    return json::parse(read_text(dir_ + "/sweep.json"));
  } catch (const json::parse_error&) {
    throw UsageError(dir_ + "/sweep.json: invalid JSON");
  }
}

void RunStore::claim(const json& definition) const {
  const std::string hash = config_hash(definition);
  if (has_definition()) {
    const json old = this->definition();
    if (old.value("hash", "") != hash)
      throw UsageError(dir_ + " already holds a different sweep (" + old.value("hash", std::string("?")) +
                       ", this one is " + hash + "); use another --out folder");
    return;
  }
  json doc = json{{"schema", "adamgn.sweep-store/1"}, {"hash", hash}, {"sweep", definition}};
  write_atomically(dir_ + "/sweep.json", doc.dump(2) + "\n");
}

std::string RunStore::path_of(const std::string& hash) const {
  return dir_ + "/runs/" + hash.substr(0, 2) + "/" + hash + ".json";
}

bool RunStore::has(const std::string& hash) const { return access(path_of(hash).c_str(), F_OK) == 0; }

json RunStore::load(const std::string& hash) const {
  try {
    return json::parse(read_text(path_of(hash)));
  } catch (const json::parse_error&) {
    throw UsageError(path_of(hash) + ": invalid JSON (remove it and rerun the sweep)");
  }
}

void RunStore::save(const std::string& hash, const json& run) const {
  make_dir(dir_ + "/runs/" + hash.substr(0, 2));
  write_atomically(path_of(hash), run.dump() + "\n");
}

std::vector<std::string> RunStore::hashes() const {
  std::vector<std::string> out;
  for (const auto& sub : entries(dir_ + "/runs"))
    for (const auto& name : entries(dir_ + "/runs/" + sub))
      if (name.size() == 21 && name.compare(16, 5, ".json") == 0) out.push_back(name.substr(0, 16));
  std::sort(out.begin(), out.end());
  return out;
}

int RunStore::remove_stale_temporaries() const {
  const std::string marker = ".tmp." + host_name() + ".";
  int removed = 0;
  auto sweep_folder = [&](const std::string& folder) {
    for (const auto& name : entries(folder)) {
      const auto at = name.find(marker);
      if (at == std::string::npos) continue;
      const long pid = std::strtol(name.c_str() + at + marker.size(), nullptr, 10);
      if (pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;  // still alive
      if (std::remove((folder + "/" + name).c_str()) == 0) ++removed;
    }
  };
  sweep_folder(dir_);
  for (const auto& sub : entries(dir_ + "/runs")) sweep_folder(dir_ + "/runs/" + sub);
  return removed;
}

}  // namespace adamgn
