// CUDA context creation and queries (core/cuda_backend.hpp), device memory
// (core/backend_memory.hpp's cuda:: functions), error reporting and event timing.
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>

#include "core/backend_memory.hpp"
#include "core/cuda_backend.hpp"
#include "cuda/cuda_resources.hpp"
#include "cuda/event_timer.hpp"
#include "cuda/testing.hpp"
#include "nnmf/error.hpp"

namespace nnmf::detail {

CudaResources::~CudaResources() {
  // Errors are ignored: a destructor cannot report them, and a device in an error state
  // refuses these calls anyway.
  if (device < 0) return;
  int previous = -1;
  const bool switched = cudaGetDevice(&previous) == cudaSuccess && previous != device &&
                        cudaSetDevice(device) == cudaSuccess;
  if (stream) cudaStreamSynchronize(stream);
  if (cusparse) cusparseDestroy(cusparse);
  if (cublas) cublasDestroy(cublas);
  if (cublas_workspace) cudaFree(cublas_workspace);
  if (pool) cudaMemPoolDestroy(pool);
  if (stream) cudaStreamDestroy(stream);
  cudaGetLastError();
  if (switched) cudaSetDevice(previous);
}

namespace cuda {
namespace {

/// "src/cuda/products.cu" from an absolute __FILE__.
std::string short_file(const char* file) {
  const std::string f = file;
  const auto p = f.rfind("/src/");
  return p == std::string::npos ? f : f.substr(p + 1);
}

std::string where(const char* call, const char* file, int line) {
  return short_file(file) + ":" + std::to_string(line) + ": " + call;
}

std::string gib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB",
                static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

[[noreturn]] void throw_status(bool out_of_memory, const std::string& message) {
  if (out_of_memory) {
    int dev = -1;
    cudaGetDevice(&dev);
    throw OutOfMemory(message + " (out of device memory; " + memory_report(dev) + ")");
  }
  throw BackendError(message);
}

}  // namespace

std::string memory_report(int device) {
  int previous = -1;
  cudaGetDevice(&previous);
  if (device >= 0 && device != previous) cudaSetDevice(device);
  std::size_t free_b = 0, total_b = 0;
  const cudaError_t e = cudaMemGetInfo(&free_b, &total_b);
  if (device >= 0 && device != previous && previous >= 0) cudaSetDevice(previous);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return "device " + std::to_string(device) + ": free memory unknown (" + cudaGetErrorString(e) +
           ")";
  }
  return "device " + std::to_string(device) + ": " + gib(free_b) + " free of " + gib(total_b);
}

void throw_cuda_error(cudaError_t e, const char* call, const char* file, int line) {
  // Clear a non-sticky error so that the context stays usable after the exception.
  cudaGetLastError();
  throw_status(e == cudaErrorMemoryAllocation, "CUDA error at " + where(call, file, line) + ": " +
                                                   cudaGetErrorName(e) + " (" +
                                                   cudaGetErrorString(e) + ")");
}

void throw_cublas_error(cublasStatus_t s, const char* call, const char* file, int line) {
  throw_status(s == CUBLAS_STATUS_ALLOC_FAILED, "cuBLAS error at " + where(call, file, line) +
                                                    ": " + cublasGetStatusName(s) + " (" +
                                                    cublasGetStatusString(s) + ")");
}

void throw_cusparse_error(cusparseStatus_t s, const char* call, const char* file, int line) {
  throw_status(s == CUSPARSE_STATUS_ALLOC_FAILED, "cuSPARSE error at " + where(call, file, line) +
                                                      ": " + cusparseGetErrorName(s) + " (" +
                                                      cusparseGetErrorString(s) + ")");
}

DeviceGuard::DeviceGuard(int device) {
  NNMF_CUDA_TRY(cudaGetDevice(&previous_));
  if (previous_ != device) {
    NNMF_CUDA_TRY(cudaSetDevice(device));
  } else {
    previous_ = -1;  // nothing to restore
  }
}

DeviceGuard::~DeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

void sync_and_check(const CudaResources& r, const char* what) {
  const cudaError_t e = cudaStreamSynchronize(r.stream);
  if (e != cudaSuccess) throw_cuda_error(e, what, __FILE__, __LINE__);
  NNMF_CUDA_TRY(cudaGetLastError());
}

// ---- core/cuda_backend.hpp ------------------------------------------------------------------

bool compiled() noexcept { return true; }

int device_count() noexcept {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

std::shared_ptr<CudaResources> make_resources(int device) {
  int n = 0;
  const cudaError_t ce = cudaGetDeviceCount(&n);
  if (ce != cudaSuccess) {
    cudaGetLastError();
    n = 0;
  }
  if (device < 0 || device >= n) {
    std::string msg = "Context::cuda: there is no CUDA device " + std::to_string(device) +
                      " (device count: " + std::to_string(n);
    if (ce != cudaSuccess)
      msg += std::string("; cudaGetDeviceCount: ") + cudaGetErrorName(ce) + ", " +
             cudaGetErrorString(ce);
    else if (n > 0)
      msg += "; valid ordinals are 0.." + std::to_string(n - 1);
    throw InvalidArgument(msg + ")");
  }
  auto r = std::make_shared<CudaResources>();
  try {
    DeviceGuard guard(device);
    r->device = device;
    cudaDeviceProp prop{};
    NNMF_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
    r->name = prop.name;
    r->sm_count = prop.multiProcessorCount;
    r->cc_major = prop.major;
    r->cc_minor = prop.minor;
    r->smem_per_block = prop.sharedMemPerBlock;
    r->smem_optin = prop.sharedMemPerBlockOptin;
    r->l2_bytes = static_cast<std::size_t>(prop.l2CacheSize);
    NNMF_CUDA_TRY(cudaStreamCreateWithFlags(&r->stream, cudaStreamNonBlocking));
    int pools = 0;
    NNMF_CUDA_TRY(cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, device));
    if (pools) {
      cudaMemPoolProps pp{};
      pp.allocType = cudaMemAllocationTypePinned;
      pp.location.type = cudaMemLocationTypeDevice;
      pp.location.id = device;
      NNMF_CUDA_TRY(cudaMemPoolCreate(&r->pool, &pp));
      // Keep freed blocks in the pool (like a caching allocator); alloc_bytes trims it
      // before reporting an out-of-memory error.
      std::uint64_t keep = std::numeric_limits<std::uint64_t>::max();
      NNMF_CUDA_TRY(cudaMemPoolSetAttribute(r->pool, cudaMemPoolAttrReleaseThreshold, &keep));
    }
    NNMF_CUDA_TRY(cublasCreate(&r->cublas));
    NNMF_CUDA_TRY(cublasSetStream(r->cublas, r->stream));
    // cuBLAS's workspace is ours, allocated once: left to itself it allocates outside the pool,
    // where a pool that keeps every freed block could starve it.
    NNMF_CUDA_TRY(cudaMalloc(&r->cublas_workspace, kCublasWorkspaceBytes));
    NNMF_CUDA_TRY(cublasSetWorkspace(r->cublas, r->cublas_workspace, kCublasWorkspaceBytes));
    NNMF_CUDA_TRY(cusparseCreate(&r->cusparse));
    NNMF_CUDA_TRY(cusparseSetStream(r->cusparse, r->stream));
  } catch (const OutOfMemory& e) {
    throw OutOfMemory("Context::cuda: cannot initialise device " + std::to_string(device) + ": " +
                      e.what());
  } catch (const BackendError& e) {
    throw BackendError("Context::cuda: cannot initialise device " + std::to_string(device) + ": " +
                       e.what());
  }
  return r;
}

std::string device_name(const CudaResources& r) { return r.name; }

void synchronize(const CudaResources& r) {
  DeviceGuard guard(r.device);
  sync_and_check(r, "Context::synchronize");
}

// ---- core/backend_memory.hpp ----------------------------------------------------------------

void* alloc_bytes(const Context& ctx, std::size_t bytes) {
  if (bytes == 0) return nullptr;
  CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  void* p = nullptr;
  auto attempt = [&]() {
    return r.pool ? cudaMallocFromPoolAsync(&p, bytes, r.pool, r.stream) : cudaMalloc(&p, bytes);
  };
  cudaError_t e = attempt();
  if (e == cudaErrorMemoryAllocation && r.pool) {
    // Return the pool's cached blocks to the device and try once more.
    cudaGetLastError();
    NNMF_CUDA_TRY(cudaStreamSynchronize(r.stream));
    NNMF_CUDA_TRY(cudaMemPoolTrimTo(r.pool, 0));
    e = attempt();
  }
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw OutOfMemory("CUDA allocation of " + std::to_string(bytes) + " bytes (" + gib(bytes) +
                      ") failed: " + memory_report(r.device));
  }
  if (e != cudaSuccess) throw_cuda_error(e, "cudaMallocFromPoolAsync", __FILE__, __LINE__);
  return p;
}

