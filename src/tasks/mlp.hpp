// One-hidden-layer ReLU networks f(x) = A relu(W x + b) (+ c) with the squared loss
// 1/2 |f(x) - y|^2 averaged over the batch (paper §5, C.2), on synthetic tasks with fresh samples
// every step:
//   parity     x uniform in {-1, 1}^d, y = x_1 ... x_k (the first k coordinates)
//   staircase  y = sum of parities over k equal consecutive segments of the d coordinates
//   teacher    x ~ N(0, Sigma_x) with Sigma_x = B B^T / d (B Gaussian, from the problem seed),
//              y from a random ReLU teacher of width teacher_width, plus label_noise x N(0, 1)
//              (default 0; task_info.loss_floor = label_noise^2 / 2); the student is twice as wide
//   cifar      CIFAR-10 (official binary layout, --data-dir or ADAMGN_DATA), 3072 inputs
//              standardized per channel, 10 one-hot outputs, output bias on; batches drawn with
//              replacement from the training set; the test set is test_batch.bin
// Init: W ~ N(0, 1/d), b = 0, A ~ N(0, 1/m), c = 0 (from the seed's "task" stream). The output
// bias c is off by default (paper C.2). Forward, backward and the GN pseudo-gradients are batched
// matrix products computed in float32 (precision f32, the default) or float64; parameters and
// optimizer state are float64.
//
// Recorded curves: `loss` on a fixed probe batch from the training distribution, `test_loss` and
// `test_accuracy` on a fixed held-out batch (sign agreement for parity, nearest label in
// {-k, ..., k} step 2 for staircase, argmax for cifar; teacher has no accuracy). Both come from
// the problem seed (cifar: the whole test set), so every seed and arm is evaluated on the same data.
#pragma once

#include "tasks/factory.hpp"

namespace adamgn {

// The "task" keys (defaults and ranges in the field tables of mlp.cpp's registry entries).
struct MlpConfig {
  std::string kind;     // parity | staircase | teacher | cifar
  Index dim = 0;        // input dimension
  Index k = 0;          // parity degree / staircase segments
  Index width = 0;      // hidden width
  Index teacher_width = 0;
  double label_noise = 0.0;  // teacher: sigma of the labels' Gaussian noise, y = teacher(x) + sigma xi
  bool output_bias = false;
  std::string precision;
  Index eval_size = 0;
  std::uint64_t problem_seed = 0;
  std::string data_dir;  // cifar: folder with the CIFAR-10 .bin files
  // GN pseudo-gradients with k outputs: "exact" sums the k output directions (k terms per
  // sample); "sampled" uses one direction xi ~ N(0, I_k) per sample (unbiased, k times cheaper).
  std::string gn_directions;
};

// The registry entries (tasks/registry.cpp), each with the field table of its "task" keys.
TaskEntry parity_task();
TaskEntry staircase_task();
TaskEntry teacher_task();
TaskEntry cifar_task();
std::unique_ptr<TaskFactory> make_mlp(const std::string& kind, FieldReader& r);

}  // namespace adamgn
