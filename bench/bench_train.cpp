// Neural NMF training benchmarks (issue 3): time per epoch (forward NNLS of every layer,
// backward pass, projected step) on
//   * the synthetic hierarchy, 87 x 90 dense, ranks 9,4, reconstruction loss;
//   * the 200-document 20 Newsgroups sample, 37693 x 200 sparse, ranks 10,6, energy loss,
// with the authors' published settings (Scaling::mean, projected gradient descent, lr = 1 on
// the synthetic data, lr = 1e10 with decay 0.995 every 5 epochs on 20 Newsgroups) and with the
// default line-search optimiser. Each benchmark iteration is one fit of a fixed number of
// epochs from fixed factors (no NMF initialisation); "ms/epoch" sums the epochs' own times.
// "x_authors" = the authors' package's time per epoch on these problems (12.8 ms and
// 1975 ms, issue 3, measured on a machine like this one) divided by ours.
// "x_baseline" = an in-run baseline divided by ours: the forward pass of one epoch computed
// the authors' way, one scipy-style Lawson-Hanson NNLS per column and layer on A itself
// (bench/baseline_lh.hpp, nothing shared between columns, each sparse column densified as
// scipy needs), from the same factors. Their epoch adds the backward pass and the step to
// that, so "baseline_ms" is a lower bound on a per-column epoch and x_baseline understates
// the gap.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>
#include <sys/stat.h>

#include "baseline_lh.hpp"
#include "core/data.hpp"
#include "core/ops.hpp"

#include "nnmf/nnmf.hpp"

using namespace nnmf;

namespace {

// $NNMF_DATA_DIR first (a build run on another machine), else the compiled path.
std::string data(const std::string& rel) {
  const char* env = std::getenv("NNMF_DATA_DIR");
  return std::string(env && *env ? env : NNMF_DATA_DIR) + "/" + rel;
}

Matrix<double> seeded(index_t r, index_t c, std::uint64_t seed) {
  Matrix<double> M(r, c);
  std::uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (auto& v : M.storage()) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = double(s >> 11) * 0x1.0p-53;
  }
  return M;
}

/// Column j of X into b (n entries).
void column_of(MatrixView<const double> X, index_t j, double* b) {
  std::copy(X.data + j * X.ld, X.data + j * X.ld + X.rows, b);
}
void column_of(const CscMatrix<double>& X, index_t j, double* b) {
  std::fill(b, b + X.rows(), 0.0);
  for (index_t p = X.colptr()[j]; p < X.colptr()[j + 1]; ++p) b[X.rowind()[p]] = X.values()[p];
}
index_t cols_of(MatrixView<const double> X) { return X.cols; }
index_t cols_of(const CscMatrix<double>& X) { return X.cols(); }

