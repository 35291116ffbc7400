// Public NNLS operations: argument checks, then the same sequence of kernels on either backend.
#include "nnmf/nnls.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "core/nnls_internal.hpp"
#include "core/ops.hpp"
#include "core/validate.hpp"
#include "nnmf/error.hpp"

namespace nnmf {

const char* to_string(ColumnStatus s) noexcept {
  switch (s) {
    case ColumnStatus::converged:
      return "converged";
    case ColumnStatus::iteration_limit:
      return "iteration_limit";
    case ColumnStatus::regularized:
      return "regularized";
  }
  return "unknown";
}

namespace detail {

void check_options(const char* who, const NnlsOptions& o, index_t k, index_t m) {
  if (!(o.tol >= 0) || !std::isfinite(o.tol))
    throw InvalidArgument(std::string(who) + ": tol must be finite and >= 0 (0 = default), got " +
                          std::to_string(o.tol));
  if (o.max_iter < 0)
    throw InvalidArgument(std::string(who) + ": max_iter must be >= 0 (0 = default), got " +
                          std::to_string(o.max_iter));
  if (o.warm_start)
    check_shape(who, "warm_start support", o.warm_start->k(), o.warm_start->cols(), k, m);
}

template <class T>
NnlsResult<T> solve_normal(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                           const NnlsOptions& opts) {
  const index_t k = G.rows, m = C.cols;
  NnlsResult<T> r;
  r.support = SupportMask(k, m);
  r.status.assign(static_cast<std::size_t>(m), ColumnStatus::converged);
  HostOrBackend<T> S(ctx, r.S, k, m);
  HostOrBackend<std::uint64_t> sup(ctx, r.support.data(), r.support.words_per_col() * m);
  HostOrBackend<std::uint8_t> st(ctx, reinterpret_cast<std::uint8_t*>(r.status.data()), m);
  Buffer<std::uint64_t> warm_dev;
  const std::uint64_t* warm = nullptr;
  if (opts.warm_start) {
    warm = opts.warm_start->data();
    if (ctx.backend() != Backend::host) {
      warm_dev = Buffer<std::uint64_t>(ctx, static_cast<std::size_t>(r.support.words_per_col() * m));
      warm_dev.upload(warm, warm_dev.size());
      warm = warm_dev.data();
    }
  }
  const NnlsBatchStats stats =
      ops::nnls_batch<T>(ctx, G, C, nnls_params<T>(opts, k), S.view(), sup.data(), warm, st.data());
  S.finish();
  sup.finish();
  st.finish();
  r.iterations = stats.iterations;
  r.iteration_limit_columns = stats.limited_columns;
  if (opts.throw_on_iteration_limit && stats.limited_columns > 0)
    throw Error("nnls: " + std::to_string(stats.limited_columns) + " of " + std::to_string(m) +
                " columns reached the iteration limit (max_iter = " +
                std::to_string(nnls_params<T>(opts, k).max_iter) + ")");
  return r;
}

template <class T>
NnlsResult<T> forward(const Context& ctx, MatrixView<const T> A, const DataOperand<T>& X,
                      const NnlsOptions& opts) {
  const index_t k = A.cols, m = X.cols();
  auto dA = on_backend(ctx, A);
  DMatrix<T> G(ctx, k, k), C(ctx, k, m);
  ops::gram<T>(ctx, dA.view, G.view());
  ops::at_x<T>(ctx, T(1), dA.view, X, T(0), C.view());
  return solve_normal<T>(ctx, G.view(), C.view(), opts);
}

template <class T>
NnlsGradients<T> backward(const Context& ctx, MatrixView<const T> A, const DataOperand<T>& X,
                          MatrixView<const T> S, const SupportMask& support,
                          MatrixView<const T> dS, const BackwardOptions& opts) {
  const index_t n = A.rows, k = A.cols, m = X.cols();
  NnlsGradients<T> r;
  r.status.assign(static_cast<std::size_t>(m), ColumnStatus::converged);
  auto dA_in = on_backend(ctx, A);
  auto dS_in = on_backend(ctx, dS);
  DMatrix<T> G(ctx, k, k), Z(ctx, k, m);
  ops::gram<T>(ctx, dA_in.view, G.view());
  Buffer<std::uint64_t> sup_dev;
  const std::uint64_t* sup = support.data();
  if (ctx.backend() != Backend::host) {
    sup_dev = Buffer<std::uint64_t>(ctx, static_cast<std::size_t>(support.words_per_col() * m));
    sup_dev.upload(sup, sup_dev.size());
    sup = sup_dev.data();
  }
  HostOrBackend<std::uint8_t> st(ctx, reinterpret_cast<std::uint8_t*>(r.status.data()), m);
  const T ridge = opts.ridge > 0 ? static_cast<T>(opts.ridge) : default_ridge<T>();
  r.regularized_columns =
      ops::masked_solve<T>(ctx, G.view(), sup, dS_in.view, pivot_eps<T>(k), ridge, Z.view(), st.data());
  st.finish();
  if (opts.compute_dX) {
    HostOrBackend<T> dX(ctx, r.dX, n, m);
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), dA_in.view, Z.view(), T(0), dX.view());
    dX.finish();
  }
  if (opts.compute_dA) {
    auto S_in = on_backend(ctx, S);
    DMatrix<T> M(ctx, k, k);
    // M = S Z^T + Z S^T (k x k), then dA = X Z^T - A M.
    ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), S_in.view, Z.view(), T(0), M.view());
    ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), Z.view(), S_in.view, T(1), M.view());
    HostOrBackend<T> dA(ctx, r.dA, n, k);
    ops::x_zt<T>(ctx, T(1), X, Z.view(), T(0), dA.view());
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(-1), dA_in.view, M.view(), T(1), dA.view());
    dA.finish();
  }
  return r;
}

