// Rank selection by bi-cross-validation (nnmf/select_rank.hpp): exact recovery of a planted
// rank, the curve's shape with noise, determinism, bad options; the CLI's table and files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

/// W (n x r) H (r x m) with seeded uniform factors, plus noise of the given size.
Matrix<double> planted(index_t n, index_t m, index_t r, double noise, std::uint64_t seed) {
  const Matrix<double> W = random_matrix<double>(n, r, seed), H = random_matrix<double>(r, m, seed + 1);
  const Matrix<double> E = random_matrix<double>(n, m, seed + 2);
  Matrix<double> X(n, m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < n; ++i) {
      double s = noise * E(i, j);
      for (index_t t = 0; t < r; ++t) s += W(i, t) * H(t, j);
      X(i, j) = s;
    }
  return X;
}

RankSelectionOptions options(std::vector<index_t> ranks, int iterations = 100) {
  RankSelectionOptions o;
  o.ranks = std::move(ranks);
  o.nmf.algorithm = NmfAlgorithm::hals;
  o.nmf.max_iter = iterations;
  o.nmf.rel_tol = 0;
  return o;
}

TEST(SelectRank, ExactLowRankDataIsPredictedFromItsRank) {
  const Matrix<double> X = planted(40, 50, 3, 0, 11);
  const RankSelection r = select_rank<double>(Context::host(1), X.view(), options({1, 2, 3}, 3000));
  ASSERT_EQ(r.scores.size(), 3u);
  EXPECT_GT(r.scores[0].mean_test, 0.05);
  EXPECT_GT(r.scores[1].mean_test, 0.05);
  EXPECT_LT(r.scores[2].mean_train, 1e-6);  // D is factored exactly at its rank ...
  // ... and A is predicted to within what nonnegativity allows: W_C and H_B are NNLS fits on
  // factors equivalent to the planted ones up to an invertible mixing, not only a scaling
  // (0.008 here, 0.118 at rank 2).
  EXPECT_LT(r.scores[2].mean_test, 0.1 * r.scores[1].mean_test);
  EXPECT_EQ(r.best, 3);
  EXPECT_EQ(r.one_se, 3);
  for (const auto& s : r.scores) {
    EXPECT_EQ(s.test_error.size(), 3u);
    EXPECT_EQ(s.train_error.size(), 3u);
  }
}

TEST(SelectRank, NoisyDataHeldOutErrorTurnsUpWhereTrainingErrorKeepsFalling) {
  const Matrix<double> X = planted(60, 80, 4, 0.3, 21);
  const auto sparse = CscMatrix<double>::from_dense(X.view());
  const RankSelection r = select_rank<double>(Context::host(1), sparse, options({2, 3, 4, 6, 10, 16}));
  for (std::size_t q = 1; q < r.scores.size(); ++q) EXPECT_LT(r.scores[q].mean_train, r.scores[q - 1].mean_train);
  EXPECT_EQ(r.one_se, 4);
  EXPECT_LT(r.scores[2].mean_test, r.scores[5].mean_test);  // 16 topics fit the noise
  // Dense and sparse input agree; the same seed gives the same bits.
  const RankSelection d = select_rank<double>(Context::host(1), X.view(), options({2, 3, 4, 6, 10, 16}));
  for (std::size_t q = 0; q < r.scores.size(); ++q) EXPECT_EQ(r.scores[q].test_error, d.scores[q].test_error);
  RankSelectionOptions other = options({2, 3, 4, 6, 10, 16});
  other.seed = 5;
  const RankSelection e = select_rank<double>(Context::host(1), sparse, other);
  EXPECT_NE(r.scores[0].test_error, e.scores[0].test_error);
}

TEST(SelectRank, BadOptionsNameTheProblem) {
  const Matrix<double> X = planted(20, 30, 2, 0.1, 3);
  auto expect_error = [&](RankSelectionOptions o, const std::string& what) {
    try {
      select_rank<double>(Context::host(1), X.view(), o);
      ADD_FAILURE() << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error(options({}), "no candidate ranks");
  expect_error(options({16}), "rank 16 is outside 1..15");  // D is 15 x 22
  RankSelectionOptions o = options({2});
  o.holdout = 1;
  expect_error(o, "holdout must lie in (0, 1)");
  o = options({2});
  o.replicates = 0;
  expect_error(o, "replicates must be >= 1");
  o = options({2});
  o.holdout = 0.01;
  expect_error(o, "holds out no row or no column");
}

class CliSelectRank : public CliTest {};

TEST_F(CliSelectRank, TableReportAndPlot) {
  const CliRun r = run("select-rank " + syn_ + "X.mtx --ranks 10,4,9,6 --replicates 2 -q -o " + p("sr"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("held-out error (mean ± sd over 2)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("best rank:"), std::string::npos);
  std::ifstream f(p("sr/report.json"));
  const auto j = nlohmann::json::parse(f);
  ASSERT_EQ(j["scores"].size(), 4u);
  EXPECT_EQ(j["scores"][0]["rank"], 4);  // sorted
  EXPECT_EQ(j["one_se_rank"], 9);        // the synthetic hierarchy has 9 fine blocks
  EXPECT_EQ(j["scores"][2]["test_error"].size(), 2u);
  const std::string svg = slurp(p("sr/select-rank.svg"));
  EXPECT_NE(svg.find("held-out error"), std::string::npos);
  EXPECT_NE(svg.find("1 SE: k = 9"), std::string::npos);
  const CliRun bad = run("select-rank " + syn_ + "X.mtx --ranks 90");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("rank 90 is outside"), std::string::npos) << bad.output;
  EXPECT_EQ(run("select-rank " + syn_ + "X.mtx --ranks 2 --holdout 0.95").status, 2);
}

}  // namespace
}  // namespace nnmf::test
