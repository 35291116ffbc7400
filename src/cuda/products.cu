// CUDA dense and sparse products: cuBLAS for gemm and gram, cuSPARSE generic SpMM for the
// products with sparse X, CUB's radix sort for the row form of X.
//
// Sparse layouts. X (n x m) is held by columns (CSC); its arrays are the CSR arrays of X^T
// (m x n), and the row form X.rows_view() is the CSR of X (n x m). Both products therefore
// use CSR with op(A) = N, the only case cuSPARSE's deterministic CUSPARSE_SPMM_CSR_ALG3
// supports, with row-major dense operands:
//   spmm_tn:  C^T (m x k, row-major = C column-major, ld C.ld) = X^T (CSR) * A (n x k,
//             row-major = a column-major copy of A^T);
//   spmm_nt:  R^T's storage (n x k row-major) = X (CSR) * Z^T (m x k, row-major = Z
//             column-major, ld Z.ld), then R = alpha * that + beta * R by geam.
// The sparse descriptors and the SpMM workspaces (with cusparseSpMM_preprocess) are created
// on first use and cached in the DSparse (set_backend_cache); X is never densified.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cub/device/device_radix_sort.cuh>
#include <memory>
#include <string>
#include <type_traits>

#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "cuda/blas.hpp"
#include "cuda/cuda_resources.hpp"
#include "cuda/testing.hpp"
#include "nnmf/error.hpp"

namespace nnmf::detail::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
constexpr cudaDataType data_type() {
  return std::is_same<T, float>::value ? CUDA_R_32F : CUDA_R_64F;
}

cublasOperation_t op(Trans t) { return t == Trans::N ? CUBLAS_OP_N : CUBLAS_OP_T; }

/// C = beta C, with beta == 0 writing zeros (stale NaNs included), as the host does.
template <class T>
__global__ void scale_matrix_kernel(T* C, index_t rows, index_t cols, index_t ld, T beta) {
  const index_t n = rows * cols;
  for (index_t e = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<index_t>(gridDim.x) * blockDim.x) {
    T& c = C[e % rows + (e / rows) * ld];
    c = beta == T(0) ? T(0) : beta * c;
  }
}

template <class T>
void scale_matrix(const CudaResources& r, MatrixView<T> C, T beta) {
  if (C.rows == 0 || C.cols == 0 || beta == T(1)) return;
  scale_matrix_kernel<T><<<elementwise_blocks(r, C.rows * C.cols, kBlock), kBlock, 0, r.stream>>>(
      C.data, C.rows, C.cols, C.ld, beta);
  NNMF_CUDA_CHECK_LAUNCH();
}

/// G(i, j) = G(j, i) for i > j: the strict lower triangle from the upper one.
template <class T>
__global__ void mirror_upper_kernel(T* G, index_t k, index_t ld) {
  const index_t n = k * k;
  for (index_t e = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t i = e % k, j = e / k;
    if (i > j) G[i + j * ld] = G[j + i * ld];
  }
}

// ---- cuSPARSE descriptors and workspaces, cached in the DSparse ---------------------------

/// One SpMM configuration: the algorithm cuSPARSE accepted and its (preprocessed) workspace,
/// valid for the dense shapes it was planned with.
struct SpmmPlan {
  bool ready = false;
  index_t k = -1, ldb = -1, ldc = -1;
  cusparseSpMMAlg_t alg = CUSPARSE_SPMM_CSR_ALG3;
  Buffer<unsigned char> work;
};

struct SparseCache {
  explicit SparseCache(const Context& c) : ctx(c) {}
  SparseCache(const SparseCache&) = delete;
  SparseCache& operator=(const SparseCache&) = delete;
  ~SparseCache() {
    if (xt) cusparseDestroySpMat(xt);
    if (x) cusparseDestroySpMat(x);
  }
  Context ctx;                             // keeps the handles alive
  cusparseConstSpMatDescr_t xt = nullptr;  // X^T (m x n), CSR = X's CSC arrays
  cusparseConstSpMatDescr_t x = nullptr;   // X (n x m), CSR = the row form's arrays
  SpmmPlan tn, nt;
};

