// The warp-per-column NNLS kernel's code (cuda/warp_nnls.hpp) run on the host with its 32
// lanes emulated (HostLanes), against the host backend's solver. Needs no GPU and no CUDA
// build: the header is plain C++ for the host lane model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/nnls_internal.hpp"
#include "core/ops.hpp"
#include "cuda/warp_nnls.hpp"
#include "test_problems.hpp"
#include "test_util.hpp"

namespace nnmf {
namespace {

using detail::cuda::HostLanes;
using detail::cuda::LaneBest;
using detail::cuda::WarpWork;
namespace ops = detail::ops;

using test::Kind;
using test::name;

/// G = A^T A and C = A^T X (double accumulation) for the problem kinds of test_cuda.cpp.
template <class T>
void make_normal_equations(Kind kind, index_t k, index_t m, std::uint64_t seed, Matrix<T>& G,
                           Matrix<T>& C) {
  const test::Problem<T> p = test::make_problem<T>(kind, k, m, seed);
  test::normal_equations(p.A, p.X, G, C);
}

/// One warp's workspace for rank k and pmax passive indices, filled with garbage (NaN reals,
/// 0xA5 ints) as shared memory left by the previous column or block would be.
template <class T>
struct Workspace {
  Workspace(index_t k, index_t pmax) : bytes(WarpWork<T>::bytes(k, pmax), 0xA5) {
    std::fill(reinterpret_cast<T*>(bytes.data()),
              reinterpret_cast<T*>(bytes.data()) + WarpWork<T>::reals(k, pmax),
              std::numeric_limits<T>::quiet_NaN());
    ws = WarpWork<T>::carve(bytes.data(), k, pmax);
  }
  void* base() { return bytes.data(); }
  Workspace(const Workspace&) = delete;  // ws points into bytes
  Workspace& operator=(const Workspace&) = delete;
  std::vector<unsigned char> bytes;
  WarpWork<T> ws{};
};

template <class T>
struct Solved {
  Matrix<T> S;
  std::vector<std::uint64_t> support;
  std::vector<std::uint8_t> status;
  std::vector<int> iters;
};

template <class T>
detail::ColumnParams<T> params(index_t k) {
  return {detail::default_tol<T>(), detail::pivot_eps<T>(k), static_cast<int>(3 * k + 30)};
}

/// The host backend's batched solve.
template <class T>
Solved<T> host_solve(const Matrix<T>& G, const Matrix<T>& C, const std::uint64_t* warm) {
  const index_t k = G.rows(), m = C.cols();
  Solved<T> out;
  out.S = Matrix<T>(k, m);
  out.support.assign(static_cast<std::size_t>((k + 63) / 64 * m), 0);
  out.status.assign(static_cast<std::size_t>(m), 0);
  const auto p = params<T>(k);
  detail::NnlsBatchParams<T> prm{p.tol_rel, p.pivot_eps, p.max_iter};
  ops::nnls_batch<T>(Context::host(1), G.view(), C.view(), prm, out.S.view(), out.support.data(),
                     warm, out.status.data());
  return out;
}

/// What the CUDA code computes: for cold starts the factor of G by one warp, H = G^{-1} by
/// one warp per column, Z0 = H C (cuBLAS there, a loop here); then one warp per column reusing
/// one workspace filled with garbage first (as a warp reuses its shared memory from one column
/// to the next).
template <class T>
Solved<T> warp_solve(const Matrix<T>& G, const Matrix<T>& C, const std::uint64_t* warm,
                     index_t pmax = 0) {
  const index_t k = G.rows(), m = C.cols(), wpc = (k + 63) / 64;
  const HostLanes lanes;
  const auto prm = params<T>(k);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> Lfull(static_cast<std::size_t>(k * (k + 1) / 2), nan);
  std::vector<int> ints(static_cast<std::size_t>(k), -7);
  std::vector<T> col(static_cast<std::size_t>(k), nan);
  const bool full_ok = !warm && detail::cuda::warp_chol_full(lanes, G.data(), k, Lfull.data(),
                                                             ints.data(), col.data(), prm.pivot_eps);
  Matrix<T> Z0(k, m);
  if (full_ok) {
    Matrix<T> H(k, k);
    std::vector<T> a(static_cast<std::size_t>(k), nan), y(a), z(a);
    for (index_t b = 0; b < k; ++b)
      detail::cuda::warp_inverse_column(lanes, Lfull.data(), k, b, a.data(), y.data(), z.data(),
                                        H.data() + b * k);
    for (index_t j = 0; j < m; ++j)
      for (index_t i = 0; i < k; ++i) {
        T acc = 0;
        for (index_t q = 0; q < k; ++q) acc += H(i, q) * C(q, j);
        Z0(i, j) = acc;
      }
  }
  // The kernel's two workspaces: on chip for pmax passive indices (pmax = 0: k), and the
  // spill workspace for the columns that outgrow it.
  Workspace<T> chip(k, pmax > 0 ? std::min(pmax, k) : k), spill(k, k);
  Solved<T> out;
  out.S = Matrix<T>(k, m);
  out.support.assign(static_cast<std::size_t>(wpc * m), 0xA5A5A5A5A5A5A5A5ull);
  out.status.assign(static_cast<std::size_t>(m), 0x7f);
  out.iters.assign(static_cast<std::size_t>(m), -1);
  for (index_t j = 0; j < m; ++j) {
    const int st = detail::cuda::solve_column_warp(
        lanes, G.data(), k, C.data() + j * C.ld(), out.S.data() + j * k, chip.base(),
        chip.ws.pmax, spill.base(),
        warm ? warm + j * wpc : nullptr, full_ok ? Z0.data() + j * k : nullptr,
        out.support.data() + j * wpc, prm, &out.iters[static_cast<std::size_t>(j)]);
    out.status[static_cast<std::size_t>(j)] = static_cast<std::uint8_t>(st);
  }
  return out;
}

/// 1/2 s^T G s - c^T s for column j.
template <class T>
double objective(const Matrix<T>& G, const Matrix<T>& C, const Matrix<T>& S, index_t j) {
  const index_t k = G.rows();
  double q = 0;
  for (index_t a = 0; a < k; ++a) {
    double gs = 0;
    for (index_t b = 0; b < k; ++b) gs += double(G(a, b)) * S(b, j);
    q += 0.5 * S(a, j) * gs - double(C(a, j)) * S(a, j);
  }
  return q;
}

/// KKT of column j to a tolerance relative to the column's scale: s >= 0, s > 0 exactly on
/// the support, w = c - G s <= tol off it and |w| <= tol on it.
template <class T>
void expect_kkt(const Matrix<T>& G, const Matrix<T>& C, const Solved<T>& r, index_t j, double tol,
                const std::string& what) {
  const index_t k = G.rows(), wpc = (k + 63) / 64;
  double scale = 0;
  for (index_t i = 0; i < k; ++i) scale = std::max(scale, std::abs(double(C(i, j))));
  double smax = 0;
  for (index_t i = 0; i < k; ++i) smax = std::max(smax, double(r.S(i, j)));
  const double bound = tol * std::max(1.0, scale) * std::max(1.0, smax);
  for (index_t i = 0; i < k; ++i) {
    const bool in = (r.support[static_cast<std::size_t>(j * wpc + i / 64)] >> (i % 64)) & 1u;
    double w = C(i, j);
    for (index_t b = 0; b < k; ++b) w -= double(G(i, b)) * r.S(b, j);
    ASSERT_GE(r.S(i, j), T(0)) << what << ": column " << j << ", s_" << i;
    EXPECT_EQ(in, r.S(i, j) > T(0)) << what << ": column " << j << ", index " << i;
    if (in) {
      EXPECT_LE(std::abs(w), bound) << what << ": column " << j << ", w_" << i << " on the support";
    } else {
      EXPECT_LE(w, bound) << what << ": column " << j << ", w_" << i << " off the support";
    }
  }
}

template <class T>
void warp_case(Kind kind, index_t k, bool warm_start, index_t pmax = 0) {
  const index_t m = 45;
  Matrix<T> G, C;
  make_normal_equations<T>(kind, k, m, 1000 + static_cast<std::uint64_t>(k), G, C);
  const std::string what = std::string(name(kind)) + ", k = " + std::to_string(k) +
                           (warm_start ? ", warm" : ", cold") +
                           (sizeof(T) == 4 ? ", float" : ", double") +
                           (pmax > 0 ? ", pmax = " + std::to_string(pmax) : std::string());
  const Solved<T> cold_ref = host_solve(G, C, nullptr);
  const std::uint64_t* warm = warm_start ? cold_ref.support.data() : nullptr;
  const Solved<T> host = warm_start ? host_solve(G, C, warm) : cold_ref;
  const Solved<T> warp = warp_solve(G, C, warm, pmax);
  const double tol = sizeof(T) == 4 ? 2e-3 : 1e-9;
  const bool unique = kind != Kind::rank_deficient;  // duplicate columns: many optima
  const index_t wpc = (k + 63) / 64;
  for (index_t j = 0; j < m; ++j) {
    const std::size_t js = static_cast<std::size_t>(j);
    EXPECT_EQ(warp.status[js], host.status[js]) << what << ": column " << j << " status";
    expect_kkt(G, C, warp, j, tol, what);
    const double qh = objective(G, C, host.S, j), qw = objective(G, C, warp.S, j);
    EXPECT_LE(std::abs(qw - qh), tol * std::max(1.0, std::abs(qh))) << what << ": column " << j;
    if (!unique) continue;
    for (index_t q = 0; q < wpc; ++q)
      EXPECT_EQ(warp.support[js * wpc + q], host.support[js * wpc + q])
          << what << ": column " << j << " support word " << q;
    double smax = 0;
    for (index_t i = 0; i < k; ++i) smax = std::max(smax, double(host.S(i, j)));
    for (index_t i = 0; i < k; ++i)
      EXPECT_NEAR(warp.S(i, j), host.S(i, j), tol * std::max(1.0, smax))
          << what << ": S(" << i << ", " << j << ")";
  }
  if (warm_start && unique) {
    for (index_t j = 0; j < m; ++j)
      EXPECT_EQ(warp.iters[static_cast<std::size_t>(j)], 0)
          << what << ": column " << j << ": the exact support needs no step";
  }
}

TEST(WarpNnls, EmulatedLanesMatchTheHostSolver) {
  for (Kind kind : {Kind::dense, Kind::sparse, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t k : {1, 5, 20, 33, 70}) {
      for (bool warm : {false, true}) {
        warp_case<double>(kind, k, warm);
        warp_case<float>(kind, k, warm);
      }
    }
  }
}

TEST(WarpNnls, ColumnsThatOutgrowTheOnChipWorkspaceAreSolvedAgainInTheSpillOne) {
  // pmax = 3 and 8: most columns outgrow the on-chip factor (at the start or when an index
  // enters) and are solved again with pmax = k; the answers are still the host's.
  for (Kind kind : {Kind::dense, Kind::sparse, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t pmax : {3, 8}) {
      for (bool warm : {false, true}) {
        warp_case<double>(kind, 20, warm, pmax);
        warp_case<float>(kind, 33, warm, pmax);
      }
    }
  }
}

TEST(WarpNnls, DenseSolutionsTakeTheProbeStartFromZ0) {
  // C = G S with S > 0 everywhere: the unconstrained solution is S, so the probe start from
  // Z0 = G^{-1} C holds every index and no step is needed; growing the support from empty
  // (no probe) would take one step per index.
  const index_t k = 20, m = 30;
  Matrix<double> G, C;
  make_normal_equations<double>(Kind::dense, k, m, 77, G, C);
  const auto S = test::random_matrix<double>(k, m, 78, 0.5, 1.5);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) {
      double acc = 0;
      for (index_t q = 0; q < k; ++q) acc += G(i, q) * S(q, j);
      C(i, j) = acc;
    }
  const Solved<double> w = warp_solve(G, C, nullptr);
  const Solved<double> h = host_solve(G, C, nullptr);
  EXPECT_EQ(w.support, h.support);
  EXPECT_EQ(w.status, h.status);
  long steps = 0, size = 0;
  for (int it : w.iters) steps += it;
  for (std::uint64_t word : w.support) size += __builtin_popcountll(word);
  EXPECT_EQ(size, k * m);
  EXPECT_EQ(steps, 0) << "the probe start was not taken";
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) EXPECT_NEAR(w.S(i, j), S(i, j), 1e-8);
}

