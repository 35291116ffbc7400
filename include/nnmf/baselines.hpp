// The methods Neural NMF is compared with in its paper (Will et al., Tables 1 and 2), on the
// same Context and data types: semi-supervised NMF, hierarchical NMF and Deep NMF. Plain NMF
// (ANLS and multiplicative updates) is nnmf::nmf in nmf.hpp.
//
// Semi-supervised NMF (Lee, Yoo & Choi 2010; Neural NMF paper eq. 1.3):
//   min_{A, S, B >= 0}  ||W (.) (X - A S)||_F^2 + lambda ||Z (.) (Y - B S)||_F^2
// with W a 0/1 missing-data mask on X (a dense data_mask on dense X, or the complement of a
// sparse held-out set H on dense or sparse X), Y the one-hot labels (c x m) and Z the
// label mask (column j of Z is all ones when the label of column j is known). Solved by the
// multiplicative updates
//   A <- A (.) [(W(.)X) S^T] / [(W(.)(A S)) S^T]
//   S <- S (.) [A^T (W(.)X) + lambda B^T (Z(.)Y)] / [A^T (W(.)(A S)) + lambda B^T (Z(.)(B S))]
//   B <- B (.) [(Z(.)Y) S^T] / [(Z(.)(B S)) S^T]
// each of which does not increase the objective (Lee & Seung's auxiliary-function argument
// applies to nonnegatively weighted least squares). With a held-out set H nothing n x m is
// formed: W(.)X is X with H's entries dropped and W(.)(A S) = A S - P_H(A S), so that e.g.
// A^T (W(.)(A S)) = (A^T A) S - A^T P_H(A S) with P_H(A S) the |H| sampled entries of A S.
// Plain NMF with held-out entries is SSNMF without supervision (masked MU).
//
// Hierarchical NMF: NMF of X with rank k0 (X ~ A0 S0), then NMF of S(l-1) with rank kl
// (S(l-1) ~ Al Sl), and SSNMF instead of NMF at the last layer when labels are given.
//
// Deep NMF (after Flenner & Hunter, "A Deep Non-Negative Matrix Factorization Neural Network"):
// forward pass X0 = X ~ A0 S0, X(l) = p(S(l-1)) ~ Al Sl, with p a max pooling along the
// columns (window a: columns [g a, (g+1) a) form group g; a <= 1 means p = identity) and a
// semi-supervised last layer; then a backward pass that refines every factor by
// multiplicative updates of the joint objective
//   E = ||W (.) (X - A0 S0)||^2 + sum_{l=1..L} ||p(S(l-1)) - Al Sl||^2 + lambda ||Z (.) (Y - B SL)||^2,
// in which S(l-1) receives, through the Jacobian J of the pooling, the terms of layer l:
//   S(l) <- S(l) (.) [Al^T X(l) + J^T (A(l+1) S(l+1))] / [Al^T Al S(l) + J^T p(S(l))]
// (plus the label terms at l = L). See docs/baselines.md for the equations and what we could
// and could not check against the original paper.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "nnmf/context.hpp"
#include "nnmf/held_out.hpp"
#include "nnmf/matrix.hpp"
#include "nnmf/model.hpp"
#include "nnmf/nmf.hpp"