template <class T>
SparseCache& sparse_cache(const Context& ctx, const DSparse<T>& X) {
  auto* c = static_cast<SparseCache*>(X.backend_cache());
  if (!c) {
    auto fresh = std::make_unique<SparseCache>(ctx);
    c = fresh.get();
    X.set_backend_cache(fresh.release(), [](void* p) { delete static_cast<SparseCache*>(p); });
  }
  return *c;
}

/// CSR descriptor of a CscView read as the CSR of its transpose (cols x rows).
template <class T>
cusparseConstSpMatDescr_t csr_of_transpose(const CscView<T>& v, index_t nnz) {
  cusparseConstSpMatDescr_t d = nullptr;
  NNMF_CUDA_TRY(cusparseCreateConstCsr(&d, v.cols, v.rows, nnz, v.colptr, v.rowind, v.values,
                                       CUSPARSE_INDEX_64I, CUSPARSE_INDEX_64I,
                                       CUSPARSE_INDEX_BASE_ZERO, data_type<T>()));
  return d;
}

/// Dense descriptors destroyed on scope exit.
struct DenseDescrs {
  cusparseConstDnMatDescr_t b = nullptr;
  cusparseDnMatDescr_t c = nullptr;
  DenseDescrs() = default;
  DenseDescrs(const DenseDescrs&) = delete;
  DenseDescrs& operator=(const DenseDescrs&) = delete;
  ~DenseDescrs() {
    if (b) cusparseDestroyDnMat(b);
    if (c) cusparseDestroyDnMat(c);
  }
};

/// Bit per SpMM algorithm planned so far in this process (1: CSR_ALG3, 2: CSR_ALG2, 4: default),
/// for testing::spmm_algorithms() and the determinism test.
std::atomic<unsigned> g_spmm_algorithms{0};

const char* spmm_name(cusparseSpMMAlg_t alg) {
  return alg == CUSPARSE_SPMM_CSR_ALG3   ? "CSR_ALG3"
         : alg == CUSPARSE_SPMM_CSR_ALG2 ? "CSR_ALG2"
                                         : "the default algorithm";
}

/// Records the algorithm a plan uses; says once per process when it is not the deterministic
/// CSR_ALG3 (the products, and so every result downstream, may then vary in the last bits
/// from run to run).
void note_spmm_algorithm(cusparseSpMMAlg_t alg, cusparseStatus_t refused) {
  const unsigned bit = alg == CUSPARSE_SPMM_CSR_ALG3 ? 1u : alg == CUSPARSE_SPMM_CSR_ALG2 ? 2u : 4u;
  const unsigned before = g_spmm_algorithms.fetch_or(bit);
  if (bit != 1u && !(before & ~1u))
    std::fprintf(stderr,
                 "nnmf: warning: cuSPARSE refused CUSPARSE_SPMM_CSR_ALG3 for the sparse products "
                 "(%s); using %s, which is not bit-wise deterministic\n",
                 cusparseGetErrorName(refused), spmm_name(alg));
}

