// CUDA batched NNLS (nnls_batch) and masked solve (masked_solve): one thread per column
// running column_solver.hpp's code, the shared Gram matrix staged in shared memory.
//
// Data flow of nnls_batch (k x k Gram G, k x m right-hand sides C):
//   1. Ct (m, k) = C^T by cuBLAS geam, so that a warp's 32 consecutive columns read element i
//      from 32 consecutive addresses;
//   2. without a warm start, one thread factors the whole of G (chol_full) for the
//      cold-start probe of nnls_column;
//   3. the kernel: each block copies G (k, k) into shared memory (global memory when k k
//      sizeof(T) exceeds the opt-in limit), then every thread solves columns t, t + nthreads,
//      ... with its interleaved workspace (cuda/batch_layout.hpp) and writes St (m, k);
//   4. S (k, m) = St^T by geam. The per-column iteration counts and flags are summed per
//      thread, per block (cub::BlockReduce) and over blocks by integer atomics: integer sums
//      are exact, so the totals do not depend on the order of the blocks.
// masked_solve has the same shape with D, Z in place of C, S.
#include <algorithm>
#include <cstdint>
#include <cub/block/block_reduce.cuh>

#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "cuda/batch_layout.hpp"
#include "cuda/blas.hpp"
#include "cuda/cuda_resources.hpp"

namespace nnmf::detail::cuda {
namespace {

constexpr int kSolveBlock = 128;

/// G for the block's threads: shared memory when @p in_shared (uniform over the block).
template <class T>
__device__ const T* stage_gram(const T* G, index_t k, bool in_shared, unsigned char* smem) {
  if (!in_shared) return G;
  T* Gs = reinterpret_cast<T*>(smem);
  for (index_t e = threadIdx.x; e < k * k; e += blockDim.x) Gs[e] = G[e];
  __syncthreads();
  return Gs;
}

/// totals[0] += sum of iterations, totals[1] += sum of flags over the grid.
__device__ void add_totals(ThreadTotals tot, unsigned long long* totals) {
  using Reduce = cub::BlockReduce<unsigned long long, kSolveBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  const unsigned long long iters = Reduce(tmp).Sum(tot.iterations);
  __syncthreads();  // tmp is reused
  const unsigned long long flagged = Reduce(tmp).Sum(tot.flagged);
  if (threadIdx.x == 0) {
    atomicAdd(totals, iters);
    atomicAdd(totals + 1, flagged);
  }
}

/// Packed factor of the whole of G for the cold-start probe (column_solver.hpp's chol_full),
/// once per batch: O(k^3 / 3) flops on one thread, the same code as the host backend.
template <class T>
__global__ void chol_full_kernel(const T* __restrict__ G, index_t k, T pivot_eps, T* Lfull,
                                 int* ok) {
  if (blockIdx.x == 0 && threadIdx.x == 0) *ok = chol_full(G, k, Lfull, pivot_eps) ? 1 : 0;
}

template <class T>
__global__ void __launch_bounds__(kSolveBlock)
    nnls_batch_kernel(NnlsBatchArgs<T> a, const T* __restrict__ G, bool g_in_shared,
                      unsigned long long* totals) {
  extern __shared__ __align__(16) unsigned char smem[];  // (k, k) G when g_in_shared
  const T* g = stage_gram(G, a.k, g_in_shared, smem);
  const index_t nthreads = static_cast<index_t>(gridDim.x) * blockDim.x;
  const index_t t = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  add_totals(nnls_thread(a, g, t, nthreads), totals);
}

template <class T>
__global__ void __launch_bounds__(kSolveBlock)
    masked_solve_kernel(MaskedSolveArgs<T> a, const T* __restrict__ G, bool g_in_shared,
                        unsigned long long* totals) {
  extern __shared__ __align__(16) unsigned char smem[];
  const T* g = stage_gram(G, a.k, g_in_shared, smem);
  const index_t nthreads = static_cast<index_t>(gridDim.x) * blockDim.x;
  const index_t t = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  add_totals(masked_solve_thread(a, g, t, nthreads), totals);
}

struct SolveLaunch {
  unsigned int grid = 1;
  std::size_t smem = 0;  ///< dynamic shared memory bytes
  bool g_in_shared = false;
  index_t nthreads() const { return static_cast<index_t>(grid) * kSolveBlock; }
};

/// Grid for a column-solve kernel: as many blocks as can be resident (given G's shared
/// memory), no more than the columns need, and few enough that the interleaved workspace
/// (@p work_bytes per thread) stays within a budget of the free device memory.
template <class Kernel>
SolveLaunch plan_solve(const CudaResources& r, Kernel kernel, index_t k, index_t m,
                       std::size_t elem_bytes, std::size_t work_bytes) {
  SolveLaunch L;
  cudaFuncAttributes attr{};
  NNMF_CUDA_TRY(cudaFuncGetAttributes(&attr, kernel));
  const std::size_t g_bytes = static_cast<std::size_t>(k * k) * elem_bytes;
  const std::size_t room =
      r.smem_optin > attr.sharedSizeBytes ? r.smem_optin - attr.sharedSizeBytes : 0;
  if (g_bytes <= room) {
    L.g_in_shared = true;
    L.smem = g_bytes;
    // Above 48 KB a block gets dynamic shared memory only after raising its limit.
    NNMF_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(g_bytes)));
  }
  int per_sm = 0;
  NNMF_CUDA_TRY(
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kSolveBlock, L.smem));
  index_t blocks = static_cast<index_t>(std::max(1, r.sm_count)) * std::max(1, per_sm);
  blocks = std::min(blocks, (m + kSolveBlock - 1) / kSolveBlock);
  // Workspace budget: an eighth of the free memory, between 64 MiB and 2 GiB.
  std::size_t free_b = 0, total_b = 0;
  NNMF_CUDA_TRY(cudaMemGetInfo(&free_b, &total_b));
  const std::size_t budget =
      std::clamp<std::size_t>(free_b / 8, std::size_t{64} << 20, std::size_t{2} << 30);
  const index_t by_memory =
      static_cast<index_t>(budget / std::max<std::size_t>(1, work_bytes * kSolveBlock));
  blocks = std::max<index_t>(1, std::min(blocks, by_memory));
  L.grid = static_cast<unsigned int>(blocks);
  return L;
}

