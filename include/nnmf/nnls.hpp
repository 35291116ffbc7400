// Batched nonnegative least squares, S = q(A, X) = argmin_{S >= 0} ||X - A S||_F, and its
// derivative with respect to A and X.
//
// Algorithm. All columns share the Gram matrix G = A^T A (k x k) and C = A^T X (k x m), which
// are formed once with BLAS-3 (or a sparse-times-dense product for CSC X). Each column is then
// solved on the k x k problem min_s 1/2 s^T G s - c^T s, s >= 0 by the Lawson-Hanson active-set
// method in its normal-equation form (Bro & de Jong's FNNLS), with a Cholesky factor of the
// passive block G_TT that is extended by one row when an index enters the passive set and
// recomputed when indices leave it. Columns run in parallel (OpenMP on the host, one GPU
// thread per column on CUDA). At termination the passive set T is exact: s_T > 0 solves
// G_TT s_T = c_T, s = 0 off T, and the negative gradient w = c - G s satisfies w_i <= tol_j off T,
// which is what the gradient formulas of nnls_backward rely on.
//
// Rank deficiency. An index whose Cholesky pivot would fall below eps_pivot * G_ii (its column
// of A lies numerically in the span of the passive columns) is not admitted; Lawson-Hanson
// never needs such an index in exact arithmetic, so the result is a solution with linearly
// independent passive columns.
//
// Scale. q(sA, sX) = q(A, X) and q(A, sX) = s q(A, X) for s > 0, and the solver keeps this
// across the range of the type: nnls() and nnls_backward() work on A' = A D^-1 (D = diag of
// powers of two, so that every column of A' has a norm in [1/2, 1)), nnls() also on X 2^-e when
// X is far from unit scale, and nnls_normal() on the same scaling of G and C. Powers of two make
// the scaling exact, so the result is the unscaled solution of the scaled problem; the
// tolerance and the choice of entering index then treat every column of A alike (columns of A
// scaled from 1e-8 to 1e8 are solved as well as unit ones). A solution that does not exist in
// the type (it overflows, or positive entries underflow) is never returned as a silent zero:
// RangeError, or ColumnStatus::out_of_range with NnlsOptions::throw_on_out_of_range = false.
#pragma once

#include <cstdint>
#include <vector>

#include "nnmf/context.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf {

/// Outcome of one column of an NNLS solve or of a masked solve in the backward pass.
enum class ColumnStatus : std::uint8_t {
  converged = 0,        ///< solved to tolerance
  iteration_limit = 1,  ///< forward: hit max_iter; the column is feasible (>= 0) but not optimal
  regularized = 2,      ///< backward: G_TT was numerically singular; the ridge was used
  /// forward: the solution is outside the range of the type (an entry overflows, or a positive
  /// entry underflows below the smallest normal number), or the column of X is so far below
  /// the largest one that A^T x underflows; S(:, j) is not reliable
  out_of_range = 3,
};

const char* to_string(ColumnStatus s) noexcept;

/// Options of the forward solve.
struct NnlsOptions {
  /// Relative optimality tolerance. Column j stops when every index outside its passive set
  /// has w_i <= tol * max(max_i |c_i|, tiny), where c = A'^T x_j and w = c - G' s'_j on the
  /// column-scaled problem (see "Scale" above) and tiny is the smallest normal number.
  /// 0 selects the default: 1e-10 for double, 1e-5 for float.
  double tol = 0;
  /// Cap on the active-set iterations per column (one iteration = one index added or one
  /// step back to feasibility). 0 selects the default 3 * k + 30. A column that reaches it
  /// keeps its last feasible iterate and gets ColumnStatus::iteration_limit.
  int max_iter = 0;
  /// Optional warm start: the passive sets of a previous solve (k x m, same shapes). Each
  /// column starts from the least-squares solution on its previous support, with indices that
  /// come out nonpositive dropped; the result is the same optimum, reached in fewer steps.
  const SupportMask* warm_start = nullptr;
  /// Throw Error instead of returning when any column reaches max_iter.
  bool throw_on_iteration_limit = false;
  /// Throw RangeError when any column is ColumnStatus::out_of_range (its solution does not
  /// exist in the type, e.g. A ~ 1e-200 and X ~ 1e200 in double); false returns such columns
  /// with that status (entries that overflow are set to the largest finite value).
  bool throw_on_out_of_range = true;
};

