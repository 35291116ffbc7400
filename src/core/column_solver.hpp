// Per-column solvers shared by the host and CUDA backends.
//
// Both backends call exactly this code: the host once per column inside an OpenMP loop, the
// CUDA kernel once per thread. Vectors are reached through Vec, which strides its elements
// (stride 1 on the host; on the device the workspace of consecutive threads is interleaved
// so that a warp's accesses to element i are coalesced). The host tests therefore exercise
// the same arithmetic and control flow as the GPU kernel.
#pragma once

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

/// Packed row-wise lower-triangular storage: row r holds L(r, 0..r) from offset r(r+1)/2.
NNMF_HD index_t tri_off(index_t r) { return r * (r + 1) / 2; }

/// Solves L y = b in place (b, y in passive-set order, length np).
template <class T, class St>
NNMF_HD void tri_forward(Vec<T, St> L, index_t np, Vec<T, St> b) {
  for (index_t r = 0; r < np; ++r) {
    const index_t o = tri_off(r);
    T acc = b[r];
    for (index_t q = 0; q < r; ++q) acc -= L[o + q] * b[q];
    b[r] = acc / L[o + r];
  }
}

/// Solves L^T z = y in place (row-oriented so that rows of the packed factor are read).
template <class T, class St>
NNMF_HD void tri_backward(Vec<T, St> L, index_t np, Vec<T, St> y) {
  for (index_t r = np - 1; r >= 0; --r) {
    const index_t o = tri_off(r);
    const T zr = y[r] / L[o + r];
    y[r] = zr;
    for (index_t q = 0; q < r; ++q) y[q] -= L[o + q] * zr;
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
    T acc = Gt[P[r]];
    for (index_t q = 0; q < r; ++q) acc -= L[orow + q] * L[o + q];
    acc /= L[orow + r];
    L[o + r] = acc;
    ss += acc * acc;
  }
  const T gtt = Gt[t] + shift;
  const T d2 = gtt - ss;
  if (!(d2 > pivot_eps * gtt) || !(d2 > T(0))) return false;
  L[o + np] = std::sqrt(d2);
  return true;
}

/// Recomputes the factor of G_PP for P[0..np), dropping (and zeroing in x) any variable
/// whose pivot fails. Returns the new np.
template <class T, class St>
NNMF_HD index_t chol_refactor(const T* G, index_t k, Vec<T, St> L, Vec<int, St> P, index_t np,
                              Vec<T, St> x, Vec<int, St> state, T pivot_eps) {
  index_t kept = 0;
  for (index_t r = 0; r < np; ++r) {
    const int t = P[r];
    P[kept] = t;  // chol_append reads P[0..kept)
    if (chol_append(G, k, L, P, kept, t, T(0), pivot_eps)) {
      ++kept;
    } else {
      x[t] = T(0);
      state[t] = 0;
    }
  }
  return kept;
}

/// z (passive order) = G_PP^{-1} c_P using the current factor.
template <class T, class St>
NNMF_HD void solve_passive(Vec<T, St> L, Vec<int, St> P, index_t np, Vec<const T, St> c,
                           Vec<T, St> z) {
  for (index_t r = 0; r < np; ++r) z[r] = c[P[r]];
  tri_forward(L, np, z);
  tri_backward(L, np, z);
}

enum : int { kStateZero = 0, kStatePassive = 1, kStateExcluded = 2 };

