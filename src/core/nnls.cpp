// Public NNLS operations: argument checks, then the same sequence of kernels on either backend.
#include "nnmf/nnls.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

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
    case ColumnStatus::out_of_range:
      return "out_of_range";
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

/// What the public solvers' RangeError suggests.
const char* const kRemedy =
    "Rescale A or X, or set NnlsOptions::throw_on_out_of_range = false to keep the other "
    "columns (those get ColumnStatus::out_of_range)";

namespace {

template <class T>
const char* type_name() {
  return sizeof(T) == sizeof(float) ? "float" : "double";
}

/// "1.2e+400" for m 2^e, which need not be representable in T.
std::string approx(long double m, int e) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3Lg", std::ldexp(m, e));
  return buf;
}

/// The exponent by which X is divided before the products: that of @p x_max, or 0 while X is
/// within 2^(max_exponent / 4) of 1, where nothing in the solve comes near overflow or
/// underflow (ordinary data are left as they are).
template <class T>
int data_exponent_of(int e) {
  const int free_range = std::numeric_limits<T>::max_exponent / 4;
  return (e > free_range || e < -free_range) ? e : 0;
}
template <class T>
int data_exponent(T x_max) {
  return data_exponent_of<T>(binary_exponent(x_max));
}

/// Column j of X (largest entry 2^ej) is too far below 2^ex for A^T x to keep its precision:
/// its products, scaled by 2^-h, or its scaled right-hand side would come within two mantissas
/// of the smallest normal number.
template <class T>
bool column_underflows(int ej, int ex, int h) {
  const int limit = std::numeric_limits<T>::min_exponent + 2 * std::numeric_limits<T>::digits;
  return std::min(ej - ex, ej - h) < limit;
}

/// S = 2^ex D^-1 S' in place (D = diag 2^e_q), marking the columns that leave the range of T
/// (see forward_scaled) and throwing RangeError for them unless the options say otherwise.
template <class T>
void unscale(NnlsResult<T>& r, const std::vector<int>& eq, int ex, int h, const T* x_col_max,
             const NnlsOptions& opts, const std::string& who, const char* remedy) {
  const T huge = std::numeric_limits<T>::max(), tiny = std::numeric_limits<T>::min();
  const index_t k = r.S.rows(), m = r.S.cols();
  std::vector<Pow2<T>> up;
  for (index_t q = 0; q < k; ++q) up.emplace_back(ex - eq[static_cast<std::size_t>(q)]);
  std::string first;  // the message of the first column out of range
  for (index_t j = 0; j < m; ++j) {
    std::string why;
    for (index_t q = 0; q < k; ++q) {
      T& s = r.S(q, j);
      const int e = ex - eq[static_cast<std::size_t>(q)];
      if (!(s > T(0)) || e == 0) continue;
      const T v = up[static_cast<std::size_t>(q)](s);
      if (why.empty() && !(v <= huge))
        why = "S(" + std::to_string(q) + ", " + std::to_string(j) + ") ~ " + approx(s, e) +
              " overflows " + type_name<T>();
      else if (why.empty() && v < tiny && (s >= tiny || v == T(0)))
        why = "S(" + std::to_string(q) + ", " + std::to_string(j) + ") ~ " + approx(s, e) +
              " underflows " + type_name<T>() + " (smallest normal " + approx(tiny, 0) + ")";
      s = v <= huge ? v : huge;
    }
    if (why.empty() && x_col_max && x_col_max[j] > T(0)) {
      const int ej = binary_exponent(x_col_max[j]);
      if (column_underflows<T>(ej, ex, h))
        why = "column " + std::to_string(j) + " of X (largest entry " + approx(x_col_max[j], 0) +
              ") is 2^" + std::to_string(ej - ex) + " times the largest entry of X, so A^T x " +
              "underflows " + type_name<T>();
    }
    if (why.empty()) continue;
    if (r.status[static_cast<std::size_t>(j)] == ColumnStatus::iteration_limit)
      --r.iteration_limit_columns;
    r.status[static_cast<std::size_t>(j)] = ColumnStatus::out_of_range;
    ++r.out_of_range_columns;
    if (first.empty()) first = why;
  }
  if (r.out_of_range_columns > 0 && opts.throw_on_out_of_range)
    throw RangeError(who + ": " + first + "; the solution does not exist in " + type_name<T>() +
                     " for " + std::to_string(r.out_of_range_columns) + " of " +
                     std::to_string(m) + " columns" +
                     (remedy ? std::string(". ") + remedy : std::string()));
}

}  // namespace

