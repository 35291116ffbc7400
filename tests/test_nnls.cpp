// Forward NNLS: KKT conditions, agreement with an independent Lawson-Hanson reference, warm
// starts, iteration limits, determinism, float and double.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

Context ctx2() { return Context::host(2); }

TEST(Nnls, RandomDenseSatisfiesKktAndMatchesReference) {
  for (index_t k : {1, 2, 5, 13, 32, 70}) {
    const index_t n = std::max<index_t>(k + 5, 60), m = 40;
    auto A = random_matrix<double>(n, k, 100 + k);
    auto X = random_matrix<double>(n, m, 200 + k);
    auto r = nnls<double>(ctx2(), A.view(), X.view());
    EXPECT_TRUE(r.all_converged()) << "k = " << k;
    expect_kkt(A, X, r, 1e-9);
    for (index_t j = 0; j < m; ++j) {
      const auto ref = reference_nnls(A, X.data() + j * n);
      for (index_t q = 0; q < k; ++q)
        EXPECT_NEAR(r.S(q, j), ref[static_cast<std::size_t>(q)], 1e-8 * (1 + std::abs(ref[static_cast<std::size_t>(q)])))
            << "k = " << k << ", column " << j << ", index " << q;
    }
  }
}

TEST(Nnls, SupportIsExactlyThePositiveEntries) {
  auto A = random_matrix<double>(50, 12, 1);
  auto X = random_matrix<double>(50, 30, 2);
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  EXPECT_EQ(r.support, SupportMask::from_positive<double>(r.S.view()));
  // Random uniform data gives a mix of active and passive constraints.
  EXPECT_GT(r.support.count(), 30);
  EXPECT_LT(r.support.count(), 12 * 30);
}

TEST(Nnls, SparseInputMatchesDense) {
  auto A = random_matrix<double>(300, 16, 3);
  auto Xs = random_sparse<double>(300, 120, 0.05, 4);
  auto Xd = Xs.to_dense();
  auto rs = nnls<double>(ctx2(), A.view(), Xs);
  auto rd = nnls<double>(ctx2(), A.view(), Xd.view());
  expect_kkt(A, Xd, rs, 1e-9);
  EXPECT_EQ(rs.support, rd.support);
  for (index_t j = 0; j < 120; ++j)
    for (index_t q = 0; q < 16; ++q) EXPECT_NEAR(rs.S(q, j), rd.S(q, j), 1e-10);
}

TEST(Nnls, ZeroColumnsOfXGiveZeroSolutions) {
  auto A = random_matrix<double>(40, 6, 5);
  auto X = random_matrix<double>(40, 10, 6);
  for (index_t i = 0; i < 40; ++i) {
    X(i, 0) = 0;
    X(i, 7) = 0;
  }
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  expect_kkt(A, X, r, 1e-9);
  for (index_t q = 0; q < 6; ++q) {
    EXPECT_EQ(r.S(q, 0), 0.0);
    EXPECT_EQ(r.S(q, 7), 0.0);
  }
  EXPECT_EQ(r.support.count(0), 0);
  // A sparse matrix with empty columns too.
  auto Xs = CscMatrix<double>::from_dense(X.view());
  auto rs = nnls<double>(ctx2(), A.view(), Xs);
  EXPECT_EQ(rs.support, r.support);
}

TEST(Nnls, ZeroColumnOfAIsNeverUsed) {
  auto A = random_matrix<double>(30, 5, 7);
  for (index_t i = 0; i < 30; ++i) A(i, 2) = 0;
  auto X = random_matrix<double>(30, 20, 8);
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  expect_kkt(A, X, r, 1e-9);
  for (index_t j = 0; j < 20; ++j) EXPECT_FALSE(r.support.test(2, j));
}

