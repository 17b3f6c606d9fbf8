#include "io/cifar.hpp"

#include "core/memory.hpp"

#include <fstream>

namespace adamgn {

CifarSplit read_cifar_files(const std::vector<std::string>& paths) {
  std::vector<std::vector<unsigned char>> contents;
  Index total = 0;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw UsageError("CIFAR-10 file " + path + " is missing or unreadable");
    const auto size = static_cast<Index>(in.tellg());
    if (size == 0 || size % kCifarRecord != 0)
      throw UsageError("CIFAR-10 file " + path + " has " + std::to_string(size) +
                       " bytes, not a whole number of 3073-byte records (truncated?)");
    in.seekg(0);
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
      throw UsageError("CIFAR-10 file " + path + " could not be read");
    total += size / kCifarRecord;
    contents.push_back(std::move(bytes));
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
