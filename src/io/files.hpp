// Every file adamgn writes, and its standard output and error.
// Files: adamgn writes regular files only. A symlink is written through (its target is replaced,
// the link stays); a path that is, or links to, anything else (device, FIFO, socket, folder) is
// refused with a UsageError and left untouched. A write goes to a new temporary file
// NAME.tmp.HOST.PID in the target's folder (O_EXCL), written in full, fsync'ed and closed, then
// renamed over the target, and the folder is fsync'ed: a reader, a crash or a power cut sees the
// old file or the new one, never a partial one. A replaced file keeps its permission bits; a new
// one gets 0666 minus the umask. Any failure removes the temporary and throws a UsageError naming
// the path and the system's reason.
// Streams: data printed on stdout goes through write_stdout, which flushes and throws when the
// write fails; main() guards closed descriptors at start and checks both streams at exit.
#pragma once

#include <string>

namespace adamgn {

// The host part of temporary names (gethostname, dots replaced by '_'), so that a store can tell
// its own host's leftovers (io/store.hpp).
std::string host_name();

// Throws a UsageError before any work when `path` cannot be written: its folder is missing or not
// writable, or it (or what it links to) exists and is not a regular file. `flag` names the
// option in the message.
void check_output_path(const std::string& path, const std::string& flag = "-o");
// Throws a UsageError unless `dir` is a folder, or is missing in an existing folder (to be created).
void check_output_folder(const std::string& dir, const std::string& flag = "-o");

// Replaces (or creates) the regular file at `path` with `text` as the header describes.
void write_atomically(const std::string& path, const std::string& text);
// check_output_path (messages naming -o), then write_atomically.
void write_file_atomically(const std::string& path, const std::string& text);

// Writes `text` to std::cout and flushes; throws a UsageError with the system's reason when the
// write fails (full disk, closed or read-only descriptor).
void write_stdout(const std::string& text);

// Occupies each of the descriptors 0, 1 and 2 that is closed with /dev/null opened read-only, so
// that no file opened later takes its number and every write to it fails (EBADF) and is
// reported. False when /dev/null cannot be opened.
bool guard_standard_descriptors();
// Flushes std::cout and std::cerr (and C's stdout and stderr). Empty when both streams took every
// byte written to them; otherwise the failure, as "cannot write standard output: REASON" (or
// standard error).
std::string flush_standard_streams();

}  // namespace adamgn