/// A column-solve kernel's launch plan, its interleaved per-thread workspace and the two
/// counters (iterations, flagged columns) its threads add to.
template <class T>
struct SolveWorkspace {
  template <class Kernel>
  SolveWorkspace(const Context& ctx, const CudaResources& r, Kernel kernel, index_t k, index_t m)
      : launch(plan_solve(r, kernel, k, m, sizeof(T),
                          static_cast<std::size_t>(work_reals(k)) * sizeof(T) +
                              static_cast<std::size_t>(work_ints(k)) * sizeof(int))),
        real(ctx, static_cast<std::size_t>(work_reals(k) * launch.nthreads())),
        ints(ctx, static_cast<std::size_t>(work_ints(k) * launch.nthreads())),
        totals(ctx, 2) {
    totals.zero();
  }
  SolveLaunch launch;
  Buffer<T> real;
  Buffer<int> ints;
  Buffer<unsigned long long> totals;
};

/// G with ld = k, copied when the view has a larger leading dimension.
template <class T>
const T* compact_gram(const Context& ctx, MatrixView<const T> G, Buffer<T>& copy) {
  const index_t k = G.rows;
  if (G.ld == k) return G.data;
  const CudaResources& r = resources(ctx);
  copy = Buffer<T>(ctx, static_cast<std::size_t>(k * k));
  NNMF_CUDA_TRY(cudaMemcpy2DAsync(copy.data(), sizeof(T) * k, G.data, sizeof(T) * G.ld,
                                  sizeof(T) * k, k, cudaMemcpyDeviceToDevice, r.stream));
  return copy.data();
}

/// Downloads the two grid totals (synchronises the stream).
void read_totals(const CudaResources& r, const unsigned long long* dev, unsigned long long* host,
                 const char* what) {
  NNMF_CUDA_TRY(
      cudaMemcpyAsync(host, dev, 2 * sizeof(unsigned long long), cudaMemcpyDeviceToHost, r.stream));
  sync_and_check(r, what);
}

}  // namespace

