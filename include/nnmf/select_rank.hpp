// Choosing the rank of an NMF layer by the error on held-out entries: bi-cross-validation
// (Owen & Perry, "Bi-cross-validation of the SVD and the nonnegative matrix factorization",
// Ann. Appl. Stat. 2009). Each replicate permutes the rows and the columns of X (seeded) and
// holds out a block A of `holdout` of the rows by `holdout` of the columns:
//
//       X = [ D  B ]    D: kept rows x kept columns     B: kept rows x held-out columns
//           [ C  A ]    C: held-out rows x kept columns A: the held-out block
//
// For each rank k: D ~ W H by NMF; H_B = q(W, B) and W_C^T = q(H^T, C^T) by NNLS (B's
// columns on D's topics, C's rows on D's coefficients); A is predicted as W_C H_B, which never
// saw A. The held-out error ||A - W_C H_B||_F / ||A||_F falls while k finds structure and
// rises once it fits noise, where the training error ||D - W H||_F / ||D||_F only falls. Works
// on sparse X without densifying it (the error on A through Gram identities).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "nnmf/context.hpp"
#include "nnmf/matrix.hpp"
#include "nnmf/nmf.hpp"

namespace nnmf {

struct RankSelectionOptions {
  std::vector<index_t> ranks;  ///< candidates, each >= 1 and at most the kept rows and columns
  double holdout = 0.25;       ///< share of the rows, and of the columns, held out (0, 1)
  int replicates = 3;          ///< independent splits, averaged
  NmfOptions nmf;              ///< the NMF of D (its seed is mixed with the replicate's)
  std::uint64_t seed = 0;      ///< the splits
  /// Called before each NMF (progress): replicate r (1-based) of replicates, candidate q
  /// (1-based) of ranks.size(). May be empty.
  std::function<void(int r, int q)> on_step;
};

/// One candidate rank, over the replicates.
struct RankScore {
  index_t rank = 0;
  std::vector<double> test_error;   ///< per replicate: ||A - W_C H_B||_F / ||A||_F
  std::vector<double> train_error;  ///< per replicate: ||D - W H||_F / ||D||_F
  double mean_test = 0, mean_train = 0;
};

struct RankSelection {
  std::vector<RankScore> scores;  ///< in the order of RankSelectionOptions::ranks
  index_t best = 0;               ///< the rank with the smallest mean test error
  /// The smallest rank whose mean test error is within one standard error (sd / sqrt(replicates))
  /// of best's: the simplest model the replicates cannot tell from the best (Breiman's rule).
  index_t one_se = 0;
};

/// Throws InvalidArgument for no ranks, a rank above the kept rows or columns, holdout outside
/// (0, 1), replicates < 1, or a split whose held-out block A has no nonzero entry.
template <class T>
RankSelection select_rank(const Context& ctx, const CscMatrix<T>& X, const RankSelectionOptions& opts);
template <class T>
RankSelection select_rank(const Context& ctx, MatrixView<const T> X, const RankSelectionOptions& opts);

}  // namespace nnmf