template <class T>
NnlsResult<T> forward_scaled(const Context& ctx, MatrixView<const T> A, const DataOperand<T>& X,
                             T x_max, const T* x_col_max, const NnlsOptions& opts,
                             const std::string& who, const char* remedy) {
  const index_t k = A.cols, m = X.cols();
  const std::vector<int> eq = column_exponents(A);
  const int ex = data_exponent(x_max);
  // X 2^-ex: half of the power goes into A' inside the product, the rest onto its result, so
  // that neither the scaled factor nor the unscaled product leaves the range of T.
  const int h = ex / 2, rest = ex - h;
  DMatrix<T> G(ctx, k, k), C(ctx, k, m);
  {
    const Matrix<T> As = scale_columns_pow2(A, eq);  // (n, k), unit-order column norms
    auto dA = on_backend(ctx, As.view());
    ops::gram<T>(ctx, dA.view, G.view());
    if (h == 0) ops::at_x<T>(ctx, T(1), dA.view, X, T(0), C.view());
  }
  if (h != 0) {
    const Matrix<T> Ah = scale_columns_pow2(A, eq, h);
    auto dA = on_backend(ctx, Ah.view());
    ops::at_x<T>(ctx, T(1), dA.view, X, T(0), C.view());
  }
  if (rest != 0) ops::scal<T>(ctx, k * m, std::ldexp(T(1), -rest), C.data());
  NnlsResult<T> r = solve_normal<T>(ctx, G.view(), C.view(), opts);
  unscale(r, eq, ex, h, x_col_max, opts, who, remedy);
  return r;
}

/// Throws RangeError when a gradient overflowed T (its inputs are finite).
template <class T>
void check_gradient(const char* who, const char* name, const Matrix<T>& g) {
  for (index_t j = 0; j < g.cols(); ++j)
    for (index_t i = 0; i < g.rows(); ++i)
      if (!std::isfinite(g(i, j)))
        throw RangeError(std::string(who) + ": " + name + "(" + std::to_string(i) + ", " +
                         std::to_string(j) + ") overflows " + type_name<T>() +
                         " although every input is finite; rescale the loss or the data");
}