/// Milliseconds of the baseline forward pass (see the header), the fastest of 3 runs, on the
/// same threads as the fit (columns split among them).
template <class XM>
double baseline_forward_ms(const XM& X, const std::vector<Matrix<double>>& A) {
  const index_t m = cols_of(X);
  const int threads = Context::host().threads();
  double best = 1e300;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    Matrix<double> prev;  // S(l-1), k(l-1) x m
    for (std::size_t l = 0; l < A.size(); ++l) {
      const index_t n = A[l].rows(), k = A[l].cols();
      Matrix<double> S(k, m);
#pragma omp parallel num_threads(threads)
      {
        bench::LawsonHansonOnA lh(A[l].data(), n, k);
        std::vector<double> b(static_cast<std::size_t>(n));
#pragma omp for schedule(dynamic, 4)
        for (index_t j = 0; j < m; ++j) {
          if (l == 0)
            column_of(X, j, b.data());
          else
            std::copy(prev.data() + j * n, prev.data() + (j + 1) * n, b.begin());
          lh.solve(b.data(), S.data() + j * k);
        }
      }
      prev = std::move(S);
    }
    benchmark::DoNotOptimize(prev.data());
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

template <class XM>
void run_epochs(benchmark::State& state, const XM& X, index_t n, FitOptions o, double authors_ms) {
  double epoch_s = 0;
  index_t epochs = 0;
  for (auto _ : state) {
    const auto m = NeuralNmf<double>::fit(Context::host(), X, o);
    for (const auto& h : m.history()) epoch_s += h.seconds;
    epochs += static_cast<index_t>(m.history().size());
    benchmark::DoNotOptimize(m.factors()[0].data());
  }
  (void)n;
  const double ms = 1e3 * epoch_s / double(epochs);
  state.counters["ms/epoch"] = ms;
  state.counters["x_authors"] = authors_ms / ms;
  const double base = baseline_forward_ms(X, o.initial_factors);
  state.counters["baseline_ms"] = base;
  state.counters["x_baseline"] = base / ms;
  state.counters["epochs"] = double(epochs) / double(state.iterations());
}

void BM_Epoch_Synthetic(benchmark::State& state) {
  static const Matrix<double> X = io::read_dense<double>(data("synthetic-hierarchy/X.mtx"));
  FitOptions o;
  o.ranks = {9, 4};
  o.epochs = 200;
  o.patience = 0;
  o.scaling = Scaling::mean;
  o.init = Init::given;
  o.initial_factors = {seeded(87, 9, 1), seeded(9, 4, 2)};
  if (state.range(0) == 0) {
    o.optimizer = Optimizer::gd;
    o.learning_rate = 1;
  }
  run_epochs(state, X.view(), 87, o, 12.8);
  state.SetLabel(state.range(0) == 0 ? "gd lr=1 (authors' settings)" : "line search (default)");
}

void BM_Epoch_NewsSample(benchmark::State& state) {
  static const CscMatrix<double> X = io::read_sparse<double>(data("20news-subsample/X.mtx"));
  FitOptions o;
  o.ranks = {10, 6};
  o.reconstruction_weight = 0;
  o.energy_weight = 1;
  o.epochs = 50;
  o.patience = 0;
  o.scaling = Scaling::mean;
  o.init = Init::given;
  o.initial_factors = {seeded(X.rows(), 10, 3), seeded(10, 6, 4)};
  if (state.range(0) == 0) {
    o.optimizer = Optimizer::gd;
    o.learning_rate = 1e10;
    o.lr_decay = 0.995;
    o.decay_every = 5;
  }
  run_epochs(state, X, X.rows(), o, 1975.0);
  state.SetLabel(state.range(0) == 0 ? "gd lr=1e10, decay .995/5 (authors' settings)" : "line search (default)");
}

}  // namespace

