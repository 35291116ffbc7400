// CUDA batched NNLS (nnls_batch) and masked solve (masked_solve), two kernels each:
//
// v2, a warp per column (cuda/warp_nnls.hpp), used whenever G and one warp's workspace fit in
// a block's shared memory (NNMF_CUDA_NNLS=thread forces v1):
//   1. without a warm start, one warp factors the whole of G (chol_full_kernel), k warps form
//      H = G^{-1} (inverse_kernel) and cuBLAS Z0 (k, m) = H C: every column's unconstrained
//      solution, read by its probe;
//   2. the kernel: each block copies G (k, k) into shared memory, then warp w of the grid
//      solves columns w, w + W, ... in place (C and S columns are contiguous) with its
//      workspace in shared memory (a column that outgrows it again in the warp's global
//      spill workspace); counters by one integer atomicAdd per warp.
//
// v1, a thread per column running column_solver.hpp's code (cuda/batch_layout.hpp):
//   1. Ct (m, k) = C^T by cuBLAS geam, so that a warp's 32 consecutive columns read element i
//      from 32 consecutive addresses;
//   2. without a warm start, one warp factors the whole of G (chol_full_kernel) for the
//      cold-start probe of nnls_column;
//   3. the kernel: each block copies G (k, k) into shared memory (global memory when k k
//      sizeof(T) exceeds the opt-in limit), then every thread solves columns t, t + nthreads,
//      ... with its interleaved workspace (cuda/batch_layout.hpp) and writes St (m, k);
//   4. S (k, m) = St^T by geam. The per-column iteration counts and flags are summed per
//      thread, per block (cub::BlockReduce) and over blocks by integer atomics.
// Integer sums are exact, so the totals do not depend on the order of the blocks or warps.
// masked_solve has the same shapes with D, Z in place of C, S.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cub/block/block_reduce.cuh>
#include <mutex>
#include <set>
#include <utility>

#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "cuda/batch_layout.hpp"
#include "cuda/blas.hpp"
#include "cuda/cuda_resources.hpp"
#include "cuda/warp_nnls.hpp"

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

/// Packed factor of the whole of G for the cold-start probe (column_solver.hpp's layout), once
/// per batch, by one warp (warp_nnls.hpp's warp_chol_full; dynamic shared memory: k reals and
/// k ints of scratch).
template <class T>
__global__ void chol_full_kernel(const T* __restrict__ G, index_t k, T pivot_eps, T* Lfull,
                                 int* ok) {
  extern __shared__ __align__(16) unsigned char smem[];
  if (blockIdx.x != 0 || threadIdx.x >= kWarpLanes) return;
  T* col = reinterpret_cast<T*>(smem);  // (k)
  int* ints = reinterpret_cast<int*>(col + k);  // (k)
  const DeviceLanes lanes{threadIdx.x};
  const bool good = warp_chol_full(lanes, G, k, Lfull, ints, col, pivot_eps);
  if (lanes.leader()) *ok = good ? 1 : 0;
}

/// H = G^{-1} from the packed factor of G, column b by warp b (blocks of one warp; dynamic
/// shared memory: 3 k reals), for the start Z0 = H C of every cold column. H is left
/// unwritten when the factor failed (*ok == 0; the NNLS kernel then makes no probe).
template <class T>
__global__ void inverse_kernel(const T* __restrict__ Lfull, const int* ok, index_t k, T* H) {
  extern __shared__ __align__(16) unsigned char smem[];
  if (!*ok || threadIdx.x >= kWarpLanes) return;
  T* a = reinterpret_cast<T*>(smem);  // (k) each
  T* y = a + k;
  T* z = y + k;
  const DeviceLanes lanes{threadIdx.x};
  const index_t b = blockIdx.x;
  warp_inverse_column(lanes, Lfull, k, b, a, y, z, H + b * k);
}

/// Most warps of the warp-per-column kernels in one block.
constexpr int kMaxWarpsPerBlock = 8;
/// Blocks of kMaxWarpsPerBlock warps the register budget must let reside on one SM
/// (__launch_bounds__'s second argument): ptxas then keeps the warp kernels within
/// 65536 / (kWarpBlocksPerSm * 256) registers per thread.
#ifndef NNMF_WARP_BLOCKS_PER_SM
#define NNMF_WARP_BLOCKS_PER_SM 2
#endif
constexpr int kWarpBlocksPerSm = NNMF_WARP_BLOCKS_PER_SM;