template <class T>
void check_backward_args(const char* who, const Context& ctx, MatrixView<const T> A, index_t m,
                         MatrixView<const T> S, const SupportMask& support,
                         MatrixView<const T> dS) {
  check_factor(who, A);
  const index_t k = A.cols;
  check_shape(who, "S", S.rows, S.cols, k, m);
  check_shape(who, "support", support.k(), support.cols(), k, m);
  check_shape(who, "dS", dS.rows, dS.cols, k, m);
  check_values(who, "S", S, true, ctx.threads());
  check_values(who, "dS", dS, false, ctx.threads());
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i)
      if (S(i, j) > T(0) && !support.test(i, j))
        throw InvalidArgument(std::string(who) + ": S(" + std::to_string(i) + ", " +
                              std::to_string(j) + ") = " + std::to_string(S(i, j)) +
                              " is positive outside its support; pass the support returned "
                              "with S by nnls()");
}

}  // namespace detail

template <class T>
NnlsResult<T> nnls(const Context& ctx, MatrixView<const T> A, MatrixView<const T> X,
                   const NnlsOptions& opts) {
  const char* who = "nnls";
  detail::check_factor(who, A);
  if (X.rows != A.rows)
    throw DimensionMismatch(std::string(who) + ": X has " + std::to_string(X.rows) +
                            " rows but A has " + std::to_string(A.rows) + " (" +
                            detail::describe("A", A.rows, A.cols) + ", " +
                            detail::describe("X", X.rows, X.cols) + ")");
  detail::check_values(who, "X", X, true, ctx.threads());
  detail::check_options(who, opts, A.cols, X.cols);
  auto dX = detail::on_backend(ctx, X);
  detail::DataOperand<T> op;
  op.dense = dX.view;
  return detail::forward<T>(ctx, A, op, opts);
}

