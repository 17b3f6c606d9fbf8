#include "kernels/tridiagonal.hpp"

#include "kernels/gemm.hpp"
#include "core/parallel.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace adamgn {
namespace {

// Columns reduced per panel (LAPACK's sytrd uses 32 too) and reflectors per block of the
// back-transformation; every threaded product is split into pieces of kPieceColumns columns.
constexpr Index kPanel = 32;
constexpr Index kReflectors = 64;

// The reflector H = I - tau v v^T with v = (1, x / (alpha - beta)) that maps (alpha, x) to
// (beta, 0) (LAPACK's larfg); alpha becomes beta and x becomes the tail of v.
template <class S, class X>
S householder(S& alpha, X&& x) {
  if (x.size() == 0) return S(0);
  const S xnorm = x.stableNorm();
  if (xnorm == S(0)) return S(0);
  const S beta = alpha >= S(0) ? -std::hypot(alpha, xnorm) : std::hypot(alpha, xnorm);
  const S tau = (beta - alpha) / beta;
  x *= S(1) / (alpha - beta);
  alpha = beta;
  return tau;
}

// y = A x for the symmetric matrix whose lower triangle is `a`. Piece p (columns c0 .. c0 + w)
// contributes to rows c0 .. end through its lower-triangle columns and their transposes; the
// contributions land in column p of `parts` and are added up in piece order, row chunk by row chunk.
template <class S, class A, class X, class Y>
void symmetric_product(const A& a, const X& x, Y&& y, DenseMatrix<S>& parts) {
  const Index m = a.rows(), pieces = column_pieces(m);
  parallel_pieces(pieces, [&](Index p) {
    const Index c0 = p * kPieceColumns, w = std::min(kPieceColumns, m - c0);
    auto part = parts.col(p).head(m - c0);
    part.head(w).noalias() = a.block(c0, c0, w, w).template selfadjointView<Eigen::Lower>() * x.segment(c0, w);
    // Below the diagonal piece, four columns at a time: one pass over them gives both their dot
    // products with x and their share of the rows below, so the matrix is read once (the
    // product is bound by memory traffic). The simd reduction fixes its own summation order.
    const Index r0 = c0 + w, below = m - r0;
    if (below == 0) return;
    const S* xt = x.data() + r0;
    S* tail = part.data() + w;
    std::fill(tail, tail + below, S(0));
    const Index stride = a.outerStride();
    Index j = 0;
    for (; j + 4 <= w; j += 4) {
      const S* c = a.data() + (c0 + j) * stride + r0;
      const S *c1 = c + stride, *c2 = c1 + stride, *c3 = c2 + stride;
      const S x0 = x[c0 + j], x1 = x[c0 + j + 1], x2 = x[c0 + j + 2], x3 = x[c0 + j + 3];
      S d0 = 0, d1 = 0, d2 = 0, d3 = 0;
#pragma omp simd reduction(+ : d0, d1, d2, d3)
      for (Index i = 0; i < below; ++i) {
        d0 += c[i] * xt[i];
        d1 += c1[i] * xt[i];
        d2 += c2[i] * xt[i];
        d3 += c3[i] * xt[i];
        tail[i] += c[i] * x0 + c1[i] * x1 + c2[i] * x2 + c3[i] * x3;
      }
      part[j] += d0;
      part[j + 1] += d1;
      part[j + 2] += d2;
      part[j + 3] += d3;
    }
    for (; j < w; ++j) {
      const S* c = a.data() + (c0 + j) * stride + r0;
      const S xj = x[c0 + j];
      S dj = 0;
#pragma omp simd reduction(+ : dj)
      for (Index i = 0; i < below; ++i) {
        dj += c[i] * xt[i];
        tail[i] += c[i] * xj;
      }
      part[j] += dj;
    }
  });
  parallel_pieces(pieces, [&](Index r) {
    const Index r0 = r * kPieceColumns, h = std::min(kPieceColumns, m - r0);
    auto out = y.segment(r0, h);
    out = parts.col(0).segment(r0, h);
    for (Index p = 1; p <= r; ++p) out += parts.col(p).segment(r0 - p * kPieceColumns, h);
  });
}

}  // namespace