/// Where a warp kernel's workspaces are: G's bytes (rounded to 16) at the start of shared
/// memory, then one WarpWork of pmax passive indices per warp; when pmax < k, a WarpWork of
/// pmax = k per warp of the grid in global memory (spill) for the columns that outgrow it.
struct WarpShape {
  std::size_t g_bytes = 0;
  index_t pmax = 0;
  unsigned char* spill = nullptr;
};

/// Base of warp @p warp's on-chip workspace (after G).
template <class T>
__device__ unsigned char* chip_base(unsigned char* smem, const WarpShape& s, index_t k,
                                    unsigned warp) {
  return smem + s.g_bytes + warp * WarpWork<T>::bytes(k, s.pmax);
}

/// Base of the spill workspace of warp @p grid_warp of the grid (null when pmax == k: a
/// column then never outgrows the on-chip workspace).
template <class T>
__device__ unsigned char* spill_base(const WarpShape& s, index_t k, index_t grid_warp) {
  return s.spill ? s.spill + grid_warp * WarpWork<T>::bytes(k, k) : nullptr;
}

/// The warp-per-column NNLS (warp_nnls.hpp): G (k, k) staged in shared memory, then warp w of
/// the grid solves columns w, w + W, ... (W = warps launched) with its on-chip workspace.
/// C (k, m) and S (k, m) are read and written in place, a column by a warp's lanes (contiguous).
template <class T>
__global__ void __launch_bounds__(kMaxWarpsPerBlock * kWarpLanes, kWarpBlocksPerSm)
    nnls_warp_kernel(const T* __restrict__ G, index_t k, const T* __restrict__ C, index_t ldc,
                     T* __restrict__ S, index_t lds, index_t m, const std::uint64_t* warm,
                     std::uint64_t* support, std::uint8_t* status, const T* Z0, index_t ldz,
                     const int* Lfull_ok, ColumnParams<T> prm, WarpShape shape,
                     unsigned long long* totals) {
  extern __shared__ __align__(16) unsigned char smem[];  // G (k, k), then one WarpWork per warp
  const T* Gs = stage_gram(G, k, true, smem);
  const unsigned warps = blockDim.x / kWarpLanes, warp = threadIdx.x / kWarpLanes;
  const DeviceLanes lanes{threadIdx.x % kWarpLanes};
  unsigned char* chip = chip_base<T>(smem, shape, k, warp);
  unsigned char* spill = spill_base<T>(shape, k, blockIdx.x * warps + warp);
  const bool probe = Z0 && *Lfull_ok;
  const index_t wpc = (k + 63) / 64;
  unsigned long long iters = 0, flagged = 0;
  for (index_t j = static_cast<index_t>(blockIdx.x) * warps + warp; j < m;
       j += static_cast<index_t>(gridDim.x) * warps) {
    int it = 0;
    const int st = solve_column_warp(lanes, Gs, k, C + j * ldc, S + j * lds, chip, shape.pmax,
                                     spill, warm ? warm + j * wpc : nullptr,
                                     probe ? Z0 + j * ldz : nullptr, support + j * wpc, prm, &it);
    if (lanes.leader()) status[j] = static_cast<std::uint8_t>(st);
    iters += static_cast<unsigned long long>(it);
    flagged += static_cast<unsigned long long>(st);
  }
  // Integer sums are exact: the totals do not depend on the order of the warps.
  if (lanes.leader() && (iters || flagged)) {
    atomicAdd(totals, iters);
    atomicAdd(totals + 1, flagged);
  }
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

/// The warp-per-column masked solve (warp_nnls.hpp's masked_warp), laid out as
/// nnls_warp_kernel: D (k, m) and Z (k, m) in place, a column per warp.
template <class T>
__global__ void __launch_bounds__(kMaxWarpsPerBlock * kWarpLanes, kWarpBlocksPerSm)
    masked_warp_kernel(const T* __restrict__ G, index_t k, const std::uint64_t* support,
                       const T* __restrict__ D, index_t ldd, T* __restrict__ Z, index_t ldz,
                       index_t m, std::uint8_t* status, T pivot_eps, T ridge, WarpShape shape,
                       unsigned long long* totals) {
  extern __shared__ __align__(16) unsigned char smem[];  // G (k, k), then one WarpWork per warp
  const T* Gs = stage_gram(G, k, true, smem);
  const unsigned warps = blockDim.x / kWarpLanes, warp = threadIdx.x / kWarpLanes;
  const DeviceLanes lanes{threadIdx.x % kWarpLanes};
  unsigned char* chip = chip_base<T>(smem, shape, k, warp);
  unsigned char* spill = spill_base<T>(shape, k, blockIdx.x * warps + warp);
  const index_t wpc = (k + 63) / 64;
  unsigned long long flagged = 0;
  for (index_t j = static_cast<index_t>(blockIdx.x) * warps + warp; j < m;
       j += static_cast<index_t>(gridDim.x) * warps) {
    const int reg = masked_column_warp(lanes, Gs, k, support + j * wpc, D + j * ldd, Z + j * ldz,
                                       chip, shape.pmax, spill, pivot_eps, ridge);
    if (status && lanes.leader()) status[j] = static_cast<std::uint8_t>(reg ? 2 : 0);
    flagged += static_cast<unsigned long long>(reg);
  }
  if (lanes.leader() && flagged) atomicAdd(totals + 1, flagged);
}

struct SolveLaunch {
  unsigned int grid = 1;
  std::size_t smem = 0;  ///< dynamic shared memory bytes
  bool g_in_shared = false;
  index_t nthreads() const { return static_cast<index_t>(grid) * kSolveBlock; }
};

/// Raises @p kernel's dynamic shared memory limit to the device's opt-in maximum, once per
/// kernel and device (above 48 KB a block gets dynamic shared memory only after this). Done
/// once with one value, not per call with the call's size: two contexts with different k on
/// two host threads would otherwise race on the attribute between setting it and launching.
template <class Kernel>
void allow_max_shared(const CudaResources& r, Kernel kernel, const cudaFuncAttributes& attr) {
  static std::mutex mutex;
  static std::set<std::pair<const void*, int>> done;
  const std::lock_guard<std::mutex> lock(mutex);
  const auto key = std::make_pair(reinterpret_cast<const void*>(kernel), r.device);
  if (done.count(key)) return;
  const std::size_t room =
      r.smem_optin > attr.sharedSizeBytes ? r.smem_optin - attr.sharedSizeBytes : 0;
  NNMF_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(room)));
  done.insert(key);
}

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
    allow_max_shared(r, kernel, attr);
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

