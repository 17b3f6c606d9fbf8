#include "kernels/gemm.hpp"

#include <algorithm>
#include <vector>

namespace adamgn::gemm_detail {
namespace {

using Eigen::internal::packet_traits;
using P = packet_traits<float>::type;
constexpr int L = packet_traits<float>::size;
// Register tile: MP packets of rows by NR columns of c, sized so that the MP * NR accumulators,
// the MP packets of a and one broadcast of b fit the vector registers (32 with AVX-512, 16 below).
constexpr int MP = L >= 16 ? 3 : 2;
constexpr int NR = L >= 16 ? 8 : 6;
constexpr Index MR = MP * L;
// Cache blocks: a packed MC x KC block of a stays in L2 while the KC x NR slivers of the packed
// KC x NC panel of b stream through L1.
constexpr Index KC = 256;
constexpr Index MC = 4 * MR;
constexpr Index NC = 2048;

// How a tile's product meets c: written over it, added to it, or subtracted from it.
enum class Into { store, add, subtract };

// c(0..MR, 0..NR) (leading dimension ldc) =, += or -= the packed MR x kc sliver of a times the
// packed kc x NR sliver of b.
inline void micro(Index kc, const float* ap, const float* bp, float* c, Index ldc, Into into) {
  using namespace Eigen::internal;
  P acc[MP][NR];
  for (int p = 0; p < MP; ++p)
    for (int q = 0; q < NR; ++q) acc[p][q] = pset1<P>(0.0f);
  for (Index kk = 0; kk < kc; ++kk, ap += MR, bp += NR) {
    P av[MP];
    for (int p = 0; p < MP; ++p) av[p] = pload<P>(ap + p * L);
    for (int q = 0; q < NR; ++q) {
      const P bq = pset1<P>(bp[q]);
      for (int p = 0; p < MP; ++p) acc[p][q] = pmadd(av[p], bq, acc[p][q]);
    }
  }
  for (int q = 0; q < NR; ++q)
    for (int p = 0; p < MP; ++p) {
      float* out = c + q * ldc + p * L;
      if (into == Into::store) pstoreu(out, acc[p][q]);
      else if (into == Into::add) pstoreu(out, padd(ploadu<P>(out), acc[p][q]));
      else pstoreu(out, psub(ploadu<P>(out), acc[p][q]));
    }
}

}  // namespace

void blocked_sgemm(Index m, Index n, Index k, const Strided<float>& a, const Strided<float>& b, float* c, Index ldc,
                   bool subtract) {
  // Packed buffers, aligned for pload; reused between calls on the same thread.
  thread_local std::vector<float, Eigen::aligned_allocator<float>> apack, bpack;  // aligned to the vector width
  float edge[MR * NR];
  for (Index jc = 0; jc < n; jc += NC) {
    const Index nc = std::min(NC, n - jc), slivers = (nc + NR - 1) / NR;
    for (Index pc = 0; pc < k; pc += KC) {
      const Index kc = std::min(KC, k - pc);
      const Into into = subtract ? Into::subtract : pc > 0 ? Into::add : Into::store;
      // b(pc .. pc + kc, jc .. jc + nc) as kc x NR slivers, zero-padded past column n.
      bpack.resize(static_cast<std::size_t>(slivers * NR * kc));
      float* bdst = bpack.data();
      for (Index s = 0; s < slivers; ++s) {
        float* out = bdst + s * NR * kc;
        const Index j0 = jc + s * NR, cols = std::min<Index>(NR, n - j0);
        for (Index q = 0; q < NR; ++q) {
          if (q < cols) {
            for (Index kk = 0; kk < kc; ++kk) out[kk * NR + q] = b(pc + kk, j0 + q);
          } else {
            for (Index kk = 0; kk < kc; ++kk) out[kk * NR + q] = 0.0f;
          }
        }
      }
      for (Index ic = 0; ic < m; ic += MC) {
        const Index mc = std::min(MC, m - ic), rows = (mc + MR - 1) / MR;
        // a(ic .. ic + mc, pc .. pc + kc) as MR x kc slivers, zero-padded past row m.
        apack.resize(static_cast<std::size_t>(rows * MR * kc));
        float* adst = apack.data();
        for (Index r = 0; r < rows; ++r) {
          float* out = adst + r * MR * kc;
          const Index i0 = ic + r * MR, len = std::min<Index>(MR, m - i0);
          if (a.sk == 1) {  // columns of a are contiguous
            for (Index kk = 0; kk < kc; ++kk) {
              const float* src = a.data + i0 + (pc + kk) * a.sj;
              float* o = out + kk * MR;
              for (Index i = 0; i < len; ++i) o[i] = src[i];
              for (Index i = len; i < MR; ++i) o[i] = 0.0f;
            }
          } else {
            for (Index i = 0; i < MR; ++i) {
              if (i < len) {
                for (Index kk = 0; kk < kc; ++kk) out[kk * MR + i] = a(i0 + i, pc + kk);
              } else {
                for (Index kk = 0; kk < kc; ++kk) out[kk * MR + i] = 0.0f;
              }
            }
          }
        }
        for (Index s = 0; s < slivers; ++s) {
          const Index j0 = jc + s * NR, cols = std::min<Index>(NR, n - j0);
          for (Index r = 0; r < rows; ++r) {
            const Index i0 = ic + r * MR, len = std::min<Index>(MR, m - i0);
            const float* ap = adst + r * MR * kc;
            const float* bp = bdst + s * NR * kc;
            float* ct = c + i0 + j0 * ldc;
            if (len == MR && cols == NR) {
              micro(kc, ap, bp, ct, ldc, into);
            } else {  // a partial tile: through a full-size scratch tile
              micro(kc, ap, bp, edge, MR, Into::store);
              for (Index q = 0; q < cols; ++q)
                for (Index i = 0; i < len; ++i) {
                  float& out = ct[q * ldc + i];
                  const float e = edge[q * MR + i];
                  out = into == Into::store ? e : into == Into::add ? out + e : out - e;
                }
            }
          }
        }
      }
    }
  }
}

}  // namespace adamgn::gemm_detail
