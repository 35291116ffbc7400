// Memory in the context's space (host RAM or device memory) and matrices living there.
//
// The training loops are written once against these types: on a host context they hold
// ordinary memory, on a CUDA context device memory, and data is moved to the device once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "nnmf/context.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

enum class CopyKind { host_to_backend, backend_to_host, within_backend };

void* alloc_bytes(const Context& ctx, std::size_t bytes);
void free_bytes(const Context& ctx, void* p) noexcept;
void copy_bytes(const Context& ctx, void* dst, const void* src, std::size_t bytes, CopyKind kind);
void zero_bytes(const Context& ctx, void* p, std::size_t bytes);

namespace cuda {
void* alloc_bytes(const Context& ctx, std::size_t bytes);
void free_bytes(const Context& ctx, void* p) noexcept;
void copy_bytes(const Context& ctx, void* dst, const void* src, std::size_t bytes, CopyKind kind);
void zero_bytes(const Context& ctx, void* p, std::size_t bytes);
}  // namespace cuda

/// An array of n elements of T in the context's memory. Move-only.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Context& ctx, std::size_t n) : ctx_(ctx), n_(n) {
    if (n > 0) p_ = static_cast<T*>(alloc_bytes(ctx, n * sizeof(T)));
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : ctx_(std::move(o.ctx_)), p_(o.p_), n_(o.n_) {
    o.p_ = nullptr;
    o.n_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      release();
      ctx_ = std::move(o.ctx_);
      p_ = o.p_;
      n_ = o.n_;
      o.p_ = nullptr;
      o.n_ = 0;
    }
    return *this;
  }
  ~Buffer() { release(); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }
  const Context& context() const { return *ctx_; }
  void zero() {
    if (n_) zero_bytes(*ctx_, p_, n_ * sizeof(T));
  }
  void upload(const T* host, std::size_t n) {
    if (n) copy_bytes(*ctx_, p_, host, n * sizeof(T), CopyKind::host_to_backend);
  }
  void download(T* host, std::size_t n) const {
    if (n) copy_bytes(*ctx_, host, p_, n * sizeof(T), CopyKind::backend_to_host);
  }

 private:
  void release() noexcept {
    if (p_) free_bytes(*ctx_, p_);
    p_ = nullptr;
  }
  std::optional<Context> ctx_;  // a copy: shares the device resources, keeps them alive
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

/// A dense column-major matrix (ld = rows) in the context's memory.
template <class T>
class DMatrix {
 public:
  DMatrix() = default;
  /// Uninitialised rows x cols.
  DMatrix(const Context& ctx, index_t rows, index_t cols)
      : buf_(ctx, static_cast<std::size_t>(rows * cols)), rows_(rows), cols_(cols) {}
  static DMatrix zeros(const Context& ctx, index_t rows, index_t cols) {
    DMatrix d(ctx, rows, cols);
    d.buf_.zero();
    return d;
  }
  /// Copies a host matrix (any ld) into the context's memory.
  static DMatrix upload(const Context& ctx, MatrixView<const T> h);
  /// Copies to a new host matrix.
  Matrix<T> download() const;
  /// Copies into a host view of the same shape.
  void download_to(MatrixView<T> h) const;

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t size() const { return rows_ * cols_; }
  T* data() { return buf_.data(); }
  const T* data() const { return buf_.data(); }
  MatrixView<T> view() { return {buf_.data(), rows_, cols_, rows_ > 0 ? rows_ : 1}; }
  MatrixView<const T> view() const { return {buf_.data(), rows_, cols_, rows_ > 0 ? rows_ : 1}; }
  operator MatrixView<const T>() const { return view(); }
  void zero() { buf_.zero(); }

 private:
  Buffer<T> buf_;
  index_t rows_ = 0;
  index_t cols_ = 0;
};

/// A read-only matrix in the context's memory that avoids the copy on the host: a view of the
/// caller's memory for a host context, an uploaded copy for a CUDA context.
template <class T>
struct ConstOperand {
  MatrixView<const T> view;
  DMatrix<T> owned;
};

template <class T>
ConstOperand<T> on_backend(const Context& ctx, MatrixView<const T> h) {
  ConstOperand<T> op;
  if (ctx.backend() == Backend::host) {
    op.view = h;
  } else {
    op.owned = DMatrix<T>::upload(ctx, h);
    op.view = op.owned.view();
  }
  return op;
}

/// Sparse data X (n x m) in the context's memory: CSC by columns and, when products X Z^T
/// are needed, the same matrix by rows (the CSC form of X^T, m x n). On a host context the
/// CSC arrays are the caller's (no copy); the row form is built once.
template <class T>
class DSparse {
 public:
  DSparse() = default;
  DSparse(const Context& ctx, CscView<T> X, bool with_rows);
  DSparse(DSparse&&) noexcept = default;
  DSparse& operator=(DSparse&&) noexcept = default;

  index_t rows() const { return csc_.rows; }
  index_t cols() const { return csc_.cols; }
  index_t nnz() const { return csc_.cols > 0 ? nnz_ : 0; }
  /// Columns of X (n x m).
  const CscView<T>& csc() const { return csc_; }
  /// Columns of X^T (m x n); rows == 0 when not built.
  const CscView<T>& rows_view() const { return csr_; }
  bool has_rows() const { return csr_.colptr != nullptr; }
  /// Builds the row form if it is not there yet (products X Z^T that need it call this).
  void ensure_rows(const Context& ctx) const;
  /// Backend-private cache (cuSPARSE descriptors), created on first use by the backend.
  void* backend_cache() const { return cache_.get(); }
  void set_backend_cache(void* c, void (*deleter)(void*)) const { cache_ = Cache(c, deleter); }

 private:
  CscView<T> csc_{};
  mutable CscView<T> csr_{};
  index_t nnz_ = 0;
  Buffer<index_t> colptr_, rowind_;
  Buffer<T> val_;
  // The row form is a cache of the CSC arrays, built on demand.
  mutable Buffer<index_t> rowptr_, colind_;
  mutable Buffer<T> valt_;
  using Cache = std::unique_ptr<void, void (*)(void*)>;
  mutable Cache cache_{nullptr, nullptr};
};

/// The data operand of a layer: dense or sparse, in the context's memory.
template <class T>
struct DataOperand {
  bool sparse = false;
  MatrixView<const T> dense{};
  const DSparse<T>* sp = nullptr;
  index_t rows() const { return sparse ? sp->rows() : dense.rows; }
  index_t cols() const { return sparse ? sp->cols() : dense.cols; }
};

}  // namespace nnmf::detail
