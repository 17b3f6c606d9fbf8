#include "io/files.hpp"

#include "core/types.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

namespace adamgn {
namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string reason(int err) { return err != 0 ? std::strerror(err) : "an earlier write failed"; }

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

// The file a write to `path` replaces: symlinks followed to the end of the chain (the last one
// may name a file that does not exist yet), in a folder given by its canonical path.
struct Target {
  std::string path, folder;
  bool exists = false;
  mode_t mode = 0;
};

// `shown` starts every message ("-o out.json" or "out.json").
Target resolve(const std::string& path, const std::string& shown) {
  if (path.empty()) throw UsageError(shown + ": empty file name");
  std::string p = path;
  struct stat st {};
  bool exists = false;
  int links = 0;
  for (;; ++links) {
    if (lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) throw UsageError(shown + ": " + std::strerror(errno));
      break;
    }
    if (!S_ISLNK(st.st_mode)) {
      exists = true;
      break;
    }
    if (links == 40) throw UsageError(shown + ": " + std::strerror(ELOOP));
    char buf[PATH_MAX];
    const ssize_t n = readlink(p.c_str(), buf, sizeof buf - 1);
    if (n < 0) throw UsageError(shown + ": " + std::strerror(errno));
    const std::string link(buf, static_cast<std::size_t>(n));
    p = link.front() == '/' ? link : folder_of(p) + "/" + link;
  }
  Target t;
  const std::string folder = folder_of(p);
  char canonical[PATH_MAX];
  if (!realpath(folder.c_str(), canonical)) {
    if (errno == ENOENT) throw UsageError(shown + ": folder " + folder + " does not exist");
    throw UsageError(shown + ": folder " + folder + ": " + std::strerror(errno));
  }
  t.folder = canonical;
  t.path = (t.folder == "/" ? "" : t.folder) + "/" + name_of(p);
  t.exists = exists;
  t.mode = exists ? st.st_mode : 0;
  if (exists && !S_ISREG(st.st_mode))
    throw UsageError(shown + (links > 0 ? " (a link to " + t.path + ")" : "") + " is " + kind_of(st.st_mode) +
                     ", not a regular file; adamgn writes only regular files");
  return t;
}

// The temporary file of one write: closed, and removed unless it was renamed into place.
struct Temporary {
  std::string path;
  int fd = -1;
  bool created = false;
  ~Temporary() {
    if (fd >= 0) close(fd);
    if (created) unlink(path.c_str());
  }
};

// Writes all of `text` to `fd`; 0 or the errno of the failure.
int write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;  // a regular file never takes zero bytes of a non-empty write
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

// Gives the temporary its mode and content, syncs and closes it; 0 or the errno of the failure.
int fill(Temporary& tmp, const Target& t, const std::string& text) {
  if (t.exists && fchmod(tmp.fd, t.mode & 07777) != 0) return errno;
  if (const int err = write_all(tmp.fd, text)) return err;
  if (fsync(tmp.fd) != 0) return errno;
  const int fd = tmp.fd;
  tmp.fd = -1;
  // Linux releases the descriptor even when close reports EINTR, and the data is already synced.
  if (close(fd) != 0 && errno != EINTR) return errno;
  return 0;
}

// Makes the rename durable; a file system that cannot sync folders (EINVAL) is accepted.
int sync_folder(const std::string& folder) {
  const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int err = fsync(fd) == 0 || errno == EINVAL ? 0 : errno;
  close(fd);
  return err;
}

}  // namespace

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "host";
  std::string h(buf);
  std::replace(h.begin(), h.end(), '.', '_');
  return h;
}

void check_output_path(const std::string& path, const std::string& flag) {
  const Target t = resolve(path, flag + " " + path);
  if (access(t.folder.c_str(), W_OK) != 0)
    throw UsageError(flag + " " + path + ": folder " + t.folder + " is not writable");
}

void check_output_folder(const std::string& dir, const std::string& flag) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw UsageError(flag + " " + dir + " is " + kind_of(st.st_mode) + ", not a folder");
    return;
  }
  const std::string parent = folder_of(dir);
  if (stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw UsageError(flag + " " + dir + ": folder " + parent + " does not exist");
}

void write_atomically(const std::string& path, const std::string& text) {
  const Target t = resolve(path, path);
  auto failure = [&](int err) { return UsageError("cannot write " + path + ": " + std::strerror(err)); };
  Temporary tmp;
  tmp.path = t.path + ".tmp." + host_name() + "." + std::to_string(getpid());
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  tmp.fd = open(tmp.path.c_str(), flags, 0666);
  if (tmp.fd < 0 && errno == EEXIST) {
    // Left by an earlier process that had this process id: no live writer owns it.
    unlink(tmp.path.c_str());
    tmp.fd = open(tmp.path.c_str(), flags, 0666);
  }
  if (tmp.fd < 0) throw failure(errno);
  tmp.created = true;
  if (const int err = fill(tmp, t, text)) throw failure(err);
  // The target may have changed since it was resolved; never rename over anything but a file.
  struct stat st {};
  if (lstat(t.path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw UsageError(path + " is " + kind_of(st.st_mode) + ", not a regular file; adamgn writes only regular files");
  if (rename(tmp.path.c_str(), t.path.c_str()) != 0) throw failure(errno);
  tmp.created = false;
  if (const int err = sync_folder(t.folder)) throw failure(err);
}

void write_file_atomically(const std::string& path, const std::string& text) {
  check_output_path(path);
  write_atomically(path, text);
}

void write_stdout(const std::string& text) {
  errno = 0;
  std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::cout.flush();
  if (!std::cout) throw UsageError("cannot write standard output: " + reason(errno));
}

bool guard_standard_descriptors() {
  // Lower descriptors are open by the time each is checked, so open() returns exactly `fd`.
  for (int fd = 0; fd <= 2; ++fd)
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF && open("/dev/null", O_RDONLY) != fd) return false;
  return true;
}

std::string flush_standard_streams() {
  errno = 0;
  const bool out_ok = std::cout.flush().good() && std::fflush(stdout) == 0 && !std::ferror(stdout);
  const int out_err = errno;
  errno = 0;
  const bool err_ok = std::cerr.flush().good() && std::fflush(stderr) == 0 && !std::ferror(stderr);
  const int err_err = errno;
  if (!out_ok) return "cannot write standard output: " + reason(out_err);
  if (!err_ok) return "cannot write standard error: " + reason(err_err);
  return "";
}

}  // namespace adamgn
