// Scale invariance of the NNLS solver and of what is built on it (issue 13, "silent wrong
// answers"): q(sA, sX) = q(A, X) and q(A, sX) = s q(A, X) for s > 0 across the range of the
// type, KKT conditions relative to the problem's own scale, ill-conditioned columns against
// an independent reference in long double, and a typed error or a per-column status where the
// answer cannot be represented -- never a silent zero.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "core/nnls_internal.hpp"
#include "core/ops.hpp"
#include "test_util.hpp"

namespace nnmf::test {
namespace {

using LD = long double;

Context ctx2() { return Context::host(2); }

/// a * s for every entry, in the type of a (s need not be representable in it: s = 1e300 for
/// float data is applied in long double).
template <class T>
Matrix<T> scaled(const Matrix<T>& a, LD s) {
  Matrix<T> b(a.rows(), a.cols());
  for (index_t q = 0; q < a.size(); ++q) b.data()[q] = static_cast<T>(LD(a.data()[q]) * s);
  return b;
}

/// One-column Lawson-Hanson in long double, independent of the library: the columns of A are
/// normalised first (so the column scales do not enter the conditioning) and the passive
/// least-squares problems are solved by Cholesky on the normalised normal equations, whose
/// condition number is small enough for the 64-bit mantissa in these tests.
std::vector<LD> reference_ld(const std::vector<std::vector<LD>>& A, const std::vector<LD>& x) {
  const std::size_t n = x.size(), k = A.size();
  std::vector<LD> nrm(k, 0), c(k, 0), s(k, 0);
  std::vector<std::vector<LD>> G(k, std::vector<LD>(k, 0));
  for (std::size_t q = 0; q < k; ++q) {
    for (std::size_t i = 0; i < n; ++i) nrm[q] += A[q][i] * A[q][i];
    nrm[q] = std::sqrt(nrm[q]);
    if (nrm[q] == 0) nrm[q] = 1;
  }
  for (std::size_t a = 0; a < k; ++a) {
    for (std::size_t i = 0; i < n; ++i) c[a] += A[a][i] / nrm[a] * x[i];
    for (std::size_t b = 0; b < k; ++b)
      for (std::size_t i = 0; i < n; ++i) G[a][b] += A[a][i] / nrm[a] * (A[b][i] / nrm[b]);
  }
  LD cmax = 0;
  for (LD v : c) cmax = std::max(cmax, std::abs(v));
  std::vector<char> passive(k, 0);
  auto solve_passive = [&]() {
    std::vector<std::size_t> P;
    for (std::size_t q = 0; q < k; ++q)
      if (passive[q]) P.push_back(q);
    const std::size_t np = P.size();
    std::vector<std::vector<LD>> L(np, std::vector<LD>(np, 0));
    std::vector<LD> z(np);
    for (std::size_t i = 0; i < np; ++i) {
      for (std::size_t j = 0; j <= i; ++j) {
        LD v = G[P[i]][P[j]];
        for (std::size_t q = 0; q < j; ++q) v -= L[i][q] * L[j][q];
        L[i][j] = i == j ? std::sqrt(v) : v / L[j][j];
      }
    }
    for (std::size_t i = 0; i < np; ++i) {
      LD v = c[P[i]];
      for (std::size_t q = 0; q < i; ++q) v -= L[i][q] * z[q];
      z[i] = v / L[i][i];
    }
    for (std::size_t i = np; i-- > 0;) {
      LD v = z[i];
      for (std::size_t q = i + 1; q < np; ++q) v -= L[q][i] * z[q];
      z[i] = v / L[i][i];
    }
    return std::make_pair(P, z);
  };
  for (int outer = 0; outer < 20 * static_cast<int>(k) + 50; ++outer) {
    int t = -1;
    LD wmax = 1e-15L * cmax;
    for (std::size_t q = 0; q < k; ++q) {
      if (passive[q]) continue;
      LD w = c[q];
      for (std::size_t p = 0; p < k; ++p) w -= G[q][p] * s[p];
      if (w > wmax) {
        wmax = w;
        t = static_cast<int>(q);
      }
    }
    if (t < 0) break;
    passive[static_cast<std::size_t>(t)] = 1;
    for (;;) {
      auto [P, z] = solve_passive();
      bool feasible = true;
      for (LD v : z) feasible = feasible && v > 0;
      if (feasible) {
        for (std::size_t i = 0; i < P.size(); ++i) s[P[i]] = z[i];
        break;
      }
      LD alpha = 1;
      for (std::size_t i = 0; i < P.size(); ++i)
        if (z[i] <= 0) alpha = std::min(alpha, s[P[i]] / (s[P[i]] - z[i]));
      for (std::size_t i = 0; i < P.size(); ++i) {
        s[P[i]] += alpha * (z[i] - s[P[i]]);
        if (s[P[i]] <= 1e-18L * (1 + std::abs(s[P[i]]))) {
          s[P[i]] = 0;
          passive[P[i]] = 0;
        }
      }
    }
  }
  for (std::size_t q = 0; q < k; ++q) s[q] /= nrm[q];
  return s;
}

/// Columns of A (as long double) and column j of X.
template <class T>
std::vector<std::vector<LD>> columns_ld(const Matrix<T>& A) {
  std::vector<std::vector<LD>> cols(static_cast<std::size_t>(A.cols()));
  for (index_t q = 0; q < A.cols(); ++q)
    for (index_t i = 0; i < A.rows(); ++i) cols[static_cast<std::size_t>(q)].push_back(A(i, q));
  return cols;
}
template <class T>
std::vector<LD> column_ld(const Matrix<T>& X, index_t j) {
  std::vector<LD> x;
  for (index_t i = 0; i < X.rows(); ++i) x.push_back(X(i, j));
  return x;
}

/// ||x - A s|| in long double (no overflow for any double data).
template <class T>
LD residual_ld(const Matrix<T>& A, const std::vector<LD>& x, const std::vector<LD>& s) {
  LD r2 = 0;
  for (index_t i = 0; i < A.rows(); ++i) {
    LD v = x[static_cast<std::size_t>(i)];
    for (index_t q = 0; q < A.cols(); ++q) v -= LD(A(i, q)) * s[static_cast<std::size_t>(q)];
    r2 += v * v;
  }
  return std::sqrt(r2);
}

/// KKT conditions of every column, computed in long double from A and X (so that they hold
/// at any scale of double data), relative to the column's own scale ||a_q|| ||x||:
/// S >= 0, S > 0 exactly on the support, |w_q| <= tol on it and w_q <= tol off it, where
/// w = A^T (x - A s). Returns the number of violations (the first few are reported).
template <class T>
int kkt_violations(const Matrix<T>& A, const Matrix<T>& X, const NnlsResult<T>& r, LD tol) {
  const index_t n = A.rows(), k = A.cols(), m = X.cols();
  std::vector<LD> anorm(static_cast<std::size_t>(k), 0);
  for (index_t q = 0; q < k; ++q) {
    for (index_t i = 0; i < n; ++i) anorm[static_cast<std::size_t>(q)] += LD(A(i, q)) * A(i, q);
    anorm[static_cast<std::size_t>(q)] = std::sqrt(anorm[static_cast<std::size_t>(q)]);
  }
  int bad = 0;
  for (index_t j = 0; j < m; ++j) {
    std::vector<LD> res(static_cast<std::size_t>(n));
    LD xn = 0;
    for (index_t i = 0; i < n; ++i) {
      LD v = X(i, j);
      xn += v * v;
      for (index_t q = 0; q < k; ++q) v -= LD(A(i, q)) * r.S(q, j);
      res[static_cast<std::size_t>(i)] = v;
    }
    xn = std::sqrt(xn);
    for (index_t q = 0; q < k; ++q) {
      LD w = 0;
      for (index_t i = 0; i < n; ++i) w += LD(A(i, q)) * res[static_cast<std::size_t>(i)];
      const LD bound = tol * anorm[static_cast<std::size_t>(q)] * xn;
      const T s = r.S(q, j);
      const bool on = r.support.test(q, j);
      const bool ok = std::isfinite(s) && s >= 0 &&
                      (on ? s > 0 && std::abs(w) <= bound : s == 0 && w <= bound);
      if (!ok && ++bad <= 3)
        ADD_FAILURE() << "KKT violated at column " << j << ", index " << q << ": s = " << s
                      << ", in support = " << on << ", w = " << double(w)
                      << ", bound = " << double(bound);
    }
  }
  return bad;
}

/// Columns of S that are entirely zero.
template <class T>
int zero_columns(const Matrix<T>& S) {
  int z = 0;
  for (index_t j = 0; j < S.cols(); ++j) {
    bool all = true;
    for (index_t q = 0; q < S.rows(); ++q) all = all && S(q, j) == T(0);
    z += all;
  }
  return z;
}

/// max |a - b| / max |b| over the entries (long double).
template <class T>
LD rel_diff(const Matrix<T>& a, const Matrix<T>& b, LD scale_a = 1) {
  LD num = 0, den = 0;
  for (index_t q = 0; q < a.size(); ++q) {
    num = std::max(num, std::abs(LD(a.data()[q]) / scale_a - LD(b.data()[q])));
    den = std::max(den, std::abs(LD(b.data()[q])));
  }
  return den > 0 ? num / den : num;
}

// ---- the small example -------------------------------------------------------------

TEST(NnlsScale, SmallExampleIsExactAtEveryScale) {
  // A = [[1,0],[0,1],[1,1]] s, x = [1,0,0] s: q = [1/2, 0] for every s > 0.
  for (double s : {1e-300, 1e-200, 1e-150, 1e-20, 1.0, 1e20, 1e150, 1e155, 1e200, 1e300}) {
    Matrix<double> A(3, 2, 0.0), X(3, 1, 0.0);
    A(0, 0) = s;
    A(1, 1) = s;
    A(2, 0) = s;
    A(2, 1) = s;
    X(0, 0) = s;
    auto r = nnls<double>(ctx2(), A.view(), X.view());
    EXPECT_TRUE(r.all_converged()) << "s = " << s;
    EXPECT_NEAR(r.S(0, 0), 0.5, 1e-15) << "s = " << s;
    EXPECT_EQ(r.S(1, 0), 0.0) << "s = " << s;
    EXPECT_TRUE(r.support.test(0, 0)) << "s = " << s;
  }
}

TEST(NnlsScale, SmallExampleWithOnlyXScaled) {
  // q(A, s x) = s q(A, x).
  for (double s : {1e-300, 1e-100, 1e-20, 1e20, 1e100, 1e300}) {
    Matrix<double> A(3, 2, 0.0), X(3, 1, 0.0);
    A(0, 0) = 1;
    A(1, 1) = 1;
    A(2, 0) = 1;
    A(2, 1) = 1;
    X(0, 0) = s;
    auto r = nnls<double>(ctx2(), A.view(), X.view());
    EXPECT_NEAR(r.S(0, 0) / s, 0.5, 1e-15) << "s = " << s;
    EXPECT_EQ(r.S(1, 0), 0.0) << "s = " << s;
  }
}

TEST(NnlsScale, NormalEquationsAreScaleInvariant) {
  // nnls_normal(s^2 G, s^2 C) = nnls_normal(G, C); the 1e-30 floor once zeroed s = 1e-20.
  for (double s : {1e-150, 1e-20, 1.0, 1e20, 1e150}) {
    Matrix<double> G(2, 2), C(2, 1);
    G(0, 0) = 2 * s * s;
    G(1, 0) = G(0, 1) = s * s;
    G(1, 1) = 2 * s * s;
    C(0, 0) = s * s;
    C(1, 0) = 0;
    auto r = nnls_normal<double>(ctx2(), G.view(), C.view());
    EXPECT_NEAR(r.S(0, 0), 0.5, 1e-15) << "s = " << s;
    EXPECT_EQ(r.S(1, 0), 0.0) << "s = " << s;
  }
}

TEST(NnlsScale, ColumnSolverHasNoAbsoluteFloorAndFlagsNonFiniteColumns) {
  // The per-column solver itself (host and CUDA share it), on unscaled G: a column at 1e-35
  // (below the former 1e-30 floor) is solved; a column with an infinite or NaN entry is
  // reported (status 1), not returned as a converged zero.
  const index_t k = 2, m = 4;
  Matrix<double> G(k, k), C(k, m, 0.0), S(k, m);
  G(0, 0) = G(1, 1) = 2;
  G(0, 1) = G(1, 0) = 1;
  C(0, 0) = 1e-35;
  C(0, 1) = 1e-300;
  C(0, 2) = std::numeric_limits<double>::infinity();
  C(0, 3) = std::numeric_limits<double>::quiet_NaN();
  C(1, 3) = 1;
  SupportMask sup(k, m);
  std::vector<std::uint8_t> status(static_cast<std::size_t>(m), 0x7f);
  const detail::NnlsBatchParams<double> prm{detail::default_tol<double>(),
                                            detail::pivot_eps<double>(k), 100};
  detail::ops::nnls_batch<double>(ctx2(), G.view(), C.view(), prm, S.view(), sup.data(), nullptr,
                                  status.data());
  EXPECT_EQ(status, (std::vector<std::uint8_t>{0, 0, 1, 1}));
  EXPECT_DOUBLE_EQ(S(0, 0), 0.5e-35);
  EXPECT_DOUBLE_EQ(S(0, 1), 0.5e-300);
  EXPECT_EQ(S(1, 0), 0.0);
  EXPECT_TRUE(sup.test(0, 0));
  for (index_t j : {2, 3})
    for (index_t q = 0; q < k; ++q) {
      EXPECT_EQ(S(q, j), 0.0);
      EXPECT_FALSE(sup.test(q, j));
    }
}

// ---- random problems across the range ------------------------------------------------------

TEST(NnlsScale, KktHoldsRelativeToScaleFrom1em300To1e300) {
  const index_t n = 30, k = 8, m = 40;
  const auto A0 = random_matrix<double>(n, k, 11);
  const auto X0 = random_matrix<double>(n, m, 12);
  const auto ref = nnls<double>(ctx2(), A0.view(), X0.view());
  for (LD s : {1e-300L, 1e-250L, 1e-200L, 1e-150L, 1e-100L, 1e-20L, 1e20L, 1e100L, 1e150L, 1e155L,
               1e200L, 1e250L, 1e300L}) {
    SCOPED_TRACE(::testing::Message() << "s = " << double(s));
    // Both scaled: the same solution.
    const auto A = scaled(A0, s), X = scaled(X0, s);
    const auto r = nnls<double>(ctx2(), A.view(), X.view());
    EXPECT_TRUE(r.all_converged());
    EXPECT_EQ(zero_columns(r.S), zero_columns(ref.S));
    EXPECT_EQ(kkt_violations(A, X, r, 1e-9L), 0);
    EXPECT_LT(rel_diff(r.S, ref.S), 1e-10L);
    // X alone scaled: the solution scales with it.
    const auto rx = nnls<double>(ctx2(), A0.view(), X.view());
    EXPECT_EQ(kkt_violations(A0, X, rx, 1e-9L), 0);
    EXPECT_LT(rel_diff(rx.S, ref.S, s), 1e-10L);
    // A alone scaled: the solution scales with 1/s (within the range of double for s <= 1e300).
    const auto ra = nnls<double>(ctx2(), A.view(), X0.view());
    EXPECT_EQ(kkt_violations(A, X0, ra, 1e-9L), 0);
    EXPECT_LT(rel_diff(ra.S, ref.S, 1 / s), 1e-10L);
  }
}

TEST(NnlsScale, SameSolutionForScaledAAndX) {
  // q(sA, sX) = q(A, X); for s a power of two the scaled problem is the same problem in
  // floating point, so the solution is the same to the bit.
  const index_t n = 50, k = 12, m = 60;
  const auto A0 = random_matrix<double>(n, k, 21);
  const auto X0 = random_matrix<double>(n, m, 22);
  const auto ref = nnls<double>(ctx2(), A0.view(), X0.view());
  for (LD s : {1e-200L, 1e-20L, 1.0L, 1e20L, 1e150L, 1e200L}) {
    const auto A = scaled(A0, s), X = scaled(X0, s);
    const auto r = nnls<double>(ctx2(), A.view(), X.view());
    EXPECT_LT(rel_diff(r.S, ref.S), 1e-11L) << "s = " << double(s);
    EXPECT_EQ(r.support, ref.support) << "s = " << double(s);
  }
  for (int e : {-900, -500, -64, 64, 500, 900}) {
    const LD s = std::ldexp(1.0L, e);
    const auto A = scaled(A0, s), X = scaled(X0, s);
    const auto r = nnls<double>(ctx2(), A.view(), X.view());
    EXPECT_TRUE(r.S.storage() == ref.S.storage()) << "s = 2^" << e;
  }
}

TEST(NnlsScale, SparseXAtExtremeScales) {
  const auto A0 = random_matrix<double>(200, 10, 31);
  const auto X0 = random_sparse<double>(200, 50, 0.1, 32);
  const auto ref = nnls<double>(ctx2(), A0.view(), X0);
  for (LD s : {1e-300L, 1e-150L, 1e155L, 1e300L}) {
    std::vector<double> v;
    for (double x : X0.values()) v.push_back(double(LD(x) * s));
    CscMatrix<double> X(X0.rows(), X0.cols(), X0.colptr(), X0.rowind(), v);
    const auto A = scaled(A0, s);
    const auto r = nnls<double>(ctx2(), A.view(), X);
    EXPECT_LT(rel_diff(r.S, ref.S), 1e-10L) << "s = " << double(s);
  }
}

TEST(NnlsScale, FloatAcrossItsRange) {
  const index_t n = 30, k = 6, m = 25;
  const auto A0 = random_matrix<float>(n, k, 41);
  const auto X0 = random_matrix<float>(n, m, 42);
  const auto ref = nnls<float>(ctx2(), A0.view(), X0.view());
  for (LD s : {1e-36L, 1e-30L, 1e-19L, 1e-10L, 1e10L, 1e19L, 1e20L, 1e30L, 1e36L}) {
    SCOPED_TRACE(::testing::Message() << "s = " << double(s));
    const auto A = scaled(A0, s), X = scaled(X0, s);
    const auto r = nnls<float>(ctx2(), A.view(), X.view());
    EXPECT_TRUE(r.all_converged());
    EXPECT_EQ(zero_columns(r.S), zero_columns(ref.S));
    EXPECT_EQ(kkt_violations(A, X, r, 1e-4L), 0);
    EXPECT_LT(rel_diff(r.S, ref.S), 1e-4L);
    const auto rx = nnls<float>(ctx2(), A0.view(), X.view());
    EXPECT_LT(rel_diff(rx.S, ref.S, s), 1e-4L);
  }
}

// ---- ill-conditioned columns ---------------------------------------------------------------

TEST(NnlsScale, IllConditionedColumnsReachTheReferenceResidual) {
  // Columns of A scaled from 1e-8 to 1e8 (condition number ~1e16): the residual must match an
  // independent long-double Lawson-Hanson (SciPy's residual was 14% lower than ours here).
  const index_t n = 40, k = 9, m = 30;
  auto A = random_matrix<double>(n, k, 51);
  for (index_t q = 0; q < k; ++q)
    for (index_t i = 0; i < n; ++i) A(i, q) *= std::pow(10.0, -8.0 + 16.0 * double(q) / double(k - 1));
  const auto X = random_matrix<double>(n, m, 52);
  const auto r = nnls<double>(ctx2(), A.view(), X.view());
  const auto cols = columns_ld(A);
  LD worst = 0;
  for (index_t j = 0; j < m; ++j) {
    const auto x = column_ld(X, j);
    const auto ref = reference_ld(cols, x);
    std::vector<LD> ours(static_cast<std::size_t>(k));
    for (index_t q = 0; q < k; ++q) ours[static_cast<std::size_t>(q)] = r.S(q, j);
    const LD rr = residual_ld(A, x, ref), ro = residual_ld(A, x, ours);
    worst = std::max(worst, ro / rr - 1);
    if (r.status[static_cast<std::size_t>(j)] == ColumnStatus::converged) {
      EXPECT_LE(ro, rr * (1 + 1e-9L)) << "column " << j << " reported converged";
    }
  }
  EXPECT_LT(worst, 1e-9L) << "worst relative excess residual";
  EXPECT_TRUE(r.all_converged());
  EXPECT_EQ(kkt_violations(A, X, r, 1e-9L), 0);
}

TEST(NnlsScale, IllConditionedColumnsInFloat) {
  const index_t n = 40, k = 7, m = 20;
  auto A = random_matrix<float>(n, k, 53);
  for (index_t q = 0; q < k; ++q)
    for (index_t i = 0; i < n; ++i) A(i, q) *= std::pow(10.0f, -4.0f + 8.0f * float(q) / float(k - 1));
  const auto X = random_matrix<float>(n, m, 54);
  const auto r = nnls<float>(ctx2(), A.view(), X.view());
  const auto cols = columns_ld(A);
  for (index_t j = 0; j < m; ++j) {
    const auto x = column_ld(X, j);
    const auto ref = reference_ld(cols, x);
    std::vector<LD> ours(static_cast<std::size_t>(k));
    for (index_t q = 0; q < k; ++q) ours[static_cast<std::size_t>(q)] = r.S(q, j);
    EXPECT_LE(residual_ld(A, x, ours), residual_ld(A, x, ref) * (1 + 1e-4L)) << "column " << j;
  }
}

// ---- answers outside the range of the type -------------------------------------------------

TEST(NnlsScale, OverflowingSolutionIsAnErrorNotAZero) {
  // A ~ 1e-200, X ~ 1e200: S ~ 1e400 does not exist in double.
  const auto A = scaled(random_matrix<double>(20, 4, 61), 1e-200L);
  const auto X = scaled(random_matrix<double>(20, 5, 62), 1e200L);
  EXPECT_THROW_MSG(nnls<double>(ctx2(), A.view(), X.view()), RangeError, "nnls", "column",
                   "double");
  NnlsOptions o;
  o.throw_on_out_of_range = false;
  const auto r = nnls<double>(ctx2(), A.view(), X.view(), o);
  EXPECT_EQ(r.out_of_range_columns, 5);
  EXPECT_FALSE(r.all_converged());
  for (auto st : r.status) EXPECT_EQ(st, ColumnStatus::out_of_range);
}

TEST(NnlsScale, UnderflowingSolutionIsReportedNotZero) {
  // A ~ 1e200, X ~ 1e-200: S ~ 1e-400 underflows double.
  const auto A = scaled(random_matrix<double>(20, 4, 63), 1e200L);
  const auto X = scaled(random_matrix<double>(20, 5, 64), 1e-200L);
  EXPECT_THROW_MSG(nnls<double>(ctx2(), A.view(), X.view()), RangeError, "nnls", "underflow");
  NnlsOptions o;
  o.throw_on_out_of_range = false;
  const auto r = nnls<double>(ctx2(), A.view(), X.view(), o);
  EXPECT_EQ(r.out_of_range_columns, 5);
  EXPECT_STREQ(to_string(ColumnStatus::out_of_range), "out_of_range");
}

TEST(NnlsScale, ColumnFarBelowTheOthersIsSolvedOrReported) {
  // One column of X 1e-300 times the others: it must not come back as a silent zero.
  auto A = random_matrix<double>(20, 4, 65);
  auto X = random_matrix<double>(20, 3, 66);
  for (index_t i = 0; i < 20; ++i) X(i, 1) *= 1e-300;
  for (index_t i = 0; i < 20; ++i) X(i, 2) *= 1e300;
  NnlsOptions o;
  o.throw_on_out_of_range = false;
  const auto r = nnls<double>(ctx2(), A.view(), X.view(), o);
  const auto ref = nnls<double>(ctx2(), A.view(), random_matrix<double>(20, 3, 66).view());
  for (index_t j : {0, 1, 2}) {
    if (r.status[static_cast<std::size_t>(j)] == ColumnStatus::out_of_range) continue;
    const LD s = j == 1 ? 1e-300L : j == 2 ? 1e300L : 1.0L;
    for (index_t q = 0; q < 4; ++q)
      EXPECT_NEAR(double(LD(r.S(q, j)) / s), ref.S(q, j), 1e-10) << "column " << j;
  }
}

// ---- backward pass on the scaled problem ---------------------------------------------------

TEST(NnlsScale, BackwardScalesWithA) {
  // L = <W, q(sA, X)> = <W, q(A, X)> / s, so dL/d(sA) = dL/dA / s^2 and dL/dX scales by 1/s.
  const index_t n = 20, k = 5, m = 8;
  const auto A0 = random_matrix<double>(n, k, 71);
  const auto X = random_matrix<double>(n, m, 72);
  const auto W = random_matrix<double>(k, m, 73, -1.0, 1.0);
  const auto f0 = nnls<double>(ctx2(), A0.view(), X.view());
  BackwardOptions both;
  both.compute_dX = true;
  const auto g0 = nnls_backward<double>(ctx2(), A0.view(), X.view(), f0.S.view(), f0.support, W.view(), both);
  ASSERT_EQ(g0.dX.cols(), m);  // so that the dX comparison below cannot pass on empty matrices
  for (LD s : {1e-150L, 1e-20L, 1e20L, 1e155L}) {
    const auto A = scaled(A0, s);
    const auto f = nnls<double>(ctx2(), A.view(), X.view());
    ASSERT_EQ(f.support, f0.support) << "s = " << double(s);
    const auto g = nnls_backward<double>(ctx2(), A.view(), X.view(), f.S.view(), f.support, W.view(), both);
    EXPECT_EQ(g.regularized_columns, 0);
    EXPECT_LT(rel_diff(g.dA, g0.dA, 1 / (s * s)), 1e-9L) << "s = " << double(s);
    EXPECT_LT(rel_diff(g.dX, g0.dX, 1 / s), 1e-9L) << "s = " << double(s);
  }
}

// ---- models whose factors are far from 1 ---------------------------------------------------

TEST(NnlsScale, TransformAndErrorsOfAModelWithHugeFactors) {
  const index_t n = 30, k0 = 5, m = 12;
  const auto A0 = random_matrix<double>(n, k0, 81);
  const auto X = random_matrix<double>(n, m, 82);
  const auto base = NeuralNmf<double>::from_factors({A0});
  const auto S_ref = base.transform(ctx2(), X.view());
  const auto rep_ref = base.evaluate(ctx2(), X.view());
  for (LD s : {1e-300L, 1e-150L, 1e150L, 1e300L}) {
    SCOPED_TRACE(::testing::Message() << "s = " << double(s));
    const auto model = NeuralNmf<double>::from_factors({scaled(A0, s)});
    const auto S = model.transform(ctx2(), X.view());
    EXPECT_LT(rel_diff(S[0], S_ref[0], 1 / s), 1e-10L);
    const auto rep = model.evaluate(ctx2(), X.view());
    ASSERT_TRUE(std::isfinite(rep[0].rel_error));
    EXPECT_NEAR(rep[0].rel_error, rep_ref[0].rel_error, 1e-9);
    const auto err = relative_errors<double>(ctx2(), X.view(), model.factors(), S);
    EXPECT_NEAR(err[0], rep_ref[0].rel_error, 1e-9);
  }
}

TEST(NnlsScale, RelativeErrorsOfHugeData) {
  const index_t n = 30, k0 = 5, k1 = 3, m = 12;
  const auto A0 = random_matrix<double>(n, k0, 83);
  const auto A1 = random_matrix<double>(k0, k1, 84);
  const auto X0 = random_matrix<double>(n, m, 85);
  const auto model = NeuralNmf<double>::from_factors({A0, A1});
  const auto S0 = model.transform(ctx2(), X0.view());
  const auto e0 = relative_errors<double>(ctx2(), X0.view(), model.factors(), S0);
  for (LD s : {1e-300L, 1e-160L, 1e160L, 1e300L}) {
    SCOPED_TRACE(::testing::Message() << "s = " << double(s));
    const auto X = scaled(X0, s);
    std::vector<Matrix<double>> S{scaled(S0[0], s), scaled(S0[1], s)};
    const auto e = relative_errors<double>(ctx2(), X.view(), model.factors(), S);
    for (std::size_t l = 0; l < 2; ++l) EXPECT_NEAR(e[l], e0[l], 1e-9) << "layer " << l;
    const auto rep = model.evaluate(ctx2(), X.view());
    for (std::size_t l = 0; l < 2; ++l) EXPECT_NEAR(rep[l].rel_error, e0[l], 1e-9) << "layer " << l;
  }
}

TEST(NnlsScale, LayerWhoseCoefficientsUnderflowIsNamed) {
  // Two layers of 1e300: S1 ~ 1e-600 cannot be represented in double.
  const auto A0 = scaled(random_matrix<double>(30, 5, 86), 1e300L);
  const auto A1 = scaled(random_matrix<double>(5, 3, 87), 1e300L);
  const auto X = random_matrix<double>(30, 10, 88);
  const auto model = NeuralNmf<double>::from_factors({A0, A1});
  EXPECT_THROW_MSG(model.transform(ctx2(), X.view()), RangeError, "layer 1");
  EXPECT_THROW_MSG(model.evaluate(ctx2(), X.view()), RangeError, "layer 1");
}

}  // namespace
}  // namespace nnmf::test
