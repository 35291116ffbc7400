// Internal pieces shared by the public NNLS operations and the training loops.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

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

/// e with v = f 2^e, f in [1/2, 1); 0 for v = 0. Multiplying by 2^-e brings v into [1/2, 1)
/// exactly (a power of two changes the exponent only).
template <class T>
int binary_exponent(T v) {
  int e = 0;
  if (v != T(0)) std::frexp(v, &e);
  return e;
}

/// Multiplication by 2^e: by two normal powers of two when they exist (exact, like std::ldexp,
/// while the result is a normal number, and vectorisable, where ldexp per entry costs a
/// library call), else by std::ldexp.
template <class T>
class Pow2 {
 public:
  explicit Pow2(int e) : e_(e) {
    const int half = e / 2, lim = std::numeric_limits<T>::max_exponent - 2;  // 2^+-lim normal
    fast_ = std::abs(half) <= lim && std::abs(e - half) <= lim;
    f1_ = fast_ ? std::ldexp(T(1), half) : T(1);
    f2_ = fast_ ? std::ldexp(T(1), e - half) : T(1);
  }
  T operator()(T x) const { return fast_ ? x * f1_ * f2_ : std::ldexp(x, e_); }
  bool identity() const { return e_ == 0; }

 private:
  int e_;
  bool fast_;
  T f1_, f2_;
};

/// Exponents e_q with ||A(:, q)|| 2^-e_q in [1/2, 1) (0 for a zero column), without overflow
/// or underflow: one pass (largest entry and sum of squares in double) while the squares are
/// safely in range, else a second pass on the column scaled to a largest entry in [1/2, 1).
template <class T>
std::vector<int> column_exponents(MatrixView<const T> A) {
  std::vector<int> e(static_cast<std::size_t>(A.cols), 0);
  for (index_t q = 0; q < A.cols; ++q) {
    const T* a = A.data + q * A.ld;
    T amax = T(0);
    double ss = 0;
    for (index_t i = 0; i < A.rows; ++i) {
      const T v = std::abs(a[i]);
      amax = v > amax ? v : amax;
      ss += static_cast<double>(v) * static_cast<double>(v);
    }
    if (amax == T(0)) continue;
    const int e1 = binary_exponent(amax);
    if (e1 < -480 || e1 > 480) {
      const Pow2<double> down(-e1);
      ss = 0;
      for (index_t i = 0; i < A.rows; ++i) {
        const double v = down(static_cast<double>(a[i]));
        ss += v * v;
      }
      e[static_cast<std::size_t>(q)] = e1 + binary_exponent(std::sqrt(ss));
    } else {
      e[static_cast<std::size_t>(q)] = binary_exponent(std::sqrt(ss));
    }
  }
  return e;
}

/// Copy of A with column q multiplied by 2^-(e[q] + extra): exact unless an entry leaves the
/// range of T (then it is negligible next to the column's largest entry).
template <class T>
Matrix<T> scale_columns_pow2(MatrixView<const T> A, const std::vector<int>& e, int extra = 0) {
  Matrix<T> B(A.rows, A.cols);
  for (index_t q = 0; q < A.cols; ++q) {
    const Pow2<T> f(-(e[static_cast<std::size_t>(q)] + extra));
    const T* a = A.data + q * A.ld;
    T* b = B.data() + q * B.rows();
    for (index_t i = 0; i < A.rows; ++i) b[i] = f(a[i]);
  }
  return B;
}

/// S = q(A, X) solved on the problem scaled by powers of two (exact in floating point):
/// A' = A D^-1 with unit-order column norms (D from column_exponents) and X' = X 2^-e_x when X
/// is far from unit scale (e_x from @p x_max, an upper estimate of max |X|), so that
/// G' = A'^T A' and C' = A'^T X' are formed in range and the solver's relative tolerance and
/// choice of entering index see every column of A at the same scale; S = 2^e_x D^-1 q(A', X')
/// is unscaled exactly. Columns whose solution does not exist in T (an entry overflows, or a
/// positive entry underflows) and, given @p x_col_max (max |X(:, j)|, m entries), columns of X
/// so far below max |X| that A^T x underflows get ColumnStatus::out_of_range, and RangeError
/// (naming @p who, ending with @p remedy when given) unless opts.throw_on_out_of_range is
/// false. A is in host memory, X in the context's.
template <class T>
NnlsResult<T> forward_scaled(const Context& ctx, MatrixView<const T> A, const DataOperand<T>& X,
                             T x_max, const T* x_col_max, const NnlsOptions& opts,
                             const std::string& who, const char* remedy = nullptr);

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
