// Type-overloaded cuBLAS calls (64-bit sizes) and small launch helpers shared by the CUDA
// kernel files.
#pragma once

#include <algorithm>

#include "cuda/cuda_resources.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail::cuda {

inline cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                index_t m, index_t n, index_t k, const float* alpha, const float* A,
                                index_t lda, const float* B, index_t ldb, const float* beta,
                                float* C, index_t ldc) {
  return cublasSgemm_64(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                index_t m, index_t n, index_t k, const double* alpha,
                                const double* A, index_t lda, const double* B, index_t ldb,
                                const double* beta, double* C, index_t ldc) {
  return cublasDgemm_64(h, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

inline cublasStatus_t syrk_call(cublasHandle_t h, index_t k, index_t n, const float* alpha,
                                const float* A, index_t lda, const float* beta, float* G,
                                index_t ldg) {
  return cublasSsyrk_64(h, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, k, n, alpha, A, lda, beta, G, ldg);
}
inline cublasStatus_t syrk_call(cublasHandle_t h, index_t k, index_t n, const double* alpha,
                                const double* A, index_t lda, const double* beta, double* G,
                                index_t ldg) {
  return cublasDsyrk_64(h, CUBLAS_FILL_MODE_UPPER, CUBLAS_OP_T, k, n, alpha, A, lda, beta, G, ldg);
}

inline cublasStatus_t geam_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                index_t m, index_t n, const float* alpha, const float* A,
                                index_t lda, const float* beta, const float* B, index_t ldb,
                                float* C, index_t ldc) {
  return cublasSgeam_64(h, ta, tb, m, n, alpha, A, lda, beta, B, ldb, C, ldc);
}
inline cublasStatus_t geam_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                index_t m, index_t n, const double* alpha, const double* A,
                                index_t lda, const double* beta, const double* B, index_t ldb,
                                double* C, index_t ldc) {
  return cublasDgeam_64(h, ta, tb, m, n, alpha, A, lda, beta, B, ldb, C, ldc);
}

/// out (cols x rows, ld = ldo) = in^T for in (rows x cols, ld = ldi), on the context's stream.
/// beta = 0 with B = C is cuBLAS's in-place form, so out is written without being read.
template <class T>
void geam_transpose(const CudaResources& r, index_t rows, index_t cols, const T* in, index_t ldi,
                    T* out, index_t ldo) {
  if (rows == 0 || cols == 0) return;
  const T one = T(1), zero = T(0);
  NNMF_CUDA_TRY(geam_call(r.cublas, CUBLAS_OP_T, CUBLAS_OP_N, cols, rows, &one, in, ldi, &zero, out,
                          ldo, out, ldo));
}

/// Blocks for a grid-stride elementwise kernel over n items: enough to fill the device a few
/// times over, never more than the items need. Depends only on n and the device, so
/// reductions that use it are deterministic for a given context.
inline unsigned int elementwise_blocks(const CudaResources& r, index_t n, int block) {
  const index_t need = (n + block - 1) / block;
  const index_t cap = static_cast<index_t>(std::max(1, r.sm_count)) * 8;
  return static_cast<unsigned int>(std::max<index_t>(1, std::min(need, cap)));
}

}  // namespace nnmf::detail::cuda

#ifdef __CUDACC__
/// Grid-stride loop of elementwise kernels: e runs over [0, n) across the whole grid.
#define NNMF_GRID_STRIDE(e, n)                                                           \
  for (index_t e = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; e < (n); \
       e += static_cast<index_t>(gridDim.x) * blockDim.x)
#endif

