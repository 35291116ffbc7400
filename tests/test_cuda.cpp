// The CUDA backend against the host backend (ginkgo style: one test body taking a Context,
// run on Context::host(2) as the reference and on Context::cuda(0) as the thing tested).
//
// Two groups:
//   * DeviceLayout / CudaBuild: run everywhere, no GPU needed. They drive the CUDA kernels'
//     per-thread code (cuda/batch_layout.hpp, the exact function the kernels call) on the host
//     for simulated threads with the device data layout (transposed right-hand sides,
//     workspace interleaved across threads), and check how a CUDA build without a device
//     behaves.
//   * CudaVsHost: need a device; without one each calls GTEST_SKIP() with the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

// column_solver.hpp vectorises with '#pragma omp simd', which this target (no -fopenmp)
// ignores.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#include "cuda/batch_layout.hpp"
#pragma GCC diagnostic pop

#include "core/backend_memory.hpp"
#include "core/nnls_internal.hpp"
#include "core/ops.hpp"
#include "nnmf/config.hpp"
#include "test_problems.hpp"
#include "test_util.hpp"
#if NNMF_WITH_CUDA
#include "cuda/testing.hpp"
#endif

namespace nnmf::test {
namespace {

using detail::Buffer;
using detail::DMatrix;
namespace ops = detail::ops;

Context host_ref() { return Context::host(2); }

// ---- the kernels' per-thread code on the host ------------------------------------------------

/// Output of one batched solve, whatever ran it.
template <class T>
struct BatchOut {
  Matrix<T> S;
  std::vector<std::uint64_t> support;
  std::vector<std::uint8_t> status;
  index_t iterations = 0, flagged = 0;
};

template <class T>
constexpr T garbage() {
  return std::numeric_limits<T>::quiet_NaN();
}

/// nnls_batch as the CUDA kernel computes it, for nthreads simulated threads run one after
/// another: Ct (m, k) input, St (m, k) output, workspace interleaved with stride nthreads and
/// filled with garbage first (the solver must not read what it has not written).
template <class T>
BatchOut<T> emulate_nnls(const Matrix<T>& G, const Matrix<T>& C, const std::uint64_t* warm,
                         index_t nthreads) {
  const index_t k = G.rows(), m = C.cols(), wpc = (k + 63) / 64;
  std::vector<T> Ct(static_cast<std::size_t>(m * k)), St(Ct.size(), garbage<T>());
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) Ct[static_cast<std::size_t>(j + i * m)] = C(i, j);
  BatchOut<T> out;
  out.support.assign(static_cast<std::size_t>(wpc * m), 0xA5A5A5A5A5A5A5A5ull);
  out.status.assign(static_cast<std::size_t>(m), 0x7f);
  std::vector<T> work_real(static_cast<std::size_t>(detail::cuda::work_reals(k) * nthreads),
                           garbage<T>());
  std::vector<int> work_int(static_cast<std::size_t>(detail::cuda::work_ints(k) * nthreads),
                            -12345);
  const T peps = detail::pivot_eps<T>(k);
  std::vector<T> Lfull(static_cast<std::size_t>(k * (k + 1) / 2), garbage<T>());
  int Lfull_ok = 0;
  if (!warm) Lfull_ok = detail::chol_full(G.data(), k, Lfull.data(), peps) ? 1 : 0;

