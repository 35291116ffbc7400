// CUDA kernels of the baselines (SSNMF, Deep NMF): the device forms of the host loops of the
// same names in src/host/kernels.cpp. Built with --fmad=false like elementwise.cu, so that
// out(i, arg) += alpha * D rounds as on the host. Every kernel writes each output entry from
// one thread: no atomics, deterministic.
#include <cstdint>

#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "cuda/blas.hpp"
#include "cuda/cuda_resources.hpp"

namespace nnmf::detail::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void hadamard_kernel(index_t n, const T* x, const T* y, T* out) {
  NNMF_GRID_STRIDE(i, n) out[i] = x[i] * y[i];
}

/// One thread per pooled entry (i, g): a scan of the group's columns of row i of S.
template <class T>
__global__ void max_pool_kernel(MatrixView<const T> S, const index_t* ptr, MatrixView<T> P,
                                index_t* arg) {
  const index_t k = S.rows;
  NNMF_GRID_STRIDE(e, k * P.cols) {
    const index_t i = e % k, g = e / k;  // P is k x G
    index_t best = ptr[g];
    T bv = S.data[i + best * S.ld];
    for (index_t j = ptr[g] + 1; j < ptr[g + 1]; ++j) {
      const T v = S.data[i + j * S.ld];
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    P.data[i + g * P.ld] = bv;
    arg[i + g * k] = best;
  }
}

/// One thread per pooled entry: routes D(i, g) back to its argmax column (disjoint targets).
template <class T>
__global__ void max_pool_backward_kernel(MatrixView<const T> D, const index_t* arg, T alpha,
                                         MatrixView<T> Out) {
  const index_t k = D.rows;
  NNMF_GRID_STRIDE(e, k * D.cols) {
    const index_t i = e % k, g = e / k;  // D is k x G, Out is k x m
    Out.data[i + arg[i + g * k] * Out.ld] += alpha * D.data[i + g * D.ld];
  }
}


}  // namespace

template <class T>
void hadamard(const Context& ctx, index_t n, const T* x, const T* y, T* out) {
  if (n <= 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  hadamard_kernel<T><<<elementwise_blocks(r, n, kBlock), kBlock, 0, r.stream>>>(n, x, y, out);
  NNMF_CUDA_CHECK_LAUNCH();
}

template <class T>
void max_pool_cols(const Context& ctx, MatrixView<const T> S, const index_t* ptr, MatrixView<T> P,
                   index_t* arg) {
  const index_t n = S.rows * P.cols;
  if (n <= 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  max_pool_kernel<T><<<elementwise_blocks(r, n, kBlock), kBlock, 0, r.stream>>>(S, ptr, P, arg);
  NNMF_CUDA_CHECK_LAUNCH();
}

template <class T>
void max_pool_cols_backward(const Context& ctx, MatrixView<const T> D, const index_t* arg, T alpha,
                            MatrixView<T> Out) {
  const index_t n = D.rows * D.cols;
  if (n <= 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  max_pool_backward_kernel<T>
      <<<elementwise_blocks(r, n, kBlock), kBlock, 0, r.stream>>>(D, arg, alpha, Out);
  NNMF_CUDA_CHECK_LAUNCH();
}

NNMF_INSTANTIATE_BASELINE_KERNELS(float)
NNMF_INSTANTIATE_BASELINE_KERNELS(double)

}  // namespace nnmf::detail::cuda
