// Stubs of the CUDA backend for builds without CUDA (ginkgo's device_hooks pattern): the API
// and the link graph stay the same, and any use throws NotCompiled. Context::cuda() already
// refuses to create a CUDA context in such a build, so the kernel stubs are unreachable in
// practice; they exist so that the dispatch in ops.hpp links.
#include <string>

#include "core/cuda_backend.hpp"
#include "core/kernels.hpp"
#include "core/kernels_instantiate.hpp"
#include "nnmf/error.hpp"

namespace nnmf::detail::cuda {
namespace {
[[noreturn]] void not_compiled() {
  throw NotCompiled("nnmf was built without CUDA: the CUDA backend is not available");
}
}  // namespace

bool compiled() noexcept { return false; }
int device_count() noexcept { return 0; }
std::shared_ptr<CudaResources> make_resources(int) { not_compiled(); }
std::string device_name(const CudaResources&) { not_compiled(); }
void synchronize(const CudaResources&) { not_compiled(); }

void* alloc_bytes(const Context&, std::size_t) { not_compiled(); }
void free_bytes(const Context&, void*) noexcept {}
void copy_bytes(const Context&, void*, const void*, std::size_t, CopyKind) { not_compiled(); }
void zero_bytes(const Context&, void*, std::size_t) { not_compiled(); }

template <class T>
void gemm(const Context&, Trans, Trans, T, MatrixView<const T>, MatrixView<const T>, T,
          MatrixView<T>) {
  not_compiled();
}
template <class T>
void gram(const Context&, MatrixView<const T>, MatrixView<T>) {
  not_compiled();
}
template <class T>
void transpose(const Context&, MatrixView<const T>, MatrixView<T>) {
  not_compiled();
}
template <class T>
void masked_diff(const Context&, index_t, const T*, const T*, const T*, T*) {
  not_compiled();
}
template <class T>
void spmm_tn(const Context&, T, MatrixView<const T>, const DSparse<T>&, T, MatrixView<T>) {
  not_compiled();
}
template <class T>
void spmm_nt(const Context&, T, const DSparse<T>&, MatrixView<const T>, T, MatrixView<T>) {
  not_compiled();
}
template <class T>
void csc_transpose(const Context&, CscView<T>, index_t*, index_t*, T*) {
  not_compiled();
}
template <class T>
NnlsBatchStats nnls_batch(const Context&, MatrixView<const T>, MatrixView<const T>,
                          const NnlsBatchParams<T>&, MatrixView<T>, std::uint64_t*,
                          const std::uint64_t*, std::uint8_t*) {
  not_compiled();
}
template <class T>
index_t masked_solve(const Context&, MatrixView<const T>, const std::uint64_t*,
                     MatrixView<const T>, T, T, MatrixView<T>, std::uint8_t*) {
  not_compiled();
}
template <class T>
void fill(const Context&, index_t, T, T*) {
  not_compiled();
}
template <class T>
void axpy(const Context&, index_t, T, const T*, T*) {
  not_compiled();
}
template <class T>
void scal(const Context&, index_t, T, T*) {
  not_compiled();
}
template <class T>
double dot(const Context&, index_t, const T*, const T*) {
  not_compiled();
}
template <class T>
void projected_step(const Context&, index_t, const T*, const T*, T, T*) {
  not_compiled();
}
template <class T>
void adam_step(const Context&, index_t, T*, const T*, T*, T*, T, T, T, T, int) {
  not_compiled();
}
template <class T>
void mu_update(const Context&, index_t, T*, const T*, const T*, T) {
  not_compiled();
}
template <class T>
void scale_columns(const Context&, MatrixView<T>, const T*) {
  not_compiled();
}
template <class T>
void masked_residual(const Context&, MatrixView<const T>, MatrixView<const T>, const T*,
                     MatrixView<T>) {
  not_compiled();
}
template <class T>
double softmax_xent(const Context&, MatrixView<const T>, const int*, const T*, MatrixView<T>) {
  not_compiled();
}
template <class T>
void argmax_cols(const Context&, MatrixView<const T>, int*) {
  not_compiled();
}

template <class T>
void hadamard(const Context&, index_t, const T*, const T*, T*) {
  not_compiled();
}
template <class T>
void max_pool_cols(const Context&, MatrixView<const T>, const index_t*, MatrixView<T>, index_t*) {
  not_compiled();
}
template <class T>
void max_pool_cols_backward(const Context&, MatrixView<const T>, const index_t*, T, MatrixView<T>) {
  not_compiled();
}

NNMF_INSTANTIATE_KERNELS(float)
NNMF_INSTANTIATE_KERNELS(double)

}  // namespace nnmf::detail::cuda