  detail::cuda::NnlsBatchArgs<T> a;
  a.k = k;
  a.m = m;
  a.Ct = Ct.data();
  a.St = St.data();
  a.support = out.support.data();
  a.warm = warm;
  a.status = out.status.data();
  a.work_real = work_real.data();
  a.work_int = work_int.data();
  a.Lfull = warm ? nullptr : Lfull.data();
  a.Lfull_ok = warm ? nullptr : &Lfull_ok;
  a.prm = detail::ColumnParams<T>{detail::default_tol<T>(), peps, static_cast<int>(3 * k + 30)};
  for (index_t t = 0; t < nthreads; ++t) {
    const auto tot = detail::cuda::nnls_thread(a, G.data(), t, nthreads);
    out.iterations += static_cast<index_t>(tot.iterations);
    out.flagged += static_cast<index_t>(tot.flagged);
  }
  out.S = Matrix<T>(k, m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) out.S(i, j) = St[static_cast<std::size_t>(j + i * m)];
  return out;
}

/// The host backend's nnls_batch (unit stride, OpenMP) on the same G and C.
template <class T>
BatchOut<T> host_nnls(const Matrix<T>& G, const Matrix<T>& C, const std::uint64_t* warm) {
  const index_t k = G.rows(), m = C.cols(), wpc = (k + 63) / 64;
  BatchOut<T> out;
  out.S = Matrix<T>(k, m);
  out.support.assign(static_cast<std::size_t>(wpc * m), 0);
  out.status.assign(static_cast<std::size_t>(m), 0);
  detail::NnlsBatchParams<T> prm{detail::default_tol<T>(), detail::pivot_eps<T>(k),
                                 static_cast<int>(3 * k + 30)};
  const auto st = ops::nnls_batch<T>(host_ref(), G.view(), C.view(), prm, out.S.view(),
                                     out.support.data(), warm, out.status.data());
  out.iterations = st.iterations;
  out.flagged = st.limited_columns;
  return out;
}

template <class T>
void expect_bitwise_equal(const BatchOut<T>& a, const BatchOut<T>& b, const std::string& what) {
  EXPECT_EQ(std::memcmp(a.S.data(), b.S.data(), sizeof(T) * a.S.size()), 0) << what << ": S";
  EXPECT_EQ(a.support, b.support) << what << ": support";
  EXPECT_EQ(a.status, b.status) << what << ": status";
  EXPECT_EQ(a.iterations, b.iterations) << what << ": iterations";
  EXPECT_EQ(a.flagged, b.flagged) << what << ": flagged";
}

template <class T>
void emulated_nnls_case(Kind kind, index_t k, bool warm_start) {
  const index_t m = 45;
  const auto p = make_problem<T>(kind, k, m, 1000 + static_cast<std::uint64_t>(k));
  Matrix<T> G, C;
  normal_equations(p.A, p.X, G, C);
  const std::string what = std::string(name(kind)) + ", k = " + std::to_string(k) +
                           (warm_start ? ", warm" : ", cold") +
                           (sizeof(T) == 4 ? ", float" : ", double");
  const BatchOut<T> ref = host_nnls(G, C, nullptr);
  const std::uint64_t* warm = warm_start ? ref.support.data() : nullptr;
  // One simulated thread (stride 1) against several, fewer and more than the columns.
  const BatchOut<T> one = emulate_nnls(G, C, warm, 1);
  if (kind == Kind::dense) {
    // Uniform random data: a mix of active and passive constraints, not a trivial answer.
    index_t bits = 0;
    for (std::uint64_t w : one.support) bits += __builtin_popcountll(w);
    EXPECT_GT(bits, 0) << what;
    if (k > 1) {
      EXPECT_LT(bits, k * m) << what;
    }
  }
  for (index_t nt : {2, 3, 32, 64})
    expect_bitwise_equal(one, emulate_nnls(G, C, warm, nt),
                         what + ", " + std::to_string(nt) + " threads vs 1");
  // Against the host backend: the same code and the same summation order, so the same bits.
  const BatchOut<T> host = warm_start ? host_nnls(G, C, warm) : ref;
  expect_bitwise_equal(host, one, what + ", vs host backend");
  if (warm_start) {
    EXPECT_EQ(one.iterations, 0) << what << ": the exact support needs no step";
  }
}

TEST(DeviceLayout, NnlsThreadsMatchOneThreadBitForBitAndTheHostBackend) {
  for (Kind kind : {Kind::dense, Kind::sparse, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t k : {1, 5, 20, 70}) {
      for (bool warm : {false, true}) {
        emulated_nnls_case<double>(kind, k, warm);
        emulated_nnls_case<float>(kind, k, warm);
      }
    }
  }
}

/// masked_solve as the CUDA kernel computes it (Dt, Zt transposed; interleaved workspace).
template <class T>
BatchOut<T> emulate_masked(const Matrix<T>& G, const std::vector<std::uint64_t>& support,
                           const Matrix<T>& D, T ridge, index_t nthreads) {
  const index_t k = G.rows(), m = D.cols();
  std::vector<T> Dt(static_cast<std::size_t>(m * k)), Zt(Dt.size(), garbage<T>());
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) Dt[static_cast<std::size_t>(j + i * m)] = D(i, j);
  std::vector<T> work_real(static_cast<std::size_t>(detail::cuda::work_reals(k) * nthreads),
                           garbage<T>());
  std::vector<int> work_int(static_cast<std::size_t>(detail::cuda::work_ints(k) * nthreads),
                            -12345);
  BatchOut<T> out;
  out.status.assign(static_cast<std::size_t>(m), 0x7f);
  detail::cuda::MaskedSolveArgs<T> a;
  a.k = k;
  a.m = m;
  a.support = support.data();
  a.Dt = Dt.data();
  a.Zt = Zt.data();
  a.status = out.status.data();
  a.work_real = work_real.data();
  a.work_int = work_int.data();
  a.pivot_eps = detail::pivot_eps<T>(k);
  a.ridge = ridge;
  for (index_t t = 0; t < nthreads; ++t)
    out.flagged +=
        static_cast<index_t>(detail::cuda::masked_solve_thread(a, G.data(), t, nthreads).flagged);
  out.S = Matrix<T>(k, m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < k; ++i) out.S(i, j) = Zt[static_cast<std::size_t>(j + i * m)];
  return out;
}

template <class T>
void emulated_masked_case(Kind kind, index_t k) {
  const index_t m = 40;
  const auto p = make_problem<T>(kind, k, m, 2000 + static_cast<std::uint64_t>(k));
  Matrix<T> G, C;
  normal_equations(p.A, p.X, G, C);
  const std::string what = std::string(name(kind)) + ", k = " + std::to_string(k) +
                           (sizeof(T) == 4 ? ", float" : ", double");
  // Supports from the forward solve, plus a few hand-made (possibly singular) ones.
  BatchOut<T> fwd = host_nnls(G, C, nullptr);
  const index_t wpc = (k + 63) / 64;
  for (index_t j = 0; j < m; j += 5)
    for (index_t i = 0; i < k; i += 2)
      fwd.support[static_cast<std::size_t>(j * wpc + i / 64)] |= std::uint64_t{1} << (i % 64);
  const auto D = random_matrix<T>(k, m, 3000 + static_cast<std::uint64_t>(k), -1.0, 1.0);
  const T ridge = detail::default_ridge<T>();
  const BatchOut<T> one = emulate_masked(G, fwd.support, D, ridge, 1);
  for (index_t nt : {2, 3, 32, 64})
    expect_bitwise_equal(one, emulate_masked(G, fwd.support, D, ridge, nt),
                         what + ", " + std::to_string(nt) + " threads vs 1");
  BatchOut<T> host;
  host.S = Matrix<T>(k, m);
  host.status.assign(static_cast<std::size_t>(m), 0);
  host.flagged =
      ops::masked_solve<T>(host_ref(), G.view(), fwd.support.data(), D.view(),
                           detail::pivot_eps<T>(k), ridge, host.S.view(), host.status.data());
  host.support = one.support;  // (not produced by a masked solve)
  EXPECT_EQ(host.flagged, one.flagged) << what;
  // The same code and summation order as the host backend: the same bits.
  expect_bitwise_equal(host, one, what + ", vs host backend");
}

TEST(DeviceLayout, MaskedSolveThreadsMatchOneThreadBitForBitAndTheHostBackend) {
  for (Kind kind : {Kind::dense, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t k : {1, 5, 20, 70}) {
      emulated_masked_case<double>(kind, k);
      emulated_masked_case<float>(kind, k);
    }
  }
}

