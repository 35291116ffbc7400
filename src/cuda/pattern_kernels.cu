// CUDA sampled products on a sparsity pattern H (held-out entries of X): the device forms of
// the host loops of the same names in src/host/kernels.cpp. One thread per output entry (a
// held-out entry, or an entry of the dense result), each summing in the host's order: no
// atomics, deterministic. Cost O(|H| k).
#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "cuda/blas.hpp"
#include "cuda/cuda_resources.hpp"

namespace nnmf::detail::cuda {
namespace {

constexpr int kBlock = 256;

/// One thread per held-out entry: E[q] = A(i, :) . V(:, j). Columns found by binary search.
template <class T>
__global__ void sampled_product_kernel(MatrixView<const T> A, MatrixView<const T> V, PatternView H,
                                       T* E) {
  NNMF_GRID_STRIDE(q, H.nnz) {
    index_t lo = 0, hi = H.cols;  // the column j with col_ptr[j] <= q < col_ptr[j + 1]
    while (hi - lo > 1) {
      const index_t mid = (lo + hi) / 2;
      if (H.col_ptr[mid] <= q) lo = mid; else hi = mid;
    }
    const index_t i = H.row_idx[q], j = lo;
    T s(0);
    for (index_t r = 0; r < A.cols; ++r) s += A.data[i + r * A.ld] * V.data[r + j * V.ld];
    E[q] = s;
  }
}

/// One thread per entry (r, j) of C (k x m): C(r, j) += alpha sum over column j of H.
template <class T>
__global__ void pattern_tn_kernel(T alpha, MatrixView<const T> A, PatternView H, const T* E,
                                  MatrixView<T> C) {
  NNMF_GRID_STRIDE(e, C.rows * C.cols) {
    const index_t r = e % C.rows, j = e / C.rows;
    T s(0);
    for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) s += A.data[H.row_idx[q] + r * A.ld] * E[q];
    C.data[r + j * C.ld] += alpha * s;
  }
}

/// One thread per entry (i, r) of R (n x k): R(i, r) += alpha sum over row i of H.
template <class T>
__global__ void pattern_nt_kernel(T alpha, PatternView H, const T* E, MatrixView<const T> V,
                                  MatrixView<T> R) {
  NNMF_GRID_STRIDE(e, R.rows * R.cols) {
    const index_t i = e % R.rows, r = e / R.rows;
    T s(0);
    for (index_t p = H.row_ptr[i]; p < H.row_ptr[i + 1]; ++p)
      s += E[H.perm[p]] * V.data[r + H.col_idx[p] * V.ld];
    R.data[i + r * R.ld] += alpha * s;
  }
}

}  // namespace

template <class T>
void sampled_product(const Context& ctx, MatrixView<const T> A, MatrixView<const T> V,
                     const PatternView& H, T* E) {
  if (H.nnz <= 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  sampled_product_kernel<T><<<elementwise_blocks(r, H.nnz, kBlock), kBlock, 0, r.stream>>>(A, V, H, E);
  NNMF_CUDA_CHECK_LAUNCH();
}

template <class T>
void pattern_tn(const Context& ctx, T alpha, MatrixView<const T> A, const PatternView& H,
                const T* E, MatrixView<T> C) {
  const index_t n = C.rows * C.cols;
  if (n <= 0 || H.nnz <= 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  pattern_tn_kernel<T><<<elementwise_blocks(r, n, kBlock), kBlock, 0, r.stream>>>(alpha, A, H, E, C);
  NNMF_CUDA_CHECK_LAUNCH();
}

template <class T>
void pattern_nt(const Context& ctx, T alpha, const PatternView& H, const T* E,
                MatrixView<const T> V, MatrixView<T> R) {
  const index_t n = R.rows * R.cols;
  if (n <= 0 || H.nnz <= 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  pattern_nt_kernel<T><<<elementwise_blocks(r, n, kBlock), kBlock, 0, r.stream>>>(alpha, H, E, V, R);
  NNMF_CUDA_CHECK_LAUNCH();
}

NNMF_INSTANTIATE_PATTERN_KERNELS(float)
NNMF_INSTANTIATE_PATTERN_KERNELS(double)

}  // namespace nnmf::detail::cuda