template <class T>
NnlsResult<T> nnls(const Context& ctx, MatrixView<const T> A, const CscMatrix<T>& X,
                   const NnlsOptions& opts) {
  const char* who = "nnls";
  detail::check_factor(who, A);
  if (X.rows() != A.rows)
    throw DimensionMismatch(std::string(who) + ": X has " + std::to_string(X.rows()) +
                            " rows but A has " + std::to_string(A.rows) + " (" +
                            detail::describe("A", A.rows, A.cols) + ", sparse " +
                            detail::describe("X", X.rows(), X.cols()) + ")");
  detail::check_values(who, "X", X.view(), true, ctx.threads());
  detail::check_options(who, opts, A.cols, X.cols());
  detail::DSparse<T> sp(ctx, X.view(), false);
  detail::DataOperand<T> op;
  op.sparse = true;
  op.sp = &sp;
  return detail::forward<T>(ctx, A, op, opts);
}

template <class T>
NnlsResult<T> nnls_normal(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                          const NnlsOptions& opts) {
  const char* who = "nnls_normal";
  if (G.rows != G.cols || G.rows < 1)
    throw DimensionMismatch(std::string(who) + ": G must be square with k >= 1, got " +
                            detail::describe("G", G.rows, G.cols));
  if (C.rows != G.rows)
    throw DimensionMismatch(std::string(who) + ": C has " + std::to_string(C.rows) +
                            " rows but G is " + shape_string(G.rows, G.cols));
  detail::check_values(who, "G", G, false, ctx.threads());
  detail::check_values(who, "C", C, false, ctx.threads());
  const index_t k = G.rows;
  for (index_t j = 0; j < k; ++j) {
    if (G(j, j) < T(0))
      throw InvalidArgument(std::string(who) + ": G(" + std::to_string(j) + ", " +
                            std::to_string(j) + ") = " + std::to_string(G(j, j)) +
                            " is negative; G must be positive semidefinite");
    for (index_t i = j + 1; i < k; ++i) {
      const T a = G(i, j), b = G(j, i);
      const T scale = std::sqrt(G(i, i) * G(j, j)) + std::numeric_limits<T>::min();
      if (std::abs(a - b) > T(1e3) * std::numeric_limits<T>::epsilon() * scale)
        throw InvalidArgument(std::string(who) + ": G is not symmetric: G(" + std::to_string(i) +
                              ", " + std::to_string(j) + ") = " + std::to_string(a) + " but G(" +
                              std::to_string(j) + ", " + std::to_string(i) + ") = " +
                              std::to_string(b));
    }
  }
  detail::check_options(who, opts, k, C.cols);
  auto dG = detail::on_backend(ctx, G);
  auto dC = detail::on_backend(ctx, C);
  return detail::solve_normal<T>(ctx, dG.view, dC.view, opts);
}

template <class T>
NnlsGradients<T> nnls_backward(const Context& ctx, MatrixView<const T> A, MatrixView<const T> X,
                               MatrixView<const T> S, const SupportMask& support,
                               MatrixView<const T> dS, const BackwardOptions& opts) {
  const char* who = "nnls_backward";
  detail::check_backward_args(who, ctx, A, X.cols, S, support, dS);
  detail::check_shape(who, "X", X.rows, X.cols, A.rows, S.cols);
  detail::check_values(who, "X", X, true, ctx.threads());
  auto dX = detail::on_backend(ctx, X);
  detail::DataOperand<T> op;
  op.dense = dX.view;
  return detail::backward<T>(ctx, A, op, S, support, dS, opts);
}

template <class T>
NnlsGradients<T> nnls_backward(const Context& ctx, MatrixView<const T> A, const CscMatrix<T>& X,
                               MatrixView<const T> S, const SupportMask& support,
                               MatrixView<const T> dS, const BackwardOptions& opts) {
  const char* who = "nnls_backward";
  detail::check_backward_args(who, ctx, A, X.cols(), S, support, dS);
  detail::check_shape(who, "X", X.rows(), X.cols(), A.rows, S.cols);
  detail::check_values(who, "X", X.view(), true, ctx.threads());
  detail::DSparse<T> sp(ctx, X.view(), false);  // the row form, if needed, is built on demand
  detail::DataOperand<T> op;
  op.sparse = true;
  op.sp = &sp;
  return detail::backward<T>(ctx, A, op, S, support, dS, opts);
}