template <class T>
NnlsBatchStats nnls_batch(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                          const NnlsBatchParams<T>& prm, MatrixView<T> S, std::uint64_t* support,
                          const std::uint64_t* warm, std::uint8_t* status) {
  const index_t k = G.rows, m = C.cols;
  if (k == 0 || m == 0) return {};
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  Buffer<T> g_copy;
  const T* g = compact_gram(ctx, G, g_copy);

  Buffer<T> Ct(ctx, static_cast<std::size_t>(m * k)), St(ctx, static_cast<std::size_t>(m * k));
  geam_transpose(r, k, m, C.data, C.ld, Ct.data(), m);  // (m, k)

  // Cold starts probe the unconstrained solution with the factor of the whole of G.
  Buffer<T> Lfull;
  Buffer<int> Lfull_ok;
  if (!warm) {
    Lfull = Buffer<T>(ctx, static_cast<std::size_t>(k * (k + 1) / 2));
    Lfull_ok = Buffer<int>(ctx, 1);
    chol_full_kernel<T><<<1, 1, 0, r.stream>>>(g, k, prm.pivot_eps, Lfull.data(), Lfull_ok.data());
    NNMF_CUDA_CHECK_LAUNCH();
  }

  const auto kernel = nnls_batch_kernel<T>;
  SolveWorkspace<T> w(ctx, r, kernel, k, m);

  NnlsBatchArgs<T> a;
  a.k = k;
  a.m = m;
  a.Ct = Ct.data();
  a.St = St.data();
  a.support = support;
  a.warm = warm;
  a.status = status;
  a.work_real = w.real.data();
  a.work_int = w.ints.data();
  a.Lfull = Lfull.data();
  a.Lfull_ok = Lfull_ok.data();
  a.prm = ColumnParams<T>{prm.tol_rel, prm.pivot_eps, prm.max_iter};
  kernel<<<w.launch.grid, kSolveBlock, w.launch.smem, r.stream>>>(a, g, w.launch.g_in_shared,
                                                                 w.totals.data());
  NNMF_CUDA_CHECK_LAUNCH();

  geam_transpose(r, m, k, St.data(), m, S.data, S.ld);  // S (k, m) = St^T
  unsigned long long host[2] = {0, 0};
  read_totals(r, w.totals.data(), host, "nnls_batch");
  NnlsBatchStats stats;
  stats.iterations = static_cast<index_t>(host[0]);
  stats.limited_columns = static_cast<index_t>(host[1]);
  return stats;
}

template <class T>
index_t masked_solve(const Context& ctx, MatrixView<const T> G, const std::uint64_t* support,
                     MatrixView<const T> D, T pivot_eps, T ridge, MatrixView<T> Z,
                     std::uint8_t* status) {
  const index_t k = G.rows, m = D.cols;
  if (k == 0 || m == 0) return 0;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  Buffer<T> g_copy;
  const T* g = compact_gram(ctx, G, g_copy);

  Buffer<T> Dt(ctx, static_cast<std::size_t>(m * k)), Zt(ctx, static_cast<std::size_t>(m * k));
  geam_transpose(r, k, m, D.data, D.ld, Dt.data(), m);

  const auto kernel = masked_solve_kernel<T>;
  SolveWorkspace<T> w(ctx, r, kernel, k, m);

  MaskedSolveArgs<T> a;
  a.k = k;
  a.m = m;
  a.support = support;
  a.Dt = Dt.data();
  a.Zt = Zt.data();
  a.status = status;
  a.work_real = w.real.data();
  a.work_int = w.ints.data();
  a.pivot_eps = pivot_eps;
  a.ridge = ridge;
  kernel<<<w.launch.grid, kSolveBlock, w.launch.smem, r.stream>>>(a, g, w.launch.g_in_shared,
                                                                 w.totals.data());
  NNMF_CUDA_CHECK_LAUNCH();

  geam_transpose(r, m, k, Zt.data(), m, Z.data, Z.ld);
  unsigned long long host[2] = {0, 0};
  read_totals(r, w.totals.data(), host, "masked_solve");
  return static_cast<index_t>(host[1]);
}

NNMF_INSTANTIATE_NNLS_KERNELS(float)
NNMF_INSTANTIATE_NNLS_KERNELS(double)

}  // namespace nnmf::detail::cuda
