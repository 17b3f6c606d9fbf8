// Symmetric eigendecomposition used by every basis: LAPACK's divide-and-conquer dsyevd/ssyevd (through
// OpenBLAS, single-threaded inside a run) when the build has it, Eigen's solver otherwise.
// Eigenvalues come out sorted decreasingly, each eigenvector with its largest-magnitude entry
// positive, so that consecutive refreshes line up.
#pragma once

#include "core/types.hpp"

namespace adamgn {

// False (outputs untouched) when the input or the result is not finite or the solver fails.
// With `seconds`, the time spent inside is added to *seconds (`adamgn bench` reports it).
bool symmetric_eigen(const Mat& s, Vec& values, Mat& vectors, double* seconds = nullptr);
// The same in float32 (ssyevd; Kronecker factors of f32 tasks), results widened to double.
bool symmetric_eigen(const MatF& s, Vec& values, Mat& vectors, double* seconds = nullptr);

// Orders eigenpairs by decreasing eigenvalue and fixes each vector's sign (see above).
void sort_and_fix_signs(Vec& values, Mat& vectors);

// Which solver symmetric_eigen uses ("tridiagonal reduction + lapack stedc" or "eigen").
const char* eigensolver_name();

// Threads the BLAS library (OpenBLAS, when the build uses it) and Eigen may use inside one run.
// The runner keeps this at 1 (arms x seeds fill the cores, and results must not depend on the
// thread count).
void set_blas_threads(int threads);

}  // namespace adamgn