TEST(WarpNnls, NonFiniteAndTinyColumnsAreHandledAsTheHostDoes) {
  // A NaN and an infinite right-hand side: status 1 and s = 0 (never a converged zero); a
  // column scaled by 2^-100: the tolerance follows its scale, so the same support as unscaled.
  Matrix<double> G, C;
  make_normal_equations<double>(Kind::dense, 9, 4, 31, G, C);
  C(2, 0) = std::numeric_limits<double>::quiet_NaN();
  C(5, 1) = std::numeric_limits<double>::infinity();
  for (index_t i = 0; i < 9; ++i) C(i, 3) = std::ldexp(C(i, 2), -100);
  const Solved<double> w = warp_solve(G, C, nullptr);
  const Solved<double> h = host_solve(G, C, nullptr);
  EXPECT_EQ(w.status, h.status);
  EXPECT_EQ(w.status[0], 1);
  EXPECT_EQ(w.status[1], 1);
  for (index_t i = 0; i < 9; ++i) {
    EXPECT_EQ(w.S(i, 0), 0.0);
    EXPECT_EQ(w.S(i, 1), 0.0);
  }
  EXPECT_EQ(w.support[0], 0u);
  EXPECT_EQ(w.support[3], w.support[2]) << "the scaled column has the unscaled one's support";
  EXPECT_NE(w.support[3], 0u);
}

