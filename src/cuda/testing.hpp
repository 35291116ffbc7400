// Plain C++ hooks into the CUDA backend's error reporting, for tests that run without a GPU
// (the runtime's and the libraries' error strings need no device). Only present in a build
// with the CUDA backend (NNMF_WITH_CUDA in nnmf/config.hpp).
#pragma once

#include <string>

namespace nnmf::detail::cuda::testing {

/// NNMF_CUDA_TRY on a status of the given library (the numeric value of a cudaError_t,
/// cublasStatus_t or cusparseStatus_t), as if returned by @p call.
void check_runtime_status(int status, const char* call);
void check_cublas_status(int status, const char* call);
void check_cusparse_status(int status, const char* call);

/// The free/total memory text used in OutOfMemory messages.
std::string memory_report(int device);

/// The cuSPARSE SpMM algorithms planned so far in this process, e.g. "CSR_ALG3" (the
/// deterministic one) or "CSR_ALG3,CSR_ALG2" after a fallback; "" before any sparse product.
std::string spmm_algorithms();

}  // namespace nnmf::detail::cuda::testing
