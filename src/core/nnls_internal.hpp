// Internal pieces shared by the public NNLS operations and the training loops.
#pragma once

#include <cmath>
#include <limits>

#include "core/backend_memory.hpp"
#include "core/kernels.hpp"
#include "nnmf/nnls.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// Default relative optimality tolerance of the forward solve.
template <class T>
constexpr T default_tol() {
  return std::is_same<T, float>::value ? T(1e-5) : T(1e-10);
}

/// Pivot threshold (on pivot^2 relative to the diagonal) below which a column counts as
/// numerically dependent: 10 k eps.
template <class T>
T pivot_eps(index_t k) {
  return T(10) * static_cast<T>(k) * std::numeric_limits<T>::epsilon();
}

/// Default ridge of the backward pass for singular G_TT: sqrt(eps).
template <class T>
T default_ridge() {
  return std::sqrt(std::numeric_limits<T>::epsilon());
}

/// The batched solver's parameters with the defaults of NnlsOptions resolved for rank k.
template <class T>
NnlsBatchParams<T> nnls_params(const NnlsOptions& o, index_t k) {
  NnlsBatchParams<T> p{};
  p.tol_rel = o.tol > 0 ? static_cast<T>(o.tol) : default_tol<T>();
  p.max_iter = o.max_iter > 0 ? o.max_iter : static_cast<int>(3 * k + 30);
  p.pivot_eps = pivot_eps<T>(k);
  return p;
}

/// An output that must end in host memory. On a host context the kernels write straight into
/// the destination; on a CUDA context into a device buffer that finish() copies back.
template <class U>
class HostOrBackend {
 public:
  /// A flat array of n elements at @p host.
  HostOrBackend(const Context& ctx, U* host, index_t n) : host_(host), n_(n), rows_(n), cols_(1) {
    init(ctx);
  }
  /// Resizes @p dest to rows x cols and targets it.
  HostOrBackend(const Context& ctx, Matrix<U>& dest, index_t rows, index_t cols)
      : rows_(rows), cols_(cols) {
    dest = Matrix<U>(rows, cols);
    host_ = dest.data();
    n_ = rows * cols;
    init(ctx);
  }
  U* data() { return dev_.size() ? dev_.data() : host_; }
  MatrixView<U> view() { return {data(), rows_, cols_, rows_ > 0 ? rows_ : 1}; }
  void finish() {
    if (dev_.size()) dev_.download(host_, static_cast<std::size_t>(n_));
  }

 private:
  void init(const Context& ctx) {
    if (ctx.backend() != Backend::host && n_ > 0)
      dev_ = Buffer<U>(ctx, static_cast<std::size_t>(n_));
  }
  U* host_ = nullptr;
  index_t n_ = 0, rows_ = 0, cols_ = 0;
  Buffer<U> dev_;
};

}  // namespace nnmf::detail
