// Bad input to the NNLS operations: one clear exception naming the argument and the sizes or
// the value and position at fault; never a crash.
#include <gtest/gtest.h>

#include <limits>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

Context ctx() { return Context::host(1); }

TEST(Errors, ShapeMismatchNamesBothShapes) {
  auto A = random_matrix<double>(90, 9, 1);
  auto X = random_matrix<double>(87, 90, 2);
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view()), DimensionMismatch, "X has 87 rows",
                   "A (90 x 9)", "X (87 x 90)");
  auto Xs = random_sparse<double>(87, 90, 0.1, 3);
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), Xs), DimensionMismatch, "sparse X (87 x 90)");
}

TEST(Errors, RankLargerThanRowsIsRejected) {
  auto A = random_matrix<double>(5, 8, 4);
  auto X = random_matrix<double>(5, 3, 5);
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view()), InvalidArgument, "rank k = 8",
                   "n = 5");
  Matrix<double> A0(5, 0);
  EXPECT_THROW_MSG(nnls<double>(ctx(), A0.view(), X.view()), InvalidArgument, "at least one column");
}

TEST(Errors, NonFiniteAndNegativeEntriesArePinpointed) {
  auto A = random_matrix<double>(10, 3, 6);
  auto X = random_matrix<double>(10, 4, 7);
  X(3, 2) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view()), InvalidArgument, "X (10 x 4)", "NaN",
                   "row 3, column 2");
  X(3, 2) = std::numeric_limits<double>::infinity();
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view()), InvalidArgument, "infinite");
  X(3, 2) = -0.25;
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view()), InvalidArgument, "negative entry (-0.25)",
                   "row 3, column 2", "nonnegative");
  X(3, 2) = 1;
  A(9, 1) = -1;
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view()), InvalidArgument, "A (10 x 3)",
                   "negative", "row 9, column 1");
  // Sparse X: the row index of the stored entry is reported.
  std::vector<index_t> cp{0, 1, 2}, ri{4, 7};
  std::vector<double> v{1.0, -2.0};
  CscMatrix<double> Xs(10, 2, cp, ri, v);
  auto A2 = random_matrix<double>(10, 3, 8);
  EXPECT_THROW_MSG(nnls<double>(ctx(), A2.view(), Xs), InvalidArgument, "row 7, column 1");
}

TEST(Errors, OptionsAreChecked) {
  auto A = random_matrix<double>(10, 3, 9);
  auto X = random_matrix<double>(10, 4, 10);
  NnlsOptions o;
  o.tol = -1;
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view(), o), InvalidArgument, "tol");
  o.tol = 0;
  o.max_iter = -3;
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view(), o), InvalidArgument, "max_iter");
  o.max_iter = 0;
  SupportMask wrong(3, 5);
  o.warm_start = &wrong;
  EXPECT_THROW_MSG(nnls<double>(ctx(), A.view(), X.view(), o), DimensionMismatch, "warm_start",
                   "3 x 5", "3 x 4");
}

TEST(Errors, MalformedSparseStructureIsRejected) {
  EXPECT_THROW_MSG(CscMatrix<double>(3, 2, {0, 1}, {0}, {1.0}), InvalidArgument, "colptr has 2");
  EXPECT_THROW_MSG(CscMatrix<double>(3, 2, {0, 2, 1}, {0}, {1.0}), InvalidArgument,
                   "colptr decreases at column 1");
  EXPECT_THROW_MSG(CscMatrix<double>(3, 2, {0, 1, 2}, {0}, {1.0}), InvalidArgument, "end at nnz");
  EXPECT_THROW_MSG(CscMatrix<double>(3, 1, {0, 2}, {2, 1}, {1.0, 2.0}), InvalidArgument,
                   "strictly increasing");
  EXPECT_THROW_MSG(CscMatrix<double>(3, 1, {0, 1}, {5}, {1.0}), InvalidArgument, "row index 5");
  EXPECT_THROW_MSG(Matrix<double>(2, 2, std::vector<double>{1, 2, 3}), DimensionMismatch,
                   "3 values", "2 x 2");
  EXPECT_THROW_MSG(Matrix<double>(-1, 2), InvalidArgument, "negative size");
}

TEST(Errors, EmptyDataIsFine) {
  auto A = random_matrix<double>(10, 3, 11);
  Matrix<double> X(10, 0);
  auto r = nnls<double>(ctx(), A.view(), X.view());
  EXPECT_EQ(r.S.cols(), 0);
  EXPECT_TRUE(r.all_converged());
}

}  // namespace
}  // namespace nnmf::test
