// Basic numeric types shared by every piece of adamgn.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace adamgn {

using Index = Eigen::Index;
using Vec = Eigen::VectorXd;
using Mat = Eigen::MatrixXd;

// A mistake the user can fix (bad flag, key, value, file). The CLI prints the message on one
// line and exits with code 2; nothing else in the library catches it.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One named parameter block inside the flat parameter vector: a matrix (rows x cols, stored
// row-major in the flat vector) or a vector (cols == 1).
struct Block {
  std::string name;
  Index rows = 0;
  Index cols = 1;
  Index offset = 0;
  Index size() const { return rows * cols; }
};

struct Layout {
  std::vector<Block> blocks;
  Index size() const { return blocks.empty() ? 0 : blocks.back().offset + blocks.back().size(); }
  static Layout single_vector(const std::string& name, Index n) {
    Layout l;
    l.blocks.push_back(Block{name, n, 1, 0});
    return l;
  }
};

}  // namespace adamgn