TEST(DeviceLayout, WorkspaceCarvingIsInterleavedAndDisjoint) {
  // Thread t's element e of the real workspace lives at base[t + e * nthreads]; no two
  // (thread, element) pairs share an address and all lie inside the allocation.
  for (index_t k : {1, 7, 70}) {
    const index_t nt = 5;
    std::vector<double> real(static_cast<std::size_t>(detail::cuda::work_reals(k) * nt));
    std::vector<int> ints(static_cast<std::size_t>(detail::cuda::work_ints(k) * nt));
    std::vector<int> real_hits(real.size(), 0), int_hits(ints.size(), 0);
    for (index_t t = 0; t < nt; ++t) {
      const auto ws = detail::cuda::thread_workspace(real.data(), ints.data(), k, t, nt);
      EXPECT_EQ(&ws.z[0], real.data() + t);
      EXPECT_EQ(&ws.z[1 % k], real.data() + t + (1 % k) * nt);
      auto hit_real = [&](const double* p) {
        const auto off = p - real.data();
        ASSERT_GE(off, 0);
        ASSERT_LT(off, static_cast<std::ptrdiff_t>(real.size()));
        ++real_hits[static_cast<std::size_t>(off)];
      };
      auto hit_int = [&](const int* p) {
        const auto off = p - ints.data();
        ASSERT_GE(off, 0);
        ASSERT_LT(off, static_cast<std::ptrdiff_t>(ints.size()));
        ++int_hits[static_cast<std::size_t>(off)];
      };
      for (index_t e = 0; e < k; ++e) {
        hit_real(&ws.z[e]);
        hit_real(&ws.w[e]);
        hit_real(&ws.y[e]);
        hit_int(&ws.P[e]);
        hit_int(&ws.state[e]);
        hit_int(&ws.cand[e]);
      }
      for (index_t e = 0; e < k * (k + 1) / 2; ++e) hit_real(&ws.L[e]);
    }
    EXPECT_TRUE(std::all_of(real_hits.begin(), real_hits.end(), [](int h) { return h == 1; }))
        << "k = " << k;
    EXPECT_TRUE(std::all_of(int_hits.begin(), int_hits.end(), [](int h) { return h == 1; }))
        << "k = " << k;
  }
}

// ---- a CUDA build without a device --------------------------------------------------------------

TEST(CudaBuild, ReportsWhetherCompiledAndRefusesMissingDevices) {
  if (!Context::cuda_compiled()) {
    EXPECT_EQ(NNMF_WITH_CUDA, 0);
    EXPECT_EQ(Context::cuda_device_count(), 0);
    EXPECT_THROW_MSG(Context::cuda(0), NotCompiled, "without CUDA");
    return;
  }
  EXPECT_EQ(NNMF_WITH_CUDA, 1);
  const int n = Context::cuda_device_count();
  ASSERT_GE(n, 0);
  // One past the last device (device 0 on a machine without a GPU): a clear InvalidArgument
  // naming the ordinal and the device count.
  EXPECT_THROW_MSG(Context::cuda(n), InvalidArgument, "no CUDA device " + std::to_string(n),
                   "device count: " + std::to_string(n));
  EXPECT_THROW_MSG(Context::cuda(-1), InvalidArgument, "no CUDA device -1", "device count");
  if (n == 0) {
    // Both ways of saying it are typed as nnmf errors.
    EXPECT_THROW(Context::cuda(0), Error);
  }
}

TEST(CudaBuild, StatusCodesBecomeTypedErrorsWithCallAndPlace) {
#if NNMF_WITH_CUDA
  namespace t = detail::cuda::testing;
  // Success is silent.
  t::check_runtime_status(0, "cudaSuccessfulCall()");
  t::check_cublas_status(0, "cublasSuccessfulCall()");
  t::check_cusparse_status(0, "cusparseSuccessfulCall()");
  // Values from driver_types.h, cublas_api.h and cusparse.h (this target sees no CUDA header).
  const int cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2;
  const int CUBLAS_STATUS_ALLOC_FAILED = 3, CUBLAS_STATUS_INVALID_VALUE = 7;
  const int CUSPARSE_STATUS_NOT_SUPPORTED = 10;
  EXPECT_THROW_MSG(t::check_runtime_status(cudaErrorInvalidValue, "cudaFoo(p, n)"), BackendError,
                   "CUDA error at src/cuda/context.cu:", "cudaFoo(p, n)", "cudaErrorInvalidValue");
  EXPECT_THROW_MSG(t::check_runtime_status(cudaErrorMemoryAllocation, "cudaBar()"), OutOfMemory,
                   "cudaBar()", "cudaErrorMemoryAllocation", "out of device memory");
  EXPECT_THROW_MSG(t::check_cublas_status(CUBLAS_STATUS_INVALID_VALUE, "cublasDgemm(h, ...)"),
                   BackendError, "cuBLAS error at src/cuda/", "cublasDgemm(h, ...)",
                   "CUBLAS_STATUS_INVALID_VALUE");
  EXPECT_THROW_MSG(t::check_cublas_status(CUBLAS_STATUS_ALLOC_FAILED, "cublasCreate(&h)"),
                   OutOfMemory, "CUBLAS_STATUS_ALLOC_FAILED");
  EXPECT_THROW_MSG(t::check_cusparse_status(CUSPARSE_STATUS_NOT_SUPPORTED, "cusparseSpMM(...)"),
                   BackendError, "cuSPARSE error at src/cuda/", "CUSPARSE_STATUS_NOT_SUPPORTED");
  if (Context::cuda_device_count() == 0) {
    EXPECT_NE(t::memory_report(0).find("free memory unknown"), std::string::npos)
        << t::memory_report(0);
  } else {
    EXPECT_NE(t::memory_report(0).find("GiB free of"), std::string::npos) << t::memory_report(0);
  }
#else
  GTEST_SKIP() << "nnmf was built without CUDA: no CUDA error paths to check";
#endif
}

// ---- CUDA against the host (need a device) ------------------------------------------------------

/// One CUDA context for all tests (creating the library handles costs milliseconds).
const Context& gpu() {
  static const Context c = Context::cuda(0);
  return c;
}

