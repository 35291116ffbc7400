// Entry points of the CUDA backend that the backend-neutral code calls (context creation and
// queries), and the table through which a shared libnnmf reaches the CUDA backend.
//
// In a shared build with CUDA, the CUDA code lives in a separate module, libnnmf_cuda.so,
// installed next to libnnmf and loaded (dlopen) by the first Context::cuda(): host-only use
// never loads the CUDA runtime, cuBLAS or cuSPARSE. The functions below and the kernels of
// kernels.inc's cuda:: namespace are then forwarders (src/core/cuda_hooks.cpp) into the
// module's CudaModule table (src/cuda/module.cpp). A build without CUDA links the same
// forwarders, which throw NotCompiled; a static build with CUDA links src/cuda/ directly.
#pragma once

#include <memory>
#include <string>

#include "core/kernels.hpp"
#include "nnmf/context.hpp"

namespace nnmf::detail::cuda {

/// True in a build with the CUDA backend.
bool compiled() noexcept;
/// Usable devices (0 when none or not compiled); never throws.
int device_count() noexcept;
/// Stream and library handles for @p device; throws InvalidArgument for a bad ordinal and
/// BackendError when the device cannot be initialised.
std::shared_ptr<CudaResources> make_resources(int device);
/// Device name.
std::string device_name(const CudaResources& r);
/// Waits for the context's stream; throws BackendError on an asynchronous error.
void synchronize(const CudaResources& r);

/// The module's kernels for one value type: one pointer per kernel of kernels.inc.
#define NNMF_CUDA_KERNEL_LIST(X)                                                                   \
  X(gemm) X(transpose) X(gram) X(spmm_tn) X(spmm_nt) X(csc_transpose) X(nnls_batch)              \
  X(masked_solve) X(fill) X(axpy) X(scal) X(dot) X(projected_step) X(adam_step) X(mu_update)      \
  X(masked_diff) X(scale_columns) X(masked_residual) X(softmax_xent) X(argmax_cols) X(hadamard)   \
  X(max_pool_cols) X(max_pool_cols_backward) X(sampled_product) X(pattern_tn) X(pattern_nt)

template <class T>
struct CudaKernels {
#define NNMF_CUDA_KERNEL_POINTER(fn) decltype(&cuda::fn<T>) fn = nullptr;
  NNMF_CUDA_KERNEL_LIST(NNMF_CUDA_KERNEL_POINTER)
#undef NNMF_CUDA_KERNEL_POINTER
};

/// Bumped whenever CudaModule or a kernel signature changes: a module built from other sources
/// than the library is refused instead of called with the wrong layout.
constexpr int kCudaModuleAbi = 2;

/// What libnnmf_cuda.so hands to libnnmf (its one exported C symbol, kCudaModuleSymbol, returns
/// a pointer to a static instance).
struct CudaModule {
  int abi = kCudaModuleAbi;
  int (*device_count)() noexcept = nullptr;
  std::shared_ptr<CudaResources> (*make_resources)(int) = nullptr;
  std::string (*device_name)(const CudaResources&) = nullptr;
  void (*synchronize)(const CudaResources&) = nullptr;
  void* (*alloc_bytes)(const Context&, std::size_t) = nullptr;
  void (*free_bytes)(const Context&, void*) noexcept = nullptr;
  void (*copy_bytes)(const Context&, void*, const void*, std::size_t, CopyKind) = nullptr;
  void (*zero_bytes)(const Context&, void*, std::size_t) = nullptr;
  CudaKernels<float> f;
  CudaKernels<double> d;
};

/// The module's exported entry: extern "C" const CudaModule* nnmf_cuda_module_v1().
#define NNMF_CUDA_MODULE_SYMBOL "nnmf_cuda_module_v1"
/// File name of the module, looked up next to libnnmf (then NNMF_CUDA_MODULE, then the
/// library search path).
#define NNMF_CUDA_MODULE_FILE "libnnmf_cuda.so"

}  // namespace nnmf::detail::cuda
