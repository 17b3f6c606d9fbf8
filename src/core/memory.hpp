// Large buffers that are read or written in scattered order (the CIFAR training images, a batch
// being gathered column by column, the eigensolver's matrices read column by column) touch a new
// 4 KB page every few hundred bytes; asking for transparent huge pages (2 MB) on them cuts the
// TLB misses, and a fresh buffer is faulted in 512 times less often. Call it before the buffer is
// first written: pages faulted in afterwards are then huge where the kernel allows it (THP
// "madvise" or "always"). A hint only: nothing changes when the kernel declines.
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace adamgn {

inline void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::uintptr_t kHuge = std::uintptr_t(1) << 21;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

// m.resize(rows, cols), with the hint above on new storage. A matrix resized to the size it has
// keeps its storage (and its pages): buffers that are reused step after step are faulted in once.
template <class M>
void resize_huge(M& m, Eigen::Index rows, Eigen::Index cols) {
  if (m.rows() == rows && m.cols() == cols) return;
  const bool fresh = m.size() != rows * cols;
  m.resize(rows, cols);
  if (fresh) advise_huge_pages(m.data(), static_cast<std::size_t>(m.size()) * sizeof(typename M::Scalar));
}

}  // namespace adamgn
