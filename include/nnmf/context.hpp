// The execution context passed first to every nnmf operation.
#pragma once

#include <memory>
#include <string>

namespace nnmf {

/// Where the work of an operation runs.
enum class Backend {
  host,  ///< CPU: OpenBLAS/LAPACK for the products, OpenMP across columns.
  cuda,  ///< NVIDIA GPU: cuBLAS/cuSPARSE for the products, nnmf's kernels for the NNLS.
};

/// "host" or "cuda".
const char* to_string(Backend b) noexcept;

namespace detail {
struct CudaResources;  // stream and library handles; defined by the CUDA backend
}

/// Backend, device and thread count, chosen at run time.
///
/// A Context is cheap to copy; copies share the same device resources (stream, cuBLAS,
/// cuSPARSE and cuSOLVER handles). Results are deterministic for a given backend, thread
/// count and input: the host path partitions columns statically and never reduces across
/// threads in an order that depends on scheduling.
class Context {
 public:
  /// Host context. @param threads  OpenMP threads to use; 0 = OpenMP's default
  /// (omp_get_max_threads(), which honours OMP_NUM_THREADS). Negative values are rejected.
  static Context host(int threads = 0);

  /// CUDA context on device @p device. Throws NotCompiled when nnmf was built without CUDA,
  /// InvalidArgument when the device does not exist, BackendError when it cannot be used.
  /// @param host_threads threads for the host-side parts (file I/O, small reductions).
  static Context cuda(int device = 0, int host_threads = 0);

  /// True when nnmf was compiled with the CUDA backend (a device may still be absent).
  static bool cuda_compiled() noexcept;
  /// Number of usable CUDA devices; 0 when not compiled with CUDA or none is present.
  static int cuda_device_count() noexcept;

  Backend backend() const noexcept { return backend_; }
  /// Host threads used by this context (resolved; never 0).
  int threads() const noexcept { return threads_; }
  /// CUDA device ordinal; -1 for a host context.
  int device() const noexcept { return device_; }
  /// e.g. "host (2 threads)" or "cuda:0 (NVIDIA H100 80GB HBM3)".
  std::string describe() const;
  /// Wait for all work queued on this context; surfaces asynchronous device errors.
  void synchronize() const;

  /// Internal: the CUDA resources of a CUDA context (throws for a host context).
  detail::CudaResources& cuda_resources() const;

 private:
  Context(Backend b, int threads, int device, std::shared_ptr<detail::CudaResources> cuda)
      : backend_(b), threads_(threads), device_(device), cuda_(std::move(cuda)) {}
  Backend backend_;
  int threads_;
  int device_;
  std::shared_ptr<detail::CudaResources> cuda_;
};

/// "cpu" or "host" -> host, "cuda" or "gpu" -> cuda; anything else throws InvalidArgument.
Backend parse_backend(const std::string& name);

}  // namespace nnmf
