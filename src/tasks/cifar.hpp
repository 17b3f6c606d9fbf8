// Reader for the official CIFAR-10 binary layout: data_batch_1.bin .. data_batch_5.bin and
// test_batch.bin, each a sequence of 3073-byte records (1 label byte in 0..9, then 1024 red,
// 1024 green and 1024 blue bytes of a 32 x 32 image, row-major). Any missing, truncated (size not
// a multiple of 3073) or malformed (label > 9) file, and anything in a file's place that is not a
// regular file (a folder, a FIFO, a device: checked without blocking), is a UsageError naming the
// file.
#pragma once

#include "core/types.hpp"

#include <string>
#include <vector>

namespace adamgn {

struct CifarSplit {
  // n x 3072, values 0..255, channel-major as in the file; row-major so one image is contiguous.
  Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> pixels;
  std::vector<unsigned char> labels;
};

constexpr Index kCifarRecord = 3073;
constexpr Index kCifarPixels = 3072;

// Reads one or more files into one split, in order.
CifarSplit read_cifar_files(const std::vector<std::string>& paths);

// The training (5 batches) and test splits from a folder.
CifarSplit read_cifar_train(const std::string& dir);
CifarSplit read_cifar_test(const std::string& dir);

}  // namespace adamgn