template <class S>
void reduce_to_tridiagonal(DenseMatrix<S>& a, DenseVector<S>& d, DenseVector<S>& e, DenseVector<S>& tau) {
  const Index n = a.rows();
  d.resize(n);
  e.resize(std::max<Index>(n - 1, 0));
  tau.resize(std::max<Index>(n - 1, 0));
  DenseMatrix<S> parts(n, column_pieces(n)), w(n, kPanel);
  DenseVector<S> x(n), y(n), small(kPanel);
  Index k = 0;
  while (k < n - 1) {
    // One panel (LAPACK's latrd): reduce columns k .. k + pb of the trailing matrix t while
    // collecting W, so that t's remaining part is updated once, as t - V W^T - W V^T.
    const Index m = n - k, pb = std::min(kPanel, m - 1);
    auto t = a.block(k, k, m, m);
    auto wp = w.topLeftCorner(m, pb);
    for (Index i = 0; i < pb; ++i) {
      if (i > 0) {
        t.col(i).tail(m - i).noalias() -= t.block(i, 0, m - i, i) * wp.row(i).head(i).transpose();
        t.col(i).tail(m - i).noalias() -= wp.block(i, 0, m - i, i) * t.row(i).head(i).transpose();
      }
      const Index len = m - i - 1;
      S alpha = t(i + 1, i);
      const S ti = householder(alpha, t.col(i).tail(len - 1));
      e[k + i] = alpha;
      tau[k + i] = ti;
      t(i + 1, i) = S(1);
      auto v = x.head(len);
      auto wi = y.head(len);
      v = t.col(i).tail(len);
      symmetric_product<S>(t.block(i + 1, i + 1, len, len), v, wi, parts);
      if (i > 0) {
        auto s = small.head(i);
        s.noalias() = wp.block(i + 1, 0, len, i).transpose() * v;
        wi.noalias() -= t.block(i + 1, 0, len, i) * s;
        s.noalias() = t.block(i + 1, 0, len, i).transpose() * v;
        wi.noalias() -= wp.block(i + 1, 0, len, i) * s;
      }
      wi *= ti;
      wi += (S(-0.5) * ti * wi.dot(v)) * v;
      wp.col(i).tail(len) = wi;
    }
    // The rest of the trailing matrix, lower triangle (and the upper half of its diagonal
    // pieces, never read), one piece of columns per thread.
    const Index mt = m - pb;
    const auto vs = t.bottomLeftCorner(mt, pb);
    const auto ws = wp.bottomRows(mt);
    parallel_pieces(column_pieces(mt), [&](Index p) {
      const Index c0 = p * kPieceColumns, cw = std::min(kPieceColumns, mt - c0);
      auto c = t.block(pb + c0, pb + c0, mt - c0, cw);
      gemm_subtract(c, vs.middleRows(c0, mt - c0), ws.middleRows(c0, cw).transpose());
      gemm_subtract(c, ws.middleRows(c0, mt - c0), vs.middleRows(c0, cw).transpose());
    });
    for (Index i = 0; i < pb; ++i) {
      t(i + 1, i) = e[k + i];
      d[k + i] = t(i, i);
    }
    k += pb;
  }
  if (n > 0) d[n - 1] = a(n - 1, n - 1);
}

template <class S>
void apply_reduction(const DenseMatrix<S>& a, const DenseVector<S>& tau, DenseMatrix<S>& z) {
  const Index n = a.rows(), reflectors = n - 1;
  if (reflectors <= 0) return;
  // Blocks of reflectors in compact WY form: H(k0) ... H(k0 + kb - 1) = I - V T V^T (LAPACK's
  // larft, forward and column-wise), V with its zeros and unit diagonal written out.
  const Index blocks = (reflectors + kReflectors - 1) / kReflectors;
  std::vector<DenseMatrix<S>> v(static_cast<std::size_t>(blocks)), t(static_cast<std::size_t>(blocks));
  parallel_pieces(blocks, [&](Index b) {
    const Index k0 = b * kReflectors, kb = std::min(kReflectors, reflectors - k0), m = n - 1 - k0;
    DenseMatrix<S>& vb = v[static_cast<std::size_t>(b)];
    DenseMatrix<S>& tb = t[static_cast<std::size_t>(b)];
    vb = DenseMatrix<S>::Zero(m, kb);
    tb = DenseMatrix<S>::Zero(kb, kb);
    for (Index c = 0; c < kb; ++c) {
      vb(c, c) = S(1);
      vb.col(c).tail(m - c - 1) = a.col(k0 + c).tail(m - c - 1);
      const S tc = tau[k0 + c];
      if (c > 0 && tc != S(0)) {
        const DenseVector<S> overlap = -tc * (vb.leftCols(c).transpose() * vb.col(c));
        tb.col(c).head(c).noalias() = tb.topLeftCorner(c, c).template triangularView<Eigen::Upper>() * overlap;
      }
      tb(c, c) = tc;
    }
  });
  // Q z = H(0) (H(1) ... (H(n-2) z)): blocks from the last, each piece of columns on its own.
  parallel_pieces(column_pieces(z.cols()), [&](Index p) {
    const Index c0 = p * kPieceColumns, cw = std::min(kPieceColumns, z.cols() - c0);
    DenseMatrix<S> work;
    for (Index b = blocks - 1; b >= 0; --b) {
      const DenseMatrix<S>& vb = v[static_cast<std::size_t>(b)];
      auto zs = z.block(b * kReflectors + 1, c0, vb.rows(), cw);
      work.resize(vb.cols(), cw);
      gemm_into(work, vb.transpose(), zs);
      work = t[static_cast<std::size_t>(b)].template triangularView<Eigen::Upper>() * work;
      gemm_subtract(zs, vb, work);
    }
  });
}

template void reduce_to_tridiagonal(DenseMatrix<float>&, DenseVector<float>&, DenseVector<float>&,
                                    DenseVector<float>&);
template void reduce_to_tridiagonal(DenseMatrix<double>&, DenseVector<double>&, DenseVector<double>&,
                                    DenseVector<double>&);
template void apply_reduction(const DenseMatrix<float>&, const DenseVector<float>&, DenseMatrix<float>&);
template void apply_reduction(const DenseMatrix<double>&, const DenseVector<double>&, DenseMatrix<double>&);

}  // namespace adamgn
