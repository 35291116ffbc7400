// Backward pass of S = q(A, X): dA and dX against central finite differences, sparse against
// dense, and the documented treatment of a singular G_TT.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

Context ctx() { return Context::host(2); }

/// L = <W, q(A, X)> and whether q's support equals @p support.
template <class XM>
double objective(const Matrix<double>& A, const XM& X, const Matrix<double>& W,
                 const SupportMask& support, bool* same_support) {
  NnlsOptions o;
  o.tol = 1e-14;
  auto r = nnls<double>(ctx(), A.view(), X, o);
  *same_support = r.support == support;
  double L = 0;
  for (index_t q = 0; q < r.S.size(); ++q) L += W.data()[q] * r.S.data()[q];
  return L;
}

struct FdStats {
  int checked = 0;
  int skipped = 0;
};

/// Compares the analytic gradient @p grad of L with respect to the entries of @p P (a copy of
/// A or X that @p eval reads) with central differences; entries whose perturbation changes a
/// support (a kink of q) are skipped and counted.
template <class Eval>
FdStats check_fd(Matrix<double>& P, const Matrix<double>& grad, Eval eval, double h = 1e-6) {
  FdStats st;
  for (index_t e = 0; e < P.size(); ++e) {
    const double orig = P.data()[e];
    const double step = h * std::max(1.0, std::abs(orig));
    bool s1 = false, s2 = false;
    P.data()[e] = orig + step;
    const double lp = eval(&s1);
    P.data()[e] = orig - step;
    const double lm = eval(&s2);
    P.data()[e] = orig;
    if (!s1 || !s2 || orig - step < 0) {
      ++st.skipped;
      continue;
    }
    const double fd = (lp - lm) / (2 * step);
    EXPECT_NEAR(grad.data()[e], fd, 1e-6 * (1 + std::abs(fd))) << "entry " << e;
    ++st.checked;
  }
  return st;
}

TEST(Backward, DenseGradientsMatchFiniteDifferences) {
  const index_t n = 20, k = 6, m = 9;
  auto A = random_matrix<double>(n, k, 31);
  auto X = random_matrix<double>(n, m, 32);
  auto W = random_matrix<double>(k, m, 33, -1.0, 1.0);
  auto base = nnls<double>(ctx(), A.view(), X.view());
  BackwardOptions both;
  both.compute_dX = true;
  auto g = nnls_backward<double>(ctx(), A.view(), X.view(), base.S.view(), base.support, W.view(), both);
  ASSERT_EQ(g.dA.rows(), n);
  ASSERT_EQ(g.dA.cols(), k);
  ASSERT_EQ(g.dX.rows(), n);
  ASSERT_EQ(g.dX.cols(), m);
  EXPECT_EQ(g.regularized_columns, 0);

  auto stA = check_fd(A, g.dA, [&](bool* same) {
    return objective(A, X.view(), W, base.support, same);
  });
  EXPECT_GT(stA.checked, n * k * 9 / 10) << "too many kinks: " << stA.skipped;
  auto stX = check_fd(X, g.dX, [&](bool* same) {
    return objective(A, X.view(), W, base.support, same);
  });
  EXPECT_GT(stX.checked, n * m * 9 / 10) << "too many kinks: " << stX.skipped;
}

TEST(Backward, SparseGradientMatchesFiniteDifferencesAndDense) {
  const index_t n = 60, k = 5, m = 12;
  auto A = random_matrix<double>(n, k, 34);
  auto Xs = random_sparse<double>(n, m, 0.3, 35);
  auto Xd = Xs.to_dense();
  auto W = random_matrix<double>(k, m, 36, -1.0, 1.0);
  auto base = nnls<double>(ctx(), A.view(), Xs);
  BackwardOptions bo;
  bo.compute_dX = false;
  auto gs = nnls_backward<double>(ctx(), A.view(), Xs, base.S.view(), base.support, W.view(), bo);
  EXPECT_TRUE(gs.dX.empty());
  // The default is what training needs: dA only (dX is n x m and dense).
  EXPECT_TRUE(nnls_backward<double>(ctx(), A.view(), Xs, base.S.view(), base.support, W.view()).dX.empty());
  BackwardOptions both;
  both.compute_dX = true;
  auto gd = nnls_backward<double>(ctx(), A.view(), Xd.view(), base.S.view(), base.support, W.view(), both);
  for (index_t q = 0; q < n * k; ++q) EXPECT_NEAR(gs.dA.data()[q], gd.dA.data()[q], 1e-12);
  auto st = check_fd(A, gs.dA, [&](bool* same) { return objective(A, Xs, W, base.support, same); });
  EXPECT_GT(st.checked, n * k * 9 / 10);
  // dX for sparse X on request.
  auto gx = nnls_backward<double>(ctx(), A.view(), Xs, base.S.view(), base.support, W.view(), both);
  for (index_t q = 0; q < n * m; ++q) EXPECT_NEAR(gx.dX.data()[q], gd.dX.data()[q], 1e-12);
}