TEST(Nnls, RankDeficientASatisfiesKkt) {
  // Columns 3 and 4 duplicate columns 0 and 1; column 5 is their sum: rank 3 of 6.
  auto A = random_matrix<double>(25, 6, 9);
  for (index_t i = 0; i < 25; ++i) {
    A(i, 3) = A(i, 0);
    A(i, 4) = A(i, 1);
    A(i, 5) = A(i, 0) + A(i, 1);
  }
  auto X = random_matrix<double>(25, 50, 10);
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  EXPECT_TRUE(r.all_converged());
  expect_kkt(A, X, r, 1e-8);
  // The passive columns are linearly independent: at most rank(A) = 3 of them.
  for (index_t j = 0; j < 50; ++j) EXPECT_LE(r.support.count(j), 3);
  // The residual equals the reference's (the fit is unique even if S is not).
  for (index_t j = 0; j < 50; ++j) {
    const auto ref = reference_nnls(A, X.data() + j * 25);
    double r1 = 0, r2 = 0;
    for (index_t i = 0; i < 25; ++i) {
      double a = X(i, j), b = X(i, j);
      for (index_t q = 0; q < 6; ++q) {
        a -= A(i, q) * r.S(q, j);
        b -= A(i, q) * ref[static_cast<std::size_t>(q)];
      }
      r1 += a * a;
      r2 += b * b;
    }
    EXPECT_NEAR(r1, r2, 1e-9 * (1 + r2));
  }
}

TEST(Nnls, KEqualsOne) {
  auto A = random_matrix<double>(10, 1, 11);
  auto X = random_matrix<double>(10, 5, 12);
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  expect_kkt(A, X, r, 1e-12);
  for (index_t j = 0; j < 5; ++j) {
    double num = 0, den = 0;
    for (index_t i = 0; i < 10; ++i) {
      num += A(i, 0) * X(i, j);
      den += A(i, 0) * A(i, 0);
    }
    EXPECT_NEAR(r.S(0, j), num / den, 1e-13);
  }
}

TEST(Nnls, KEqualsN) {
  auto A = random_matrix<double>(8, 8, 13);
  auto X = random_matrix<double>(8, 6, 14);
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  expect_kkt(A, X, r, 1e-8);
}

TEST(Nnls, MoreThan64ComponentsUseSeveralMaskWords) {
  auto A = random_matrix<double>(150, 70, 15);
  auto X = random_matrix<double>(150, 8, 16);
  auto r = nnls<double>(ctx2(), A.view(), X.view());
  EXPECT_EQ(r.support.words_per_col(), 2);
  expect_kkt(A, X, r, 1e-8);
}

TEST(Nnls, WarmStartReachesTheSameSolution) {
  auto A = random_matrix<double>(80, 20, 17);
  auto X = random_matrix<double>(80, 200, 18);
  auto cold = nnls<double>(ctx2(), A.view(), X.view());
  NnlsOptions o;
  o.warm_start = &cold.support;
  auto warm = nnls<double>(ctx2(), A.view(), X.view(), o);
  EXPECT_EQ(warm.support, cold.support);
  for (index_t j = 0; j < 200; ++j)
    for (index_t q = 0; q < 20; ++q) EXPECT_NEAR(warm.S(q, j), cold.S(q, j), 1e-10);
  // From the exact support no active-set step is needed.
  EXPECT_EQ(warm.iterations, 0);
  EXPECT_GT(cold.iterations, 200);

  // A perturbed A (as after a training step): still exact, fewer iterations than cold.
  auto A2 = A;
  auto P = random_matrix<double>(80, 20, 19);
  for (index_t q = 0; q < 80 * 20; ++q) A2.data()[q] += 0.05 * P.data()[q];
  auto cold2 = nnls<double>(ctx2(), A2.view(), X.view());
  auto warm2 = nnls<double>(ctx2(), A2.view(), X.view(), o);
  expect_kkt(A2, X, warm2, 1e-9);
  EXPECT_EQ(warm2.support, cold2.support);
  EXPECT_LT(warm2.iterations, cold2.iterations);

  // A wrong warm start (everything passive) still ends at the optimum.
  SupportMask all(20, 200);
  for (index_t j = 0; j < 200; ++j)
    for (index_t q = 0; q < 20; ++q) all.set(q, j);
  o.warm_start = &all;
  auto warm3 = nnls<double>(ctx2(), A.view(), X.view(), o);
  expect_kkt(A, X, warm3, 1e-9);
  EXPECT_EQ(warm3.support, cold.support);
}

