// The per-thread body of the CUDA batched NNLS and masked-solve kernels, written as
// __host__ __device__ code over the device data layout so that the host tests can run it for
// simulated threads and compare it bit for bit with the host backend's unit-stride calls.
//
// Layout (nthreads = threads in the grid, t = global thread index, m = columns):
//   Ct, St, Dt, Zt  (m, k)  transposed right-hand sides / solutions: element i of column j at
//                           [j + i * m], so the threads of a warp (consecutive j) read and write
//                           consecutive addresses;
//   work_real       (nr, nthreads)  per-thread real workspace (column_solver.hpp's
//                           ColumnWorkspace), element e of thread t at [t + e * nthreads]
//                           (interleaved: coalesced across a warp);
//   work_int        (ni, nthreads)  the same for the integer workspace;
//   support, warm   (wpc, m)  ceil(k/64) words per column, as in SupportMask;
//   status          (m)       one byte per column.
// Thread t solves columns t, t + nthreads, t + 2 nthreads, ... (grid-stride loop) and reuses
// its workspace from one column to the next (the column solvers initialise what they read).
#pragma once

#include <cstdint>

#include "core/column_solver.hpp"

namespace nnmf::detail::cuda {

/// Per-thread workspace of both kernels (column_solver.hpp's ColumnWorkspace): reals and
/// ints per thread for rank k.
NNMF_HD index_t work_reals(index_t k) { return ColumnWorkspace<double, RunStride>::reals(k); }
NNMF_HD index_t work_ints(index_t k) { return ColumnWorkspace<double, RunStride>::ints(k); }

/// Thread t's view of the interleaved workspace (element e at base[t + e * nthreads]).
template <class T>
NNMF_HD ColumnWorkspace<T, RunStride> thread_workspace(T* work_real, int* work_int, index_t k,
                                                       index_t t, index_t nthreads) {
  return ColumnWorkspace<T, RunStride>::carve(work_real + t, work_int + t, k, RunStride{nthreads});
}

template <class T>
struct NnlsBatchArgs {
  index_t k = 0, m = 0;
  const T* Ct = nullptr;                ///< (m, k)
  T* St = nullptr;                      ///< (m, k)
  std::uint64_t* support = nullptr;     ///< (wpc, m)
  const std::uint64_t* warm = nullptr;  ///< (wpc, m) or null
  std::uint8_t* status = nullptr;       ///< (m)
  T* work_real = nullptr;               ///< (work_reals(k), nthreads)
  int* work_int = nullptr;              ///< (work_ints(k), nthreads)
  /// Packed factor of the whole of G (chol_full) for the cold-start probe, and the flag
  /// chol_full returned; both null with a warm start.
  const T* Lfull = nullptr;  ///< (k(k+1)/2)
  const int* Lfull_ok = nullptr;
  ColumnParams<T> prm{};
};

/// Per-thread counters, summed over the grid by the kernel.
struct ThreadTotals {
  unsigned long long iterations = 0;
  unsigned long long flagged = 0;  ///< forward: iteration-limit columns; backward: regularized
};

/// The columns of thread @p t of @p nthreads. @p G is (k, k) with ld = k (shared or global).
template <class T>
NNMF_HD ThreadTotals nnls_thread(const NnlsBatchArgs<T>& a, const T* G, index_t t,
                                 index_t nthreads) {
  const index_t k = a.k, m = a.m, wpc = (k + 63) / 64;
  const RunStride cs{m};
  const ColumnWorkspace<T, RunStride> ws =
      thread_workspace(a.work_real, a.work_int, k, t, nthreads);
  const T* Lfull = (a.Lfull && a.Lfull_ok && *a.Lfull_ok) ? a.Lfull : nullptr;
  ThreadTotals tot;
  for (index_t j = t; j < m; j += nthreads) {
    Vec<const T, RunStride> c{a.Ct + j, cs};
    Vec<T, RunStride> x{a.St + j, cs};
    const std::uint64_t* warm = a.warm ? a.warm + j * wpc : nullptr;
    int iters = 0;
    const int st = nnls_column(G, k, c, x, ws, warm, Lfull, a.support + j * wpc, a.prm, &iters);
    a.status[j] = static_cast<std::uint8_t>(st);
    tot.iterations += static_cast<unsigned long long>(iters);
    tot.flagged += static_cast<unsigned long long>(st);
  }
  return tot;
}

template <class T>
struct MaskedSolveArgs {
  index_t k = 0, m = 0;
  const std::uint64_t* support = nullptr;  ///< (wpc, m)
  const T* Dt = nullptr;                   ///< (m, k)
  T* Zt = nullptr;                         ///< (m, k)
  std::uint8_t* status = nullptr;          ///< (m) or null
  T* work_real = nullptr;                  ///< (work_reals(k), nthreads)
  int* work_int = nullptr;                 ///< (work_ints(k), nthreads)
  T pivot_eps = 0, ridge = 0;
};

template <class T>
NNMF_HD ThreadTotals masked_solve_thread(const MaskedSolveArgs<T>& a, const T* G, index_t t,
                                         index_t nthreads) {
  const index_t k = a.k, m = a.m, wpc = (k + 63) / 64;
  const RunStride cs{m};
  const ColumnWorkspace<T, RunStride> ws =
      thread_workspace(a.work_real, a.work_int, k, t, nthreads);
  ThreadTotals tot;
  for (index_t j = t; j < m; j += nthreads) {
    Vec<const T, RunStride> g{a.Dt + j, cs};
    Vec<T, RunStride> z{a.Zt + j, cs};
    const int r = masked_solve_column(G, k, a.support + j * wpc, g, z, ws, a.pivot_eps, a.ridge);
    if (a.status) a.status[j] = static_cast<std::uint8_t>(r ? 2 : 0);
    tot.flagged += static_cast<unsigned long long>(r);
  }
  return tot;
}

}  // namespace nnmf::detail::cuda