/// Same supports and statuses; S equal up to tol (relative), except at entries where the
/// two backends disagree on a support bit whose value is below flip (a rounding-level tie).
template <class T>
void expect_same_result(const NnlsResult<T>& ref, const NnlsResult<T>& got, double tol, double flip,
                        const std::string& what) {
  ASSERT_EQ(ref.S.rows(), got.S.rows()) << what;
  ASSERT_EQ(ref.S.cols(), got.S.cols()) << what;
  int bad = 0;
  for (index_t j = 0; j < ref.S.cols() && bad < 5; ++j) {
    EXPECT_EQ(ref.status[static_cast<std::size_t>(j)], got.status[static_cast<std::size_t>(j)])
        << what << ", column " << j;
    for (index_t i = 0; i < ref.S.rows(); ++i) {
      const double r = ref.S(i, j), g = got.S(i, j);
      const bool same_bit = ref.support.test(i, j) == got.support.test(i, j);
      const bool ok = same_bit ? std::abs(r - g) <= tol * (1 + std::abs(r))
                               : std::abs(r) <= flip && std::abs(g) <= flip;
      if (!ok) {
        ++bad;
        ADD_FAILURE() << what << ": S(" << i << ", " << j << ") = " << g << " on CUDA, " << r
                      << " on the host (support bits " << got.support.test(i, j) << " / "
                      << ref.support.test(i, j) << ")";
      }
    }
  }
}

/// Same ||X - A S||^2, column by column, up to tol (relative to ||x_j||^2).
template <class T>
void expect_same_objective(const Matrix<T>& A, const Matrix<T>& X, const NnlsResult<T>& ref,
                           const NnlsResult<T>& got, double tol, const std::string& what) {
  const index_t n = A.rows(), k = A.cols();
  int bad = 0;
  for (index_t j = 0; j < X.cols() && bad < 5; ++j) {
    double qr = 0, qg = 0, xx = 0;
    for (index_t i = 0; i < n; ++i) {
      double rr = X(i, j), rg = X(i, j);
      for (index_t q = 0; q < k; ++q) {
        rr -= double(A(i, q)) * ref.S(q, j);
        rg -= double(A(i, q)) * got.S(q, j);
      }
      qr += rr * rr;
      qg += rg * rg;
      xx += double(X(i, j)) * X(i, j);
    }
    if (!(std::abs(qg - qr) <= tol * std::max(xx, 1e-300))) {
      ++bad;
      ADD_FAILURE() << what << ", column " << j << ": ||x - A s||^2 = " << qg << " on CUDA, " << qr
                    << " on the host";
    }
  }
}

/// One test body for both backends: the forward solve of a problem.
template <class T>
NnlsResult<T> forward_body(const Context& ctx, const Problem<T>& p, Kind kind,
                           const NnlsOptions& o = {}) {
  if (kind == Kind::sparse) return nnls<T>(ctx, p.A.view(), p.Xs, o);
  return nnls<T>(ctx, p.A.view(), p.X.view(), o);
}

template <class T>
void forward_vs_host(Kind kind, index_t k) {
  const index_t m = 300;
  const auto p = make_problem<T>(kind, k, m, 500 + static_cast<std::uint64_t>(k));
  const std::string what = std::string(name(kind)) + ", k = " + std::to_string(k) +
                           (sizeof(T) == 4 ? ", float" : ", double");
  const auto ref = forward_body<T>(host_ref(), p, kind);
  const auto got = forward_body<T>(gpu(), p, kind);
  const bool f = sizeof(T) == 4;
  if (kind == Kind::rank_deficient) {
    // A has duplicate columns: the optimum is unique, S is not (which twin enters is decided
    // by the last bits of G and C). Compare what is unique: the objective; and the KKT below.
    expect_same_objective(p.A, p.X, ref, got, f ? 1e-4 : 1e-10, what);
  } else {
    expect_same_result(ref, got, f ? 2e-3 : 1e-8, f ? 1e-3 : 1e-8, what);
  }
  expect_kkt(p.A, p.X, got, f ? 2e-4 : 1e-8);
  // Both converge everywhere here (the cap is 3k + 30 steps); the counts of steps may differ.
  EXPECT_EQ(got.iteration_limit_columns, 0) << what;
  EXPECT_EQ(ref.iteration_limit_columns, 0) << what;
  if (kind == Kind::zero_columns) {
    EXPECT_EQ(got.support.count(0), 0) << what;
    for (index_t i = 0; i < k; ++i) EXPECT_EQ(got.S(i, 0), T(0)) << what;
  }
}

TEST(CudaVsHost, NnlsForwardOnDenseSparseRankDeficientAndZeroColumnInputs) {
  NNMF_REQUIRE_CUDA();
  for (Kind kind : {Kind::dense, Kind::sparse, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t k : {1, 5, 20, 70}) {
      forward_vs_host<double>(kind, k);
      forward_vs_host<float>(kind, k);
    }
  }
}

TEST(CudaVsHost, WarmStartsAndIterationLimits) {
  NNMF_REQUIRE_CUDA();
  const auto p = make_problem<double>(Kind::dense, 20, 200, 77);
  const auto cold = nnls<double>(gpu(), p.A.view(), p.X.view());
  NnlsOptions o;
  o.warm_start = &cold.support;
  const auto warm = nnls<double>(gpu(), p.A.view(), p.X.view(), o);
  EXPECT_EQ(warm.support, cold.support);
  EXPECT_EQ(warm.iterations, 0);
  const auto host_warm = nnls<double>(host_ref(), p.A.view(), p.X.view(), o);
  expect_same_result(host_warm, warm, 1e-8, 1e-8, "warm start");

  NnlsOptions lim;
  lim.max_iter = 2;
  const auto a = nnls<double>(host_ref(), p.A.view(), p.X.view(), lim);
  const auto b = nnls<double>(gpu(), p.A.view(), p.X.view(), lim);
  EXPECT_GT(b.iteration_limit_columns, 0);
  // Where the cap stops a column depends on the path of rounding (one support flip adds or
  // saves a step): the counts agree closely, not exactly; every column stays feasible.
  EXPECT_NEAR(static_cast<double>(a.iteration_limit_columns),
              static_cast<double>(b.iteration_limit_columns), 10.0);
  for (double v : b.S.storage()) EXPECT_GE(v, 0.0);
  lim.throw_on_iteration_limit = true;
  EXPECT_THROW_MSG(nnls<double>(gpu(), p.A.view(), p.X.view(), lim), Error, "iteration limit");
}

