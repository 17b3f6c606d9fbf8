#include "tasks/cifar.hpp"

#include "core/memory.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace adamgn {
namespace {

// The bytes of one file. It is opened without blocking, so a FIFO or a device in its place is
// refused at once instead of waiting for a writer, and anything but a regular file is refused
// before its size is trusted.
std::vector<unsigned char> read_regular_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw UsageError("CIFAR-10 file " + path + " is missing or unreadable (" + std::strerror(errno) + ")");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw UsageError("CIFAR-10 file " + path + " cannot be examined (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw UsageError("CIFAR-10 file " + path + " is not a regular file");
  const auto size = static_cast<Index>(st.st_size);
  if (size == 0 || size % kCifarRecord != 0)
    throw UsageError("CIFAR-10 file " + path + " has " + std::to_string(size) +
                     " bytes, not a whole number of 3073-byte records (truncated?)");
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw UsageError("CIFAR-10 file " + path + " could not be read (" + std::strerror(errno) + ")");
    if (n == 0)
      throw UsageError("CIFAR-10 file " + path + " ended after " + std::to_string(got) + " of " + std::to_string(size) +
                       " bytes (changed while being read?)");
    got += static_cast<std::size_t>(n);
  }
  return bytes;
}

}  // namespace

CifarSplit read_cifar_files(const std::vector<std::string>& paths) {
  std::vector<std::vector<unsigned char>> contents;
  Index total = 0;
  for (const auto& path : paths) {
    contents.push_back(read_regular_file(path));
    total += static_cast<Index>(contents.back().size()) / kCifarRecord;
  }
  CifarSplit split;
  split.pixels.resize(total, kCifarPixels);
  advise_huge_pages(split.pixels.data(), static_cast<std::size_t>(split.pixels.size()) * sizeof(float));
  split.labels.resize(static_cast<std::size_t>(total));
  Index row = 0;
  for (std::size_t f = 0; f < contents.size(); ++f) {
    const auto& bytes = contents[f];
    const Index records = static_cast<Index>(bytes.size()) / kCifarRecord;
    for (Index r = 0; r < records; ++r, ++row) {
      const unsigned char* rec = bytes.data() + r * kCifarRecord;
      if (rec[0] > 9)
        throw UsageError("CIFAR-10 file " + paths[f] + ": record " + std::to_string(r) + " has label " +
                         std::to_string(rec[0]) + " (expected 0..9)");
      split.labels[static_cast<std::size_t>(row)] = rec[0];
      for (Index p = 0; p < kCifarPixels; ++p) split.pixels(row, p) = static_cast<float>(rec[1 + p]);
    }
  }
  return split;
}

CifarSplit read_cifar_train(const std::string& dir) {
  std::vector<std::string> paths;
  for (int i = 1; i <= 5; ++i) paths.push_back(dir + "/data_batch_" + std::to_string(i) + ".bin");
  return read_cifar_files(paths);
}

CifarSplit read_cifar_test(const std::string& dir) { return read_cifar_files({dir + "/test_batch.bin"}); }

}  // namespace adamgn
