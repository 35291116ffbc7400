// Host NNLS benchmarks (issue 2): forward and backward against two baselines measured in the
// same run:
//   * Products: A^T X and A^T A alone (OpenBLAS dgemm + dsyrk, or the sparse product), the
//     floor that any method sharing the Gram matrix must pay;
//   * ScipyStyle: the authors' approach, one classical Lawson-Hanson NNLS per column working
//     on A itself (as scipy.optimize.nnls does; bench/baseline_lh.hpp), nothing shared;
//   * PerColumnGram: a stronger per-column baseline that forms each column's own A^T A and
//     A^T x with BLAS-3/2 and then runs our active-set solver (sharing nothing either).
// Both baselines are timed on a slice of the columns, with the same threads (one column per
// thread at a time), and reported per column.
//
// Rates: "cols/s" = columns solved per second. "GFLOP/s" = product flops per second with
//   product flops = 2 n k m (A^T X; 2 nnz k for sparse X) + n k (k + 1) (A^T A, one triangle),
// i.e. the same numerator for every variant of a case, so the ratios of GFLOP/s between
// variants are ratios of speed.
//
// Data: dense cases are seeded uniform [0, 1) data; the 20 Newsgroups case reads
// ../shared/data/20news/X_tfidf.mtx.gz and is skipped with a message when it is missing.
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <cstdlib>
#include <string>
#include <sys/stat.h>

#include "baseline_lh.hpp"
#include "core/backend_memory.hpp"
#include "core/ops.hpp"
#include "nnmf/nnmf.hpp"

using namespace nnmf;

