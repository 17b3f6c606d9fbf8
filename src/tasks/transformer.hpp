// The selection task of paper §5 / C.4 with a one-layer, one-head attention model.
//
// Data: T Gaussian tokens x_1..x_T in R^d (N(0, I), drawn in float: Box-Muller on 24-bit uniforms), then a one-hot selector token s = e_i (d >= T,
// i uniform in 1..T); label y = <theta*, x_i> with theta* ~ N(0, I/d) fixed per seed (from the
// seed's "task" stream). Fresh samples every step; `loss` on a fixed probe batch and `test_loss`
// on a fixed held-out batch (inputs from the problem seed, labels from the seed's theta*).
//
// Model (width D, MLP width F, L = T + 1 positions, scalar readout from the last position):
//   h_t = W_in x_t + b_in + P_t                        input projection and learned positions
//   q = W_q h_L,  k_t = W_k h_t,  v_t = W_v h_t         no biases
//   a = softmax_t(q . k_t / sqrt(D)),  r = h_L + W_o sum_t a_t v_t
//   z = r + W_2 relu(W_1 r + b_1) + b_2,  f = w_out . z + c_out
// with the squared loss 1/2 (f - y)^2 averaged over the batch. No layer norm.
//
// Only the last position reaches the output, so nothing is computed for the other positions
// beyond what the last query needs: with u = W_k^T q / sqrt(D) the scores are
// x_t . (W_in^T u) + b_in . u + P_t . u, and sum_t a_t v_t = W_v (W_in X^T a + b_in + P^T a).
// Per sample that is O(D^2 + D F + L d) work instead of O(L (D^2 + D F)). The gradient of every
// block follows the same structure; the per-sample gradient of W_in, b_in and P has rank at most
// three (u (X^T g)^T + c (X^T a)^T + e x_L^T), every other matrix block rank one. The tests check
// all of it against finite differences of the plain per-position definition.
//
// Init: matrices N(0, 1/fan_in), biases 0, P ~ N(0, 0.02^2), from the seed's "task" stream.
// Precision f32 (default) or f64 for the batched products; parameters and state are float64.
//
// GN information: the diagonal (identity basis), the full matrix for small instances, and
// pseudo-gradients for the Kronecker basis of every block: one rank-one term per sample, and for
// W_in and P three grouped terms per sample whose cross terms the factors keep (task.hpp). The
// factors and diagonals are then batched products; no step loops over samples.
#pragma once

#include "tasks/factory.hpp"

namespace adamgn {

// The "task" keys (defaults and ranges in transformer_task()'s field table).
struct TransformerConfig {
  Index tokens = 0;     // T
  Index dim = 0;        // d (>= T)
  Index width = 0;      // D
  Index mlp_width = 0;  // F
  std::string precision;
  Index eval_size = 0;
  std::uint64_t problem_seed = 0;
  Index positions() const { return tokens + 1; }
};

// Its registry entry (tasks/registry.cpp), with the field table of its "task" keys.
TaskEntry transformer_task();
std::unique_ptr<TaskFactory> make_transformer(FieldReader& r);

// The model's layout for a configuration (block order: W_in, b_in, P, W_q, W_k, W_v, W_o, W_1,
// b_1, W_2, b_2, w_out, c_out).
Layout transformer_layout(const TransformerConfig& c);

// n fresh samples as the task draws them: tokens (row s L + t; the selector last) and the selected
// position of each sample. Samples come in pieces of 1024, each from its own stream seeded by one
// number drawn from `rng`, so the task draws pieces side by side on spare threads.
void transformer_tokens(const TransformerConfig& c, Index n, Rng& rng, Mat& tokens, std::vector<Index>& selected);
void transformer_tokens(const TransformerConfig& c, Index n, Rng& rng, RowMat& tokens, std::vector<Index>& selected);

// f for each sample; `tokens` holds n samples of L rows of d values (row s L + t is token t of
// sample s, the selector last), evaluated per position exactly as written in the header comment,
// in float64. A reference for the tests.
Vec transformer_reference_outputs(const TransformerConfig& c, const Vec& theta, const Mat& tokens);

}  // namespace adamgn