TEST(CudaVsHost, NormalEquationsEntryPoint) {
  NNMF_REQUIRE_CUDA();
  const auto p = make_problem<double>(Kind::dense, 9, 50, 78);
  Matrix<double> G, C;
  normal_equations(p.A, p.X, G, C);
  const auto a = nnls_normal<double>(host_ref(), G.view(), C.view());
  const auto b = nnls_normal<double>(gpu(), G.view(), C.view());
  expect_same_result(a, b, 1e-10, 1e-10, "nnls_normal");
}

/// One test body: the backward pass on the support of the host's forward solve.
template <class T>
NnlsGradients<T> backward_body(const Context& ctx, const Problem<T>& p, Kind kind,
                               const NnlsResult<T>& fwd, const Matrix<T>& W) {
  BackwardOptions both;
  both.compute_dX = true;
  if (kind == Kind::sparse)
    return nnls_backward<T>(ctx, p.A.view(), p.Xs, fwd.S.view(), fwd.support, W.view(), both);
  return nnls_backward<T>(ctx, p.A.view(), p.X.view(), fwd.S.view(), fwd.support, W.view(), both);
}

template <class T>
void expect_close_matrices(const Matrix<T>& ref, const Matrix<T>& got, double tol,
                           const std::string& what) {
  ASSERT_EQ(ref.rows(), got.rows()) << what;
  ASSERT_EQ(ref.cols(), got.cols()) << what;
  double scale = 0;
  for (T v : ref.storage()) scale = std::max(scale, std::abs(double(v)));
  int bad = 0;
  for (index_t q = 0; q < ref.size() && bad < 5; ++q) {
    if (!(std::abs(double(ref.data()[q]) - got.data()[q]) <= tol * (1 + scale))) {
      ++bad;
      ADD_FAILURE() << what << ": entry " << q << " is " << got.data()[q] << " on CUDA, "
                    << ref.data()[q] << " on the host";
    }
  }
}

template <class T>
void backward_vs_host(Kind kind, index_t k) {
  const index_t m = 120;
  const auto p = make_problem<T>(kind, k, m, 900 + static_cast<std::uint64_t>(k));
  const auto W = random_matrix<T>(k, m, 901, -1.0, 1.0);
  const std::string what = std::string(name(kind)) + ", k = " + std::to_string(k) +
                           (sizeof(T) == 4 ? ", float" : ", double");
  const auto fwd = forward_body<T>(host_ref(), p, kind);
  const auto ref = backward_body<T>(host_ref(), p, kind, fwd, W);
  const auto got = backward_body<T>(gpu(), p, kind, fwd, W);
  const double tol = sizeof(T) == 4 ? 1e-3 : 1e-9;
  expect_close_matrices(ref.dA, got.dA, tol, what + ": dA");
  expect_close_matrices(ref.dX, got.dX, tol, what + ": dX");
  EXPECT_EQ(ref.status, got.status) << what;
  EXPECT_EQ(ref.regularized_columns, got.regularized_columns) << what;
}

TEST(CudaVsHost, BackwardGradients) {
  NNMF_REQUIRE_CUDA();
  for (Kind kind : {Kind::dense, Kind::sparse, Kind::rank_deficient, Kind::zero_columns}) {
    for (index_t k : {1, 5, 20, 70}) {
      backward_vs_host<double>(kind, k);
      backward_vs_host<float>(kind, k);
    }
  }
}

TEST(CudaVsHost, SingularBlocksAreRegularizedTheSameWay) {
  NNMF_REQUIRE_CUDA();
  const index_t n = 12, k = 3, m = 2;
  auto A = random_matrix<double>(n, k, 42);
  for (index_t i = 0; i < n; ++i) A(i, 1) = A(i, 0);
  Matrix<double> G, C;
  normal_equations(A, random_matrix<double>(n, m, 43), G, C);
  SupportMask sup(k, m);
  sup.set(0, 0);
  sup.set(1, 0);  // singular block {0, 1}
  sup.set(0, 1);
  sup.set(2, 1);
  auto D = random_matrix<double>(k, m, 44, -1.0, 1.0);
  std::vector<ColumnStatus> sa, sb;
  auto Za = solve_on_support<double>(host_ref(), G.view(), sup, D.view(), 1e-6, &sa);
  auto Zb = solve_on_support<double>(gpu(), G.view(), sup, D.view(), 1e-6, &sb);
  EXPECT_EQ(sa, sb);
  EXPECT_EQ(sb[0], ColumnStatus::regularized);
  expect_close_matrices(Za, Zb, 1e-6, "solve_on_support");
}

TEST(CudaVsHost, RepeatedRunsAreBitwiseIdentical) {
  NNMF_REQUIRE_CUDA();
  for (Kind kind : {Kind::dense, Kind::sparse}) {
    const auto p = make_problem<float>(kind, 20, 2000, 55);
    const auto a = forward_body<float>(gpu(), p, kind);
    const auto b = forward_body<float>(gpu(), p, kind);
    EXPECT_EQ(a.S.storage(), b.S.storage()) << name(kind);
    EXPECT_EQ(a.support, b.support) << name(kind);
    EXPECT_EQ(a.iterations, b.iterations) << name(kind);
    const auto W = random_matrix<float>(20, 2000, 56, -1.0, 1.0);
    const auto ga = backward_body<float>(gpu(), p, kind, a, W);
    const auto gb = backward_body<float>(gpu(), p, kind, a, W);
    EXPECT_EQ(ga.dA.storage(), gb.dA.storage()) << name(kind);
  }
#if NNMF_WITH_CUDA
  // The sparse products ran cuSPARSE's deterministic algorithm, not a fallback.
  EXPECT_EQ(detail::cuda::testing::spmm_algorithms(), "CSR_ALG3");
#endif
}

// ---- a short training run ------------------------------------------------------------------

