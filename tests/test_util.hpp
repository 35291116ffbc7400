// Helpers shared by the tests: seeded random data, an independent one-column Lawson-Hanson
// reference, and KKT checks computed from A and X directly (not from the solver's Gram).
#pragma once

#include <gtest/gtest.h>
#include <lapacke.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace nnmf::test {

/// Uniform [lo, hi) entries from a fixed seed.
template <class T>
Matrix<T> random_matrix(index_t rows, index_t cols, std::uint64_t seed, double lo = 0.0,
                        double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Matrix<T> M(rows, cols);
  for (index_t j = 0; j < cols; ++j)
    for (index_t i = 0; i < rows; ++i) M(i, j) = static_cast<T>(u(rng));
  return M;
}

/// Sparse nonnegative matrix with about density * rows * cols nonzeros.
template <class T>
CscMatrix<T> random_sparse(index_t rows, index_t cols, double density, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<index_t> colptr{0}, rowind;
  std::vector<T> values;
  for (index_t j = 0; j < cols; ++j) {
    for (index_t i = 0; i < rows; ++i) {
      if (u(rng) < density) {
        rowind.push_back(i);
        values.push_back(static_cast<T>(0.1 + u(rng)));
      }
    }
    colptr.push_back(static_cast<index_t>(values.size()));
  }
  return CscMatrix<T>(rows, cols, std::move(colptr), std::move(rowind), std::move(values));
}

/// Classic Lawson-Hanson on A directly (least-squares subproblems by LAPACK's QR, dgels), in
/// double, for one column. Independent of the library's normal-equation solver.
inline std::vector<double> reference_nnls(const Matrix<double>& A, const double* x,
                                          double tol = 1e-12) {
  const index_t n = A.rows(), k = A.cols();
  std::vector<double> s(static_cast<std::size_t>(k), 0.0);
  std::vector<char> passive(static_cast<std::size_t>(k), 0);
  auto residual = [&]() {
    std::vector<double> r(x, x + n);
    for (index_t q = 0; q < k; ++q)
      for (index_t i = 0; i < n; ++i) r[static_cast<std::size_t>(i)] -= A(i, q) * s[static_cast<std::size_t>(q)];
    return r;
  };
  auto ls_on_passive = [&](std::vector<index_t>& P) {
    const index_t np = static_cast<index_t>(P.size());
    std::vector<double> Ap(static_cast<std::size_t>(n * np)), b(x, x + n);
    for (index_t c = 0; c < np; ++c)
      for (index_t i = 0; i < n; ++i) Ap[static_cast<std::size_t>(i + c * n)] = A(i, P[static_cast<std::size_t>(c)]);
    LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', n, np, 1, Ap.data(), n, b.data(), n);
    return std::vector<double>(b.begin(), b.begin() + np);
  };
  double scale = 0;
  for (index_t q = 0; q < k; ++q) {
    double c = 0;
    for (index_t i = 0; i < n; ++i) c += A(i, q) * x[i];
    scale = std::max(scale, std::abs(c));
  }
  for (int outer = 0; outer < 10 * k + 50; ++outer) {
    const auto r = residual();
    int t = -1;
    double wmax = tol * std::max(scale, 1e-300);
    for (index_t q = 0; q < k; ++q) {
      if (passive[static_cast<std::size_t>(q)]) continue;
      double w = 0;
      for (index_t i = 0; i < n; ++i) w += A(i, q) * r[static_cast<std::size_t>(i)];
      if (w > wmax) {
        wmax = w;
        t = static_cast<int>(q);
      }
    }
    if (t < 0) break;
    passive[static_cast<std::size_t>(t)] = 1;
    for (;;) {
      std::vector<index_t> P;
      for (index_t q = 0; q < k; ++q)
        if (passive[static_cast<std::size_t>(q)]) P.push_back(q);
      const auto z = ls_on_passive(P);
      bool feasible = true;
      for (double v : z) feasible = feasible && v > 0;
      if (feasible) {
        for (std::size_t c = 0; c < P.size(); ++c) s[static_cast<std::size_t>(P[c])] = z[c];
        break;
      }
      double alpha = 1;
      for (std::size_t c = 0; c < P.size(); ++c)
        if (z[c] <= 0) {
          const double sp = s[static_cast<std::size_t>(P[c])];
          alpha = std::min(alpha, sp / (sp - z[c]));
        }
      for (std::size_t c = 0; c < P.size(); ++c) {
        double& sp = s[static_cast<std::size_t>(P[c])];
        sp += alpha * (z[c] - sp);
        if (sp <= 1e-14) {
          sp = 0;
          passive[static_cast<std::size_t>(P[c])] = 0;
        }
      }
    }
  }
  return s;
}