/// Launch of the warp-per-column kernel; ok = false when G and one warp's workspace do not
/// fit in a block's shared memory (then the thread-per-column kernel runs).
struct WarpLaunch {
  bool ok = false;
  unsigned int grid = 1, warps = 1;
  std::size_t smem = 0;
  WarpShape shape;
  std::size_t spill_bytes = 0;  ///< global memory for the spill workspaces (pmax < k)
};

/// Shape of a warp kernel's launch. Eight warps per block with every workspace for pmax = k
/// when they fit; otherwise eight warps with the largest pmax >= min(k, 16) that fits (columns
/// with more passive indices are solved again in global memory: text has |P| of 6-15 at
/// k = 100, where pmax = k would leave 3 warps per block in double); otherwise fewer warps
/// with pmax = k; not ok when one warp with pmax = k does not fit.
template <class T, class Kernel>
WarpLaunch plan_warp(const CudaResources& r, Kernel kernel, index_t k, index_t m) {
  WarpLaunch L;
  cudaFuncAttributes attr{};
  NNMF_CUDA_TRY(cudaFuncGetAttributes(&attr, kernel));
  const std::size_t room =
      r.smem_optin > attr.sharedSizeBytes ? r.smem_optin - attr.sharedSizeBytes : 0;
  const std::size_t g_bytes = (static_cast<std::size_t>(k * k) * sizeof(T) + 15) / 16 * 16;
  L.shape.g_bytes = g_bytes;
  auto fits = [&](index_t p, std::size_t warps) {
    return g_bytes + warps * WarpWork<T>::bytes(k, p) <= room;
  };
  index_t pmax = k;
  while (pmax > std::min<index_t>(k, 16) && !fits(pmax, kMaxWarpsPerBlock)) --pmax;
  if (fits(pmax, kMaxWarpsPerBlock)) {
    L.warps = kMaxWarpsPerBlock;
  } else {
    pmax = k;
    if (!fits(k, 1)) return L;
    L.warps = static_cast<unsigned int>((room - g_bytes) / WarpWork<T>::bytes(k, k));
  }
  L.shape.pmax = pmax;
  L.smem = g_bytes + L.warps * WarpWork<T>::bytes(k, pmax);
  allow_max_shared(r, kernel, attr);
  int per_sm = 0;
  NNMF_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, kernel, static_cast<int>(L.warps * kWarpLanes), L.smem));
  index_t blocks = static_cast<index_t>(std::max(1, r.sm_count)) * std::max(1, per_sm);
  blocks = std::min<index_t>(blocks, (m + L.warps - 1) / L.warps);
  L.grid = static_cast<unsigned int>(std::max<index_t>(1, blocks));
  if (pmax < k)
    L.spill_bytes = static_cast<std::size_t>(L.grid) * L.warps * WarpWork<T>::bytes(k, k);
  L.ok = true;
  return L;
}