/// Result of a forward solve.
template <class T>
struct NnlsResult {
  Matrix<T> S;                       ///< k x m, S >= 0
  SupportMask support;               ///< passive set of each column
  std::vector<ColumnStatus> status;  ///< one per column
  index_t iteration_limit_columns = 0;  ///< columns with ColumnStatus::iteration_limit
  index_t out_of_range_columns = 0;     ///< columns with ColumnStatus::out_of_range
  index_t iterations = 0;               ///< active-set iterations over all columns
  bool all_converged() const { return iteration_limit_columns == 0 && out_of_range_columns == 0; }
};

/// S = q(A, X) for dense X (n x m) and A (n x k), k <= n.
/// Checks: A, X finite and nonnegative; rows of A == rows of X; 1 <= k <= n.
template <class T>
NnlsResult<T> nnls(const Context& ctx, MatrixView<const T> A, MatrixView<const T> X,
                   const NnlsOptions& opts = {});

/// S = q(A, X) for sparse CSC X (n x m); X is never densified.
template <class T>
NnlsResult<T> nnls(const Context& ctx, MatrixView<const T> A, const CscMatrix<T>& X,
                   const NnlsOptions& opts = {});

/// The batched solve on the normal equations: column j minimises
/// 1/2 s^T G s - C(:, j)^T s over s >= 0. G (k x k) must be symmetric positive semidefinite
/// with a positive diagonal; used by nnls() and by alternating NNLS (NMF).
template <class T>
NnlsResult<T> nnls_normal(const Context& ctx, MatrixView<const T> G, MatrixView<const T> C,
                          const NnlsOptions& opts = {});

/// Options of the backward pass.
struct BackwardOptions {
  bool compute_dA = true;
  /// dL/dX is n x m and dense (7 GB for the full 20 Newsgroups at double), and training needs
  /// it only between layers, which the trainer asks for itself: off unless asked for.
  bool compute_dX = false;
  /// Ridge for numerically singular G_TT (see nnls_backward); 0 selects sqrt(eps).
  double ridge = 0;
};

/// Gradients returned by nnls_backward.
template <class T>
struct NnlsGradients {
  Matrix<T> dA;                      ///< n x k (empty unless compute_dA)
  Matrix<T> dX;                      ///< n x m (empty unless compute_dX)
  std::vector<ColumnStatus> status;  ///< converged or regularized, one per column
  index_t regularized_columns = 0;
};

/// Backward pass of S = q(A, X) (Neural NMF paper, Theorems 2.3 and 2.6).
///
/// With T_j the support of column j and g_j = dL/dS(:, j), each column solves
/// z_T = G_TT^{-1} g_T (z = 0 off T); then, with Z = [z_1 .. z_m],
///   dL/dX = A Z,
///   dL/dA = (X - A S) Z^T - A Z S^T = X Z^T - A (S Z^T + Z S^T),
/// the second form so that no n x m matrix is formed for sparse X.
///
/// Singular G_TT. The masked solve factors G_TT by Cholesky (G of the column-scaled A', as in
/// the forward solve). When a pivot falls below
/// |T| * eps * max(diag G_TT) (A_T numerically rank deficient, e.g. a user-supplied support
/// or a hand-made S), the column is solved with the ridge (G_TT + delta I) z_T = g_T,
/// delta = ridge * max(diag G_TT), and reported as ColumnStatus::regularized. For supports
/// produced by nnls() this does not happen unless A_T is ill-conditioned to working precision.
template <class T>
NnlsGradients<T> nnls_backward(const Context& ctx, MatrixView<const T> A, MatrixView<const T> X,
                               MatrixView<const T> S, const SupportMask& support,
                               MatrixView<const T> dS, const BackwardOptions& opts = {});
template <class T>
NnlsGradients<T> nnls_backward(const Context& ctx, MatrixView<const T> A, const CscMatrix<T>& X,
                               MatrixView<const T> S, const SupportMask& support,
                               MatrixView<const T> dS, const BackwardOptions& opts = {});

/// The batched masked solve alone: Z(:, j) = G_{T_j T_j}^{-1} D(T_j, j), zero off T_j, with
/// the same singular-block treatment as nnls_backward. G is k x k, D is k x m.
template <class T>
Matrix<T> solve_on_support(const Context& ctx, MatrixView<const T> G, const SupportMask& support,
                           MatrixView<const T> D, double ridge = 0,
                           std::vector<ColumnStatus>* status = nullptr);

}  // namespace nnmf