/// Lawson-Hanson NNLS for one column on the normal equations:
///   minimise 1/2 s^T G s - c^T s  subject to  s >= 0.
/// G: k x k column-major (ld = k), symmetric PSD. On return x holds the solution (x > 0 exactly
/// on the passive set, 0 elsewhere) and the passive set is written as bits to support_out
/// (ceil(k/64) words). warm (same layout) may be null. Returns 0 when converged, 1 when the
/// iteration cap was reached (x then is feasible but not optimal). *iters gets the count.
template <class T, class St, class SupportPtr, class WarmPtr>
NNMF_HD int nnls_column(const T* G, index_t k, Vec<const T, St> c, Vec<T, St> x, Vec<T, St> z,
                        Vec<T, St> w, Vec<T, St> L, Vec<int, St> P, Vec<int, St> state,
                        WarmPtr warm, SupportPtr support_out, const ColumnParams<T>& prm,
                        int* iters_out) {
  T scale = T(0);
  for (index_t i = 0; i < k; ++i) {
    x[i] = T(0);
    state[i] = kStateZero;
    const T a = c[i] < T(0) ? -c[i] : c[i];
    scale = a > scale ? a : scale;
  }
  const T tiny = T(1e-30);
  const T tol = prm.tol_rel * (scale > tiny ? scale : tiny);
  index_t np = 0;
  int iters = 0;
  int status = 0;

  if (warm) {
    for (index_t i = 0; i < k; ++i) {
      if ((warm[i >> 6] >> (i & 63)) & 1u) {
        if (chol_append(G, k, L, P, np, static_cast<int>(i), T(0), prm.pivot_eps)) {
          P[np++] = static_cast<int>(i);
          state[i] = kStatePassive;
        }
      }
    }
    // Drop nonpositive components until the least-squares solution on P is positive.
    while (np > 0) {
      solve_passive(L, P, np, c, z);
      index_t kept = 0;
      for (index_t r = 0; r < np; ++r) {
        if (z[r] > T(0)) {
          P[kept++] = P[r];
        } else {
          state[P[r]] = kStateZero;
        }
      }
      if (kept == np) {
        for (index_t r = 0; r < np; ++r) x[P[r]] = z[r];
        break;
      }
      ++iters;
      np = chol_refactor(G, k, L, P, kept, x, state, prm.pivot_eps);
    }
  }

  for (;;) {
    // w = c - G x, needed only outside the passive set.
    for (index_t i = 0; i < k; ++i) w[i] = c[i];
    for (index_t r = 0; r < np; ++r) {
      const int p = P[r];
      const T xp = x[p];
      const T* Gp = G + static_cast<index_t>(p) * k;
      for (index_t i = 0; i < k; ++i) w[i] -= Gp[i] * xp;
    }
    int t = -1;
    T wmax = tol;
    for (index_t i = 0; i < k; ++i) {
      if (state[i] == kStateZero && w[i] > wmax) {
        wmax = w[i];
        t = static_cast<int>(i);
      }
    }
    if (t < 0) break;  // KKT satisfied to tolerance
    if (iters >= prm.max_iter) {
      status = 1;
      break;
    }
    ++iters;
    if (!chol_append(G, k, L, P, np, t, T(0), prm.pivot_eps)) {
      state[t] = kStateExcluded;  // numerically dependent on the passive columns
      continue;
    }
    P[np++] = t;
    state[t] = kStatePassive;

    bool first = true;
    bool removed_any = false;
    for (;;) {
      solve_passive(L, P, np, c, z);
      bool feasible = true;
      for (index_t r = 0; r < np; ++r) feasible = feasible && (z[r] > T(0));
      if (feasible) {
        for (index_t r = 0; r < np; ++r) x[P[r]] = z[r];
        break;
      }
      if (first && !(z[np - 1] > T(0))) {
        // Rounding made the entering variable nonpositive although w_t > tol: undo the
        // addition (the factor's last row) and keep t out until the passive set shrinks.
        --np;
        state[t] = kStateExcluded;
        break;
      }
      first = false;
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
      index_t kept = 0;
      for (index_t r = 0; r < np; ++r) {
        const int p = P[r];
        const T xp = x[p] + alpha * (z[r] - x[p]);
        if (r == rmin || !(xp > T(0))) {
          x[p] = T(0);
          state[p] = kStateZero;
        } else {
          x[p] = xp;
          P[kept++] = p;
        }
      }
      removed_any = true;
      np = chol_refactor(G, k, L, P, kept, x, state, prm.pivot_eps);
      if (++iters >= prm.max_iter) {
        status = 1;
        break;
      }
    }
    if (status) break;
    if (removed_any) {
      for (index_t i = 0; i < k; ++i)
        if (state[i] == kStateExcluded) state[i] = kStateZero;
    }
  }

  const index_t words = (k + 63) / 64;
  for (index_t q = 0; q < words; ++q) support_out[q] = 0;
  for (index_t r = 0; r < np; ++r) {
    const int p = P[r];
    support_out[p >> 6] |= std::uint64_t{1} << (p & 63);
  }
  *iters_out = iters;
  return status;
}

/// Masked solve for one column: z_T = G_TT^{-1} g_T, z = 0 off T (T given as bits).
/// When a Cholesky pivot^2 falls below pivot_eps * max(diag G_TT), the block is refactored as
/// G_TT + delta I with delta = ridge * max(diag G_TT) and 1 is returned (else 0).
template <class T, class St, class SupportPtr>
NNMF_HD int masked_solve_column(const T* G, index_t k, SupportPtr support, Vec<const T, St> g,
                                Vec<T, St> z, Vec<T, St> y, Vec<T, St> L, Vec<int, St> P,
                                T pivot_eps, T ridge) {
  index_t np = 0;
  T dmax = T(0);
  for (index_t i = 0; i < k; ++i) {
    z[i] = T(0);
    if ((support[i >> 6] >> (i & 63)) & 1u) {
      P[np++] = static_cast<int>(i);
      const T d = G[i + i * k];
      dmax = d > dmax ? d : dmax;
    }
  }
  if (np == 0) return 0;
  const T dref = dmax > T(0) ? dmax : T(1);
  int regularized = 0;
  T shift = T(0);
  T threshold = pivot_eps * dref;  // relative to the largest diagonal entry of the block
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool ok = true;
    for (index_t r = 0; ok && r < np; ++r) {
      const index_t o = tri_off(r);
      const int t = P[r];
      const T* Gt = G + static_cast<index_t>(t) * k;
      T ss = 0;
      for (index_t q = 0; q < r; ++q) {
        const index_t oq = tri_off(q);
        T acc = Gt[P[q]];
        for (index_t u = 0; u < q; ++u) acc -= L[oq + u] * L[o + u];
        acc /= L[oq + q];
        L[o + q] = acc;
        ss += acc * acc;
      }
      const T d2 = Gt[t] + shift - ss;
      if (!(d2 > threshold)) {
        ok = false;
      } else {
        L[o + r] = std::sqrt(d2);
      }
    }
    if (ok) break;
    // G_TT + delta I is positive definite for PSD G, so the second attempt succeeds.
    regularized = 1;
    shift = ridge * dref;
    threshold = T(0);
  }
  for (index_t r = 0; r < np; ++r) y[r] = g[P[r]];
  tri_forward(L, np, y);
  tri_backward(L, np, y);
  for (index_t r = 0; r < np; ++r) z[P[r]] = y[r];
  return regularized;
}

}  // namespace nnmf::detail