/// One body: 12 epochs of Neural NMF (projected gradient descent, so that every epoch takes
/// one step of the same size on both backends) from given factors; the loss of every epoch.
/// (A random sparse matrix has little structure: its loss falls by a few percent.)
/// Dense: the synthetic hierarchy, ranks 9, 4, reconstruction + L2 supervision on half of the
/// columns. Sparse: a random 300 x 120 matrix, ranks 8, 3, reconstruction + energy.
template <class T>
std::vector<double> training_body(const Context& ctx, bool sparse) {
  FitOptions o;
  o.optimizer = Optimizer::gd;
  o.scaling = Scaling::mean;
  o.epochs = 12;
  o.patience = 0;
  o.init = Init::given;
  o.learning_rate = sparse ? 1e5 : 100;  // mean-scaled losses: the step sizes that train
  const index_t n = sparse ? 300 : 87, m = sparse ? 120 : 90;
  o.ranks = sparse ? std::vector<index_t>{8, 3} : std::vector<index_t>{9, 4};
  o.initial_factors = {random_matrix<double>(n, o.ranks[0], 71, 0.1, 1.0),
                       random_matrix<double>(o.ranks[0], o.ranks[1], 72, 0.1, 1.0)};
  std::vector<double> losses;
  o.on_epoch = [&](const EpochRecord& r) { losses.push_back(r.loss); };
  if (sparse) {
    o.energy_weight = 1.0;
    NeuralNmf<T>::fit(ctx, random_sparse<T>(n, m, 0.05, 73), o);
  } else {
    Supervision sup;
    for (index_t j = 0; j < m; ++j) {
      sup.labels.push_back(static_cast<int>(j / 23));
      sup.known.push_back(static_cast<std::uint8_t>(j % 2));
    }
    o.supervision = sup;
    const auto X = io::read_dense<T>(data_dir() + "/synthetic-hierarchy/X.mtx");
    NeuralNmf<T>::fit(ctx, X.view(), o);
  }
  return losses;
}

template <class T>
void training_vs_host(bool sparse) {
  const auto ref = training_body<T>(host_ref(), sparse);
  const auto got = training_body<T>(gpu(), sparse);
  const std::string what = std::string(sparse ? "sparse" : "dense") + (sizeof(T) == 4 ? ", float" : ", double");
  ASSERT_EQ(ref.size(), 12u) << what;
  ASSERT_EQ(got.size(), ref.size()) << what;
  EXPECT_LT(ref.back(), ref.front()) << what << ": the reference run does not train";
  // Not 1e-9 in double: a support bit flipped at a rounding-level tie changes the later epochs'
  // losses slightly without any bug.
  const double tol = sizeof(T) == 4 ? 1e-3 : 1e-6;
  for (std::size_t e = 0; e < ref.size(); ++e)
    EXPECT_NEAR(got[e], ref[e], tol * std::abs(ref[e])) << what << ", epoch " << e + 1;
}

// The body itself, on the host: it trains, and float follows double within the tolerance the
// CUDA comparison uses for float (so that tolerance is not looser than the arithmetic needs).
TEST(CudaTestBodies, TrainingBodyTrainsOnTheHostInBothPrecisions) {
  for (bool sparse : {false, true}) {
    const auto d = training_body<double>(host_ref(), sparse);
    const auto f = training_body<float>(host_ref(), sparse);
    ASSERT_EQ(d.size(), 12u);
    ASSERT_EQ(f.size(), 12u);
    for (std::size_t e = 1; e < d.size(); ++e)
      EXPECT_LT(d[e], d[e - 1]) << (sparse ? "sparse" : "dense") << ", epoch " << e + 1;
    EXPECT_LT(d.back(), (sparse ? 0.97 : 0.5) * d.front()) << (sparse ? "sparse" : "dense");
    for (std::size_t e = 0; e < d.size(); ++e)
      EXPECT_NEAR(f[e], d[e], 1e-3 * d[e]) << (sparse ? "sparse" : "dense") << ", epoch " << e + 1;
  }
}

TEST(CudaVsHost, ShortTrainingRunGivesTheSameLossCurve) {
  NNMF_REQUIRE_CUDA();
  for (bool sparse : {false, true}) {
    training_vs_host<double>(sparse);
    training_vs_host<float>(sparse);
  }
}

// ---- products through ops:: ---------------------------------------------------------------

template <class T>
Matrix<T> down(const DMatrix<T>& d) {
  return d.download();
}

/// One body: every product of the kernel interface on one backend.
template <class T>
std::vector<Matrix<T>> products_body(const Context& ctx) {
  const index_t n = 70, k = 6, m = 33;
  const auto A = random_matrix<T>(n, k, 61);
  const auto B = random_matrix<T>(n, m, 62);
  const auto Z = random_matrix<T>(k, m, 63, -1.0, 1.0);
  const auto Xs = random_sparse<T>(n, m, 0.1, 64);
  auto dA = DMatrix<T>::upload(ctx, A.view());
  auto dB = DMatrix<T>::upload(ctx, B.view());
  auto dZ = DMatrix<T>::upload(ctx, Z.view());
  std::vector<Matrix<T>> out;
  // gemm in all four transposition cases, beta != 0.
  auto C1 = DMatrix<T>::upload(ctx, random_matrix<T>(k, m, 65).view());  // A^T B
  ops::gemm<T>(ctx, detail::Trans::T, detail::Trans::N, T(1.5), dA.view(), dB.view(), T(-0.5),
               C1.view());
  out.push_back(down(C1));
  auto C2 = DMatrix<T>::upload(ctx, random_matrix<T>(n, k, 66).view());  // B Z^T
  ops::gemm<T>(ctx, detail::Trans::N, detail::Trans::T, T(1), dB.view(), dZ.view(), T(2),
               C2.view());
  out.push_back(down(C2));
  auto C3 = DMatrix<T>::zeros(ctx, n, m);  // A Z
  ops::gemm<T>(ctx, detail::Trans::N, detail::Trans::N, T(1), dA.view(), dZ.view(), T(0),
               C3.view());
  out.push_back(down(C3));
  auto C4 = DMatrix<T>::zeros(ctx, k, n);  // Z B^T
  ops::gemm<T>(ctx, detail::Trans::N, detail::Trans::T, T(1), dZ.view(), dB.view(), T(0),
               C4.view());
  out.push_back(down(C4));
  auto C5 = DMatrix<T>::upload(ctx, random_matrix<T>(m, k, 67).view());  // B^T A^T^T... B^T A
  ops::gemm<T>(ctx, detail::Trans::T, detail::Trans::N, T(1), dB.view(), dA.view(), T(0.25),
               C5.view());
  out.push_back(down(C5));
  // Gram, both triangles.
  auto G = DMatrix<T>(ctx, k, k);
  ops::gram<T>(ctx, dA.view(), G.view());
  out.push_back(down(G));
  // Sparse products, with beta = 0 over NaN-filled outputs and with beta != 0.
  detail::DSparse<T> sp(ctx, Xs.view(), true);
  Matrix<T> nan_km(k, m, std::numeric_limits<T>::quiet_NaN());
  auto S1 = DMatrix<T>::upload(ctx, nan_km.view());
  ops::at_x<T>(ctx, T(1), dA.view(), detail::DataOperand<T>{true, {}, &sp}, T(0), S1.view());
  out.push_back(down(S1));
  auto S2 = DMatrix<T>::upload(ctx, random_matrix<T>(k, m, 68).view());
  ops::at_x<T>(ctx, T(-2), dA.view(), detail::DataOperand<T>{true, {}, &sp}, T(0.5), S2.view());
  out.push_back(down(S2));
  Matrix<T> nan_nk(n, k, std::numeric_limits<T>::quiet_NaN());
  auto R1 = DMatrix<T>::upload(ctx, nan_nk.view());
  ops::x_zt<T>(ctx, T(1), detail::DataOperand<T>{true, {}, &sp}, dZ.view(), T(0), R1.view());
  out.push_back(down(R1));
  auto R2 = DMatrix<T>::upload(ctx, random_matrix<T>(n, k, 69).view());
  ops::x_zt<T>(ctx, T(3), detail::DataOperand<T>{true, {}, &sp}, dZ.view(), T(-1), R2.view());
  out.push_back(down(R2));
  // Transpose of B (n x m) into an m x n matrix.
  DMatrix<T> Bt(ctx, m, n);
  ops::transpose<T>(ctx, dB.view(), Bt.view());
  out.push_back(down(Bt));
  return out;
}

