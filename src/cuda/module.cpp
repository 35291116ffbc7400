// The one exported entry of libnnmf_cuda.so (see core/cuda_backend.hpp): the table of this
// module's entry points and kernels, which libnnmf's forwarders (core/cuda_hooks.cpp) call.
// The module is linked with a version script that keeps every other symbol local, so the
// addresses taken here are this module's definitions, never libnnmf's forwarders of the
// same name.
#include "core/backend_memory.hpp"
#include "core/cuda_backend.hpp"

namespace nnmf::detail::cuda {
namespace {

template <class T>
CudaKernels<T> kernel_table() {
  CudaKernels<T> k;
#define NNMF_CUDA_KERNEL_ENTRY(fn) k.fn = &cuda::fn<T>;
  NNMF_CUDA_KERNEL_LIST(NNMF_CUDA_KERNEL_ENTRY)
#undef NNMF_CUDA_KERNEL_ENTRY
  return k;
}

CudaModule make_table() {
  CudaModule m;
  m.device_count = &device_count;
  m.make_resources = &make_resources;
  m.device_name = &device_name;
  m.synchronize = &synchronize;
  m.alloc_bytes = &alloc_bytes;
  m.free_bytes = &free_bytes;
  m.copy_bytes = &copy_bytes;
  m.zero_bytes = &zero_bytes;
  m.f = kernel_table<float>();
  m.d = kernel_table<double>();
  return m;
}

}  // namespace
}  // namespace nnmf::detail::cuda

extern "C" __attribute__((visibility("default"))) const nnmf::detail::cuda::CudaModule*
nnmf_cuda_module_v1() {
  static const nnmf::detail::cuda::CudaModule table = nnmf::detail::cuda::make_table();
  return &table;
}
