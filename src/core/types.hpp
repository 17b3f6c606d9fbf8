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
using MatF = Eigen::MatrixXf;  // float32 work matrices (network tasks in f32)

// A mistake the user can fix (bad flag, key, value, file). The CLI prints the message on one
// line and exits with code 2; nothing else in the library catches it.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// One named parameter block inside the flat parameter vector: a matrix (rows x cols, stored
// row-major in the flat vector) or a vector (rows entries, cols == 1, matrix == false).
struct Block {
  std::string name;
  Index rows = 0;
  Index cols = 1;
  Index offset = 0;
  bool matrix = false;
  Index size() const { return rows * cols; }
};

struct Layout {
  std::vector<Block> blocks;
  Index size() const { return blocks.empty() ? 0 : blocks.back().offset + blocks.back().size(); }
  static Layout single_vector(const std::string& name, Index n) {
    Layout l;
    l.add_vector(name, n);
    return l;
  }
  void add_matrix(const std::string& name, Index rows, Index cols) {
    blocks.push_back(Block{name, rows, cols, size(), true});
  }
  void add_vector(const std::string& name, Index n) { blocks.push_back(Block{name, n, 1, size(), false}); }
};

}  // namespace adamgn