namespace {

Matrix<double> uniform(index_t r, index_t c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix<double> M(r, c);
  for (auto& v : M.storage()) v = u(rng);
  return M;
}

struct DenseCase {
  Matrix<double> A, X;
};

const DenseCase& dense_case(index_t n, index_t m, index_t k) {
  static std::map<std::tuple<index_t, index_t, index_t>, std::unique_ptr<DenseCase>> cache;
  auto& p = cache[{n, m, k}];
  if (!p) {
    p = std::make_unique<DenseCase>();
    p->A = uniform(n, k, 1000 + k);
    p->X = uniform(n, m, 7);
  }
  return *p;
}

// $NNMF_SHARED_DATA_DIR first (a build run on another machine), else the compiled path.
std::string news_path() {
  const char* env = std::getenv("NNMF_SHARED_DATA_DIR");
  return std::string(env && *env ? env : NNMF_SHARED_DATA_DIR) + "/20news/X_tfidf.mtx.gz";
}

const CscMatrix<double>* news() {
  static std::unique_ptr<CscMatrix<double>> X;
  static bool tried = false;
  if (!tried) {
    tried = true;
    struct stat st {};
    if (stat(news_path().c_str(), &st) == 0)
      X = std::make_unique<CscMatrix<double>>(io::read_sparse<double>(news_path()));
  }
  return X.get();
}

void set_rates(benchmark::State& state, double flops, index_t cols) {
  state.counters["cols/s"] =
      benchmark::Counter(static_cast<double>(cols), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

double dense_product_flops(index_t n, index_t m, index_t k) {
  return 2.0 * n * k * m + double(n) * k * (k + 1);
}

/// A per-column NNLS that shares nothing between columns: each call forms G = A^T A and
/// c = A^T x itself, then solves with the same active-set code.
void per_column_nnls(const Context& ctx, const Matrix<double>& A, const double* x, double* s) {
  const index_t n = A.rows(), k = A.cols();
  Matrix<double> G(k, k), c(k, 1);
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, k, n, 1.0, A.data(), n, 0.0, G.data(), k);
  for (index_t j = 0; j < k; ++j)
    for (index_t i = j + 1; i < k; ++i) G(i, j) = G(j, i);
  cblas_dgemv(CblasColMajor, CblasTrans, n, k, 1.0, A.data(), n, x, 1, 0.0, c.data(), 1);
  auto r = nnls_normal<double>(ctx, G.view(), c.view());
  std::copy(r.S.data(), r.S.data() + k, s);
}

// ---- dense n = 2000, m = 20000 ----------------------------------------------------------

constexpr index_t kN = 2000, kM = 20000;

void BM_Dense_Products(benchmark::State& state) {
  const index_t k = state.range(0);
  const auto& d = dense_case(kN, kM, k);
  auto ctx = Context::host();
  Matrix<double> C(k, kM), G(k, k);
  for (auto _ : state) {
    detail::ops::gemm<double>(ctx, detail::Trans::T, detail::Trans::N, 1.0, d.A.view(), d.X.view(),
                              0.0, C.view());
    detail::ops::gram<double>(ctx, d.A.view(), G.view());
    benchmark::DoNotOptimize(C.data());
  }
  set_rates(state, dense_product_flops(kN, kM, k), kM);
}

void BM_Dense_Forward(benchmark::State& state) {
  const index_t k = state.range(0);
  const auto& d = dense_case(kN, kM, k);
  auto ctx = Context::host();
  index_t iters = 0, passive = 0;
  for (auto _ : state) {
    auto r = nnls<double>(ctx, d.A.view(), d.X.view());
    iters = r.iterations;
    passive = r.support.count();
    benchmark::DoNotOptimize(r.S.data());
  }
  set_rates(state, dense_product_flops(kN, kM, k), kM);
  state.counters["iter/col"] = double(iters) / kM;
  state.counters["|T|/col"] = double(passive) / kM;
}

void BM_Dense_ForwardWarm(benchmark::State& state) {
  // A training step: A perturbed by 1%, warm-started from the previous supports.
  const index_t k = state.range(0);
  const auto& d = dense_case(kN, kM, k);
  auto ctx = Context::host();
  auto prev = nnls<double>(ctx, d.A.view(), d.X.view());
  Matrix<double> A2 = d.A;
  auto P = uniform(kN, k, 99);
  for (index_t q = 0; q < A2.size(); ++q) A2.data()[q] *= 1.0 + 0.01 * (P.data()[q] - 0.5);
  NnlsOptions o;
  o.warm_start = &prev.support;
  index_t iters = 0;
  for (auto _ : state) {
    auto r = nnls<double>(ctx, A2.view(), d.X.view(), o);
    iters = r.iterations;
    benchmark::DoNotOptimize(r.S.data());
  }
  set_rates(state, dense_product_flops(kN, kM, k), kM);
  state.counters["iter/col"] = double(iters) / kM;
}

void BM_Dense_Backward(benchmark::State& state) {
  // dA only (what a first layer needs), or dA and dX (range(1) == 1).
  const index_t k = state.range(0);
  const bool with_dx = state.range(1) != 0;
  const auto& d = dense_case(kN, kM, k);
  auto ctx = Context::host();
  auto r = nnls<double>(ctx, d.A.view(), d.X.view());
  auto W = uniform(k, kM, 5);
  BackwardOptions bo;
  bo.compute_dX = with_dx;
  for (auto _ : state) {
    auto g = nnls_backward<double>(ctx, d.A.view(), d.X.view(), r.S.view(), r.support, W.view(), bo);
    benchmark::DoNotOptimize(g.dA.data());
  }
  set_rates(state, dense_product_flops(kN, kM, k), kM);
}

void BM_Dense_PerColumnGramBaseline(benchmark::State& state) {
  const index_t k = state.range(0);
  const index_t slice = 400;  // columns timed; the rate is per column
  const auto& d = dense_case(kN, kM, k);
  auto ctx = Context::host();
  Matrix<double> S(k, slice);
  for (auto _ : state) {
    // Columns are independent, so the baseline gets the same threads, one column each.
#pragma omp parallel for num_threads(ctx.threads()) schedule(dynamic, 4)
    for (index_t j = 0; j < slice; ++j)
      per_column_nnls(Context::host(1), d.A, d.X.data() + j * kN, S.data() + j * k);
    benchmark::DoNotOptimize(S.data());
  }
  set_rates(state, dense_product_flops(kN, slice, k), slice);
}

void BM_Dense_ScipyStyleBaseline(benchmark::State& state) {
  const index_t k = state.range(0);
  const index_t slice = 200;
  const auto& d = dense_case(kN, kM, k);
  auto ctx = Context::host();
  Matrix<double> S(k, slice);
  for (auto _ : state) {
#pragma omp parallel num_threads(ctx.threads())
    {
      bench::LawsonHansonOnA lh(d.A.data(), kN, k);
#pragma omp for schedule(dynamic, 2)
      for (index_t j = 0; j < slice; ++j) lh.solve(d.X.data() + j * kN, S.data() + j * k);
    }
    benchmark::DoNotOptimize(S.data());
  }
  // The baseline must solve the same problems: compare with the batched solver.
  const auto ref = nnls<double>(ctx, d.A.view(), d.X.view().col_range(0, slice));
  double diff = 0;
  for (index_t q = 0; q < S.size(); ++q) diff = std::max(diff, std::abs(S.data()[q] - ref.S.data()[q]));
  if (diff > 1e-6) state.SkipWithError(("baseline disagrees with nnls by " + std::to_string(diff)).c_str());
  set_rates(state, dense_product_flops(kN, slice, k), slice);
}

// ---- full 20 Newsgroups tf-idf, k = 20 ------------------------------------------------------

double sparse_product_flops(const CscMatrix<double>& X, index_t k) {
  return 2.0 * X.nnz() * k + double(X.rows()) * k * (k + 1);
}

bool need_news(benchmark::State& state) {
  if (news()) return true;
  state.SkipWithError(("20 Newsgroups matrix not found at " + news_path() +
                       " (../shared/data is not beside this checkout)").c_str());
  return false;
}

void BM_News_Products(benchmark::State& state) {
  if (!need_news(state)) return;
  const index_t k = state.range(0);
  const auto& X = *news();
  auto ctx = Context::host();
  auto A = uniform(X.rows(), k, 11);
  detail::DSparse<double> sp(ctx, X.view(), false);
  Matrix<double> C(k, X.cols()), G(k, k);
  for (auto _ : state) {
    detail::host::spmm_tn<double>(ctx, 1.0, A.view(), sp, 0.0, C.view());
    detail::ops::gram<double>(ctx, A.view(), G.view());
    benchmark::DoNotOptimize(C.data());
  }
  set_rates(state, sparse_product_flops(X, k), X.cols());
}

void BM_News_Forward(benchmark::State& state) {
  if (!need_news(state)) return;
  const index_t k = state.range(0);
  const auto& X = *news();
  auto ctx = Context::host();
  auto A = uniform(X.rows(), k, 11);
  index_t iters = 0;
  for (auto _ : state) {
    auto r = nnls<double>(ctx, A.view(), X);
    iters = r.iterations;
    benchmark::DoNotOptimize(r.S.data());
  }
  set_rates(state, sparse_product_flops(X, k), X.cols());
  state.counters["iter/col"] = double(iters) / X.cols();
}

void BM_News_Backward(benchmark::State& state) {
  if (!need_news(state)) return;
  const index_t k = state.range(0);
  const auto& X = *news();
  auto ctx = Context::host();
  auto A = uniform(X.rows(), k, 11);
  auto r = nnls<double>(ctx, A.view(), X);
  auto W = uniform(k, X.cols(), 5);
  BackwardOptions bo;
  bo.compute_dX = false;
  for (auto _ : state) {
    auto g = nnls_backward<double>(ctx, A.view(), X, r.S.view(), r.support, W.view(), bo);
    benchmark::DoNotOptimize(g.dA.data());
  }
  set_rates(state, sparse_product_flops(X, k), X.cols());
}

void BM_News_PerColumnGramBaseline(benchmark::State& state) {
  if (!need_news(state)) return;
  const index_t k = state.range(0);
  const auto& X = *news();
  auto ctx = Context::host();
  auto A = uniform(X.rows(), k, 11);
  const index_t slice = 200;
  Matrix<double> S(k, slice);
  for (auto _ : state) {
#pragma omp parallel num_threads(ctx.threads())
    {
      std::vector<double> x(static_cast<std::size_t>(X.rows()));
#pragma omp for schedule(dynamic, 4)
      for (index_t j = 0; j < slice; ++j) {
        std::fill(x.begin(), x.end(), 0.0);
        for (index_t p = X.colptr()[j]; p < X.colptr()[j + 1]; ++p)
          x[static_cast<std::size_t>(X.rowind()[p])] = X.values()[p];
        per_column_nnls(Context::host(1), A, x.data(), S.data() + j * k);
      }
    }
    benchmark::DoNotOptimize(S.data());
  }
  set_rates(state, 2.0 * X.nnz() * k * slice / X.cols() + double(X.rows()) * k * (k + 1) * slice, slice);
}

void BM_News_ScipyStyleBaseline(benchmark::State& state) {
  if (!need_news(state)) return;
  const index_t k = state.range(0);
  const auto& X = *news();
  auto ctx = Context::host();
  auto A = uniform(X.rows(), k, 11);
  const index_t slice = 100;
  Matrix<double> S(k, slice);
  for (auto _ : state) {
#pragma omp parallel num_threads(ctx.threads())
    {
      bench::LawsonHansonOnA lh(A.data(), X.rows(), k);
      std::vector<double> x(static_cast<std::size_t>(X.rows()));
#pragma omp for schedule(dynamic, 2)
      for (index_t j = 0; j < slice; ++j) {
        std::fill(x.begin(), x.end(), 0.0);
        for (index_t p = X.colptr()[j]; p < X.colptr()[j + 1]; ++p)
          x[static_cast<std::size_t>(X.rowind()[p])] = X.values()[p];
        lh.solve(x.data(), S.data() + j * k);
      }
    }
    benchmark::DoNotOptimize(S.data());
  }
  set_rates(state, 2.0 * X.nnz() * k * slice / X.cols() + double(X.rows()) * k * (k + 1) * slice, slice);
}

}  // namespace

BENCHMARK(BM_Dense_Products)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Dense_Forward)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Dense_ForwardWarm)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Dense_Backward)->Args({8, 0})->Args({32, 0})->Args({64, 0})->Args({32, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Dense_PerColumnGramBaseline)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Dense_ScipyStyleBaseline)->Arg(8)->Arg(32)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_News_ScipyStyleBaseline)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_News_Products)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_News_Forward)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_News_Backward)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_News_PerColumnGramBaseline)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