namespace nnmf {

/// How SSNMF starts.
enum class SsnmfInit {
  nmf,     ///< A, S from NMF (ANLS from NNDSVD) of X, zeros lifted to a small floor; B fitted
           ///< to that S by multiplicative updates. Default.
  random,  ///< seeded uniform A, S, B (the authors' package)
};

const char* to_string(SsnmfInit v) noexcept;

struct SsnmfOptions {
  /// Labels and label mask Z (known columns), and lambda. Supervision::loss must be l2 (the
  /// multiplicative updates minimise the L2 label term); Supervision::classifier is ignored
  /// (B is always a nonnegative factor updated with A and S). Empty: plain masked NMF by MU.
  std::optional<Supervision> supervision;
  /// 0/1 missing-data mask W on X (rows x cols, column-major); dense X only. Empty = all observed.
  std::vector<std::uint8_t> data_mask;
  /// Held-out entries H of X (dense or sparse X; include/nnmf/held_out.hpp): never read, left
  /// out of the objective (W = 0 on H). Not together with data_mask. Score the fit on them with
  /// held_out_errors (model.hpp). Empty = nothing held out.
  HeldOut held_out;
  int max_iter = 500;
  /// Stop when the relative decrease of the objective falls below rel_tol (0 = never).
  double rel_tol = 1e-6;
  std::uint64_t seed = 0;
  /// Denominator floor of the multiplicative updates.
  double mu_eps = 1e-16;
  SsnmfInit init = SsnmfInit::nmf;
  /// SsnmfInit::nmf: ANLS iterations of the starting NMF.
  int init_iterations = 100;
};

template <class T>
struct SsnmfResult {
  Matrix<T> A;  ///< N x k
  Matrix<T> S;  ///< k x m
  Matrix<T> B;  ///< c x k; empty without supervision
  /// ||W(.)(X - A S)||^2 + lambda ||Z(.)(Y - B S)||^2 after each iteration (W = 0 on held_out).
  std::vector<double> objective;
  int iterations = 0;
};

/// SSNMF of X (N x m, dense or sparse) with rank k, 1 <= k <= min(N, m). Throws
/// InvalidArgument / DimensionMismatch naming the argument for bad data or options (labels
/// of the wrong length or out of range, a mask with entries other than 0/1, a mask on
/// sparse X, a held-out set of another shape or unsorted, data_mask and held_out together, ...).
template <class T>
SsnmfResult<T> ssnmf(const Context& ctx, MatrixView<const T> X, index_t k, const SsnmfOptions& opts = {});
template <class T>
SsnmfResult<T> ssnmf(const Context& ctx, const CscMatrix<T>& X, index_t k, const SsnmfOptions& opts = {});

/// Factors of a multilayer method.
template <class T>
struct MultilayerResult {
  std::vector<Matrix<T>> A;  ///< A(l): k(l-1) x k(l), A(0) N x k0
  /// S(l): k(l) x m(l), with m(l) the columns of layer l (m, or fewer after pooling; see
  /// unpool_columns to get one column per column of X).
  std::vector<Matrix<T>> S;
  Matrix<T> B;  ///< classifier of the last layer (c x kL) when supervised, else empty
  /// Final objective of each layer's forward factorisation (NMF or SSNMF).
  std::vector<double> layer_objective;
  /// Deep NMF: the joint objective E after each backward iteration (empty for hierarchical NMF).
  std::vector<double> objective;
  int iterations = 0;  ///< Deep NMF: backward iterations run
};

struct HierarchicalNmfOptions {
  std::vector<index_t> ranks;  ///< k0 >= k1 >= ... >= kL, k0 <= min(N, m)
  /// NMF of each layer (algorithm, init, max_iter, rel_tol); layer l uses seed
  /// seed + 1000003 l.
  NmfOptions nmf;
  /// Labels for the last layer, which is then SSNMF (ssnmf settings below) of S(L-1).
  std::optional<Supervision> supervision;
  SsnmfOptions ssnmf;  ///< its supervision, data_mask and held_out members are ignored
  /// Held-out entries of X (dense or sparse): layer 0 is then factored by masked MU (SSNMF
  /// without labels, or with them for one layer, by the ssnmf settings) never reading them.
  HeldOut held_out;
  /// Scale the columns of A(l) so that those of A(0) ... A(l) have unit Euclidean norm (and
  /// the rows of S(l), and B, inversely): the product A0..Al Sl is unchanged, and the next
  /// layer factors an S(l) whose rows weigh each topic by its share of X rather than by an
  /// arbitrary column scale of A(l).
  bool normalize = true;
  std::uint64_t seed = 0;
};

/// Hierarchical NMF of X (dense or sparse). Throws like nmf() and ssnmf().
template <class T>
MultilayerResult<T> hierarchical_nmf(const Context& ctx, MatrixView<const T> X,
                                     const HierarchicalNmfOptions& opts);
template <class T>
MultilayerResult<T> hierarchical_nmf(const Context& ctx, const CscMatrix<T>& X,
                                     const HierarchicalNmfOptions& opts);

struct DeepNmfOptions {
  std::vector<index_t> ranks;  ///< k0 >= k1 >= ... >= kL
  /// Max-pooling window along the columns between consecutive layers: S(l-1) (k x m(l-1)) is
  /// pooled to k x ceil(m(l-1) / pool) by the row-wise maximum over each run of pool columns.
  /// 0 or 1: no pooling (p = identity).
  index_t pool = 0;
  /// Labels, one per column of X, for the last layer. With pooling, the columns of one
  /// last-layer group (pool^(L-1) consecutive columns of X for L layers) must share their
  /// label and known flag.
  std::optional<Supervision> supervision;
  /// 0/1 missing-data mask W on X (dense X only); layer 0 is then factored by masked MU.
  std::vector<std::uint8_t> data_mask;
  /// Held-out entries of X (dense or sparse X), as SsnmfOptions::held_out: layer 0 is factored
  /// by masked MU in the forward pass and its term of E is masked. Not with data_mask.
  HeldOut held_out;
  NmfOptions forward;   ///< the forward NMF of each layer (seeded per layer like hierarchical NMF)
  SsnmfOptions ssnmf;   ///< the forward SSNMF of the last layer (its supervision/mask/held_out ignored)
  bool normalize = true;  ///< as HierarchicalNmfOptions::normalize, in the forward pass
  int max_iter = 300;     ///< backward multiplicative-update iterations (0 = forward pass only)
  double rel_tol = 1e-6;  ///< stop when the relative decrease of E falls below this
  double mu_eps = 1e-16;
  std::uint64_t seed = 0;
};

/// Deep NMF of X (dense or sparse). Throws like hierarchical_nmf, and InvalidArgument for a
/// negative pool or pooled groups with mixed labels.
template <class T>
MultilayerResult<T> deep_nmf(const Context& ctx, MatrixView<const T> X, const DeepNmfOptions& opts);
template <class T>
MultilayerResult<T> deep_nmf(const Context& ctx, const CscMatrix<T>& X, const DeepNmfOptions& opts);

/// Columns of a pooled layer expanded back to @p m columns: column j of the result is column
/// j / window of S (window <= 1 returns S). For S(l) of deep_nmf use window = pool^l; then
/// A0 .. Al S has X's shape and each column of X is scored by its group's code.
template <class T>
Matrix<T> unpool_columns(const Matrix<T>& S, index_t window, index_t m);

}  // namespace nnmf
