// The CUDA backend's per-context resources and its one error-checking macro.
//
// Internal to src/cuda/: this header includes the CUDA headers and must not reach include/.
// Every CUDA runtime, cuBLAS and cuSPARSE status goes through NNMF_CUDA_TRY, which
// throws BackendError (OutOfMemory for allocation failures) naming the call, the file and
// line, and the library's error string (like RAFT's RAFT_CUDA_TRY). Nothing throws in device
// code: kernels write status bytes, and launch or asynchronous errors are caught by
// NNMF_CUDA_TRY(cudaGetLastError()) after a launch and at the synchronisation points.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <cstddef>
#include <string>

#include "nnmf/context.hpp"

namespace nnmf::detail {

/// cuBLAS workspace per context: NVIDIA's recommendation for Hopper (32 MiB).
constexpr std::size_t kCublasWorkspaceBytes = std::size_t{32} << 20;

/// Stream, library handles and cached device properties of one CUDA context. Shared (through
/// std::shared_ptr) by every copy of the Context and by every Buffer allocated with it, so it
/// outlives all the memory and work that use it.
struct CudaResources {
  int device = -1;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cusparseHandle_t cusparse = nullptr;
  /// cuBLAS's workspace (cublasSetWorkspace), kCublasWorkspaceBytes, owned here.
  void* cublas_workspace = nullptr;
  /// Stream-ordered pool of this context's allocations (freed memory is kept for reuse).
  cudaMemPool_t pool = nullptr;

  std::string name;                ///< e.g. "NVIDIA H100 80GB HBM3"
  int sm_count = 0;                ///< multiprocessors
  int cc_major = 0, cc_minor = 0;  ///< compute capability
  std::size_t smem_per_block = 0;  ///< default dynamic + static shared memory limit (48 KB)
  std::size_t smem_optin = 0;      ///< per-block limit after cudaFuncSetAttribute
  std::size_t l2_bytes = 0;        ///< L2 cache size

  CudaResources() = default;
  CudaResources(const CudaResources&) = delete;
  CudaResources& operator=(const CudaResources&) = delete;
  /// Synchronises the stream and releases everything; never throws.
  ~CudaResources();
};

namespace cuda {

/// Slow paths of NNMF_CUDA_TRY: build the message and throw.
[[noreturn]] void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* call, const char* file,
                                     int line);
[[noreturn]] void throw_cusparse_error(cusparseStatus_t s, const char* call, const char* file,
                                       int line);

inline void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) throw_cuda_error(e, call, file, line);
}
inline void check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) throw_cublas_error(s, call, file, line);
}
inline void check(cusparseStatus_t s, const char* call, const char* file, int line) {
  if (s != CUSPARSE_STATUS_SUCCESS) throw_cusparse_error(s, call, file, line);
}

/// "device 0: 1.2 GiB free of 79.1 GiB" (or why it could not be asked).
std::string memory_report(int device);

/// Makes @p device current for the lifetime of the guard and restores the previous one.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

/// The resources of a CUDA context (the context must be a CUDA one).
inline CudaResources& resources(const Context& ctx) { return ctx.cuda_resources(); }

/// Waits for the stream and surfaces asynchronous errors (call before returning host data).
void sync_and_check(const CudaResources& r, const char* what);

}  // namespace cuda
}  // namespace nnmf::detail

/// Checks a CUDA runtime, cuBLAS or cuSPARSE status; throws nnmf::BackendError
/// (nnmf::OutOfMemory for allocation failures) with the call, file:line and error string.
#define NNMF_CUDA_TRY(call) ::nnmf::detail::cuda::check((call), #call, __FILE__, __LINE__)

/// After a kernel launch: catches launch-configuration errors at once.
#define NNMF_CUDA_CHECK_LAUNCH() NNMF_CUDA_TRY(cudaGetLastError())