template <class T>
Matrix<T> solve_on_support(const Context& ctx, MatrixView<const T> G, const SupportMask& support,
                           MatrixView<const T> D, double ridge, std::vector<ColumnStatus>* status) {
  const char* who = "solve_on_support";
  if (G.rows != G.cols || G.rows < 1)
    throw DimensionMismatch(std::string(who) + ": G must be square with k >= 1, got " +
                            detail::describe("G", G.rows, G.cols));
  const index_t k = G.rows, m = D.cols;
  detail::check_shape(who, "D", D.rows, D.cols, k, m);
  detail::check_shape(who, "support", support.k(), support.cols(), k, m);
  detail::check_values(who, "G", G, false, ctx.threads());
  detail::check_values(who, "D", D, false, ctx.threads());
  if (!(ridge >= 0) || !std::isfinite(ridge))
    throw InvalidArgument(std::string(who) + ": ridge must be finite and >= 0, got " +
                          std::to_string(ridge));
  std::vector<ColumnStatus> st(static_cast<std::size_t>(m), ColumnStatus::converged);
  Matrix<T> Z;
  {
    auto dG = detail::on_backend(ctx, G);
    auto dD = detail::on_backend(ctx, D);
    detail::Buffer<std::uint64_t> sup_dev;
    const std::uint64_t* sup = support.data();
    if (ctx.backend() != Backend::host) {
      sup_dev = detail::Buffer<std::uint64_t>(ctx, static_cast<std::size_t>(support.words_per_col() * m));
      sup_dev.upload(sup, sup_dev.size());
      sup = sup_dev.data();
    }
    detail::HostOrBackend<T> dZ(ctx, Z, k, m);
    detail::HostOrBackend<std::uint8_t> dst(ctx, reinterpret_cast<std::uint8_t*>(st.data()), m);
    const T r = ridge > 0 ? static_cast<T>(ridge) : detail::default_ridge<T>();
    detail::ops::masked_solve<T>(ctx, dG.view, sup, dD.view, detail::pivot_eps<T>(k), r, dZ.view(),
                                 dst.data());
    dZ.finish();
    dst.finish();
  }
  if (status) *status = std::move(st);
  return Z;
}

#define NNMF_INSTANTIATE_NNLS(T)                                                               \
  template NnlsResult<T> nnls<T>(const Context&, MatrixView<const T>, MatrixView<const T>,     \
                                 const NnlsOptions&);                                          \
  template NnlsResult<T> nnls<T>(const Context&, MatrixView<const T>, const CscMatrix<T>&,     \
                                 const NnlsOptions&);                                          \
  template NnlsResult<T> nnls_normal<T>(const Context&, MatrixView<const T>,                   \
                                        MatrixView<const T>, const NnlsOptions&);              \
  template NnlsGradients<T> nnls_backward<T>(const Context&, MatrixView<const T>,              \
                                             MatrixView<const T>, MatrixView<const T>,         \
                                             const SupportMask&, MatrixView<const T>,          \
                                             const BackwardOptions&);                          \
  template NnlsGradients<T> nnls_backward<T>(const Context&, MatrixView<const T>,              \
                                             const CscMatrix<T>&, MatrixView<const T>,         \
                                             const SupportMask&, MatrixView<const T>,          \
                                             const BackwardOptions&);                          \
  template Matrix<T> solve_on_support<T>(const Context&, MatrixView<const T>, const SupportMask&, \
                                         MatrixView<const T>, double, std::vector<ColumnStatus>*);
NNMF_INSTANTIATE_NNLS(float)
NNMF_INSTANTIATE_NNLS(double)
#undef NNMF_INSTANTIATE_NNLS

}  // namespace nnmf