TEST(WarpNnls, IterationCapIsReportedAsTheHostDoes) {
  Matrix<double> G, C;
  make_normal_equations<double>(Kind::sparse, 20, 12, 5, G, C);
  const HostLanes lanes;
  auto prm = params<double>(20);
  prm.max_iter = 1;
  Workspace<double> work(20, 20);
  const auto ws = work.ws;
  int capped = 0;
  for (index_t j = 0; j < C.cols(); ++j) {
    std::vector<double> s(20);
    std::uint64_t sup = 0;
    int it = 0;
    const int st = detail::cuda::nnls_warp(lanes, G.data(), 20, C.data() + j * 20, s.data(), ws,
                                           static_cast<const std::uint64_t*>(nullptr),
                                           static_cast<const double*>(nullptr), &sup, prm, &it);
    capped += st;
    for (double v : s) EXPECT_GE(v, 0.0);  // feasible even when stopped early
    EXPECT_LE(it, 1);
  }
  EXPECT_GT(capped, 0) << "one step is too few for sparse columns: some must be capped";
}

/// The warp masked solve (backward pass) against the host's, on the supports of the forward
/// solve plus hand-made ones that make G_TT singular for the rank-deficient and zero-column
/// problems (then both must regularize the same columns).
template <class T>
void masked_case(Kind kind, index_t k, index_t pmax = 0) {
  const index_t m = 40, wpc = (k + 63) / 64;
  Matrix<T> G, C;
  make_normal_equations<T>(kind, k, m, 2000 + static_cast<std::uint64_t>(k), G, C);
  const std::string what = std::string(name(kind)) + ", k = " + std::to_string(k) +
                           (sizeof(T) == 4 ? ", float" : ", double") +
                           (pmax > 0 ? ", pmax = " + std::to_string(pmax) : std::string());
  Solved<T> fwd = host_solve(G, C, nullptr);
  for (index_t j = 0; j < m; j += 5)
    for (index_t i = 0; i < k; i += 2)
      fwd.support[static_cast<std::size_t>(j * wpc + i / 64)] |= std::uint64_t{1} << (i % 64);
  const auto D = test::random_matrix<T>(k, m, 3000 + static_cast<std::uint64_t>(k), -1.0, 1.0);
  const T peps = detail::pivot_eps<T>(k), ridge = detail::default_ridge<T>();
  Matrix<T> Zh(k, m);
  std::vector<std::uint8_t> sh(static_cast<std::size_t>(m), 0);
  const index_t reg_h = ops::masked_solve<T>(Context::host(1), G.view(), fwd.support.data(),
                                             D.view(), peps, ridge, Zh.view(), sh.data());
  Workspace<T> chip(k, pmax > 0 ? std::min(pmax, k) : k), spill(k, k);
  Matrix<T> Zw(k, m);
  index_t reg_w = 0;
  const HostLanes lanes;
  for (index_t j = 0; j < m; ++j) {
    const int r = detail::cuda::masked_column_warp(lanes, G.data(), k,
                                                   fwd.support.data() + j * wpc, D.data() + j * k,
                                                   Zw.data() + j * k, chip.base(),
                                                   chip.ws.pmax, spill.base(), peps, ridge);
    reg_w += r;
    EXPECT_EQ(r ? 2 : 0, sh[static_cast<std::size_t>(j)]) << what << ": column " << j;
  }
  EXPECT_EQ(reg_w, reg_h) << what;
  // Unregularized blocks are well conditioned here; regularized ones have condition up to
  // 1 / ridge, so their rounding differences are larger by that much.
  for (index_t j = 0; j < m; ++j) {
    const bool reg = sh[static_cast<std::size_t>(j)] != 0;
    const double tol = (sizeof(T) == 4 ? 1e-3 : 1e-9) * (reg ? 1.0 / double(ridge) : 1.0);
    double scale = 0;
    for (index_t i = 0; i < k; ++i) scale = std::max(scale, std::abs(double(Zh(i, j))));
    for (index_t i = 0; i < k; ++i) {
      EXPECT_NEAR(Zw(i, j), Zh(i, j), tol * std::max(1.0, scale))
          << what << ": Z(" << i << ", " << j << ")" << (reg ? " (regularized)" : "");
      const bool in = (fwd.support[static_cast<std::size_t>(j * wpc + i / 64)] >> (i % 64)) & 1u;
      if (!in) {
        EXPECT_EQ(Zw(i, j), T(0)) << what << ": off the support";
      }
    }
  }
}

