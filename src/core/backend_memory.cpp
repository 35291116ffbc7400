// Memory in the context's space: host RAM directly, device memory through the CUDA backend.
#include "core/backend_memory.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "core/kernels.hpp"
#include "nnmf/error.hpp"

namespace nnmf::detail {

void* alloc_bytes(const Context& ctx, std::size_t bytes) {
  if (ctx.backend() == Backend::cuda) return cuda::alloc_bytes(ctx, bytes);
  // 64-byte alignment for vector loads; aligned_alloc needs a multiple of the alignment.
  const std::size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p)
    throw OutOfMemory("host allocation of " + std::to_string(bytes) + " bytes failed");
  return p;
}

void free_bytes(const Context& ctx, void* p) noexcept {
  if (ctx.backend() == Backend::cuda)
    cuda::free_bytes(ctx, p);
  else
    std::free(p);
}

void copy_bytes(const Context& ctx, void* dst, const void* src, std::size_t bytes,
                CopyKind kind) {
  if (bytes == 0) return;
  if (ctx.backend() == Backend::cuda)
    cuda::copy_bytes(ctx, dst, src, bytes, kind);
  else
    std::memmove(dst, src, bytes);
}

void zero_bytes(const Context& ctx, void* p, std::size_t bytes) {
  if (bytes == 0) return;
  if (ctx.backend() == Backend::cuda)
    cuda::zero_bytes(ctx, p, bytes);
  else
    std::memset(p, 0, bytes);
}

template <class T>
DMatrix<T> DMatrix<T>::upload(const Context& ctx, MatrixView<const T> h) {
  DMatrix<T> d(ctx, h.rows, h.cols);
  if (h.ld == h.rows || h.cols <= 1) {
    d.buf_.upload(h.data, static_cast<std::size_t>(h.rows * h.cols));
  } else {
    for (index_t j = 0; j < h.cols; ++j)
      copy_bytes(ctx, d.data() + j * h.rows, h.data + j * h.ld, sizeof(T) * h.rows,
                 CopyKind::host_to_backend);
  }
  return d;
}

template <class T>
Matrix<T> DMatrix<T>::download() const {
  Matrix<T> h(rows_, cols_);
  buf_.download(h.data(), static_cast<std::size_t>(rows_ * cols_));
  return h;
}

template <class T>
void DMatrix<T>::download_to(MatrixView<T> h) const {
  if (h.ld == h.rows || h.cols <= 1) {
    buf_.download(h.data, static_cast<std::size_t>(rows_ * cols_));
  } else {
    for (index_t j = 0; j < cols_; ++j)
      copy_bytes(buf_.context(), h.data + j * h.ld, data() + j * rows_, sizeof(T) * rows_,
                 CopyKind::backend_to_host);
  }
}

template <class T>
DSparse<T>::DSparse(const Context& ctx, CscView<T> X, bool with_rows) : nnz_(X.nnz()) {
  const index_t n = X.rows, m = X.cols;
  const std::size_t nnz = static_cast<std::size_t>(nnz_);
  if (ctx.backend() == Backend::host) {
    csc_ = X;
  } else {
    colptr_ = Buffer<index_t>(ctx, static_cast<std::size_t>(m + 1));
    rowind_ = Buffer<index_t>(ctx, nnz);
    val_ = Buffer<T>(ctx, nnz);
    colptr_.upload(X.colptr, static_cast<std::size_t>(m + 1));
    rowind_.upload(X.rowind, nnz);
    val_.upload(X.values, nnz);
    csc_ = {n, m, colptr_.data(), rowind_.data(), val_.data()};
  }
  if (with_rows) ensure_rows(ctx);
}

template <class T>
void DSparse<T>::ensure_rows(const Context& ctx) const {
  if (has_rows()) return;
  const index_t n = csc_.rows, m = csc_.cols;
  const std::size_t nnz = static_cast<std::size_t>(nnz_);
  rowptr_ = Buffer<index_t>(ctx, static_cast<std::size_t>(n + 1));
  colind_ = Buffer<index_t>(ctx, nnz);
  valt_ = Buffer<T>(ctx, nnz);
  if (ctx.backend() == Backend::host)
    host::csc_transpose<T>(ctx, csc_, rowptr_.data(), colind_.data(), valt_.data());
  else
    cuda::csc_transpose<T>(ctx, csc_, rowptr_.data(), colind_.data(), valt_.data());
  csr_ = {m, n, rowptr_.data(), colind_.data(), valt_.data()};
}

template class DMatrix<float>;
template class DMatrix<double>;
template class DSparse<float>;
template class DSparse<double>;

}  // namespace nnmf::detail