BENCHMARK(BM_Epoch_Synthetic)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Epoch_NewsSample)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- An epoch against its product floor (issue 14) -------------------------------------------
// The full 20 Newsgroups tf-idf matrix (../shared/data/20news/X_tfidf.mtx.gz; skipped with a
// message when missing) at m = 2,000 (its first columns), 18,846 (all), and 4x and 8x that
// (the matrix repeated side by side), ranks 20,6, the default loss and optimiser (line search),
// one thread, from the factors of a default start on all of 20 Newsgroups (so every m begins
// at the same realistic point). "x_floor" = time of an epoch / time of its floor, the products
// one forward pass cannot avoid: A(l)^T A(l) and A(0)^T X, A(l)^T S(l-1) of every layer
// (the fastest of 5 runs, same thread, in the same process). "trials" = line-search trials per
// epoch (each is a forward pass); "loss_8/loss_1" the progress of the 8 epochs; "ms/epoch/1k docs" shows whether an epoch is linear in m.
namespace {

std::string shared_data(const std::string& rel) {
  const char* env = std::getenv("NNMF_SHARED_DATA_DIR");
  return std::string(env && *env ? env : NNMF_SHARED_DATA_DIR) + "/" + rel;
}

/// The first @p m columns of X repeated side by side until there are @p m columns.
CscMatrix<double> columns_cycled(const CscMatrix<double>& X, index_t m) {
  std::vector<index_t> cp{0}, ri;
  std::vector<double> v;
  for (index_t j = 0; j < m; ++j) {
    const index_t c = j % X.cols();
    for (index_t p = X.colptr()[c]; p < X.colptr()[c + 1]; ++p) {
      ri.push_back(X.rowind()[p]);
      v.push_back(X.values()[p]);
    }
    cp.push_back(static_cast<index_t>(ri.size()));
  }
  return CscMatrix<double>(X.rows(), m, std::move(cp), std::move(ri), std::move(v));
}

/// The epoch's floor: A^T X and A^T A of every layer, timed warm and back to back (fastest of
/// 5); and X Q^T with a k0 x m matrix Q, the backward's product that streams X again (dA0 needs
/// it in every epoch, so an epoch cannot cost less than the two together).
struct Floor {
  double products_ms = 0;  ///< A^T X and A^T A of every layer
  double x_qt_ms = 0;      ///< X Q^T
};

Floor floor_ms(const Context& ctx, const CscMatrix<double>& X, const std::vector<Matrix<double>>& A) {
  const auto prep = detail::prepare<double>(ctx, X);
  const index_t m = X.cols();
  using detail::DMatrix;
  std::vector<DMatrix<double>> Ad, G, C;
  for (const auto& a : A) {
    Ad.push_back(DMatrix<double>::upload(ctx, a.view()));
    G.push_back(DMatrix<double>(ctx, a.cols(), a.cols()));
    C.push_back(DMatrix<double>(ctx, a.cols(), m));
  }
  DMatrix<double> R(ctx, A[0].rows(), A[0].cols());
  Floor best{1e300, 1e300};
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    for (std::size_t l = 0; l < A.size(); ++l) {
      detail::ops::gram<double>(ctx, Ad[l].view(), G[l].view());
      if (l == 0)
        detail::ops::at_x<double>(ctx, 1.0, Ad[0].view(), prep->op, 0.0, C[0].view());
      else
        detail::ops::gemm<double>(ctx, detail::Trans::T, detail::Trans::N, 1.0, Ad[l].view(), C[l - 1].view(), 0.0, C[l].view());
    }
    auto t1 = std::chrono::steady_clock::now();
    best.products_ms = std::min(best.products_ms, std::chrono::duration<double, std::milli>(t1 - t0).count());
    detail::ops::x_zt<double>(ctx, 1.0, prep->op, C[0].view(), 0.0, R.view());  // Q = A0^T X: any k0 x m
    best.x_qt_ms = std::min(best.x_qt_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count());
  }
  return best;
}

void BM_EpochFloor_News(benchmark::State& state) {
  const std::string path = shared_data("20news/X_tfidf.mtx.gz");
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0) {
    state.SkipWithError(("missing " + path + " (set NNMF_SHARED_DATA_DIR)").c_str());
    return;
  }
  static const CscMatrix<double> full = io::read_sparse<double>(path);
  const Context ctx = Context::host(1);
  FitOptions o;
  o.ranks = {20, 6};
  static const std::vector<Matrix<double>> start = [&] {
    FitOptions s = o;
    s.epochs = 0;
    return NeuralNmf<double>::fit(ctx, full, s).factors();
  }();
  const index_t m = state.range(0) == 0 ? 2000 : full.cols() * state.range(0);
  const CscMatrix<double> X = columns_cycled(full, m);
  o.init = Init::given;
  o.initial_factors = start;
  o.epochs = 8;
  o.patience = 0;
  double epoch_s = 0, trials = 0, loss = 0;
  index_t epochs = 0;
  for (auto _ : state) {
    const auto model = NeuralNmf<double>::fit(ctx, X, o);
    loss = model.history().back().loss / model.history().front().loss;
    for (const auto& h : model.history()) {
      epoch_s += h.seconds;
      trials += h.line_search_trials;
    }
    epochs += static_cast<index_t>(model.history().size());
  }
  const double ms = 1e3 * epoch_s / double(epochs);
  const Floor f = floor_ms(ctx, X, start);
  state.counters["ms/epoch"] = ms;
  state.counters["floor_ms"] = f.products_ms;
  state.counters["x_floor"] = ms / f.products_ms;
  // The floor with the backward's X Q^T: what no epoch can go below (about 2x the floor).
  state.counters["x_floor_with_XQt"] = ms / (f.products_ms + f.x_qt_ms);
  state.counters["trials"] = trials / double(epochs);
  state.counters["loss_8/loss_1"] = loss;
  state.counters["ms/epoch/1k docs"] = ms / (double(m) / 1000);
  state.SetLabel("m = " + std::to_string(m));
}

}  // namespace

BENCHMARK(BM_EpochFloor_News)->Arg(0)->Arg(1)->Arg(4)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
