// Warp-per-column NNLS: the active-set algorithm of column_solver.hpp's nnls_column carried out
// by the 32 lanes of a warp on one column, with the column's whole state on chip (shared
// memory), written once for two lane models:
//   * DeviceLanes (nnls_kernels.cu): the real warp; `each` is a lane-strided loop ended by
//     __syncwarp(), reductions are xor-butterflies of __shfl_xor_sync;
//   * HostLanes (here): the same code on the host with the 32 lanes emulated in lock step
//     (each phase runs lane 0..31 in turn, the butterflies are loops over the same pairs in the
//     same order), so the host tests run the device's arithmetic and control flow.
//
// Programming model of the code below. A warp runs "uniform" scalar code (every lane computes
// the same value from the same shared-memory reads: loop bounds, pivots, the chosen index) and
// "phases": lanes.each(b, e, f) calls f(i) for i in [b, e), index i on lane (i - b) mod 32;
// inside a phase no lane reads what another lane writes. lanes.sync() separates a uniform
// read of a shared value from a later phase (or leader write) that overwrites it. Single writes
// of uniform values are done by lanes.leader(). Reductions (sum, max, arg-best) return the same
// value on every lane.
//
// Per-warp workspace (shared memory; WarpWork), k = rank, pmax = most passive indices it holds:
//   x (k) solution, c (k) right-hand side, w (k) gradient (and factor scratch), state (k)
//   kState* per index, all in index order;
//   v (pmax) scratch, y (pmax) L^{-1} c_P, z (pmax) solution on P, P (pmax) passive indices,
//   all in passive order;
//   L (pmax(pmax+1)/2) packed factor of G_PP (column_solver.hpp's layout: row r from
//     tri_off(r), its last entry the reciprocal of the diagonal).
//
// A column whose passive set outgrows pmax is abandoned (kWarpOverflow, nothing written) and
// solved again from scratch in a workspace of pmax = k (solve_column_warp; in the kernel, the
// warp's spill workspace in global memory). masked_warp is the backward pass's masked solve
// on the same workspace.
//
// The rules (probe threshold, tolerance and its floor, non-finite columns, exclusions) are
// nnls_column's and must change with it; tests/test_warp_nnls.cpp compares the two.
//
// Differences from nnls_column, by design (same starts, tolerances, statuses and supports up
// to rounding): the unconstrained probe of a cold start is read from Z0 = G^{-1} C, formed for
// all columns by one GEMM (the host solves with the factor of G per column; the two agree up
// to rounding, which can only change the start set, never the optimum); the triangular solves
// and the new row of the factor are column-oriented (one lane per remaining row: a step costs
// one multiply-add per lane instead of a dot product); reductions are trees; and a probe start
// is always factored afresh (the host may instead delete the few left-out indices from the
// full factor, which gives the same factor).
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/column_solver.hpp"