/// KKT conditions of S = argmin_{S >= 0} ||X - A S|| checked column by column from A and X:
/// S >= 0; S > 0 exactly on the support; w = A^T (x - A s) has |w_i| <= tol * scale on the
/// support and w_i <= tol * scale off it, with scale = max_i ||a_i|| ||x||.
template <class T, class XMat>
void expect_kkt(const Matrix<T>& A, const XMat& Xd, const NnlsResult<T>& r, double tol) {
  const index_t n = A.rows(), k = A.cols(), m = Xd.cols();
  ASSERT_EQ(r.S.rows(), k);
  ASSERT_EQ(r.S.cols(), m);
  std::vector<double> colnorm(static_cast<std::size_t>(k), 0.0);
  for (index_t q = 0; q < k; ++q) {
    for (index_t i = 0; i < n; ++i) colnorm[static_cast<std::size_t>(q)] += double(A(i, q)) * A(i, q);
    colnorm[static_cast<std::size_t>(q)] = std::sqrt(colnorm[static_cast<std::size_t>(q)]);
  }
  const double amax = *std::max_element(colnorm.begin(), colnorm.end());
  int failures = 0;
  for (index_t j = 0; j < m && failures < 5; ++j) {
    std::vector<double> res(static_cast<std::size_t>(n));
    double xn = 0;
    for (index_t i = 0; i < n; ++i) {
      double v = Xd(i, j);
      xn += v * v;
      for (index_t q = 0; q < k; ++q) v -= double(A(i, q)) * r.S(q, j);
      res[static_cast<std::size_t>(i)] = v;
    }
    const double scale = std::max(amax * std::sqrt(xn), 1e-300);
    for (index_t q = 0; q < k; ++q) {
      const double s = r.S(q, j);
      const bool on = r.support.test(q, j);
      double w = 0;
      for (index_t i = 0; i < n; ++i) w += double(A(i, q)) * res[static_cast<std::size_t>(i)];
      const bool ok = s >= 0 && (on ? s > 0 && std::abs(w) <= tol * scale
                                    : s == 0 && w <= tol * scale);
      if (!ok) {
        ++failures;
        ADD_FAILURE() << "KKT violated at column " << j << ", index " << q << ": s = " << s
                      << ", in support = " << on << ", w = " << w << ", tol*scale = "
                      << tol * scale;
      }
    }
  }
}

/// Dense copy of a column-major view (so tests can index X uniformly).
template <class T>
Matrix<T> dense_of(const CscMatrix<T>& X) {
  return X.to_dense();
}
template <class T>
const Matrix<T>& dense_of(const Matrix<T>& X) {
  return X;
}

/// Expects the call to throw E with a message containing every one of @p parts.
#define EXPECT_THROW_MSG(stmt, E, ...)                                                    \
  do {                                                                                    \
    try {                                                                                 \
      stmt;                                                                               \
      ADD_FAILURE() << "expected " #E " from: " #stmt;                                    \
    } catch (const E& e__) {                                                              \
      for (const std::string& part__ : std::vector<std::string>{__VA_ARGS__})             \
        EXPECT_NE(std::string(e__.what()).find(part__), std::string::npos)                \
            << "message '" << e__.what() << "' lacks '" << part__ << "'";                 \
    }                                                                                     \
  } while (0)

