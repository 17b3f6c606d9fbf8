// Symmetric eigendecomposition used by every basis: divide and conquer as in LAPACK's syevd when
// the build has LAPACK (tridiagonal reduction and back-transformation in kernels/tridiagonal.hpp,
// LAPACK's stedc between them; large matrices use the run's spare threads, with the same bits
// for any thread count), Eigen's solver otherwise.
// Eigenvalues come out sorted decreasingly, each eigenvector with its largest-magnitude entry
// positive, so that consecutive refreshes line up.
#pragma once

#include "core/types.hpp"

namespace adamgn {

// False (outputs untouched) when the input or the result is not finite or the solver fails.
// With `seconds`, the time spent inside is added to *seconds (`adamgn bench` reports it).
bool symmetric_eigen(const Mat& s, Vec& values, Mat& vectors, double* seconds = nullptr);
// The same in float32 (Kronecker factors of f32 tasks), results widened to double.
bool symmetric_eigen(const MatF& s, Vec& values, Mat& vectors, double* seconds = nullptr);

// Threads the BLAS library (OpenBLAS, when the build uses it) and Eigen may use inside one run.
// The runner keeps this at 1 (arms x seeds fill the cores, and results must not depend on the
// thread count).
void set_blas_threads(int threads);

}  // namespace adamgn