template <class T>
NnlsGradients<T> backward(const Context& ctx, MatrixView<const T> A, const DataOperand<T>& X,
                          MatrixView<const T> S, const SupportMask& support,
                          MatrixView<const T> dS, const BackwardOptions& opts) {
  const index_t n = A.rows, k = A.cols, m = X.cols();
  NnlsGradients<T> r;
  r.status.assign(static_cast<std::size_t>(m), ColumnStatus::converged);
  // The scaled problem of the forward solve, A' = A D^-1 (D = diag 2^e_q, unit-order column
  // norms), so that G' = A'^T A' is in range and its blocks are judged at one scale. With
  // Z = D^-1 Z' and Z' = G'^-1 (D^-1 dS) on each support:
  //   dL/dX = A Z = A' Z',  dL/dA = (X Z'^T - A' (S' Z'^T + Z' S'^T)) D^-1,  S' = D S.
  const std::vector<int> eq = column_exponents(A);
  const Matrix<T> As = scale_columns_pow2(A, eq);
  std::vector<Pow2<T>> down, up;
  for (int e : eq) {
    down.emplace_back(-e);
    up.emplace_back(e);
  }
  Matrix<T> dSs(k, m);
  for (index_t j = 0; j < m; ++j)
    for (index_t q = 0; q < k; ++q) dSs(q, j) = down[static_cast<std::size_t>(q)](dS(q, j));
  auto dA_in = on_backend(ctx, As.view());
  auto dS_in = on_backend<T>(ctx, dSs.view());
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
    Matrix<T> Ss(k, m);
    for (index_t j = 0; j < m; ++j)
      for (index_t q = 0; q < k; ++q) Ss(q, j) = up[static_cast<std::size_t>(q)](S(q, j));
    auto S_in = on_backend<T>(ctx, Ss.view());
    DMatrix<T> M(ctx, k, k);
    // M = S Z^T + Z S^T (k x k), then dA = X Z^T - A M.
    ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), S_in.view, Z.view(), T(0), M.view());
    ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), Z.view(), S_in.view, T(1), M.view());
    HostOrBackend<T> dA(ctx, r.dA, n, k);
    ops::x_zt<T>(ctx, T(1), X, Z.view(), T(0), dA.view());
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(-1), dA_in.view, M.view(), T(1), dA.view());
    dA.finish();
    for (index_t q = 0; q < k; ++q) {
      const Pow2<T>& f = down[static_cast<std::size_t>(q)];
      if (!f.identity())
        for (index_t i = 0; i < n; ++i) r.dA(i, q) = f(r.dA(i, q));
    }
  }
  check_gradient("nnls_backward", "dL/dA", r.dA);
  check_gradient("nnls_backward", "dL/dX", r.dX);
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
  std::vector<T> col_max(static_cast<std::size_t>(X.cols));
  detail::check_values(who, "X", X, true, ctx.threads(), col_max.data());
  detail::check_options(who, opts, A.cols, X.cols);
  auto dX = detail::on_backend(ctx, X);
  detail::DataOperand<T> op;
  op.dense = dX.view;
  const T x_max = col_max.empty() ? T(0) : *std::max_element(col_max.begin(), col_max.end());
  return detail::forward_scaled<T>(ctx, A, op, x_max, col_max.data(), opts, who,
                                   detail::kRemedy);
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
  std::vector<T> col_max(static_cast<std::size_t>(X.cols()));
  detail::check_values(who, "X", X.view(), true, ctx.threads(), col_max.data());
  detail::check_options(who, opts, A.cols, X.cols());
  detail::DSparse<T> sp(ctx, X.view(), false);
  detail::DataOperand<T> op;
  op.sparse = true;
  op.sp = &sp;
  const T x_max = col_max.empty() ? T(0) : *std::max_element(col_max.begin(), col_max.end());
  return detail::forward_scaled<T>(ctx, A, op, x_max, col_max.data(), opts, who,
                                   detail::kRemedy);
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
  // The same power-of-two scaling as nnls(): G' = D^-1 G D^-1 with diag(G') in [1/4, 1) and
  // C' = D^-1 C 2^-ex, so that q(s^2 G, s^2 C) = q(G, C) and q(G, s C) = s q(G, C).
  std::vector<int> eq(static_cast<std::size_t>(k), 0);
  for (index_t q = 0; q < k; ++q) {
    const int b = detail::binary_exponent(G(q, q));
    eq[static_cast<std::size_t>(q)] = b >= 0 ? (b + 1) / 2 : -(-b / 2);
  }
  int cmax = std::numeric_limits<int>::min();
  for (index_t j = 0; j < C.cols; ++j)
    for (index_t q = 0; q < k; ++q)
      if (C(q, j) != T(0))
        cmax = std::max(cmax, detail::binary_exponent(C(q, j)) - eq[static_cast<std::size_t>(q)]);
  const int ex = cmax == std::numeric_limits<int>::min() ? 0 : detail::data_exponent_of<T>(cmax);
  Matrix<T> Gs(k, k), Cs(k, C.cols);
  for (index_t b = 0; b < k; ++b)
    for (index_t a = 0; a < k; ++a)
      Gs(a, b) = std::ldexp(G(a, b), -eq[static_cast<std::size_t>(a)] - eq[static_cast<std::size_t>(b)]);
  std::vector<detail::Pow2<T>> down;
  for (int e : eq) down.emplace_back(-e - ex);
  for (index_t j = 0; j < C.cols; ++j)
    for (index_t q = 0; q < k; ++q) Cs(q, j) = down[static_cast<std::size_t>(q)](C(q, j));
  auto dG = detail::on_backend<T>(ctx, Gs.view());
  auto dC = detail::on_backend<T>(ctx, Cs.view());
  NnlsResult<T> r = detail::solve_normal<T>(ctx, dG.view, dC.view, opts);
  detail::unscale<T>(r, eq, ex, ex, nullptr, opts, who,
                     "Rescale G or C, or set NnlsOptions::throw_on_out_of_range = false to keep "
                     "the other columns (those get ColumnStatus::out_of_range)");
  return r;
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
template NnlsResult<float> detail::forward_scaled<float>(const Context&, MatrixView<const float>,
                                                         const detail::DataOperand<float>&, float,
                                                         const float*, const NnlsOptions&,
                                                         const std::string&, const char*);
template NnlsResult<double> detail::forward_scaled<double>(const Context&, MatrixView<const double>,
                                                           const detail::DataOperand<double>&,
                                                           double, const double*,
                                                           const NnlsOptions&, const std::string&,
                                                           const char*);

}  // namespace nnmf