namespace nnmf::detail::cuda {

constexpr int kWarpLanes = 32;

/// (value, index) candidate of an arg-max / arg-min; index -1 = none.
template <class T>
struct LaneBest {
  T v;
  int i;
};

/// a beats b for an arg-max that keeps the first maximum (host: `if (w > best)` in index order).
template <class T>
NNMF_HD bool beats_max(const LaneBest<T>& a, const LaneBest<T>& b) {
  if (a.i < 0) return false;
  if (b.i < 0) return true;
  return a.v > b.v || (a.v == b.v && a.i < b.i);
}
/// a beats b for an arg-min that keeps the first minimum.
template <class T>
NNMF_HD bool beats_min(const LaneBest<T>& a, const LaneBest<T>& b) {
  if (a.i < 0) return false;
  if (b.i < 0) return true;
  return a.v < b.v || (a.v == b.v && a.i < b.i);
}

/// The 32 lanes of a warp emulated on the host, in lock step.
struct HostLanes {
  bool leader() const { return true; }
  void sync() const {}
  template <class F>
  void each(index_t b, index_t e, F&& f) const {
    for (int lane = 0; lane < kWarpLanes; ++lane)
      for (index_t i = b + lane; i < e; i += kWarpLanes) f(i);
  }
  /// sum_{i in [b, e)} f(i): per-lane partial sums in index order, then the xor-butterfly.
  template <class T, class F>
  T sum(index_t b, index_t e, F&& f) const {
    T p[kWarpLanes];
    for (int lane = 0; lane < kWarpLanes; ++lane) {
      T s = T(0);
      for (index_t i = b + lane; i < e; i += kWarpLanes) s += f(i);
      p[lane] = s;
    }
    for (int off = kWarpLanes / 2; off > 0; off /= 2) {
      T q[kWarpLanes];
      for (int lane = 0; lane < kWarpLanes; ++lane) q[lane] = p[lane] + p[lane ^ off];
      for (int lane = 0; lane < kWarpLanes; ++lane) p[lane] = q[lane];
    }
    return p[0];
  }
  /// The best candidate f(i) over [b, e) by @p beats (per lane in index order, then butterfly).
  template <class T, class F, class Beats>
  LaneBest<T> best(index_t b, index_t e, LaneBest<T> none, F&& f, Beats beats) const {
    LaneBest<T> p[kWarpLanes];
    for (int lane = 0; lane < kWarpLanes; ++lane) {
      LaneBest<T> s = none;
      for (index_t i = b + lane; i < e; i += kWarpLanes) {
        const LaneBest<T> c = f(i);
        if (beats(c, s)) s = c;
      }
      p[lane] = s;
    }
    for (int off = kWarpLanes / 2; off > 0; off /= 2) {
      LaneBest<T> q[kWarpLanes];
      for (int lane = 0; lane < kWarpLanes; ++lane)
        q[lane] = beats(p[lane ^ off], p[lane]) ? p[lane ^ off] : p[lane];
      for (int lane = 0; lane < kWarpLanes; ++lane) p[lane] = q[lane];
    }
    return p[0];
  }
};

#if defined(__CUDACC__)
/// The real warp (blockDim.x a multiple of 32; every lane of the warp calls every function).
struct DeviceLanes {
  unsigned lane;
  __device__ bool leader() const { return lane == 0; }
  __device__ void sync() const { __syncwarp(); }
  template <class F>
  __device__ void each(index_t b, index_t e, F&& f) const {
    for (index_t i = b + static_cast<index_t>(lane); i < e; i += kWarpLanes) f(i);
    __syncwarp();
  }
  template <class T, class F>
  __device__ T sum(index_t b, index_t e, F&& f) const {
    T s = T(0);
    for (index_t i = b + static_cast<index_t>(lane); i < e; i += kWarpLanes) s += f(i);
    for (int off = kWarpLanes / 2; off > 0; off /= 2) s = s + __shfl_xor_sync(0xffffffffu, s, off);
    return s;
  }
  template <class T, class F, class Beats>
  __device__ LaneBest<T> best(index_t b, index_t e, LaneBest<T> none, F&& f, Beats beats) const {
    LaneBest<T> s = none;
    for (index_t i = b + static_cast<index_t>(lane); i < e; i += kWarpLanes) {
      const LaneBest<T> c = f(i);
      if (beats(c, s)) s = c;
    }
    for (int off = kWarpLanes / 2; off > 0; off /= 2) {
      LaneBest<T> o;
      o.v = __shfl_xor_sync(0xffffffffu, s.v, off);
      o.i = __shfl_xor_sync(0xffffffffu, s.i, off);
      if (beats(o, s)) s = o;
    }
    return s;
  }
};
#endif

/// One warp's workspace (see the file comment), carved from @p base for rank k and at most
/// pmax passive indices: x, c, w, state in index order (k each), v, y, z, P in passive order
/// (pmax each) and L for pmax rows. On chip pmax may be below k, to fit more warps in shared
/// memory (text: |P| of 6-15 out of k = 100); a column that needs more passive indices is
/// solved again with a workspace of pmax = k in global memory (solve_column_warp).
template <class T>
struct WarpWork {
  T *x, *c, *w, *v, *y, *z, *L;
  int *P, *state;
  index_t pmax;
  NNMF_HD static index_t reals(index_t k, index_t pmax) {
    return 3 * k + 3 * pmax + pmax * (pmax + 1) / 2;
  }
  NNMF_HD static index_t ints(index_t k, index_t pmax) { return k + pmax; }
  /// Bytes of one warp's workspace (reals first, then ints; 16-byte multiple).
  NNMF_HD static std::size_t bytes(index_t k, index_t pmax) {
    const std::size_t b = sizeof(T) * static_cast<std::size_t>(reals(k, pmax)) +
                          sizeof(int) * static_cast<std::size_t>(ints(k, pmax));
    return (b + 15) / 16 * 16;
  }
  NNMF_HD static WarpWork carve(void* base, index_t k, index_t pmax) {
    T* r = static_cast<T*>(base);
    int* n = reinterpret_cast<int*>(r + reals(k, pmax));
    T* v = r + 3 * k;
    return WarpWork{r, r + k, r + 2 * k, v, v + pmax, v + 2 * pmax, v + 3 * pmax, n + k, n, pmax};
  }
};

/// nnls_warp / masked_warp's answer when the column needs more than ws.pmax passive indices
/// (nothing written; solve it again with a larger workspace).
constexpr int kWarpOverflow = -1;

// ---- triangular solves on a packed factor (column_solver.hpp's layout) ----------------------

/// out[r] for r in [from, np): the rows from.. of L^{-1} b with out[0..from) already known
/// (forward substitution, column-oriented). a: scratch holding b[P-order] on entry for rows
/// >= from (overwritten); out may not alias a.
template <class T, class Lanes, class LP>
NNMF_HD void warp_forward_from(const Lanes& lanes, LP L, index_t np, T* a, T* out, index_t from) {
  // Fold in the known prefix: a[r] -= sum_{q < from} L(r, q) out[q], one lane per row, in the
  // order of column_solver.hpp's forward_from.
  if (from > 0) {
    lanes.each(from, np, [&](index_t r) {
      const index_t o = tri_off(r);
      a[r] = a[r] - dot_prefix<T>(L, o, out, 0, from);
    });
  }
  for (index_t q = from; q < np; ++q) {
    const index_t oq = tri_off(q);
    const T yq = a[q] * L[oq + q];  // uniform: a[q] is final since the last phase
    lanes.each(q, np, [&](index_t r) {
      if (r == q)
        out[q] = yq;
      else
        a[r] -= L[tri_off(r) + q] * yq;
    });
  }
}

/// z = L^{-T} y on rows [0, np) (back substitution over the rows of the packed factor).
/// a: scratch (gets a copy of y); z may not alias a or y.
template <class T, class Lanes, class LP>
NNMF_HD void warp_backward(const Lanes& lanes, LP L, index_t np, const T* y, T* a, T* z) {
  lanes.each(0, np, [&](index_t r) { a[r] = y[r]; });
  for (index_t r = np - 1; r >= 0; --r) {
    const index_t o = tri_off(r);
    const T zr = a[r] * L[o + r];  // uniform
    lanes.each(0, r + 1, [&](index_t q) {
      if (q == r)
        z[r] = zr;
      else
        a[q] -= L[o + q] * zr;
    });
  }
}

// ---- the factor of G_PP -------------------------------------------------------------------

/// Appends variable t as row np of the factor (column_solver.hpp's chol_append): row np is
/// L_PP^{-1} G(P, t), solved column-oriented in place. Returns false (factor unchanged up to
/// row np - 1) when pivot^2 <= pivot_eps * G_tt or is not positive.
template <class T, class Lanes>
NNMF_HD bool warp_chol_append(const Lanes& lanes, const T* G, index_t k, T* L, const int* P,
                              index_t np, int t, T pivot_eps) {
  const index_t o = tri_off(np);
  const T* Gt = G + static_cast<index_t>(t) * k;
  lanes.each(0, np, [&](index_t r) { L[o + r] = Gt[P[r]]; });
  for (index_t q = 0; q < np; ++q) {
    const T lq = L[o + q] * L[tri_off(q) + q];  // uniform
    lanes.sync();  // every lane has read L[o + q] before its owner overwrites it
    lanes.each(q, np, [&](index_t r) {
      if (r == q)
        L[o + q] = lq;
      else
        L[o + r] -= L[tri_off(r) + q] * lq;
    });
  }
  const T ss = lanes.template sum<T>(0, np, [&](index_t r) { return L[o + r] * L[o + r]; });
  const T gtt = Gt[t];
  const T d2 = gtt - ss;
  if (!(d2 > pivot_eps * gtt) || !(d2 > T(0))) return false;
  if (lanes.leader()) L[o + np] = T(1) / std::sqrt(d2);
  lanes.sync();
  return true;
}

/// Factors G_PP (+ shift I) for P[0..np) at once (column_solver.hpp's chol_build, the same
/// operations per element, lanes over rows). col: np scratch. Returns false if a pivot fails.
template <class T, class Lanes>
NNMF_HD bool warp_chol_build(const Lanes& lanes, const T* G, index_t k, T* L, const int* P,
                             index_t np, T* col, T pivot_eps, T shift = T(0),
                             T threshold = T(0)) {
  lanes.each(0, np, [&](index_t r) {
    const index_t o = tri_off(r);
    const T* Gr = G + static_cast<index_t>(P[r]) * k;
    for (index_t q = 0; q < r; ++q) L[o + q] = Gr[P[q]];
    L[o + r] = Gr[P[r]] + shift;
  });
  for (index_t j = 0; j < np; ++j) {
    const index_t oj = tri_off(j);
    const T d2 = L[oj + j];  // uniform
    const T gjj = G[static_cast<index_t>(P[j]) * (k + 1)];
    if (!(d2 > pivot_eps * gjj) || !(d2 > threshold) || !(d2 > T(0))) return false;
    const T inv = T(1) / std::sqrt(d2);
    lanes.sync();
    lanes.each(j, np, [&](index_t i) {
      if (i == j) {
        L[oj + j] = inv;
      } else {
        const index_t oi = tri_off(i);
        const T v = L[oi + j] * inv;
        L[oi + j] = v;
        col[i] = v;
      }
    });
    lanes.each(j + 1, np, [&](index_t i) {
      const index_t oi = tri_off(i);
      const T ci = col[i];
      for (index_t q = j + 1; q <= i; ++q) L[oi + q] -= ci * col[q];
    });
  }
  return true;
}

/// Removes position r from the factor and from P (column_solver.hpp's chol_delete: rows shift
/// up dropping column r, then the LINPACK rank-one update of the trailing block). v: scratch.
template <class T, class Lanes>
NNMF_HD void warp_chol_delete(const Lanes& lanes, T* L, int* P, index_t np, index_t r, T* v) {
  lanes.each(r + 1, np, [&](index_t i) { v[i] = L[tri_off(i) + r]; });
  // Row i moves to row i - 1; row i's new place is row i-1's old one, so one row per phase.
  for (index_t i = r + 1; i < np; ++i) {
    const index_t src = tri_off(i), dst = tri_off(i - 1);
    const int pi = P[i];  // uniform
    lanes.sync();
    lanes.each(0, i, [&](index_t q) { L[dst + q] = L[src + (q < r ? q : q + 1)]; });
    if (lanes.leader()) P[i - 1] = pi;
    lanes.sync();
  }
  for (index_t j = r; j < np - 1; ++j) {
    const index_t oj = tri_off(j);
    const T ljj = T(1) / L[oj + j];  // uniform
    const T vj = v[j + 1];
    const T rr = std::sqrt(ljj * ljj + vj * vj);
    const T cth = rr / ljj, sth = vj / ljj;
    lanes.sync();
    lanes.each(j, np - 1, [&](index_t i) {
      if (i == j) {
        L[oj + j] = T(1) / rr;
      } else {
        const index_t oi = tri_off(i) + j;
        const T lij = (L[oi] + sth * v[i + 1]) / cth;
        v[i + 1] = cth * v[i + 1] - sth * lij;
        L[oi] = lij;
      }
    });
  }
}

// ---- one column -------------------------------------------------------------------------------

/// Lawson-Hanson for one column by one warp: minimise 1/2 s^T G s - c^T s, s >= 0 (see
/// nnls_column for the contract: warm start, probe start, tolerances, statuses).
/// G (k, k) ld = k, shared by the block; c, s: column j of C and S (contiguous, global);
/// z0: column j of Z0 = G^{-1} C (the unconstrained solutions of all columns, one GEMM with
/// G^{-1}; see warp_inverse_column), or null when there is no probe (warm starts, singular G);
/// support_out: ceil(k/64) words. Returns kWarpOverflow, having written nothing, when the
/// column needs more than ws.pmax passive indices.
template <class T, class Lanes>
NNMF_HD int nnls_warp(const Lanes& lanes, const T* G, index_t k, const T* c_in, T* s_out,
                      WarpWork<T> ws, const std::uint64_t* warm, const T* z0,
                      std::uint64_t* support_out, const ColumnParams<T>& prm, int* iters_out) {
  T *x = ws.x, *c = ws.c, *w = ws.w, *v = ws.v, *y = ws.y, *z = ws.z, *L = ws.L;
  int *P = ws.P, *state = ws.state;
  lanes.each(0, k, [&](index_t i) {
    x[i] = T(0);
    state[i] = kStateZero;
    c[i] = c_in[i];
  });
  // max |c_i| (exact in any order)
  const LaneBest<T> big = lanes.best(
      0, k, LaneBest<T>{T(0), -1},
      [&](index_t i) { return LaneBest<T>{c[i] < T(0) ? -c[i] : c[i], static_cast<int>(i)}; },
      [](const LaneBest<T>& a, const LaneBest<T>& b) { return beats_max(a, b); });
  const T scale = big.i >= 0 && big.v > T(0) ? big.v : T(0);
  // As nnls_column: the tolerance is relative to the column's own scale, floored only at the
  // smallest normal number; a NaN or infinite c_i gives status 1 with x = 0, never a silent
  // "converged" zero.
  const T huge = sizeof(T) == sizeof(float) ? T(FLT_MAX) : T(DBL_MAX);
  const T tiny = sizeof(T) == sizeof(float) ? T(FLT_MIN) : T(DBL_MIN);
  const T nonfinite = lanes.template sum<T>(0, k, [&](index_t i) {
    const T a = c[i] < T(0) ? -c[i] : c[i];
    return a <= huge ? T(0) : T(1);
  });
  if (nonfinite != T(0)) {
    lanes.each(0, (k + 63) / 64, [&](index_t q) { support_out[q] = 0; });
    lanes.each(0, k, [&](index_t i) { s_out[i] = T(0); });
    *iters_out = 0;
    return 1;
  }
  const T tol = prm.tol_rel * (scale > tiny ? scale : tiny);
  index_t np = 0;
  int iters = 0;
  int status = 0;

  bool start = false;
  if (warm) {
    lanes.each(0, k, [&](index_t i) {
      if ((warm[i >> 6] >> (i & 63)) & 1u) state[i] = kStateCandidate;
    });
    for (index_t q = 0; q < (k + 63) / 64; ++q) start = start || warm[q] != 0;
  } else if (z0) {
    // The probe costs one read of z0 here (k / 32 per lane), not two triangular solves: a
    // start that cannot win (sparse solutions) is dropped for the price of a count.
    const T positive =
        lanes.template sum<T>(0, k, [&](index_t i) { return z0[i] > T(0) ? T(1) : T(0); });
    if (3 * static_cast<index_t>(positive) >= 2 * k) {
      lanes.each(0, k, [&](index_t i) {
        if (z0[i] > T(0)) state[i] = kStateCandidate;
      });
      start = true;
    }
  }
  if (start) {
    index_t candidates = 0;
    for (index_t i = 0; i < k; ++i) candidates += state[i] == kStateCandidate;
    if (candidates > ws.pmax) return kWarpOverflow;
    // P = the candidates in index order (uniform scan; the leader writes).
    for (index_t i = 0; i < k; ++i) {
      if (state[i] == kStateCandidate) {
        if (lanes.leader()) P[np] = static_cast<int>(i);
        ++np;
      }
    }
    lanes.sync();
    if (warp_chol_build(lanes, G, k, L, P, np, w, prm.pivot_eps)) {
      lanes.each(0, np, [&](index_t r) { state[P[r]] = kStatePassive; });
    } else {
      // A numerically dependent column in the set: admit the columns one at a time.
      np = 0;
      for (index_t i = 0; i < k; ++i) {
        if (state[i] != kStateCandidate) continue;
        const bool ok = warp_chol_append(lanes, G, k, L, P, np, static_cast<int>(i), prm.pivot_eps);
        if (lanes.leader()) {
          state[i] = ok ? kStatePassive : kStateZero;
          if (ok) P[np] = static_cast<int>(i);
        }
        lanes.sync();
        if (ok) ++np;
      }
    }
    // Drop nonpositive components until the least-squares solution on P is positive.
    lanes.each(0, np, [&](index_t r) { v[r] = c[P[r]]; });
    warp_forward_from(lanes, L, np, v, y, 0);
    while (np > 0) {
      warp_backward(lanes, L, np, y, v, z);
      index_t first_removed = -1;
      for (index_t r = np - 1; r >= 0; --r) {
        if (!(z[r] > T(0))) {
          const int p = P[r];
          lanes.sync();
          if (lanes.leader()) state[p] = kStateZero;
          warp_chol_delete(lanes, L, P, np, r, v);
          --np;
          first_removed = r;
        }
      }
      if (first_removed < 0) {
        lanes.each(0, np, [&](index_t r) { x[P[r]] = z[r]; });
        break;
      }
      ++iters;
      lanes.each(first_removed, np, [&](index_t r) { v[r] = c[P[r]]; });
      warp_forward_from(lanes, L, np, v, y, first_removed);
    }
  }

  for (;;) {
    // w_i = c_i - (G_{i,P} x_P) off the passive set, summed as nnls_column sums it (passive_product).
    lanes.each(0, np, [&](index_t r) { z[r] = x[P[r]]; });
    const LaneBest<T> pick = lanes.best(
        0, k, LaneBest<T>{tol, -1},
        [&](index_t i) {
          if (state[i] != kStateZero) return LaneBest<T>{tol, -1};
          const T wi = c[i] - passive_product<T>(G + i * k, P, z, np);
          w[i] = wi;
          return wi > tol ? LaneBest<T>{wi, static_cast<int>(i)} : LaneBest<T>{tol, -1};
        },
        [](const LaneBest<T>& a, const LaneBest<T>& b) { return beats_max(a, b); });
    const int t = pick.i;
    if (t < 0) break;  // KKT satisfied to tolerance
    if (iters >= prm.max_iter) {
      status = 1;
      break;
    }
    ++iters;
    if (np == ws.pmax) return kWarpOverflow;  // no room for another row of the factor
    if (!warp_chol_append(lanes, G, k, L, P, np, t, prm.pivot_eps)) {
      if (lanes.leader()) state[t] = kStateExcluded;  // dependent on the passive columns
      lanes.sync();
      continue;
    }
    {
      const index_t o = tri_off(np);
      const T dot = lanes.template sum<T>(0, np, [&](index_t q) { return L[o + q] * y[q]; });
      const T ynp = (c[t] - dot) * L[o + np];
      lanes.sync();
      if (lanes.leader()) {
        y[np] = ynp;
        P[np] = t;
        state[t] = kStatePassive;
      }
      lanes.sync();
      ++np;
    }

    bool first = true;
    bool removed_any = false;
    for (;;) {
      warp_backward(lanes, L, np, y, v, z);
      const T nonpos =
          lanes.template sum<T>(0, np, [&](index_t r) { return z[r] > T(0) ? T(0) : T(1); });
      if (nonpos == T(0)) {
        lanes.each(0, np, [&](index_t r) { x[P[r]] = z[r]; });
        break;
      }
      if (first && !(z[np - 1] > T(0))) {
        // Rounding made the entering variable nonpositive although w_t > tol: undo it.
        --np;
        lanes.sync();
        if (lanes.leader()) state[t] = kStateExcluded;
        lanes.sync();
        break;
      }
      first = false;
      // Step from x towards z until the first passive component reaches zero.
      const LaneBest<T> step = lanes.best(
          0, np, LaneBest<T>{T(1), -1},
          [&](index_t r) {
            if (z[r] > T(0)) return LaneBest<T>{T(1), -1};
            const T xp = x[P[r]];
            return LaneBest<T>{xp / (xp - z[r]), static_cast<int>(r)};
          },
          [](const LaneBest<T>& a, const LaneBest<T>& b) { return beats_min(a, b); });
      const T alpha = step.i >= 0 ? step.v : T(1);
      const index_t rmin = step.i;
      lanes.each(0, np, [&](index_t r) {
        const int p = P[r];
        const T xp = x[p] + alpha * (z[r] - x[p]);
        if (r == rmin || !(xp > T(0))) {
          x[p] = T(0);
          state[p] = kStateZero;
        } else {
          x[p] = xp;
        }
      });
      index_t first_removed = np;
      for (index_t r = np - 1; r >= 0; --r) {
        if (state[P[r]] == kStateZero) {
          warp_chol_delete(lanes, L, P, np, r, v);
          --np;
          first_removed = r;
        }
      }
      removed_any = true;
      lanes.each(first_removed, np, [&](index_t r) { v[r] = c[P[r]]; });
      warp_forward_from(lanes, L, np, v, y, first_removed);
      if (++iters >= prm.max_iter) {
        status = 1;
        break;
      }
    }
    if (status) break;
    if (removed_any) {
      lanes.each(0, k, [&](index_t i) {
        if (state[i] == kStateExcluded) state[i] = kStateZero;
      });
    }
  }

  lanes.each(0, (k + 63) / 64, [&](index_t q) {
    std::uint64_t word = 0;
    for (index_t i = 64 * q; i < k && i < 64 * q + 64; ++i)
      if (state[i] == kStatePassive) word |= std::uint64_t{1} << (i & 63);
    support_out[q] = word;
  });
  lanes.each(0, k, [&](index_t i) { s_out[i] = x[i]; });
  *iters_out = iters;
  return status;
}

/// Masked solve for one column by one warp (column_solver.hpp's masked_solve_column):
/// z_T = G_TT^{-1} d_T, z = 0 off T (T given as ceil(k/64) words). G_TT is factored with pivots
/// judged against pivot_eps * max(diag G_TT); when one fails, G_TT + ridge max(diag G_TT) I is
/// factored instead and 1 is returned (regularized), else 0 (kWarpOverflow when |T| > ws.pmax).
/// d_in, z_out: column j of D and Z.
template <class T, class Lanes>
NNMF_HD int masked_warp(const Lanes& lanes, const T* G, index_t k, const std::uint64_t* support,
                        const T* d_in, T* z_out, WarpWork<T> ws, T pivot_eps, T ridge) {
  T *v = ws.v, *y = ws.y, *z = ws.z, *L = ws.L;
  int* P = ws.P;
  index_t count = 0;
  for (index_t i = 0; i < k; ++i) count += (support[i >> 6] >> (i & 63)) & 1u;
  if (count > ws.pmax) return kWarpOverflow;
  index_t np = 0;
  T dmax = T(0);
  for (index_t i = 0; i < k; ++i) {  // uniform scan of the support bits
    if ((support[i >> 6] >> (i & 63)) & 1u) {
      if (lanes.leader()) P[np] = static_cast<int>(i);
      ++np;
      const T d = G[i + i * k];
      dmax = d > dmax ? d : dmax;
    }
  }
  lanes.sync();
  int regularized = 0;
  if (np > 0) {
    const T dref = dmax > T(0) ? dmax : T(1);
    if (!warp_chol_build(lanes, G, k, L, P, np, v, T(0), T(0), pivot_eps * dref)) {
      regularized = 1;
      warp_chol_build(lanes, G, k, L, P, np, v, T(0), ridge * dref, T(0));
    }
  }
  lanes.each(0, k, [&](index_t i) { z_out[i] = T(0); });
  lanes.each(0, np, [&](index_t r) { v[r] = d_in[P[r]]; });
  warp_forward_from(lanes, L, np, v, y, 0);
  warp_backward(lanes, L, np, y, v, z);
  lanes.each(0, np, [&](index_t r) { z_out[P[r]] = z[r]; });
  return regularized;
}

/// nnls_warp on the on-chip workspace (@p chip: WarpWork for k and pmax), again on the spill
/// workspace (@p spill: WarpWork for k and k, global memory) when the column outgrows it: the
/// warp kernel's column. Returns nnls_warp's status. The workspaces are carved here from their
/// bases, one at a time, and the solver has one call site: fewer live registers than two
/// carved workspaces or two inlined solvers.
template <class T, class Lanes>
NNMF_HD int solve_column_warp(const Lanes& lanes, const T* G, index_t k, const T* c_in, T* s_out,
                              void* chip, index_t pmax, void* spill, const std::uint64_t* warm,
                              const T* z0, std::uint64_t* support_out, const ColumnParams<T>& prm,
                              int* iters_out) {
  int st = kWarpOverflow;
#if defined(__CUDA_ARCH__)
#pragma unroll 1
#endif
  for (int attempt = 0; attempt < 2 && st == kWarpOverflow; ++attempt) {
    const WarpWork<T> ws = attempt == 0 ? WarpWork<T>::carve(chip, k, pmax)
                                        : WarpWork<T>::carve(spill, k, k);
    st = nnls_warp(lanes, G, k, c_in, s_out, ws, warm, z0, support_out, prm, iters_out);
  }
  return st;
}

/// masked_warp likewise.
template <class T, class Lanes>
NNMF_HD int masked_column_warp(const Lanes& lanes, const T* G, index_t k,
                               const std::uint64_t* support, const T* d_in, T* z_out, void* chip,
                               index_t pmax, void* spill, T pivot_eps, T ridge) {
  int r = kWarpOverflow;
#if defined(__CUDA_ARCH__)
#pragma unroll 1
#endif
  for (int attempt = 0; attempt < 2 && r == kWarpOverflow; ++attempt) {
    const WarpWork<T> ws = attempt == 0 ? WarpWork<T>::carve(chip, k, pmax)
                                        : WarpWork<T>::carve(spill, k, k);
    r = masked_warp(lanes, G, k, support, d_in, z_out, ws, pivot_eps, ridge);
  }
  return r;
}

/// Column b of H = G^{-1} from the packed factor Lfull of G (H e_b by two triangular solves):
/// the start of every cold column is then Z0 = H C, one GEMM. a, y, z: k scratch each;
/// h: the k entries of column b of H.
template <class T, class Lanes>
NNMF_HD void warp_inverse_column(const Lanes& lanes, const T* Lfull, index_t k, index_t b, T* a,
                                 T* y, T* z, T* h) {
  lanes.each(0, k, [&](index_t i) { a[i] = i == b ? T(1) : T(0); });
  warp_forward_from(lanes, Lfull, k, a, y, 0);
  warp_backward(lanes, Lfull, k, y, a, z);
  lanes.each(0, k, [&](index_t i) { h[i] = z[i]; });
}

/// The packed factor of the whole of G (column_solver.hpp's chol_full) by one warp, with
/// P = identity in ints (k entries) and col (k) as scratch. Returns false when G is
/// numerically singular.
template <class T, class Lanes>
NNMF_HD bool warp_chol_full(const Lanes& lanes, const T* G, index_t k, T* Lf, int* ints, T* col,
                            T pivot_eps) {
  lanes.each(0, k, [&](index_t i) { ints[i] = static_cast<int>(i); });
  return warp_chol_build(lanes, G, k, Lf, ints, k, col, pivot_eps);
}

}  // namespace nnmf::detail::cuda
