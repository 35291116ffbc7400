// Rank selection by bi-cross-validation (include/nnmf/select_rank.hpp).
#include "nnmf/select_rank.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/data.hpp"
#include "nnmf/error.hpp"
#include "nnmf/nnls.hpp"

namespace nnmf {
namespace {

using detail::Rng;
const char* kWho = "select_rank";

/// One split: the four blocks of X.
template <class T>
struct Blocks {
  CscMatrix<T> D, B, Ct, A;  ///< Ct: C transposed (kept columns x held-out rows)
};

/// The entries of X in the given rows (in that order) and columns; transposed when asked.
template <class T>
CscMatrix<T> block(const CscMatrix<T>& X, const std::vector<index_t>& rows, const std::vector<index_t>& cols,
                   bool transpose) {
  std::vector<index_t> row_of(static_cast<std::size_t>(X.rows()), -1);
  for (std::size_t q = 0; q < rows.size(); ++q) row_of[static_cast<std::size_t>(rows[q])] = static_cast<index_t>(q);
  std::vector<index_t> ii, jj;
  std::vector<T> vv;
  for (std::size_t q = 0; q < cols.size(); ++q) {
    const index_t j = cols[q];
    for (index_t p = X.colptr()[static_cast<std::size_t>(j)]; p < X.colptr()[static_cast<std::size_t>(j + 1)]; ++p) {
      const index_t r = row_of[static_cast<std::size_t>(X.rowind()[static_cast<std::size_t>(p)])];
      if (r < 0) continue;
      ii.push_back(transpose ? static_cast<index_t>(q) : r);
      jj.push_back(transpose ? r : static_cast<index_t>(q));
      vv.push_back(X.values()[static_cast<std::size_t>(p)]);
    }
  }
  const auto nr = static_cast<index_t>(rows.size()), nc = static_cast<index_t>(cols.size());
  return transpose ? CscMatrix<T>::from_triplets(nc, nr, ii, jj, vv) : CscMatrix<T>::from_triplets(nr, nc, ii, jj, vv);
}

template <class T>
Blocks<T> split(const CscMatrix<T>& X, index_t held_rows, index_t held_cols, Rng& rng) {
  const std::vector<index_t> pr = seeded_permutation(X.rows(), rng), pc = seeded_permutation(X.cols(), rng);
  auto sorted = [](std::vector<index_t> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto rh = sorted({pr.begin(), pr.begin() + held_rows}), rk = sorted({pr.begin() + held_rows, pr.end()});
  const auto ch = sorted({pc.begin(), pc.begin() + held_cols}), ck = sorted({pc.begin() + held_cols, pc.end()});
  return {block(X, rk, ck, false), block(X, rk, ch, false), block(X, rh, ck, true), block(X, rh, ch, false)};
}

template <class T>
double sqnorm(const CscMatrix<T>& M) {
  double s = 0;
  for (T v : M.values()) s += double(v) * double(v);
  return s;
}

/// ||A - W Hb||_F^2 with W = Wct^T (held-out rows x k), from the nonzeros of A and the Grams.
template <class T>
double heldout_sqerror(const CscMatrix<T>& A, const Matrix<T>& Wct, const Matrix<T>& Hb) {
  const index_t k = Hb.rows();
  double cross = 0;
  for (index_t j = 0; j < A.cols(); ++j)
    for (index_t p = A.colptr()[static_cast<std::size_t>(j)]; p < A.colptr()[static_cast<std::size_t>(j + 1)]; ++p) {
      const index_t i = A.rowind()[static_cast<std::size_t>(p)];
      double wh = 0;
      for (index_t t = 0; t < k; ++t) wh += double(Wct(t, i)) * double(Hb(t, j));
      cross += double(A.values()[static_cast<std::size_t>(p)]) * wh;
    }
  double gram = 0;  // <W^T W, Hb Hb^T>
  for (index_t a = 0; a < k; ++a)
    for (index_t b = 0; b < k; ++b) {
      double ww = 0, hh = 0;
      for (index_t i = 0; i < Wct.cols(); ++i) ww += double(Wct(a, i)) * double(Wct(b, i));
      for (index_t j = 0; j < Hb.cols(); ++j) hh += double(Hb(a, j)) * double(Hb(b, j));
      gram += ww * hh;
    }
  return std::max(0.0, sqnorm(A) - 2 * cross + gram);
}

template <class T>
Matrix<T> transposed(const Matrix<T>& M) {
  Matrix<T> t(M.cols(), M.rows());
  for (index_t j = 0; j < M.cols(); ++j)
    for (index_t i = 0; i < M.rows(); ++i) t(j, i) = M(i, j);
  return t;
}

void check_options(const RankSelectionOptions& o, index_t kept_rows, index_t kept_cols, index_t held_rows,
                   index_t held_cols) {
  if (o.ranks.empty()) throw InvalidArgument(std::string(kWho) + ": no candidate ranks");
  if (!(o.holdout > 0 && o.holdout < 1))
    throw InvalidArgument(std::string(kWho) + ": holdout must lie in (0, 1), got " + std::to_string(o.holdout));
  if (o.replicates < 1) throw InvalidArgument(std::string(kWho) + ": replicates must be >= 1");
  if (held_rows < 1 || held_cols < 1)
    throw InvalidArgument(std::string(kWho) + ": holdout " + std::to_string(o.holdout) +
                          " holds out no row or no column of X; raise it");
  for (index_t k : o.ranks)
    if (k < 1 || k > std::min(kept_rows, kept_cols))
      throw InvalidArgument(std::string(kWho) + ": rank " + std::to_string(k) + " is outside 1.." +
                            std::to_string(std::min(kept_rows, kept_cols)) + " (the kept block D is " +
                            std::to_string(kept_rows) + " x " + std::to_string(kept_cols) + ")");
}

/// Scores every rank on one split, appending to @p scores.
template <class T>
void score_split(const Context& ctx, const Blocks<T>& s, const RankSelectionOptions& o, int r, std::uint64_t seed,
                 std::vector<RankScore>& scores) {
  const double a2 = sqnorm(s.A), d2 = sqnorm(s.D);
  if (a2 == 0)
    throw InvalidArgument(std::string(kWho) + ": a held-out block has no nonzero entry (X is too sparse for "
                          "holdout " + std::to_string(o.holdout) + "; raise it)");
  for (std::size_t q = 0; q < o.ranks.size(); ++q) {
    if (o.on_step) o.on_step(r + 1, static_cast<int>(q + 1));
    NmfOptions no = o.nmf;
    no.seed = seed;
    const NmfResult<T> f = nmf<T>(ctx, s.D, o.ranks[q], no);
    const Matrix<T> Hb = nnls<T>(ctx, f.W.view(), s.B).S;
    const Matrix<T> Ht = transposed(f.H);
    const Matrix<T> Wct = nnls<T>(ctx, Ht.view(), s.Ct).S;
    scores[q].test_error.push_back(std::sqrt(heldout_sqerror(s.A, Wct, Hb) / a2));
    scores[q].train_error.push_back(d2 > 0 ? std::sqrt(f.objective.back() / d2) : 0.0);
  }
}

double standard_error(const std::vector<double>& v, double mean) {
  if (v.size() < 2) return 0;
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return std::sqrt(s / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()));
}

}  // namespace

template <class T>
RankSelection select_rank(const Context& ctx, const CscMatrix<T>& X, const RankSelectionOptions& o) {
  if (ctx.processes() > 1)  // the held-out blocks are drawn over all of X (docs/mpi.md)
    throw InvalidArgument("select_rank: runs on one process; this context spans " +
                          std::to_string(ctx.processes()));
  const auto held_rows = static_cast<index_t>(std::llround(o.holdout * static_cast<double>(X.rows())));
  const auto held_cols = static_cast<index_t>(std::llround(o.holdout * static_cast<double>(X.cols())));
  check_options(o, X.rows() - held_rows, X.cols() - held_cols, held_rows, held_cols);
  RankSelection out;
  for (index_t k : o.ranks) out.scores.push_back(RankScore{k, {}, {}, 0, 0});
  Rng rng(o.seed ^ 0xb1cf01dull);
  for (int r = 0; r < o.replicates; ++r) {
    const Blocks<T> s = split(X, held_rows, held_cols, rng);
    score_split(ctx, s, o, r, o.nmf.seed * 1000003ull + static_cast<std::uint64_t>(r), out.scores);
  }
  double best = std::numeric_limits<double>::infinity();
  for (auto& sc : out.scores) {
    sc.mean_test = std::accumulate(sc.test_error.begin(), sc.test_error.end(), 0.0) / o.replicates;
    sc.mean_train = std::accumulate(sc.train_error.begin(), sc.train_error.end(), 0.0) / o.replicates;
    if (sc.mean_test < best) best = sc.mean_test, out.best = sc.rank;
  }
  for (const auto& sc : out.scores)
    if (sc.rank == out.best) best += standard_error(sc.test_error, sc.mean_test);
  out.one_se = out.best;
  for (const auto& sc : out.scores)
    if (sc.mean_test <= best) out.one_se = std::min(out.one_se, sc.rank);
  return out;
}

template <class T>
RankSelection select_rank(const Context& ctx, MatrixView<const T> X, const RankSelectionOptions& opts) {
  return select_rank<T>(ctx, CscMatrix<T>::from_dense(X), opts);
}

template RankSelection select_rank<float>(const Context&, const CscMatrix<float>&, const RankSelectionOptions&);
template RankSelection select_rank<double>(const Context&, const CscMatrix<double>&, const RankSelectionOptions&);
template RankSelection select_rank<float>(const Context&, MatrixView<const float>, const RankSelectionOptions&);
template RankSelection select_rank<double>(const Context&, MatrixView<const double>, const RankSelectionOptions&);

}  // namespace nnmf