/// G = A^T A and C = A^T X by plain loops in double (independent of BLAS).
template <class T>
inline void normal_equations(const Matrix<T>& A, const Matrix<T>& X, Matrix<T>& G, Matrix<T>& C) {
  const index_t n = A.rows(), k = A.cols(), m = X.cols();
  G = Matrix<T>(k, k);
  C = Matrix<T>(k, m);
  for (index_t a = 0; a < k; ++a) {
    for (index_t b = 0; b < k; ++b) {
      double s = 0;
      for (index_t i = 0; i < n; ++i) s += double(A(i, a)) * A(i, b);
      G(a, b) = static_cast<T>(s);
    }
    for (index_t j = 0; j < m; ++j) {
      double s = 0;
      for (index_t i = 0; i < n; ++i) s += double(A(i, a)) * X(i, j);
      C(a, j) = static_cast<T>(s);
    }
  }
}

/// A fresh temporary folder per test, removed afterwards.
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nnmf-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }
  std::string dir_;
};

/// Root of the project's bundled test data: $NNMF_TEST_DATA_DIR when set (a build run on
/// another machine, e.g. from scripts/gpu-check.sh), else the path CMake compiled in.
inline std::string data_dir() {
  const char* env = std::getenv("NNMF_TEST_DATA_DIR");
  return env && *env ? std::string(env) : std::string(NNMF_TEST_DATA_DIR);
}

/// Why the CUDA tests cannot run here, or "" when they can.
inline std::string no_cuda_reason() {
  if (!nnmf::Context::cuda_compiled()) return "nnmf was built without CUDA (NNMF_WITH_CUDA=OFF)";
  if (nnmf::Context::cuda_device_count() == 0) return "the CUDA device count is 0 on this machine";
  return "";
}

/// X = W0 H0 (rank r, nonnegative, about half the entries zero) plus a little sparse noise.
inline CscMatrix<double> planted(index_t n, index_t m, index_t r, double noise_level = 0.05) {
  auto W0 = random_sparse<double>(n, r, 0.4, 31).to_dense(), H0 = random_sparse<double>(r, m, 0.4, 32).to_dense();
  const auto noise = random_sparse<double>(n, m, 0.05, 33).to_dense();
  Matrix<double> X(n, m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < n; ++i) {
      for (index_t q = 0; q < r; ++q) X(i, j) += W0(i, q) * H0(q, j);
      X(i, j) += noise_level * noise(i, j);
    }
  return CscMatrix<double>::from_dense(X.view());
}

/// X with every held-out entry changed, to values no fit may read: stored ones to NaN,
/// held-out zeros to 1e6.
inline CscMatrix<double> vandalized(const CscMatrix<double>& X, const HeldOut& H) {
  const auto held = H.to_mask();
  const auto dense = X.to_dense();
  std::vector<index_t> I, J;
  std::vector<double> v;
  for (index_t j = 0; j < X.cols(); ++j)
    for (index_t i = 0; i < X.rows(); ++i) {
      const bool out = held[static_cast<std::size_t>(i + j * X.rows())] == 0;
      if (!out && dense(i, j) == 0) continue;
      I.push_back(i);
      J.push_back(j);
      v.push_back(!out ? dense(i, j) : dense(i, j) != 0 ? std::numeric_limits<double>::quiet_NaN() : 1e6);
    }
  return CscMatrix<double>::from_triplets(X.rows(), X.cols(), I, J, v);
}

}  // namespace nnmf::test

/// Skips the test (GTEST_SKIP) with the reason when no CUDA device can run it.
#define NNMF_REQUIRE_CUDA()                                          \
  do {                                                               \
    const std::string why__ = nnmf::test::no_cuda_reason();          \
    if (!why__.empty()) GTEST_SKIP() << "no CUDA device: " << why__; \
  } while (0)


