// Which kernels this build compiles: ADAMGN_KERNELS_PORTABLE is 1 in a portable build
// (-DADAMGN_PORTABLE=ON: every kernel's plain Eigen/BLAS/LAPACK twin) and 0 otherwise. CMake
// defines it only for the files that include a kernel header (ADAMGN_KERNEL_USERS in
// CMakeLists.txt), so that all other files compile identically in both kinds of build.
#pragma once

#ifndef ADAMGN_KERNELS_PORTABLE
#error "this file includes a kernel header: add it to ADAMGN_KERNEL_USERS in CMakeLists.txt (tests: tests/CMakeLists.txt)"
#endif