TEST(WarpNnls, MaskedSolveMatchesTheHostAndRegularizesTheSameColumns) {
  for (Kind kind : {Kind::dense, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t k : {1, 5, 20, 33, 70}) {
      masked_case<double>(kind, k);
      masked_case<float>(kind, k);
      masked_case<double>(kind, k, 4);  // most supports outgrow 4: solved in the spill space
    }
  }
}

TEST(WarpLanes, ButterflySumAndFirstBestAreTheDeviceOnes) {
  const HostLanes lanes;
  std::vector<double> v(75);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = 1.0 / static_cast<double>(i + 1);
  // The butterfly's order: lane partials (index order), then pairs at distance 16, 8, .., 1.
  double p[32];
  for (int l = 0; l < 32; ++l) {
    p[l] = 0;
    for (std::size_t i = static_cast<std::size_t>(l); i < v.size(); i += 32) p[l] += v[i];
  }
  for (int off = 16; off > 0; off /= 2) {
    double q[32];
    for (int l = 0; l < 32; ++l) q[l] = p[l] + p[l ^ off];
    std::copy(q, q + 32, p);
  }
  const double s = lanes.sum<double>(0, 75, [&](index_t i) { return v[static_cast<std::size_t>(i)]; });
  EXPECT_EQ(s, p[0]);
  for (int l = 1; l < 32; ++l) EXPECT_EQ(p[l], p[0]) << "every lane ends with the same sum";
  // Ties keep the smallest index, whichever lanes hold them.
  std::vector<double> w(70, 1.0);
  w[3] = w[35] = w[67] = 5.0;
  const auto b = lanes.best(
      0, 70, LaneBest<double>{0.5, -1},
      [&](index_t i) { return LaneBest<double>{w[static_cast<std::size_t>(i)], static_cast<int>(i)}; },
      [](const LaneBest<double>& a, const LaneBest<double>& c) {
        return detail::cuda::beats_max(a, c);
      });
  EXPECT_EQ(b.i, 3);
  EXPECT_EQ(b.v, 5.0);
}

}  // namespace
}  // namespace nnmf