TEST(Backward, LargeSparseProductsAgreeWithDenseOnEveryThreadCount) {
  // Large enough for the multi-threaded sparse products (with and without the row form).
  const index_t n = 3000, k = 12, m = 800;
  auto A = random_matrix<double>(n, k, 48);
  auto Xs = random_sparse<double>(n, m, 0.02, 49);
  auto Xd = Xs.to_dense();
  auto W = random_matrix<double>(k, m, 50, -1.0, 1.0);
  BackwardOptions bo;
  bo.compute_dX = false;
  for (int threads : {1, 2, 3}) {
    const Context c = Context::host(threads);
    auto r = nnls<double>(c, A.view(), Xs);
    auto rd = nnls<double>(c, A.view(), Xd.view());
    EXPECT_EQ(r.support, rd.support);
    auto gs = nnls_backward<double>(c, A.view(), Xs, r.S.view(), r.support, W.view(), bo);
    auto gd = nnls_backward<double>(c, A.view(), Xd.view(), r.S.view(), r.support, W.view(), bo);
    double scale = 0;
    for (double v : gd.dA.storage()) scale = std::max(scale, std::abs(v));
    for (index_t q = 0; q < n * k; ++q)
      ASSERT_NEAR(gs.dA.data()[q], gd.dA.data()[q], 1e-10 * scale) << threads << " threads, entry " << q;
  }
}

TEST(Backward, FloatAgreesWithDouble) {
  auto A = random_matrix<double>(30, 4, 37);
  auto X = random_matrix<double>(30, 10, 38);
  auto W = random_matrix<double>(4, 10, 39, -1.0, 1.0);
  auto r = nnls<double>(ctx(), A.view(), X.view());
  auto g = nnls_backward<double>(ctx(), A.view(), X.view(), r.S.view(), r.support, W.view());
  auto Af = random_matrix<float>(30, 4, 37);
  auto Xf = random_matrix<float>(30, 10, 38);
  auto Wf = random_matrix<float>(4, 10, 39, -1.0, 1.0);
  auto rf = nnls<float>(ctx(), Af.view(), Xf.view());
  ASSERT_EQ(rf.support, r.support);
  auto gf = nnls_backward<float>(ctx(), Af.view(), Xf.view(), rf.S.view(), rf.support, Wf.view());
  for (index_t q = 0; q < g.dA.size(); ++q)
    EXPECT_NEAR(gf.dA.data()[q], g.dA.data()[q], 1e-3 * (1 + std::abs(g.dA.data()[q])));
}

TEST(Backward, EmptySupportGivesZeroGradient) {
  auto A = random_matrix<double>(10, 3, 40);
  Matrix<double> X(10, 4, 0.0);
  auto W = random_matrix<double>(3, 4, 41, -1.0, 1.0);
  auto r = nnls<double>(ctx(), A.view(), X.view());
  EXPECT_EQ(r.support.count(), 0);
  BackwardOptions both;
  both.compute_dX = true;
  auto g = nnls_backward<double>(ctx(), A.view(), X.view(), r.S.view(), r.support, W.view(), both);
  EXPECT_EQ(g.dX.rows(), 10);
  for (double v : g.dA.storage()) EXPECT_EQ(v, 0.0);
  for (double v : g.dX.storage()) EXPECT_EQ(v, 0.0);
}