/// NNMF_CUDA_NNLS=thread forces the thread-per-column kernels (to compare them with the warp
/// ones on a device).
bool thread_kernel_forced() {
  const char* v = std::getenv("NNMF_CUDA_NNLS");
  return v && std::strcmp(v, "thread") == 0;
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

  // Cold starts probe the unconstrained solution with the factor of the whole of G.
  Buffer<T> Lfull;
  Buffer<int> Lfull_ok;
  if (!warm) {
    Lfull = Buffer<T>(ctx, static_cast<std::size_t>(k * (k + 1) / 2));
    Lfull_ok = Buffer<int>(ctx, 1);
    chol_full_kernel<T><<<1, kWarpLanes, static_cast<std::size_t>(k) * (sizeof(T) + sizeof(int)),
                          r.stream>>>(g, k, prm.pivot_eps, Lfull.data(), Lfull_ok.data());
    NNMF_CUDA_CHECK_LAUNCH();
  }

  const WarpLaunch wl =
      thread_kernel_forced() ? WarpLaunch{} : plan_warp<T>(r, nnls_warp_kernel<T>, k, m);
  if (wl.ok) {
    // Cold starts: Z0 (k, m) = G^{-1} C, the unconstrained solutions of all columns, by one
    // GEMM with H = G^{-1} (k warps); H stays zero if G is singular (then no probe is made).
    Buffer<T> Z0;
    if (!warm) {
      Buffer<T> H(ctx, static_cast<std::size_t>(k * k));
      H.zero();
      inverse_kernel<T><<<static_cast<unsigned int>(k), kWarpLanes,
                          3 * static_cast<std::size_t>(k) * sizeof(T), r.stream>>>(
          Lfull.data(), Lfull_ok.data(), k, H.data());
      NNMF_CUDA_CHECK_LAUNCH();
      Z0 = Buffer<T>(ctx, static_cast<std::size_t>(k * m));
      gemm<T>(ctx, Trans::N, Trans::N, T(1), MatrixView<const T>{H.data(), k, k, k}, C, T(0),
              MatrixView<T>{Z0.data(), k, m, k});
    }
    Buffer<unsigned long long> totals(ctx, 2);
    totals.zero();
    const ColumnParams<T> cp{prm.tol_rel, prm.pivot_eps, prm.max_iter};
    Buffer<unsigned char> spill(ctx, wl.spill_bytes);
    WarpShape shape = wl.shape;
    shape.spill = spill.data();
    nnls_warp_kernel<T><<<wl.grid, wl.warps * kWarpLanes, wl.smem, r.stream>>>(
        g, k, C.data, C.ld, S.data, S.ld, m, warm, support, status, Z0.data(), k,
        Lfull_ok.data(), cp, shape, totals.data());
    NNMF_CUDA_CHECK_LAUNCH();
    unsigned long long host[2] = {0, 0};
    read_totals(r, totals.data(), host, "nnls_batch");
    NnlsBatchStats stats;
    stats.iterations = static_cast<index_t>(host[0]);
    stats.limited_columns = static_cast<index_t>(host[1]);
    return stats;
  }

  Buffer<T> Ct(ctx, static_cast<std::size_t>(m * k)), St(ctx, static_cast<std::size_t>(m * k));
  geam_transpose(r, k, m, C.data, C.ld, Ct.data(), m);  // (m, k)

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

  const WarpLaunch wl =
      thread_kernel_forced() ? WarpLaunch{} : plan_warp<T>(r, masked_warp_kernel<T>, k, m);
  if (wl.ok) {
    Buffer<unsigned long long> totals(ctx, 2);
    totals.zero();
    Buffer<unsigned char> spill(ctx, wl.spill_bytes);
    WarpShape shape = wl.shape;
    shape.spill = spill.data();
    masked_warp_kernel<T><<<wl.grid, wl.warps * kWarpLanes, wl.smem, r.stream>>>(
        g, k, support, D.data, D.ld, Z.data, Z.ld, m, status, pivot_eps, ridge, shape,
        totals.data());
    NNMF_CUDA_CHECK_LAUNCH();
    unsigned long long host[2] = {0, 0};
    read_totals(r, totals.data(), host, "masked_solve");
    return static_cast<index_t>(host[1]);
  }

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