/// C = alpha A B + beta C with the plan's algorithm, planning it on first use or when the
/// dense shapes change. CSR_ALG3 is the deterministic one; should a cuSPARSE build refuse it
/// for these operands, CSR_ALG2 and then the default algorithm are used instead.
template <class T>
void run_spmm(const Context& ctx, SpmmPlan& plan, cusparseConstSpMatDescr_t A, const DenseDescrs& d,
              T alpha, T beta, index_t k, index_t ldb, index_t ldc) {
  const CudaResources& r = resources(ctx);
  const cusparseOperation_t N = CUSPARSE_OPERATION_NON_TRANSPOSE;
  if (!plan.ready || plan.k != k || plan.ldb != ldb || plan.ldc != ldc) {
    plan.ready = false;
    std::size_t bytes = 0;
    bool found = false;
    cusparseStatus_t refused = CUSPARSE_STATUS_SUCCESS;
    for (cusparseSpMMAlg_t alg :
         {CUSPARSE_SPMM_CSR_ALG3, CUSPARSE_SPMM_CSR_ALG2, CUSPARSE_SPMM_ALG_DEFAULT}) {
      const cusparseStatus_t s = cusparseSpMM_bufferSize(r.cusparse, N, N, &alpha, A, d.b, &beta,
                                                         d.c, data_type<T>(), alg, &bytes);
      if (s == CUSPARSE_STATUS_SUCCESS) {
        plan.alg = alg;
        found = true;
        break;
      }
      // An algorithm that does not take these operands says so; anything else is an error.
      if (s != CUSPARSE_STATUS_NOT_SUPPORTED && s != CUSPARSE_STATUS_INVALID_VALUE)
        NNMF_CUDA_TRY(s);
      if (refused == CUSPARSE_STATUS_SUCCESS) refused = s;
    }
    if (found) note_spmm_algorithm(plan.alg, refused);
    if (!found)
      throw_cusparse_error(refused,
                           "cusparseSpMM_bufferSize (CSR_ALG3, CSR_ALG2 and the default "
                           "algorithm all refused CSR x row-major dense with 64-bit indices)",
                           __FILE__, __LINE__);
    plan.work = Buffer<unsigned char>(ctx, std::max<std::size_t>(bytes, 1));
    const cusparseStatus_t s = cusparseSpMM_preprocess(r.cusparse, N, N, &alpha, A, d.b, &beta, d.c,
                                                       data_type<T>(), plan.alg, plan.work.data());
    if (s != CUSPARSE_STATUS_NOT_SUPPORTED) NNMF_CUDA_TRY(s);
    plan.k = k;
    plan.ldb = ldb;
    plan.ldc = ldc;
    plan.ready = true;
  }
  NNMF_CUDA_TRY(cusparseSpMM(r.cusparse, N, N, &alpha, A, d.b, &beta, d.c, data_type<T>(), plan.alg,
                             plan.work.data()));
}

// ---- csc_transpose -------------------------------------------------------------------------

__global__ void iota_kernel(index_t* p, index_t n) {
  for (index_t e = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<index_t>(gridDim.x) * blockDim.x)
    p[e] = e;
}