void free_bytes(const Context& ctx, void* p) noexcept {
  if (!p) return;
  CudaResources& r = ctx.cuda_resources();
  int previous = -1;
  cudaGetDevice(&previous);
  if (previous != r.device) cudaSetDevice(r.device);
  if (r.pool)
    cudaFreeAsync(p, r.stream);
  else
    cudaFree(p);
  cudaGetLastError();  // a failed free cannot be reported from here
  if (previous >= 0 && previous != r.device) cudaSetDevice(previous);
}

void copy_bytes(const Context& ctx, void* dst, const void* src, std::size_t bytes, CopyKind kind) {
  if (bytes == 0) return;
  CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  switch (kind) {
    case CopyKind::host_to_backend:
      NNMF_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, r.stream));
      // The caller may reuse or free its host memory as soon as we return.
      sync_and_check(r, "copy to device");
      break;
    case CopyKind::backend_to_host:
      NNMF_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, r.stream));
      sync_and_check(r, "copy to host");
      break;
    case CopyKind::within_backend:
      NNMF_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, r.stream));
      break;
  }
}

void zero_bytes(const Context& ctx, void* p, std::size_t bytes) {
  if (bytes == 0) return;
  CudaResources& r = resources(ctx);
  DeviceGuard guard(r.device);
  NNMF_CUDA_TRY(cudaMemsetAsync(p, 0, bytes, r.stream));
}

