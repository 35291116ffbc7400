// Per-column solvers shared by the host and CUDA backends.
//
// Both backends call exactly this code: the host once per column inside an OpenMP loop, the
// CUDA kernel once per thread. Vectors are reached through Vec, which strides its elements
// (stride 1 on the host; on the device the workspace of consecutive threads is interleaved
// so that a warp's accesses to element i are coalesced). The host tests therefore exercise
// the same arithmetic and control flow as the GPU kernel.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>

#include "nnmf/matrix.hpp"

#if defined(__CUDACC__)
#define NNMF_HD __host__ __device__ __forceinline__
#else
#define NNMF_HD inline
#endif

namespace nnmf::detail {

/// Compile-time unit stride (host).
struct UnitStride {
  NNMF_HD constexpr index_t operator()() const { return 1; }
};
/// Run-time stride (device: number of threads sharing the interleaved workspace).
struct RunStride {
  index_t s;
  NNMF_HD index_t operator()() const { return s; }
};

/// A strided vector: element i lives at p[i * stride].
template <class T, class St>
struct Vec {
  T* p;
  St st;
  NNMF_HD T& operator[](index_t i) const { return p[i * st()]; }
};

template <class T>
struct ColumnParams {
  T tol_rel;     ///< relative optimality tolerance
  T pivot_eps;   ///< admit index t only if its Cholesky pivot^2 > pivot_eps * G_tt
  int max_iter;  ///< cap on active-set iterations
};

/// Packed row-wise lower-triangular storage: row r holds L(r, 0..r-1) from offset r(r+1)/2,
/// followed by the reciprocal 1 / L(r, r) of its diagonal entry (the solves multiply by it:
/// a division on the critical path of every row costs more than the row's other work).
NNMF_HD index_t tri_off(index_t r) { return r * (r + 1) / 2; }

/// sum_{q < n} a[ao + q] * b[bo + q] with four independent accumulators: the solves are
/// latency-bound on one chain of multiply-adds; four chains run in parallel. (Vectorising
/// these short reductions was measured: more instructions, not fewer, for |P| <= 64.)
template <class T, class VA, class VB>
NNMF_HD T dot_prefix(VA a, index_t ao, VB b, index_t bo, index_t n) {
  T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  index_t q = 0;
  for (; q + 4 <= n; q += 4) {
    s0 += a[ao + q] * b[bo + q];
    s1 += a[ao + q + 1] * b[bo + q + 1];
    s2 += a[ao + q + 2] * b[bo + q + 2];
    s3 += a[ao + q + 3] * b[bo + q + 3];
  }
  for (; q < n; ++q) s0 += a[ao + q] * b[bo + q];
  return (s0 + s1) + (s2 + s3);
}

/// Per-column scratch of nnls_column and masked_solve_column. Reals: z, w, y (k each) and the
/// packed factor L (k(k+1)/2); ints: P, state and cand (k each).
template <class T, class St>
struct ColumnWorkspace {
  Vec<T, St> z, w, y, L;
  Vec<int, St> P, state, cand;