/// First position in sorted a[0..n) whose value is > v (upper) or >= v (lower).
__device__ index_t upper_bound(const index_t* a, index_t n, index_t v) {
  index_t lo = 0, hi = n;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    if (a[mid] <= v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
__device__ index_t lower_bound(const std::uint64_t* a, index_t n, std::uint64_t v) {
  index_t lo = 0, hi = n;
  while (lo < hi) {
    const index_t mid = lo + (hi - lo) / 2;
    if (a[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/// Entry q of the row form: the perm[q]-th stored entry of X, its column found in colptr.
template <class T>
__global__ void gather_rows_kernel(const index_t* perm, index_t nnz, const index_t* colptr,
                                   index_t m, const T* values, index_t* colind, T* valt) {
  for (index_t q = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; q < nnz;
       q += static_cast<index_t>(gridDim.x) * blockDim.x) {
    const index_t p = perm[q];
    valt[q] = values[p];
    colind[q] = upper_bound(colptr, m + 1, p) - 1;
  }
}

/// rowptr[i] = number of stored entries in rows < i, from the sorted row indices.
__global__ void row_pointers_kernel(const std::uint64_t* rows_sorted, index_t nnz, index_t n,
                                    index_t* rowptr) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i <= n;
       i += static_cast<index_t>(gridDim.x) * blockDim.x)
    rowptr[i] = lower_bound(rows_sorted, nnz, static_cast<std::uint64_t>(i));
}

int bits_for(index_t n) {
  int b = 1;
  while (b < 63 && (index_t{1} << b) < n) ++b;
  return b;
}

}  // namespace

template <class T>
void gemm(const Context& ctx, Trans ta, Trans tb, T alpha, MatrixView<const T> A,
          MatrixView<const T> B, T beta, MatrixView<T> C) {
  const index_t K = ta == Trans::N ? A.cols : A.rows;
  if (C.rows == 0 || C.cols == 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  if (K == 0) {
    scale_matrix(r, C, beta);
    return;
  }
  NNMF_CUDA_TRY(gemm_call(r.cublas, op(ta), op(tb), C.rows, C.cols, K, &alpha, A.data, A.ld, B.data,
                          B.ld, &beta, C.data, C.ld));
}

template <class T>
void gram(const Context& ctx, MatrixView<const T> A, MatrixView<T> G) {
  const index_t k = A.cols;
  if (k == 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  if (A.rows == 0) {
    scale_matrix(r, G, T(0));
    return;
  }
  const T one = T(1), zero = T(0);
  NNMF_CUDA_TRY(syrk_call(r.cublas, k, A.rows, &one, A.data, A.ld, &zero, G.data, G.ld));
  mirror_upper_kernel<T>
      <<<elementwise_blocks(r, k * k, kBlock), kBlock, 0, r.stream>>>(G.data, k, G.ld);
  NNMF_CUDA_CHECK_LAUNCH();
}

template <class T>
void transpose(const Context& ctx, MatrixView<const T> A, MatrixView<T> B) {
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  geam_transpose(r, A.rows, A.cols, A.data, A.ld, B.data, B.ld);
}

template <class T>
void spmm_tn(const Context& ctx, T alpha, MatrixView<const T> A, const DSparse<T>& X, T beta,
             MatrixView<T> C) {
  const index_t n = A.rows, k = A.cols, m = X.cols();
  if (k == 0 || m == 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  if (X.nnz() == 0 || n == 0) {
    scale_matrix(r, C, beta);
    return;
  }
  // With beta == 0 the host ignores C's old contents; make sure no stale NaN survives.
  if (beta == T(0)) scale_matrix(r, C, T(0));
  SparseCache& cache = sparse_cache(ctx, X);
  if (!cache.xt) cache.xt = csr_of_transpose(X.csc(), X.nnz());
  // A as a row-major (n, k) operand: its transpose stored column-major.
  Buffer<T> At(ctx, static_cast<std::size_t>(n * k));
  geam_transpose(r, n, k, A.data, A.ld, At.data(), k);
  DenseDescrs d;
  NNMF_CUDA_TRY(
      cusparseCreateConstDnMat(&d.b, n, k, k, At.data(), data_type<T>(), CUSPARSE_ORDER_ROW));
  NNMF_CUDA_TRY(cusparseCreateDnMat(&d.c, m, k, C.ld, C.data, data_type<T>(), CUSPARSE_ORDER_ROW));
  run_spmm(ctx, cache.tn, cache.xt, d, alpha, beta, k, k, C.ld);
}

template <class T>
void spmm_nt(const Context& ctx, T alpha, const DSparse<T>& X, MatrixView<const T> Z, T beta,
             MatrixView<T> R) {
  const index_t n = X.rows(), m = X.cols(), k = Z.rows;
  if (n == 0 || k == 0) return;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  if (X.nnz() == 0 || m == 0) {
    scale_matrix(r, R, beta);
    return;
  }
  X.ensure_rows(ctx);
  SparseCache& cache = sparse_cache(ctx, X);
  if (!cache.x) cache.x = csr_of_transpose(X.rows_view(), X.nnz());
  // Rt (k, n) column-major = X Z^T (n, k) row-major.
  Buffer<T> Rt(ctx, static_cast<std::size_t>(n * k));
  DenseDescrs d;
  NNMF_CUDA_TRY(
      cusparseCreateConstDnMat(&d.b, m, k, Z.ld, Z.data, data_type<T>(), CUSPARSE_ORDER_ROW));
  NNMF_CUDA_TRY(cusparseCreateDnMat(&d.c, n, k, k, Rt.data(), data_type<T>(), CUSPARSE_ORDER_ROW));
  run_spmm(ctx, cache.nt, cache.x, d, T(1), T(0), k, Z.ld, k);
  // R = alpha Rt^T + beta R; with beta = 0 this is cuBLAS's in-place form, R is not read.
  NNMF_CUDA_TRY(geam_call(r.cublas, CUBLAS_OP_T, CUBLAS_OP_N, n, k, &alpha, Rt.data(), k, &beta,
                          R.data, R.ld, R.data, R.ld));
}

template <class T>
void csc_transpose(const Context& ctx, CscView<T> X, index_t* rowptr, index_t* colind, T* valt) {
  const index_t n = X.rows, m = X.cols;
  const CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  // X's arrays are device memory: read nnz = colptr[m] back (X.nnz() would dereference it).
  index_t nnz = 0;
  if (m > 0) {
    NNMF_CUDA_TRY(
        cudaMemcpyAsync(&nnz, X.colptr + m, sizeof(index_t), cudaMemcpyDeviceToHost, r.stream));
    sync_and_check(r, "csc_transpose");
  }
  if (nnz == 0) {
    NNMF_CUDA_TRY(cudaMemsetAsync(rowptr, 0, sizeof(index_t) * (n + 1), r.stream));
    return;
  }
  // Stable radix sort of (row, position) pairs: within a row, entries keep their column order,
  // exactly the order of the host's counting sort.
  const std::size_t count = static_cast<std::size_t>(nnz);
  Buffer<std::uint64_t> rows_sorted(ctx, count);
  Buffer<index_t> perm_in(ctx, count), perm(ctx, count);
  iota_kernel<<<elementwise_blocks(r, nnz, kBlock), kBlock, 0, r.stream>>>(perm_in.data(), nnz);
  NNMF_CUDA_CHECK_LAUNCH();
  // Row indices are nonnegative, so their 64-bit patterns sort as unsigned keys.
  const auto* keys_in = reinterpret_cast<const std::uint64_t*>(X.rowind);
  const int end_bit = bits_for(n);
  std::size_t temp_bytes = 0;
  NNMF_CUDA_TRY(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, rows_sorted.data(),
                                                perm_in.data(), perm.data(), nnz, 0, end_bit,
                                                r.stream));
  Buffer<unsigned char> temp(ctx, std::max<std::size_t>(temp_bytes, 1));
  NNMF_CUDA_TRY(cub::DeviceRadixSort::SortPairs(temp.data(), temp_bytes, keys_in,
                                                rows_sorted.data(), perm_in.data(), perm.data(),
                                                nnz, 0, end_bit, r.stream));
  gather_rows_kernel<T><<<elementwise_blocks(r, nnz, kBlock), kBlock, 0, r.stream>>>(
      perm.data(), nnz, X.colptr, m, X.values, colind, valt);
  NNMF_CUDA_CHECK_LAUNCH();
  row_pointers_kernel<<<elementwise_blocks(r, n + 1, kBlock), kBlock, 0, r.stream>>>(
      rows_sorted.data(), nnz, n, rowptr);
  NNMF_CUDA_CHECK_LAUNCH();
}

NNMF_INSTANTIATE_PRODUCT_KERNELS(float)
NNMF_INSTANTIATE_PRODUCT_KERNELS(double)

namespace testing {
std::string spmm_algorithms() {
  const unsigned b = g_spmm_algorithms.load();
  std::string out;
  for (unsigned bit : {1u, 2u, 4u}) {
    if (!(b & bit)) continue;
    if (!out.empty()) out += ",";
    out += bit == 1u ? "CSR_ALG3" : bit == 2u ? "CSR_ALG2" : "default";
  }
  return out;
}
}  // namespace testing

}  // namespace nnmf::detail::cuda