template <class T>
void products_vs_host() {
  const auto ref = products_body<T>(host_ref());
  const auto got = products_body<T>(gpu());
  ASSERT_EQ(ref.size(), got.size());
  for (std::size_t q = 0; q < ref.size(); ++q)
    expect_close_matrices(ref[q], got[q], sizeof(T) == 4 ? 1e-5 : 1e-13,
                          "product " + std::to_string(q));
  // G is exactly symmetric on both; a transpose is exact.
  const Matrix<T>& G = got[5];
  for (index_t i = 0; i < G.rows(); ++i)
    for (index_t j = 0; j < G.cols(); ++j) EXPECT_EQ(G(i, j), G(j, i));
  EXPECT_EQ(ref.back().storage(), got.back().storage());
}

TEST(CudaVsHost, DenseAndSparseProducts) {
  NNMF_REQUIRE_CUDA();
  products_vs_host<double>();
  products_vs_host<float>();
}

TEST(CudaVsHost, RowFormOfSparseDataIsIdentical) {
  NNMF_REQUIRE_CUDA();
  // Includes empty rows and columns.
  auto Xs = random_sparse<double>(200, 150, 0.02, 71);
  detail::DSparse<double> h(host_ref(), Xs.view(), true);
  detail::DSparse<double> d(gpu(), Xs.view(), true);
  const index_t n = Xs.rows(), nnz = Xs.nnz();
  std::vector<index_t> rowptr(static_cast<std::size_t>(n + 1)),
      colind(static_cast<std::size_t>(nnz));
  std::vector<double> valt(static_cast<std::size_t>(nnz));
  const auto& rv = d.rows_view();
  detail::copy_bytes(gpu(), rowptr.data(), rv.colptr, sizeof(index_t) * (n + 1),
                     detail::CopyKind::backend_to_host);
  detail::copy_bytes(gpu(), colind.data(), rv.rowind, sizeof(index_t) * nnz,
                     detail::CopyKind::backend_to_host);
  detail::copy_bytes(gpu(), valt.data(), rv.values, sizeof(double) * nnz,
                     detail::CopyKind::backend_to_host);
  const auto& hv = h.rows_view();
  EXPECT_TRUE(std::equal(rowptr.begin(), rowptr.end(), hv.colptr));
  EXPECT_TRUE(std::equal(colind.begin(), colind.end(), hv.rowind));
  EXPECT_TRUE(std::equal(valt.begin(), valt.end(), hv.values));
}

// ---- elementwise kernels and reductions through ops:: -------------------------------------------

template <class T>
struct ElementwiseOut {
  std::vector<std::vector<T>> arrays;
  std::vector<double> sums;
  std::vector<int> argmax;
};

template <class T>
std::vector<T> down(const Buffer<T>& b) {
  std::vector<T> h(b.size());
  b.download(h.data(), h.size());
  return h;
}

template <class T>
Buffer<T> up(const Context& ctx, const std::vector<T>& h) {
  Buffer<T> b(ctx, h.size());
  b.upload(h.data(), h.size());
  return b;
}

template <class T>
std::vector<T> random_vector(index_t n, std::uint64_t seed, double lo, double hi) {
  const auto M = random_matrix<T>(n, 1, seed, lo, hi);
  return M.storage();
}