  /// Reals and ints needed for rank k.
  NNMF_HD static index_t reals(index_t k) { return 3 * k + k * (k + 1) / 2; }
  NNMF_HD static index_t ints(index_t k) { return 3 * k; }
  /// Carves the workspace from @p real and @p ints laid out with stride @p st (element i of
  /// this column's scratch at base[i * stride]).
  NNMF_HD static ColumnWorkspace carve(T* real, int* ints, index_t k, St st) {
    ColumnWorkspace ws{{real, st},         {real + k * st(), st}, {real + 2 * k * st(), st},
                       {real + 3 * k * st(), st}, {ints, st},         {ints + k * st(), st},
                       {ints + 2 * k * st(), st}};
    return ws;
  }
};

/// Solves L y = b in place (b, y in passive-set order, length np).
template <class T, class LV, class St>
NNMF_HD void tri_forward(LV L, index_t np, Vec<T, St> b) {
  for (index_t r = 0; r < np; ++r) {
    const index_t o = tri_off(r);
    b[r] = (b[r] - dot_prefix<T>(L, o, b, 0, r)) * L[o + r];
  }
}

/// Solves L^T z = y in place (row-oriented so that rows of the packed factor are read).
template <class T, class LV, class St>
NNMF_HD void tri_backward(LV L, index_t np, Vec<T, St> y) {
  for (index_t r = np - 1; r >= 0; --r) {
    const index_t o = tri_off(r);
    const T zr = y[r] * L[o + r];
    y[r] = zr;
    index_t q = 0;
    for (; q + 4 <= r; q += 4) {
      const T l0 = L[o + q], l1 = L[o + q + 1], l2 = L[o + q + 2], l3 = L[o + q + 3];
      y[q] -= l0 * zr;
      y[q + 1] -= l1 * zr;
      y[q + 2] -= l2 * zr;
      y[q + 3] -= l3 * zr;
    }
    for (; q < r; ++q) y[q] -= L[o + q] * zr;
  }
}

/// Appends variable t as row np of the Cholesky factor of G_PP (P = P[0..np), G + shift*I).
/// Returns false, leaving the factor unchanged, when the new pivot^2 <= pivot_eps * G_tt
/// (column t numerically in the span of the passive columns) or is not positive.
template <class T, class St>
NNMF_HD bool chol_append(const T* G, index_t k, Vec<T, St> L, Vec<int, St> P, index_t np,
                         int t, T shift, T pivot_eps) {
  const index_t o = tri_off(np);
  const T* Gt = G + static_cast<index_t>(t) * k;  // column t of G
  T ss = 0;
  for (index_t r = 0; r < np; ++r) {
    const index_t orow = tri_off(r);
    const T acc = (Gt[P[r]] - dot_prefix<T>(L, orow, L, o, r)) * L[orow + r];
    L[o + r] = acc;
    ss += acc * acc;
  }
  const T gtt = Gt[t] + shift;
  const T d2 = gtt - ss;
  if (!(d2 > pivot_eps * gtt) || !(d2 > T(0))) return false;
  L[o + np] = T(1) / std::sqrt(d2);
  return true;
}

/// Removes position r (0 <= r < np) from the factor of G_PP and from P, in O(np^2): rows
/// above r are unchanged, rows below lose their entry in column r, and the trailing block
/// absorbs that column by a rank-one update (L33' L33'^T = L33 L33^T + l32 l32^T, done with
/// the stable rotations of LINPACK's dchud). Pivots only grow, so this never fails.
/// v is scratch of np entries.
template <class T, class St>
NNMF_HD void chol_delete(Vec<T, St> L, Vec<int, St> P, index_t np, index_t r, Vec<T, St> v) {
  for (index_t i = r + 1; i < np; ++i) v[i] = L[tri_off(i) + r];
  // Shift rows r+1.. up by one, dropping column r (destinations precede sources).
  for (index_t i = r + 1; i < np; ++i) {
    const index_t src = tri_off(i), dst = tri_off(i - 1);
    for (index_t q = 0; q < r; ++q) L[dst + q] = L[src + q];
    for (index_t q = r + 1; q <= i; ++q) L[dst + q - 1] = L[src + q];
    P[i - 1] = P[i];
  }
  // Rank-one update of the trailing block, rows and columns r .. np-2 after the shift.
  for (index_t j = r; j < np - 1; ++j) {
    const index_t oj = tri_off(j);
    const T ljj = T(1) / L[oj + j];
    const T vj = v[j + 1];
    const T rr = std::sqrt(ljj * ljj + vj * vj);
    const T cth = rr / ljj, sth = vj / ljj;
    L[oj + j] = T(1) / rr;
    for (index_t i = j + 1; i < np - 1; ++i) {
      const index_t oi = tri_off(i) + j;
      const T lij = (L[oi] + sth * v[i + 1]) / cth;
      v[i + 1] = cth * v[i + 1] - sth * lij;
      L[oi] = lij;
    }
  }
}

/// Factors G_PP for a whole starting set P[0..np) at once, right-looking: the trailing updates
/// are contiguous row segments minus a multiple of a column copy (vectorisable), where
/// np successive chol_append calls would be chains of short dot products. col: np scratch.
/// Returns false, with L unusable, if a pivot fails (then the caller appends one by one).
/// A pivot passes when pivot^2 > pivot_eps * G_jj and > threshold; shift is added to the
/// diagonal (the ridge of the masked solve).
template <class T, class St>
NNMF_HD bool chol_build(const T* G, index_t k, Vec<T, St> L, Vec<int, St> P, index_t np,
                        Vec<T, St> col, T pivot_eps, T shift = T(0), T threshold = T(0)) {
  for (index_t r = 0; r < np; ++r) {
    const index_t o = tri_off(r);
    const T* Gr = G + static_cast<index_t>(P[r]) * k;
    for (index_t q = 0; q < r; ++q) L[o + q] = Gr[P[q]];
    L[o + r] = Gr[P[r]] + shift;
  }
  for (index_t j = 0; j < np; ++j) {
    const index_t oj = tri_off(j);
    const T d2 = L[oj + j];
    const T gjj = G[static_cast<index_t>(P[j]) * (k + 1)];
    if (!(d2 > pivot_eps * gjj) || !(d2 > threshold) || !(d2 > T(0))) return false;
    const T inv = T(1) / std::sqrt(d2);
    L[oj + j] = inv;
    for (index_t i = j + 1; i < np; ++i) {
      const index_t oi = tri_off(i);
      const T v = L[oi + j] * inv;
      L[oi + j] = v;
      col[i] = v;
    }
    for (index_t i = j + 1; i < np; ++i) {
      const index_t oi = tri_off(i);
      const T ci = col[i];
      for (index_t q = j + 1; q <= i; ++q) L[oi + q] -= ci * col[q];
    }
  }
  return true;
}

/// Packed factor (same layout as the column factors) of the whole of G, shared by all columns
/// of a batch for the unconstrained probe of nnls_column. Returns false when G is numerically
/// singular (then no probe is made). Lf needs k(k+1)/2 entries.
template <class T>
NNMF_HD bool chol_full(const T* G, index_t k, T* Lf, T pivot_eps) {
  for (index_t r = 0; r < k; ++r) {
    const index_t o = tri_off(r);
    const T* Gr = G + r * k;
    T ss = 0;
    for (index_t q = 0; q < r; ++q) {
      const index_t oq = tri_off(q);
      const T acc = (Gr[q] - dot_prefix<T>(Lf, oq, Lf, o, q)) * Lf[oq + q];
      Lf[o + q] = acc;
      ss += acc * acc;
    }
    const T d2 = Gr[r] - ss;
    if (!(d2 > pivot_eps * Gr[r]) || !(d2 > T(0))) return false;
    Lf[o + r] = T(1) / std::sqrt(d2);
  }
  return true;
}

/// y (passive order) = L^{-1} c_P, the forward half of the solve on the passive set.
template <class T, class St>
NNMF_HD void forward_passive(Vec<T, St> L, Vec<int, St> P, index_t np, Vec<const T, St> c,
                             Vec<T, St> y) {
  for (index_t r = 0; r < np; ++r) y[r] = c[P[r]];
  tri_forward(L, np, y);
}

/// Recomputes y[from..np) = (L^{-1} c_P)[from..np) after rows from.. of the factor changed
/// (y's prefix is unaffected).
template <class T, class St>
NNMF_HD void forward_from(Vec<T, St> L, Vec<int, St> P, index_t np, Vec<const T, St> c,
                          Vec<T, St> y, index_t from) {
  for (index_t r = from; r < np; ++r) {
    const index_t o = tri_off(r);
    y[r] = (c[P[r]] - dot_prefix<T>(L, o, y, 0, r)) * L[o + r];
  }
}

/// z (passive order) = L^{-T} y = G_PP^{-1} c_P.
template <class T, class St>
NNMF_HD void backward_passive(Vec<T, St> L, index_t np, Vec<T, St> y, Vec<T, St> z) {
  for (index_t r = 0; r < np; ++r) z[r] = y[r];
  tri_backward(L, np, z);
}

enum : int { kStateZero = 0, kStatePassive = 1, kStateExcluded = 2, kStateCandidate = 3 };

/// Lawson-Hanson NNLS for one column on the normal equations:
///   minimise 1/2 s^T G s - c^T s  subject to  s >= 0.
/// G: k x k column-major (ld = k), symmetric PSD. On return x holds the solution (x > 0 exactly
/// on the passive set, 0 elsewhere) and the passive set is written as bits to support_out
/// (ceil(k/64) words). warm (same layout) may be null. Returns 0 when converged, 1 when the
/// iteration cap was reached (x then is feasible but not optimal), and 1 with x = 0 when c
/// has a NaN or infinite entry (never a silent "converged" zero). *iters gets the count.
///
/// Tolerance. The optimality test w_i <= tol_rel * max_i |c_i| is relative to the column's own
/// scale, with no absolute floor above the smallest normal number: the solution of
/// (G, s c) is s times that of (G, c) for any s > 0 (exactly for powers of two). Callers make
/// G and c well scaled (nnls.cpp: powers of two on the columns of A and on X), since the
/// choice of the entering index, argmax w_i, is relative to the scale of column i.
///
/// Starting set. With a warm start, the previous support. Without one, and when Lfull (the
/// factor of the whole of G from chol_full) is given, the column first solves the
/// unconstrained problem G z = c with it (2 k^2 flops); when at least two thirds of z are
/// positive (dense solutions, where adding indices one at a time would take |T| steps) the
/// positive set is the start, otherwise the empty set. Every start ends at the same optimum:
/// the start only changes how many active-set steps are taken.
///
/// The Cholesky factor L of G_PP grows by one row per entering index, and y = L^{-1} c_P is
/// kept alongside it: an entering index costs one new row of L and one entry of y (O(|P|)
/// dot products of length |P|) plus a back substitution, not a full refactorisation.
/// Sets *tol = tol_rel x max_i |c_i| (floored at the smallest normal number), the optimality
/// tolerance of nnls_column for right-hand side c. Returns false when c has a NaN or an
/// infinite entry.
template <class T, class St>
NNMF_HD bool rhs_tolerance(index_t k, Vec<const T, St> c, T tol_rel, T* tol) {
  // The largest normal number and the smallest (FLT_/DBL_ macros: usable in device code).
  const T huge = sizeof(T) == sizeof(float) ? T(FLT_MAX) : T(DBL_MAX);
  const T tiny = sizeof(T) == sizeof(float) ? T(FLT_MIN) : T(DBL_MIN);
  T scale = T(0);
  bool finite = true;
  for (index_t i = 0; i < k; ++i) {
    const T a = c[i] < T(0) ? -c[i] : c[i];
    finite = finite && a <= huge;  // false for NaN and infinities
    scale = a > scale ? a : scale;
  }
  *tol = tol_rel * (scale > tiny ? scale : tiny);
  return finite;
}

/// Zeroes x and the states, then rhs_tolerance.
template <class T, class St>
NNMF_HD bool column_tolerance(index_t k, Vec<const T, St> c, Vec<T, St> x, Vec<int, St> state,
                              T tol_rel, T* tol) {
  for (index_t i = 0; i < k; ++i) {
    x[i] = T(0);
    state[i] = kStateZero;
  }
  return rhs_tolerance(k, c, tol_rel, tol);
}

/// The starting set of nnls_column (see there): marks it kStateCandidate; returns false when
/// there is none (the empty set).
template <class T, class St, class WarmPtr>
NNMF_HD bool mark_start(index_t k, Vec<const T, St> c, ColumnWorkspace<T, St> ws, WarmPtr warm,
                        const T* Lfull) {
  bool start = false;
  if (warm) {
    for (index_t i = 0; i < k; ++i) {
      if ((warm[i >> 6] >> (i & 63)) & 1u) {
        ws.state[i] = kStateCandidate;
        start = true;
      }
    }
  } else if (Lfull) {
    Vec<T, St> z = ws.z;
    for (index_t i = 0; i < k; ++i) z[i] = c[i];
    tri_forward<T>(Lfull, k, z);
    tri_backward<T>(Lfull, k, z);
    index_t positive = 0;
    for (index_t i = 0; i < k; ++i) positive += z[i] > T(0);
    if (3 * positive >= 2 * k) {
      for (index_t i = 0; i < k; ++i)
        if (z[i] > T(0)) ws.state[i] = kStateCandidate;
      start = true;
    }
  }
  return start;
}

/// Factors G_PP for the candidates of mark_start into ws.L / ws.P (they become passive);
/// returns |P|. A numerically dependent column is left out (then the candidates are admitted
/// one at a time).
template <class T, class St>
NNMF_HD index_t factor_start(const T* G, index_t k, ColumnWorkspace<T, St> ws, bool warm,
                             const T* Lfull, T pivot_eps) {
  Vec<T, St> L = ws.L, w = ws.w;
  Vec<int, St> P = ws.P, state = ws.state;
  index_t np = 0;
  // With few indices left out of a probe start, deleting them from a copy of the full factor
  // (about k^2 each) is cheaper than factoring the start set afresh (about |P|^3 / 6).
  index_t left_out = 0;
  for (index_t i = 0; i < k; ++i) left_out += state[i] != kStateCandidate;
  if (!warm && 6 * left_out * k * k < (k - left_out) * (k - left_out) * (k - left_out)) {
    const index_t tri = tri_off(k);
    for (index_t q = 0; q < tri; ++q) L[q] = Lfull[q];
    for (index_t i = 0; i < k; ++i) P[i] = static_cast<int>(i);
    np = k;
    for (index_t r = k - 1; r >= 0; --r) {
      if (state[r] == kStateCandidate) {
        state[r] = kStatePassive;
      } else {
        chol_delete(L, P, np, r, w);
        --np;
      }
    }
    return np;
  }
  for (index_t i = 0; i < k; ++i)
    if (state[i] == kStateCandidate) P[np++] = static_cast<int>(i);
  if (chol_build(G, k, L, P, np, w, pivot_eps)) {
    for (index_t r = 0; r < np; ++r) state[P[r]] = kStatePassive;
    return np;
  }
  // A numerically dependent column in the set: admit the columns one at a time.
  np = 0;
  for (index_t i = 0; i < k; ++i) {
    if (state[i] == kStateCandidate) {
      state[i] = kStateZero;
      if (chol_append(G, k, L, P, np, static_cast<int>(i), T(0), pivot_eps)) {
        P[np++] = static_cast<int>(i);
        state[i] = kStatePassive;
      }
    }
  }
  return np;
}

/// From the factor of G_PP and y = L^{-1} c_P: drops nonpositive components until the
/// least-squares solution on P is positive, which becomes x on P. Returns the steps taken.
template <class T, class St>
NNMF_HD int drop_nonpositive(Vec<const T, St> c, Vec<T, St> x, ColumnWorkspace<T, St> ws,
                             index_t* np_io) {
  Vec<T, St> z = ws.z, w = ws.w, y = ws.y, L = ws.L;
  Vec<int, St> P = ws.P, state = ws.state;
  index_t np = *np_io;
  int iters = 0;
  while (np > 0) {
    backward_passive(L, np, y, z);
    index_t first_removed = -1;
    for (index_t r = np - 1; r >= 0; --r) {
      if (!(z[r] > T(0))) {
        state[P[r]] = kStateZero;
        chol_delete(L, P, np, r, w);
        --np;
        first_removed = r;
      }
    }
    if (first_removed < 0) {
      for (index_t r = 0; r < np; ++r) x[P[r]] = z[r];
      break;
    }
    ++iters;
    forward_from(L, P, np, c, y, first_removed);
  }
  *np_io = np;
  return iters;
}

/// sum over r < np of Gi[P[r]] z[r] in two chains (even r, odd r) added at the end: the
/// order every optimality test keeps, in the scalar solver and on the lanes alike (their
/// results must agree bit for bit).
template <class T, class Idx, class Z>
NNMF_HD T passive_product(const T* Gi, const Idx& P, const Z& z, index_t np) {
  T s0 = 0, s1 = 0;
  index_t r = 0;
  for (; r + 2 <= np; r += 2) {
    s0 += Gi[P[r]] * z[r];
    s1 += Gi[P[r + 1]] * z[r + 1];
  }
  if (r < np) s0 += Gi[P[r]] * z[r];
  return s0 + s1;
}

/// The index to enter: argmax of w_i = c_i - (G x)_i over the indices at kStateZero, if
/// above tol; -1 when the KKT conditions hold to tolerance. By symmetry (G x)_i is column i
/// of G gathered at the passive rows, dotted with x_P (copied into z in passive order):
/// (k - |P|) |P| multiply-adds instead of k |P|.
template <class T, class St>
NNMF_HD int entering_index(const T* G, index_t k, Vec<const T, St> c, Vec<T, St> x,
                           ColumnWorkspace<T, St> ws, index_t np, T tol) {
  Vec<T, St> z = ws.z;
  Vec<int, St> P = ws.P, state = ws.state, cand = ws.cand;
  for (index_t r = 0; r < np; ++r) z[r] = x[P[r]];
  // The candidates first, without a branch per index (the states follow no pattern a
  // branch predictor could learn), then the sums over them.
  index_t nc = 0;
  for (index_t i = 0; i < k; ++i) {
    cand[nc] = static_cast<int>(i);
    nc += state[i] == kStateZero;
  }
  int t = -1;
  T wmax = tol;
  for (index_t q = 0; q < nc; ++q) {
    const index_t i = cand[q];
    const T wi = c[i] - passive_product<T>(G + i * k, P, z, np);
    const bool above = wi > wmax;
    wmax = above ? wi : wmax;
    t = above ? static_cast<int>(i) : t;
  }
  return t;
}

/// What restore_feasibility did.
enum : int { kFeasible = 0, kFeasibleAfterDrops = 1, kCapReached = 2, kEnteringUndone = 3 };

/// After t entered P (last row of the factor, y extended): steps from x towards the
/// least-squares solution on P, dropping the components that reach zero, until it is
/// positive (kFeasible: at once; kFeasibleAfterDrops). kCapReached: the iteration cap;
/// kEnteringUndone: rounding made t itself nonpositive, so it was taken out again and
/// excluded.
template <class T, class St>
NNMF_HD int restore_feasibility(Vec<const T, St> c, Vec<T, St> x, ColumnWorkspace<T, St> ws,
                                index_t* np_io, int t, int* iters, int max_iter) {
  Vec<T, St> z = ws.z, w = ws.w, y = ws.y, L = ws.L;
  Vec<int, St> P = ws.P, state = ws.state;
  index_t np = *np_io;
  int result = kFeasible;
  for (bool first = true;; first = false) {
    backward_passive(L, np, y, z);
    bool feasible = true;
    for (index_t r = 0; r < np; ++r) feasible = feasible && (z[r] > T(0));
    if (feasible) {
      for (index_t r = 0; r < np; ++r) x[P[r]] = z[r];
      break;
    }
    if (first && !(z[np - 1] > T(0))) {
      // Rounding made the entering variable nonpositive although w_t > tol: undo the
      // addition (the factor's last row; y's prefix stays valid) and keep t out until the
      // passive set shrinks.
      --np;
      state[t] = kStateExcluded;
      result = kEnteringUndone;
      break;
    }
    // Step from x towards z until the first passive component reaches zero.
    T alpha = T(1);
    index_t rmin = -1;
    for (index_t r = 0; r < np; ++r) {
      if (!(z[r] > T(0))) {
        const T xp = x[P[r]];
        const T a = xp / (xp - z[r]);
        if (rmin < 0 || a < alpha) {
          alpha = a;
          rmin = r;
        }
      }
    }
    index_t first_removed = np;
    for (index_t r = np - 1; r >= 0; --r) {
      const int p = P[r];
      const T xp = x[p] + alpha * (z[r] - x[p]);
      if (r == rmin || !(xp > T(0))) {
        x[p] = T(0);
        state[p] = kStateZero;
        chol_delete(L, P, np, r, w);
        --np;
        first_removed = r;
      } else {
        x[p] = xp;
      }
    }
    forward_from(L, P, np, c, y, first_removed);
    result = kFeasibleAfterDrops;
    if (++*iters >= max_iter) {
      result = kCapReached;
      break;
    }
  }
  *np_io = np;
  return result;
}

/// The Lawson-Hanson iterations from a feasible x on P (factor of G_PP in ws.L, y = L^{-1}
/// c_P): enter the index of largest w_i while one is above tol. Returns 0 when converged, 1
/// at the iteration cap.
template <class T, class St>
NNMF_HD int active_set_loop(const T* G, index_t k, Vec<const T, St> c, Vec<T, St> x,
                            ColumnWorkspace<T, St> ws, index_t* np_io, T tol,
                            const ColumnParams<T>& prm, int* iters) {
  Vec<T, St> y = ws.y, L = ws.L;
  Vec<int, St> P = ws.P, state = ws.state;
  index_t np = *np_io;
  int status = 0;
  for (;;) {
    const int t = entering_index(G, k, c, x, ws, np, tol);
    if (t < 0) break;  // KKT satisfied to tolerance
    if (*iters >= prm.max_iter) {
      status = 1;
      break;
    }
    ++*iters;
    if (!chol_append(G, k, L, P, np, t, T(0), prm.pivot_eps)) {
      state[t] = kStateExcluded;  // numerically dependent on the passive columns
      continue;
    }
    {
      const index_t o = tri_off(np);
      y[np] = (c[t] - dot_prefix<T>(L, o, y, 0, np)) * L[o + np];
    }
    P[np++] = t;
    state[t] = kStatePassive;
    const int r = restore_feasibility(c, x, ws, &np, t, iters, prm.max_iter);
    if (r == kCapReached) {
      status = 1;
      break;
    }
    if (r == kFeasibleAfterDrops) {  // P shrank: excluded indices may enter again
      for (index_t i = 0; i < k; ++i)
        if (state[i] == kStateExcluded) state[i] = kStateZero;
    }
  }
  *np_io = np;
  return status;
}

/// The passive set P[0..np) as bits (ceil(k/64) words).
template <class St, class SupportPtr>
NNMF_HD void write_support(index_t k, Vec<int, St> P, index_t np, SupportPtr support_out) {
  const index_t words = (k + 63) / 64;
  for (index_t q = 0; q < words; ++q) support_out[q] = 0;
  for (index_t r = 0; r < np; ++r) {
    const int p = P[r];
    support_out[p >> 6] |= std::uint64_t{1} << (p & 63);
  }
}

/// nnls_column from a factor of G_PP already in ws (ws.L, ws.P[0..np) with their states
/// kStatePassive, the others kStateZero, x zeroed) and ws.y = L^{-1} c_P: what nnls_column
/// does once it has factored its starting set.
template <class T, class St, class SupportPtr>
NNMF_HD int nnls_column_from(const T* G, index_t k, Vec<const T, St> c, Vec<T, St> x,
                             ColumnWorkspace<T, St> ws, index_t np, T tol, SupportPtr support_out,
                             const ColumnParams<T>& prm, int* iters_out) {
  int iters = drop_nonpositive(c, x, ws, &np);
  const int status = active_set_loop(G, k, c, x, ws, &np, tol, prm, &iters);
  write_support(k, ws.P, np, support_out);
  *iters_out = iters;
  return status;
}

/// Lawson-Hanson NNLS for one column on the normal equations:
///   minimise 1/2 s^T G s - c^T s  subject to  s >= 0.
/// G: k x k column-major (ld = k), symmetric PSD. On return x holds the solution (x > 0 exactly
/// on the passive set, 0 elsewhere) and the passive set is written as bits to support_out
/// (ceil(k/64) words). warm (same layout) may be null. Returns 0 when converged, 1 when the
/// iteration cap was reached (x then is feasible but not optimal), and 1 with x = 0 when c
/// has a NaN or infinite entry (never a silent "converged" zero). *iters gets the count.
///
/// Tolerance. The optimality test w_i <= tol_rel * max_i |c_i| is relative to the column's own
/// scale, with no absolute floor above the smallest normal number: the solution of
/// (G, s c) is s times that of (G, c) for any s > 0 (exactly for powers of two). Callers make
/// G and c well scaled (nnls.cpp: powers of two on the columns of A and on X), since the
/// choice of the entering index, argmax w_i, is relative to the scale of column i.
///
/// Starting set. With a warm start, the previous support. Without one, and when Lfull (the
/// factor of the whole of G from chol_full) is given, the column first solves the
/// unconstrained problem G z = c with it (2 k^2 flops); when at least two thirds of z are
/// positive (dense solutions, where adding indices one at a time would take |T| steps) the
/// positive set is the start, otherwise the empty set. Every start ends at the same optimum:
/// the start only changes how many active-set steps are taken.
///
/// The Cholesky factor L of G_PP grows by one row per entering index, and y = L^{-1} c_P is
/// kept alongside it: an entering index costs one new row of L and one entry of y (O(|P|)
/// dot products of length |P|) plus a back substitution, not a full refactorisation.
template <class T, class St, class SupportPtr, class WarmPtr>
NNMF_HD int nnls_column(const T* G, index_t k, Vec<const T, St> c, Vec<T, St> x,
                        ColumnWorkspace<T, St> ws, WarmPtr warm, const T* Lfull,
                        SupportPtr support_out, const ColumnParams<T>& prm, int* iters_out) {
  T tol;
  if (!column_tolerance(k, c, x, ws.state, prm.tol_rel, &tol)) {
    write_support(k, ws.P, 0, support_out);
    *iters_out = 0;
    return 1;
  }
  index_t np = 0;
  if (mark_start(k, c, ws, warm, Lfull)) {
    np = factor_start(G, k, ws, warm != nullptr, Lfull, prm.pivot_eps);
    forward_passive(ws.L, ws.P, np, c, ws.y);
  }
  return nnls_column_from(G, k, c, x, ws, np, tol, support_out, prm, iters_out);
}

/// Factor of the masked solve for one support T (given as bits): P[0..np) lists T and L holds
/// the factor of G_TT, or of G_TT + delta I with delta = ridge * max(diag G_TT) when a pivot^2
/// falls below pivot_eps * max(diag G_TT) (then *regularized = 1). Returns np.
template <class T, class St, class SupportPtr>
NNMF_HD index_t masked_factor(const T* G, index_t k, SupportPtr support, ColumnWorkspace<T, St> ws,
                              T pivot_eps, T ridge, int* regularized) {
  Vec<T, St> y = ws.y, L = ws.L;
  Vec<int, St> P = ws.P;
  index_t np = 0;
  T dmax = T(0);
  for (index_t i = 0; i < k; ++i) {
    if ((support[i >> 6] >> (i & 63)) & 1u) {
      P[np++] = static_cast<int>(i);
      const T d = G[i + i * k];
      dmax = d > dmax ? d : dmax;
    }
  }
  *regularized = 0;
  if (np == 0) return 0;
  const T dref = dmax > T(0) ? dmax : T(1);
  // Pivots are judged relative to the largest diagonal entry of the block. G_TT + delta I is
  // positive definite for PSD G, so the regularized second attempt succeeds.
  if (!chol_build(G, k, L, P, np, y, T(0), T(0), pivot_eps * dref)) {
    *regularized = 1;
    chol_build(G, k, L, P, np, y, T(0), ridge * dref, T(0));
  }
  return np;
}

/// z_T = G_TT^{-1} g_T with the factor from masked_factor, z = 0 off T.
template <class T, class St>
NNMF_HD void masked_apply(index_t k, index_t np, Vec<const T, St> g, Vec<T, St> z,
                          ColumnWorkspace<T, St> ws) {
  Vec<T, St> y = ws.y, L = ws.L;
  Vec<int, St> P = ws.P;
  for (index_t i = 0; i < k; ++i) z[i] = T(0);
  for (index_t r = 0; r < np; ++r) y[r] = g[P[r]];
  tri_forward(L, np, y);
  tri_backward(L, np, y);
  for (index_t r = 0; r < np; ++r) z[P[r]] = y[r];
}

/// Masked solve for one column: z_T = G_TT^{-1} g_T, z = 0 off T (T given as bits); returns 1
/// when the block was regularized (see masked_factor), else 0.
template <class T, class St, class SupportPtr>
NNMF_HD int masked_solve_column(const T* G, index_t k, SupportPtr support, Vec<const T, St> g,
                                Vec<T, St> z, ColumnWorkspace<T, St> ws, T pivot_eps, T ridge) {
  int regularized = 0;
  const index_t np = masked_factor(G, k, support, ws, pivot_eps, ridge, &regularized);
  masked_apply(k, np, g, z, ws);
  return regularized;
}

}  // namespace nnmf::detail
