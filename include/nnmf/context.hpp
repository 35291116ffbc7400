// The execution context passed first to every nnmf operation.
#pragma once

#include <cstddef>
#include <cstdint>
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
struct Communicator;   // an MPI communicator and its counters; defined in core/comm.cpp
}

/// What the reductions across processes of a context have cost so far (all zero for one
/// process). Shared by the copies of a context.
struct CommunicationStats {
  double seconds = 0;         ///< wall time inside MPI calls (waiting for peers included)
  std::uint64_t bytes = 0;    ///< payload all-reduced or broadcast by this process
  std::uint64_t calls = 0;    ///< collective calls
};

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

  /// Processes whose column blocks an operation on this context spans (1 unless the context
  /// came from with_mpi in nnmf/mpi.hpp). Each process passes its own block of columns of X
  /// (and the labels and masks of those columns); the factors are replicated, and every sum
  /// over columns is all-reduced. See docs/mpi.md.
  int processes() const noexcept;
  /// This process's rank among processes() (0 for one process); blocks are ordered by rank.
  int process() const noexcept;
  /// Time and bytes of the reductions so far (zero for one process).
  CommunicationStats communication() const noexcept;
  /// Internal (use nnmf::with_mpi of nnmf/mpi.hpp): this context over a duplicate of the MPI
  /// communicator whose handle is at @p handle (@p size bytes, sizeof(MPI_Comm)). Throws
  /// NotCompiled when nnmf was built without MPI.
  Context with_communicator_handle(const void* handle, std::size_t size) const;
  /// Internal: the communicator, or null for one process.
  detail::Communicator* communicator() const noexcept { return comm_.get(); }

 private:
  Context(Backend b, int threads, int device, std::shared_ptr<detail::CudaResources> cuda)
      : backend_(b), threads_(threads), device_(device), cuda_(std::move(cuda)) {}
  Backend backend_;
  int threads_;
  int device_;
  std::shared_ptr<detail::CudaResources> cuda_;
  std::shared_ptr<detail::Communicator> comm_;
};

/// "cpu" or "host" -> host, "cuda" or "gpu" -> cuda; anything else throws InvalidArgument.
Backend parse_backend(const std::string& name);

}  // namespace nnmf