TEST(Backward, SingularBlockUsesTheDocumentedRidge) {
  // Columns 0 and 1 of A are equal, so G_TT is singular for T = {0, 1}.
  const index_t n = 12, k = 3, m = 2;
  auto A = random_matrix<double>(n, k, 42);
  for (index_t i = 0; i < n; ++i) A(i, 1) = A(i, 0);
  Matrix<double> G(k, k);
  for (index_t a = 0; a < k; ++a)
    for (index_t b = 0; b < k; ++b)
      for (index_t i = 0; i < n; ++i) G(a, b) += A(i, a) * A(i, b);
  SupportMask sup(k, m);
  sup.set(0, 0);
  sup.set(1, 0);  // column 0: singular block {0, 1}
  sup.set(0, 1);
  sup.set(2, 1);  // column 1: regular block {0, 2}
  auto D = random_matrix<double>(k, m, 43, -1.0, 1.0);
  std::vector<ColumnStatus> status;
  const double ridge = 1e-6;
  auto Z = solve_on_support<double>(ctx(), G.view(), sup, D.view(), ridge, &status);
  EXPECT_EQ(status[0], ColumnStatus::regularized);
  EXPECT_EQ(status[1], ColumnStatus::converged);
  // Column 0 against (G_TT + delta I)^{-1} g_T by LAPACK, delta = ridge * max diag(G_TT).
  const double delta = ridge * std::max(G(0, 0), G(1, 1));
  double M[4] = {G(0, 0) + delta, G(1, 0), G(0, 1), G(1, 1) + delta};
  double b[2] = {D(0, 0), D(1, 0)};
  ASSERT_EQ(LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', 2, 1, M, 2, b, 2), 0);
  EXPECT_NEAR(Z(0, 0), b[0], 1e-6 * std::abs(b[0]));
  EXPECT_NEAR(Z(1, 0), b[1], 1e-6 * std::abs(b[1]));
  EXPECT_EQ(Z(2, 0), 0.0);
  // Column 1 is the exact solve on {0, 2}.
  double M2[4] = {G(0, 0), G(2, 0), G(0, 2), G(2, 2)};
  double b2[2] = {D(0, 1), D(2, 1)};
  ASSERT_EQ(LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', 2, 1, M2, 2, b2, 2), 0);
  EXPECT_NEAR(Z(0, 1), b2[0], 1e-10 * (1 + std::abs(b2[0])));
  EXPECT_NEAR(Z(2, 1), b2[1], 1e-10 * (1 + std::abs(b2[1])));
  EXPECT_EQ(Z(1, 1), 0.0);

  // Through nnls_backward with a hand-made S on that support: reported, finite.
  Matrix<double> S(k, m, 0.0);
  S(0, 0) = 0.5;
  S(1, 0) = 0.5;
  S(0, 1) = 1.0;
  S(2, 1) = 1.0;
  auto X = random_matrix<double>(n, m, 44);
  auto g = nnls_backward<double>(ctx(), A.view(), X.view(), S.view(), sup, D.view());
  EXPECT_EQ(g.regularized_columns, 1);
  EXPECT_EQ(g.status[0], ColumnStatus::regularized);
  for (double v : g.dA.storage()) EXPECT_TRUE(std::isfinite(v));
}

TEST(Backward, RejectsInconsistentArguments) {
  auto A = random_matrix<double>(10, 3, 45);
  auto X = random_matrix<double>(10, 4, 46);
  auto r = nnls<double>(ctx(), A.view(), X.view());
  auto W = random_matrix<double>(3, 4, 47);
  Matrix<double> Wbad(3, 5);
  EXPECT_THROW_MSG(nnls_backward<double>(ctx(), A.view(), X.view(), r.S.view(), r.support, Wbad.view()),
                   DimensionMismatch, "dS", "3 x 5", "3 x 4");
  SupportMask empty(3, 4);
  bool any_positive = false;
  for (double v : r.S.storage()) any_positive |= v > 0;
  ASSERT_TRUE(any_positive);
  EXPECT_THROW_MSG(nnls_backward<double>(ctx(), A.view(), X.view(), r.S.view(), empty, W.view()),
                   InvalidArgument, "outside its support");
  W(1, 1) = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW_MSG(nnls_backward<double>(ctx(), A.view(), X.view(), r.S.view(), r.support, W.view()),
                   InvalidArgument, "dS", "NaN", "row 1, column 1");
}

}  // namespace
}  // namespace nnmf::test
