// Nonnegative matrix factorisation X ~ W H (W: N x k, H: k x m), on the same Context and
// data types as the rest of nnmf. Used as a baseline and to initialise Neural NMF.
#pragma once

#include <cstdint>
#include <vector>

#include "nnmf/context.hpp"
#include "nnmf/matrix.hpp"
#include "nnmf/nnls.hpp"

namespace nnmf {

enum class NmfAlgorithm {
  anls,  ///< alternating nonnegative least squares on the batched NNLS core (exact blocks)
  mu,    ///< Lee & Seung multiplicative updates
  /// HALS / coordinate descent (Cichocki & Phan; scikit-learn's solver='cd'): one sweep of
  /// exact coordinate updates over the k rows of H, then the k columns of W, per iteration,
  /// on the Gram matrices (W^T W, H H^T) and the products (W^T X, X H^T) that ANLS forms too.
  /// Cheaper iterations than ANLS (no NNLS solves; H starts from one exact NNLS solve), so it
  /// reaches a given error sooner on large data; ANLS solves each block exactly.
  hals,
};

/// How W starts.
enum class NmfInit {
  nndsvd,  ///< NNDSVDa (Boutsidis & Gallopoulos) from a randomized truncated SVD; zeros filled
           ///< with mean(X). Default: far fewer poor local minima than random starts.
  random,  ///< seeded uniform entries scaled by sqrt(mean(X) / k)
};

const char* to_string(NmfAlgorithm a) noexcept;
const char* to_string(NmfInit i) noexcept;

struct NmfOptions {
  NmfAlgorithm algorithm = NmfAlgorithm::anls;
  NmfInit init = NmfInit::nndsvd;
  int max_iter = 200;
  /// Stop when the relative decrease of ||X - W H||_F^2 falls below rel_tol (0 = never).
  double rel_tol = 1e-6;
  std::uint64_t seed = 0;
  /// Denominator floor of the multiplicative updates.
  double mu_eps = 1e-16;
  NnlsOptions nnls;
};

template <class T>
struct NmfResult {
  Matrix<T> W;                    ///< N x k
  Matrix<T> H;                    ///< k x m
  std::vector<double> objective;  ///< ||X - W H||_F^2 after each iteration
  /// Wall time from the call (checks and start included) to the end of each iteration.
  std::vector<double> seconds;
  int iterations = 0;
};

/// NMF of dense or sparse X with rank k (1 <= k <= min(N, m)). W starts per opts.init; H from
/// q(W, X) (ANLS) or seeded uniform entries scaled by sqrt(mean(X) / k) (MU).
template <class T>
NmfResult<T> nmf(const Context& ctx, MatrixView<const T> X, index_t k, const NmfOptions& opts = {});
template <class T>
NmfResult<T> nmf(const Context& ctx, const CscMatrix<T>& X, index_t k, const NmfOptions& opts = {});

}  // namespace nnmf