TEST(Nnls, IterationLimitIsReportedNotHidden) {
  auto A = random_matrix<double>(60, 30, 20);
  auto X = random_matrix<double>(60, 25, 21);
  NnlsOptions o;
  o.max_iter = 2;
  auto r = nnls<double>(ctx2(), A.view(), X.view(), o);
  EXPECT_GT(r.iteration_limit_columns, 0);
  EXPECT_FALSE(r.all_converged());
  index_t flagged = 0;
  for (index_t j = 0; j < 25; ++j) {
    if (r.status[static_cast<std::size_t>(j)] == ColumnStatus::iteration_limit) ++flagged;
    for (index_t q = 0; q < 30; ++q) EXPECT_GE(r.S(q, j), 0.0);  // feasible
  }
  EXPECT_EQ(flagged, r.iteration_limit_columns);
  o.throw_on_iteration_limit = true;
  EXPECT_THROW_MSG(nnls<double>(ctx2(), A.view(), X.view(), o), Error, "iteration limit",
                   "max_iter = 2");
}

TEST(Nnls, FloatSolvesToFloatTolerance) {
  auto A = random_matrix<float>(100, 10, 22);
  auto X = random_matrix<float>(100, 50, 23);
  auto r = nnls<float>(ctx2(), A.view(), X.view());
  EXPECT_TRUE(r.all_converged());
  expect_kkt(A, X, r, 2e-4);
  auto Ad = random_matrix<double>(100, 10, 22);
  auto Xd = random_matrix<double>(100, 50, 23);
  auto rd = nnls<double>(ctx2(), Ad.view(), Xd.view());
  for (index_t j = 0; j < 50; ++j)
    for (index_t q = 0; q < 10; ++q) EXPECT_NEAR(r.S(q, j), rd.S(q, j), 1e-3);
}

TEST(Nnls, DeterministicAcrossRunsAndThreadCounts) {
  auto A = random_matrix<double>(200, 24, 24);
  auto X = random_matrix<double>(200, 500, 25);
  auto r1 = nnls<double>(Context::host(1), A.view(), X.view());
  auto r2 = nnls<double>(Context::host(2), A.view(), X.view());
  auto r3 = nnls<double>(Context::host(2), A.view(), X.view());
  EXPECT_EQ(r2.S.storage(), r3.S.storage());
  EXPECT_EQ(r2.support, r3.support);
  // Columns are independent: the thread count changes only the BLAS products' rounding.
  EXPECT_EQ(r1.support, r2.support);
  for (index_t q = 0; q < 24 * 500; ++q) EXPECT_NEAR(r1.S.data()[q], r2.S.data()[q], 1e-10);
}

TEST(Nnls, NormalEquationsEntryPoint) {
  auto A = random_matrix<double>(40, 7, 26);
  auto X = random_matrix<double>(40, 15, 27);
  Matrix<double> G(7, 7), C(7, 15);
  for (index_t a = 0; a < 7; ++a)
    for (index_t b = 0; b < 7; ++b)
      for (index_t i = 0; i < 40; ++i) G(a, b) += A(i, a) * A(i, b);
  for (index_t a = 0; a < 7; ++a)
    for (index_t j = 0; j < 15; ++j)
      for (index_t i = 0; i < 40; ++i) C(a, j) += A(i, a) * X(i, j);
  auto r = nnls_normal<double>(ctx2(), G.view(), C.view());
  expect_kkt(A, X, r, 1e-9);
  G(1, 2) += 1.0;
  EXPECT_THROW_MSG(nnls_normal<double>(ctx2(), G.view(), C.view()), InvalidArgument,
                   "not symmetric", "G(2, 1)");
}

TEST(Context, DescribesItselfAndRejectsBadThreads) {
  EXPECT_EQ(Context::host(3).threads(), 3);
  EXPECT_EQ(Context::host(1).describe(), "host (1 thread)");
  EXPECT_GE(Context::host().threads(), 1);
  EXPECT_THROW_MSG(Context::host(-1), InvalidArgument, "threads", "-1");
  EXPECT_EQ(parse_backend("cpu"), Backend::host);
  EXPECT_EQ(parse_backend("CUDA"), Backend::cuda);
  EXPECT_THROW_MSG(parse_backend("tpu"), InvalidArgument, "tpu");
  if (!Context::cuda_compiled()) {
    EXPECT_THROW_MSG(Context::cuda(0), NotCompiled, "without CUDA");
  }
}

}  // namespace
}  // namespace nnmf::test