/// One body: every elementwise kernel and reduction of the interface on one backend, with
/// sizes above the host's parallel threshold.
template <class T>
ElementwiseOut<T> elementwise_body(const Context& ctx) {
  const index_t n = 100003;
  ElementwiseOut<T> out;
  const auto xh = random_vector<T>(n, 81, -1.0, 1.0), yh = random_vector<T>(n, 82, -1.0, 1.0);
  const auto ph = random_vector<T>(n, 83, 0.0, 1.0);
  auto x = up(ctx, xh), y = up(ctx, yh);
  Buffer<T> f(ctx, static_cast<std::size_t>(n));
  ops::fill<T>(ctx, n, T(0.375), f.data());
  out.arrays.push_back(down(f));
  ops::axpy<T>(ctx, n, T(-0.7), x.data(), y.data());
  out.arrays.push_back(down(y));
  ops::scal<T>(ctx, n, T(1.3), x.data());
  out.arrays.push_back(down(x));
  out.sums.push_back(ops::dot<T>(ctx, n, x.data(), y.data()));
  auto a = up(ctx, ph);
  Buffer<T> o(ctx, static_cast<std::size_t>(n));
  ops::projected_step<T>(ctx, n, a.data(), y.data(), T(0.5), o.data());
  out.arrays.push_back(down(o));
  ops::projected_step<T>(ctx, n, a.data(), y.data(), T(0.5), a.data());  // in place
  out.arrays.push_back(down(a));
  auto m1 = up(ctx, std::vector<T>(static_cast<std::size_t>(n), T(0)));
  auto m2 = up(ctx, std::vector<T>(static_cast<std::size_t>(n), T(0)));
  for (int t = 1; t <= 3; ++t)
    ops::adam_step<T>(ctx, n, a.data(), y.data(), m1.data(), m2.data(), T(1e-2), T(0.9), T(0.999),
                      T(1e-8), t);
  out.arrays.push_back(down(a));
  out.arrays.push_back(down(m1));
  out.arrays.push_back(down(m2));
  auto num = up(ctx, ph);
  auto den = up(ctx, random_vector<T>(n, 84, 0.0, 1.0));
  ops::mu_update<T>(ctx, n, a.data(), num.data(), den.data(), T(0.05));
  out.arrays.push_back(down(a));
  std::vector<T> mask_h(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) mask_h[static_cast<std::size_t>(i)] = i % 3 == 0 ? T(0) : T(1);
  auto mask = up(ctx, mask_h);
  Buffer<T> diff(ctx, static_cast<std::size_t>(n));
  ops::masked_diff<T>(ctx, n, mask.data(), num.data(), a.data(), diff.data());
  out.arrays.push_back(down(diff));
  // Matrices: c x m with c = 11 classes.
  const index_t c = 11, m = n / c;
  auto M = DMatrix<T>::upload(ctx, random_matrix<T>(c, m, 85, -3.0, 3.0).view());
  auto w = up(ctx, random_vector<T>(m, 86, 0.0, 2.0));
  ops::scale_columns<T>(ctx, M.view(), w.data());
  out.arrays.push_back(down(M).storage());
  auto Y = DMatrix<T>::upload(ctx, random_matrix<T>(c, m, 87).view());
  DMatrix<T> R(ctx, c, m);
  ops::masked_residual<T>(ctx, Y.view(), M.view(), w.data(), R.view());
  out.arrays.push_back(down(R).storage());
  std::vector<int> labels_h(static_cast<std::size_t>(m));
  std::vector<T> wl_h(static_cast<std::size_t>(m));
  for (index_t j = 0; j < m; ++j) {
    labels_h[static_cast<std::size_t>(j)] = static_cast<int>((j * 7) % c);
    wl_h[static_cast<std::size_t>(j)] = j % 5 == 0 ? T(0) : T(1) + T(j % 3);  // zeros skip
  }
  auto labels = up(ctx, labels_h);
  auto wl = up(ctx, wl_h);
  DMatrix<T> dlog(ctx, c, m);
  out.sums.push_back(ops::softmax_xent<T>(ctx, M.view(), labels.data(), wl.data(), dlog.view()));
  out.arrays.push_back(down(dlog).storage());
  // argmax with ties (first maximum wins).
  auto Mt = random_matrix<T>(c, m, 88);
  for (index_t j = 0; j < m; j += 3) Mt(2, j) = Mt(5, j) = T(2);
  auto dMt = DMatrix<T>::upload(ctx, Mt.view());
  Buffer<int> am(ctx, static_cast<std::size_t>(m));
  ops::argmax_cols<T>(ctx, dMt.view(), am.data());
  out.argmax = down(am);
  // Whole-matrix helpers.
  out.sums.push_back(ops::sqnorm<T>(ctx, M.view()));
  return out;
}

template <class T>
void elementwise_vs_host() {
  const auto ref = elementwise_body<T>(host_ref());
  const auto got = elementwise_body<T>(gpu());
  const double eps = std::numeric_limits<T>::epsilon();
  ASSERT_EQ(ref.arrays.size(), got.arrays.size());
  for (std::size_t q = 0; q < ref.arrays.size(); ++q) {
    ASSERT_EQ(ref.arrays[q].size(), got.arrays[q].size());
    int bad = 0;
    for (std::size_t i = 0; i < ref.arrays[q].size() && bad < 5; ++i) {
      const double r = ref.arrays[q][i], g = got.arrays[q][i];
      // Same expressions and rounding; exp/log (softmax) may differ by an ulp or two.
      if (!(std::abs(r - g) <= 4 * eps * std::max(1.0, std::abs(r)))) {
        ++bad;
        ADD_FAILURE() << "array " << q << ", element " << i << ": " << g << " on CUDA, " << r
                      << " on the host";
      }
    }
  }
  ASSERT_EQ(ref.sums.size(), got.sums.size());
  for (std::size_t q = 0; q < ref.sums.size(); ++q)
    EXPECT_NEAR(got.sums[q], ref.sums[q], 1e-12 * (1 + std::abs(ref.sums[q]))) << "sum " << q;
  EXPECT_EQ(ref.argmax, got.argmax);
  // Reductions are deterministic on the device.
  const auto again = elementwise_body<T>(gpu());
  EXPECT_EQ(again.sums, got.sums);
}

TEST(CudaVsHost, ElementwiseKernelsAndReductions) {
  NNMF_REQUIRE_CUDA();
  elementwise_vs_host<double>();
  elementwise_vs_host<float>();
}

// ---- the device context itself --------------------------------------------------------------

TEST(CudaContext, DescribesItselfAndReportsOutOfMemory) {
  NNMF_REQUIRE_CUDA();
  const Context c = gpu();
  EXPECT_EQ(c.backend(), Backend::cuda);
  EXPECT_EQ(c.device(), 0);
  EXPECT_EQ(c.describe().rfind("cuda:0 (", 0), 0u) << c.describe();
  c.synchronize();
  // 2^60 bytes cannot be allocated anywhere: OutOfMemory naming the size and free memory.
  EXPECT_THROW_MSG(Buffer<char>(c, std::size_t{1} << 60), OutOfMemory,
                   std::to_string(std::size_t{1} << 60) + " bytes", "free of");
  // The context stays usable afterwards.
  Buffer<double> b(c, 10);
  b.zero();
  EXPECT_EQ(down(b), std::vector<double>(10, 0.0));
}

}  // namespace
}  // namespace nnmf::test
