// The host's lane path of the batched solves (src/host/lane_solver.hpp) against the per-column
// solvers it stands in for (core/column_solver.hpp): the same bits for every column, whether a
// column is solved on the lanes or falls back to the scalar solver — warm starts that are
// still optimal, ones that must iterate, empty and full supports, padded lanes of different
// support sizes, non-finite right-hand sides, dependent columns (pivots that fail), and more
// than 64 unknowns (two words of support bits).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/column_solver.hpp"
#include "core/nnls_internal.hpp"
#include "core/ops.hpp"
#include "test_util.hpp"

using namespace nnmf;
using nnmf::test::random_matrix;

namespace {

template <class T>
bool same_bits(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

/// G = A^T A of an n x k matrix whose last column repeats the first (a dependent column when
/// both are in a support), and C = A^T X with a few columns made hard.
template <class T>
struct Problem {
  index_t k, m;
  Matrix<T> G, C;
  SupportMask warm;
};

template <class T>
Problem<T> make_problem(index_t k, index_t m, std::uint64_t seed) {
  const index_t n = 2 * k + 3;
  Matrix<T> A = random_matrix<T>(n, k, seed, 0.0, 1.0);
  if (k >= 3)
    for (index_t i = 0; i < n; ++i) A(i, k - 1) = A(i, 0);
  const Matrix<T> X = random_matrix<T>(n, m, seed + 1, -0.3, 1.0);
  Problem<T> p{k, m, Matrix<T>(k, k), Matrix<T>(k, m), SupportMask(k, m)};
  for (index_t a = 0; a < k; ++a)
    for (index_t b = 0; b < k; ++b) {
      T s = 0;
      for (index_t i = 0; i < n; ++i) s += A(i, a) * A(i, b);
      p.G(a, b) = s;
    }
  for (index_t j = 0; j < m; ++j)
    for (index_t a = 0; a < k; ++a) {
      T s = 0;
      for (index_t i = 0; i < n; ++i) s += A(i, a) * X(i, j);
      p.C(a, j) = s;
    }
  if (m > 5) {
    p.C(0, 3) = std::numeric_limits<T>::quiet_NaN();
    p.C(k - 1, 4) = std::numeric_limits<T>::infinity();
    for (index_t a = 0; a < k; ++a) p.C(a, 5) = T(0);
  }
  return p;
}

/// Warm supports: the exact supports of a nearby problem for most columns (so that many
/// columns are done on the lanes), random bits for every fifth, empty and full ones.
template <class T>
void set_warm(Problem<T>& p, std::uint64_t seed) {
  Matrix<T> Cn = p.C;
  for (index_t q = 0; q < Cn.size(); ++q) Cn.data()[q] *= T(1) + T(0.01) * T((q * 7919) % 13) / T(13);
  Matrix<T> S(p.k, p.m);
  const detail::NnlsBatchParams<T> prm{detail::default_tol<T>(), detail::pivot_eps<T>(p.k), 1000};
  std::vector<std::uint8_t> status(static_cast<std::size_t>(p.m));
  detail::ops::nnls_batch<T>(Context::host(1), p.G.view(), Cn.view(), prm, S.view(),
                             p.warm.data(), nullptr, status.data());
  std::mt19937_64 rng(seed);
  for (index_t j = 0; j < p.m; ++j) {
    if (j % 5 == 1)
      for (index_t i = 0; i < p.k; ++i) p.warm.set(i, j, rng() & 1u);
    if (j % 17 == 2)
      for (index_t i = 0; i < p.k; ++i) p.warm.set(i, j, false);
    if (j % 19 == 3)
      for (index_t i = 0; i < p.k; ++i) p.warm.set(i, j, true);
  }
}

template <class T>
void expect_warm_batch_matches_columns(index_t k, index_t m, std::uint64_t seed) {
  SCOPED_TRACE("k = " + std::to_string(k));
  Problem<T> p = make_problem<T>(k, m, seed);
  set_warm(p, seed);
  const detail::NnlsBatchParams<T> prm{detail::default_tol<T>(), detail::pivot_eps<T>(k), 1000};
  Matrix<T> S(k, m);
  SupportMask sup(k, m);
  std::vector<std::uint8_t> status(static_cast<std::size_t>(m), 0x7f);
  const auto stats = detail::ops::nnls_batch<T>(Context::host(2), p.G.view(), p.C.view(), prm, S.view(),
                                                sup.data(), p.warm.data(), status.data());
  // Reference: the scalar solver, column by column.
  using Ws = detail::ColumnWorkspace<T, detail::UnitStride>;
  std::vector<T> real(static_cast<std::size_t>(Ws::reals(k)));
  std::vector<int> ints(static_cast<std::size_t>(Ws::ints(k)));
  const Ws ws = Ws::carve(real.data(), ints.data(), k, detail::UnitStride{});
  const detail::ColumnParams<T> cp{prm.tol_rel, prm.pivot_eps, prm.max_iter};
  const index_t wpc = sup.words_per_col();
  std::vector<T> x(static_cast<std::size_t>(k));
  std::vector<std::uint64_t> bits(static_cast<std::size_t>(wpc));
  index_t iterations = 0, on_lanes = 0;
  for (index_t j = 0; j < m; ++j) {
    int it = 0;
    const int st = detail::nnls_column(
        p.G.data(), k, detail::Vec<const T, detail::UnitStride>{p.C.data() + j * k, {}},
        detail::Vec<T, detail::UnitStride>{x.data(), {}}, ws, p.warm.data() + j * wpc,
        static_cast<const T*>(nullptr), bits.data(), cp, &it);
    iterations += it;
    on_lanes += it == 0 && st == 0;
    EXPECT_EQ(status[static_cast<std::size_t>(j)], st) << "column " << j;
    for (index_t q = 0; q < wpc; ++q) EXPECT_EQ(sup.data()[j * wpc + q], bits[static_cast<std::size_t>(q)]) << "column " << j;
    for (index_t i = 0; i < k; ++i)
      EXPECT_TRUE(same_bits(S(i, j), x[static_cast<std::size_t>(i)]))
          << "column " << j << " row " << i << ": " << S(i, j) << " vs " << x[static_cast<std::size_t>(i)];
  }
  EXPECT_EQ(stats.iterations, iterations);
  // The test means something only if both paths were taken.
  EXPECT_GT(on_lanes, m / 5);
  EXPECT_GT(iterations, 0);
}

template <class T>
void expect_masked_batch_matches_columns(index_t k, index_t m, std::uint64_t seed) {
  SCOPED_TRACE("k = " + std::to_string(k));
  Problem<T> p = make_problem<T>(k, m, seed);
  std::mt19937_64 rng(seed + 7);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) p.warm.set(i, j, j >= 64 && j < 128 ? i % 3 != 1 : (rng() % 3) != 0);
  const Matrix<T> D = random_matrix<T>(k, m, seed + 3, -1.0, 1.0);
  Matrix<T> Z(k, m);
  std::vector<std::uint8_t> status(static_cast<std::size_t>(m), 0x7f);
  const T eps = detail::pivot_eps<T>(k), ridge = detail::default_ridge<T>();
  const index_t reg = detail::ops::masked_solve<T>(Context::host(2), p.G.view(), p.warm.data(), D.view(),
                                                   eps, ridge, Z.view(), status.data());
  using Ws = detail::ColumnWorkspace<T, detail::UnitStride>;
  std::vector<T> real(static_cast<std::size_t>(Ws::reals(k)));
  std::vector<int> ints(static_cast<std::size_t>(Ws::ints(k)));
  const Ws ws = Ws::carve(real.data(), ints.data(), k, detail::UnitStride{});
  std::vector<T> z(static_cast<std::size_t>(k));
  index_t reg_ref = 0;
  for (index_t j = 0; j < m; ++j) {
    const int r = detail::masked_solve_column(
        p.G.data(), k, p.warm.data() + j * p.warm.words_per_col(),
        detail::Vec<const T, detail::UnitStride>{D.data() + j * k, {}},
        detail::Vec<T, detail::UnitStride>{z.data(), {}}, ws, eps, ridge);
    reg_ref += r;
    EXPECT_EQ(status[static_cast<std::size_t>(j)], r ? 2 : 0) << "column " << j;
    for (index_t i = 0; i < k; ++i)
      EXPECT_TRUE(same_bits(Z(i, j), z[static_cast<std::size_t>(i)])) << "column " << j << " row " << i;
  }
  EXPECT_EQ(reg, reg_ref);
  if (k >= 3) {
    EXPECT_GT(reg_ref, 0);  // the dependent pair was in some supports
  }
}

}  // namespace

TEST(LaneSolver, WarmStartedBatchIsTheColumnSolverBitForBit) {
  for (index_t k : {1, 3, 6, 20, 70}) {
    expect_warm_batch_matches_columns<double>(k, 203, 11 + static_cast<std::uint64_t>(k));
    expect_warm_batch_matches_columns<float>(k, 203, 23 + static_cast<std::uint64_t>(k));
  }
}

TEST(LaneSolver, MaskedBatchIsTheColumnSolveBitForBit) {
  for (index_t k : {1, 3, 6, 20, 70}) {
    expect_masked_batch_matches_columns<double>(k, 203, 31 + static_cast<std::uint64_t>(k));
    expect_masked_batch_matches_columns<float>(k, 203, 37 + static_cast<std::uint64_t>(k));
  }
}