// ---- event_timer.hpp ------------------------------------------------------------------------

struct EventTimer::Impl {
  Context ctx;  // a copy: keeps the stream alive
  cudaEvent_t start = nullptr, stop = nullptr;
  CudaResources& r() const { return resources(ctx); }
};

EventTimer::EventTimer(const Context& ctx) : impl_(new Impl{ctx}) {
  DeviceGuard guard(impl_->r().device);
  NNMF_CUDA_TRY(cudaEventCreate(&impl_->start));
  NNMF_CUDA_TRY(cudaEventCreate(&impl_->stop));
}

EventTimer::~EventTimer() {
  if (impl_->start) cudaEventDestroy(impl_->start);
  if (impl_->stop) cudaEventDestroy(impl_->stop);
}

void EventTimer::start() {
  DeviceGuard guard(impl_->r().device);
  NNMF_CUDA_TRY(cudaEventRecord(impl_->start, impl_->r().stream));
}

double EventTimer::stop() {
  DeviceGuard guard(impl_->r().device);
  NNMF_CUDA_TRY(cudaEventRecord(impl_->stop, impl_->r().stream));
  NNMF_CUDA_TRY(cudaEventSynchronize(impl_->stop));
  float ms = 0;
  NNMF_CUDA_TRY(cudaEventElapsedTime(&ms, impl_->start, impl_->stop));
  return 1e-3 * static_cast<double>(ms);
}

// ---- testing.hpp ---------------------------------------------------------------------------

namespace testing {
void check_runtime_status(int status, const char* call) {
  check(static_cast<cudaError_t>(status), call, __FILE__, __LINE__);
}
void check_cublas_status(int status, const char* call) {
  check(static_cast<cublasStatus_t>(status), call, __FILE__, __LINE__);
}
void check_cusparse_status(int status, const char* call) {
  check(static_cast<cusparseStatus_t>(status), call, __FILE__, __LINE__);
}
std::string memory_report(int device) { return cuda::memory_report(device); }
}  // namespace testing

}  // namespace cuda
}  // namespace nnmf::detail
