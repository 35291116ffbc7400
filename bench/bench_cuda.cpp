// CUDA benchmarks: the device path against its floor (the products alone) and against the
// host path on the same data, in the same run.
//
// Cases (T = float and double):
//   * Dense: n = 4096, m = 2^20 (X is 16 GiB in float, 32 GiB in double, generated on the
//     device from an uploaded 8192-column tile, so the host never holds it), k = 16, 32, 64.
//   * News: the full 20 Newsgroups tf-idf matrix (46240 x 18846, 1.06M nonzeros),
//     ../shared/data/20news/X_tfidf.mtx.gz; k = 20 and 100. Skipped with a message when the
//     file is missing.
// Variants:
//   Products  A^T X and A^T A alone (cuBLAS gemm + syrk, or cuSPARSE SpMM + syrk): the floor
//             of any method sharing the Gram matrix;
//   Solve     the batched NNLS kernel alone on precomputed G, C;
//   Forward   products + solve (device-resident data, no transfers);
//   Backward  the dA path of nnls_backward: gram, masked solve, M = S Z^T + Z S^T,
//             dA = X Z^T - A M (dX, as large as X, is left out);
//   EndToEnd  (News) the public nnls() with its uploads and downloads;
//   Host*     the host backend on the same data (Dense: the first 16384 columns, rates per
//             column), all threads of this machine;
//   News_Epoch one Neural NMF epoch (ranks 20, 6, energy loss), CUDA (Arg 1) and host (Arg 0).
// Timing: CUDA events on the context's stream (UseManualTime); host cases use wall time of
// the call. Counters: "cols/s" = columns per second; "GFLOP/s" = product flops per second,
//   product flops = 2 n k m (A^T X, dense) or 2 nnz k (sparse) + n k (k + 1) (A^T A, one
//   triangle),
// the same numerator for every variant of a case, so GFLOP/s ratios are speed ratios. Without
// a CUDA device every CUDA case reports SkipWithError("no CUDA device") and the binary still
// runs the host cases.
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <cstdlib>
#include <string>

#include "core/backend_memory.hpp"
#include "core/nnls_internal.hpp"
#include "core/ops.hpp"
#include "nnmf/config.hpp"
#include "nnmf/nnmf.hpp"
#if NNMF_WITH_CUDA
#include "cuda/event_timer.hpp"
#endif

using namespace nnmf;
namespace ops = nnmf::detail::ops;
using detail::Buffer;
using detail::DMatrix;
using detail::Trans;

namespace {

// ---- contexts and timing -------------------------------------------------------------------

/// The CUDA context, or null without a device (reported once per case).
const Context* gpu() {
  static std::unique_ptr<Context> ctx = []() -> std::unique_ptr<Context> {
    if (Context::cuda_device_count() == 0) return nullptr;
    return std::make_unique<Context>(Context::cuda(0));
  }();
  return ctx.get();
}

bool need_gpu(benchmark::State& state) {
  if (gpu()) return true;
  state.SkipWithError("no CUDA device");
  return false;
}

/// Seconds of f(): device time between CUDA events for a CUDA context, wall time otherwise.
class Stopwatch {
 public:
  explicit Stopwatch(const Context& ctx) : ctx_(ctx) {
#if NNMF_WITH_CUDA
    if (ctx.backend() == Backend::cuda) events_ = std::make_unique<detail::cuda::EventTimer>(ctx);
#endif
  }
  template <class F>
  double time(F&& f) {
#if NNMF_WITH_CUDA
    if (events_) {
      events_->start();
      f();
      return events_->stop();
    }
#endif
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ctx_.synchronize();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

 private:
  const Context& ctx_;
#if NNMF_WITH_CUDA
  std::unique_ptr<detail::cuda::EventTimer> events_;
#endif
};

/// Sets the counters from the total timed seconds over all iterations.
void report(benchmark::State& state, double seconds, double flops_per_iter, index_t cols_per_iter) {
  const double iters = static_cast<double>(state.iterations());
  if (seconds <= 0 || iters == 0) return;
  state.counters["cols/s"] = cols_per_iter * iters / seconds;
  state.counters["GFLOP/s"] = flops_per_iter * iters / seconds * 1e-9;
}

/// Times run() once per benchmark iteration (CUDA events on a device, a host clock otherwise)
/// and reports the rates.
template <class F>
void time_iterations(benchmark::State& state, const Context& ctx, F&& run, double flops_per_iter,
                     index_t cols_per_iter) {
  Stopwatch sw(ctx);
  double total = 0;
  for (auto _ : state) {
    const double s = sw.time(run);
    state.SetIterationTime(s);
    total += s;
  }
  report(state, total, flops_per_iter, cols_per_iter);
}

double dense_product_flops(index_t n, index_t m, index_t k) {
  return 2.0 * n * k * m + double(n) * k * (k + 1);
}
double sparse_product_flops(index_t n, index_t nnz, index_t k) {
  return 2.0 * nnz * k + double(n) * k * (k + 1);
}

template <class T>
Matrix<T> uniform(index_t r, index_t c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix<T> M(r, c);
  for (auto& v : M.storage()) v = static_cast<T>(u(rng));
  return M;
}

template <class T>
detail::NnlsBatchParams<T> batch_params(index_t k) {
  return {detail::default_tol<T>(), detail::pivot_eps<T>(k), static_cast<int>(3 * k + 30)};
}

/// Device buffers of one forward solve (k x m).
template <class T>
struct DeviceSolve {
  DMatrix<T> G, C, S;
  Buffer<std::uint64_t> support;
  Buffer<std::uint8_t> status;
  DeviceSolve(const Context& ctx, index_t k, index_t m)
      : G(ctx, k, k),
        C(ctx, k, m),
        S(ctx, k, m),
        support(ctx, static_cast<std::size_t>((k + 63) / 64 * m)),
        status(ctx, static_cast<std::size_t>(m)) {}
  /// G = A^T A and C = A^T X: the products of the forward pass.
  void form(const Context& ctx, MatrixView<const T> A, const detail::DataOperand<T>& X) {
    ops::gram<T>(ctx, A, G.view());
    ops::at_x<T>(ctx, T(1), A, X, T(0), C.view());
  }
  detail::NnlsBatchStats solve(const Context& ctx) {
    return ops::nnls_batch<T>(ctx, G.view(), C.view(), batch_params<T>(G.rows()), S.view(),
                              support.data(), nullptr, status.data());
  }
};

/// The dA path of the backward pass on device data (see the header comment).
template <class T>
void backward_da(const Context& ctx, MatrixView<const T> A, const detail::DataOperand<T>& X,
                 DeviceSolve<T>& f, MatrixView<const T> W, DMatrix<T>& Z, DMatrix<T>& M,
                 DMatrix<T>& dA) {
  const index_t k = A.cols;
  ops::gram<T>(ctx, A, f.G.view());
  ops::masked_solve<T>(ctx, f.G.view(), f.support.data(), W, detail::pivot_eps<T>(k),
                       detail::default_ridge<T>(), Z.view(), nullptr);
  ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), f.S.view(), Z.view(), T(0), M.view());
  ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), Z.view(), f.S.view(), T(1), M.view());
  ops::x_zt<T>(ctx, T(1), X, Z.view(), T(0), dA.view());
  ops::gemm<T>(ctx, Trans::N, Trans::N, T(-1), A, M.view(), T(1), dA.view());
}

// ---- dense n = 4096, m = 2^20 -----------------------------------------------------------------

constexpr index_t kN = 4096, kM = index_t{1} << 20, kTile = 8192, kHostM = 16384;

/// The first kTile columns of X (also the host reference data, with kHostM columns).
template <class T>
const Matrix<T>& dense_host_block() {
  static const Matrix<T> X = uniform<T>(kN, kHostM, 7);
  return X;
}

/// X (kN x kM) on the device: the host block's first kTile columns repeated. One precision
/// at a time stays resident (float and double together would need 48 GiB).
template <class T>
const DMatrix<T>& dense_device_x() {
  static std::unique_ptr<DMatrix<float>> xf;
  static std::unique_ptr<DMatrix<double>> xd;
  auto& mine = [&]() -> std::unique_ptr<DMatrix<T>>& {
    if constexpr (std::is_same<T, float>::value) {
      xd.reset();
      return xf;
    } else {
      xf.reset();
      return xd;
    }
  }();
  if (!mine) {
    const Context& ctx = *gpu();
    mine = std::make_unique<DMatrix<T>>(ctx, kN, kM);
    const Matrix<T>& h = dense_host_block<T>();
    const std::size_t tile_bytes = sizeof(T) * static_cast<std::size_t>(kN * kTile);
    for (index_t c = 0; c < kM; c += kTile)
      detail::copy_bytes(ctx, mine->data() + c * kN, h.data(), tile_bytes,
                         detail::CopyKind::host_to_backend);
  }
  return *mine;
}

/// The dense case on the device: X (resident, see dense_device_x) as the operand of the
/// products and a seeded A (kN x k).
template <class T>
struct DenseOnDevice {
  DenseOnDevice(const Context& ctx, index_t k)
      : A(DMatrix<T>::upload(ctx, uniform<T>(kN, k, 1000 + k).view())) {
    Xop.dense = dense_device_x<T>().view();
  }
  DMatrix<T> A;
  detail::DataOperand<T> Xop;
};

template <class T>
void BM_CudaDense_Products(benchmark::State& state) {
  if (!need_gpu(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  const DenseOnDevice<T> p(ctx, k);
  DMatrix<T> C(ctx, k, kM), G(ctx, k, k);
  auto run = [&] {
    ops::at_x<T>(ctx, T(1), p.A.view(), p.Xop, T(0), C.view());  // the GEMM A^T X
    ops::gram<T>(ctx, p.A.view(), G.view());
  };
  run();  // warm-up: library initialisation, first-call costs
  time_iterations(state, ctx, run, dense_product_flops(kN, kM, k), kM);
}

template <class T>
void BM_CudaDense_Solve(benchmark::State& state) {
  if (!need_gpu(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  const DenseOnDevice<T> p(ctx, k);
  const auto& A = p.A;
  const auto& Xop = p.Xop;
  DeviceSolve<T> f(ctx, k, kM);
  f.form(ctx, A.view(), Xop);
  detail::NnlsBatchStats st = f.solve(ctx);
  time_iterations(state, ctx, [&] { st = f.solve(ctx); }, dense_product_flops(kN, kM, k), kM);
  state.counters["iter/col"] = double(st.iterations) / double(kM);
}

template <class T>
void BM_CudaDense_Forward(benchmark::State& state) {
  if (!need_gpu(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  const DenseOnDevice<T> p(ctx, k);
  const auto& A = p.A;
  const auto& Xop = p.Xop;
  DeviceSolve<T> f(ctx, k, kM);
  auto run = [&] {
    f.form(ctx, A.view(), Xop);
    f.solve(ctx);
  };
  run();
  time_iterations(state, ctx, run, dense_product_flops(kN, kM, k), kM);
}

template <class T>
void BM_CudaDense_Backward(benchmark::State& state) {
  if (!need_gpu(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  const DenseOnDevice<T> p(ctx, k);
  const auto& A = p.A;
  const auto& Xop = p.Xop;
  DeviceSolve<T> f(ctx, k, kM);
  f.form(ctx, A.view(), Xop);
  f.solve(ctx);
  // dS = W: uniform in [0, 1) tiled like X (a stand-in for a loss gradient).
  DMatrix<T> W(ctx, k, kM), Z(ctx, k, kM), M(ctx, k, k), dA(ctx, kN, k);
  {
    const auto Wt = uniform<T>(k, kTile, 5);
    for (index_t c = 0; c < kM; c += kTile)
      detail::copy_bytes(ctx, W.data() + c * k, Wt.data(),
                         sizeof(T) * static_cast<std::size_t>(k * kTile),
                         detail::CopyKind::host_to_backend);
  }
  auto run = [&] { backward_da<T>(ctx, A.view(), Xop, f, W.view(), Z, M, dA); };
  run();
  time_iterations(state, ctx, run, dense_product_flops(kN, kM, k), kM);
}

/// The host backend on the first kHostM columns (rates per column, comparable with the
/// device's).
template <class T>
void BM_HostDense_Forward(benchmark::State& state) {
  const index_t k = state.range(0);
  const Context ctx = Context::host();
  const auto& X = dense_host_block<T>();
  const auto A = uniform<T>(kN, k, 1000 + k);
  time_iterations(state, ctx, [&] {
      auto r = nnls<T>(ctx, A.view(), X.view());
      benchmark::DoNotOptimize(r.S.data());
    }, dense_product_flops(kN, kHostM, k), kHostM);
}

template <class T>
void BM_HostDense_Backward(benchmark::State& state) {
  const index_t k = state.range(0);
  const Context ctx = Context::host();
  const auto& X = dense_host_block<T>();
  const auto A = uniform<T>(kN, k, 1000 + k);
  const auto r = nnls<T>(ctx, A.view(), X.view());
  const auto W = uniform<T>(k, kHostM, 5);
  BackwardOptions bo;
  bo.compute_dX = false;
  time_iterations(state, ctx, [&] {
      auto g = nnls_backward<T>(ctx, A.view(), X.view(), r.S.view(), r.support, W.view(), bo);
      benchmark::DoNotOptimize(g.dA.data());
    }, dense_product_flops(kN, kHostM, k), kHostM);
}

// ---- the full 20 Newsgroups tf-idf matrix -------------------------------------------------------

// $NNMF_SHARED_DATA_DIR first (a build run on another machine), else the compiled path.
std::string news_path() {
  const char* env = std::getenv("NNMF_SHARED_DATA_DIR");
  return std::string(env && *env ? env : NNMF_SHARED_DATA_DIR) + "/20news/X_tfidf.mtx.gz";
}

template <class T>
const CscMatrix<T>* news() {
  static std::unique_ptr<CscMatrix<T>> X;
  static bool tried = false;
  if (!tried) {
    tried = true;
    struct stat st {};
    if (stat(news_path().c_str(), &st) == 0)
      X = std::make_unique<CscMatrix<T>>(io::read_sparse<T>(news_path()));
  }
  return X.get();
}

template <class T>
bool need_news(benchmark::State& state) {
  if (news<T>()) return true;
  state.SkipWithError(("20 Newsgroups matrix not found at " + news_path()).c_str());
  return false;
}

/// X on the device with its row form (for X Z^T), built once per precision.
template <class T>
const detail::DSparse<T>& news_device() {
  static std::unique_ptr<detail::DSparse<T>> sp;
  if (!sp) sp = std::make_unique<detail::DSparse<T>>(*gpu(), news<T>()->view(), true);
  return *sp;
}

/// The 20 Newsgroups case on the device: X as a sparse operand and a seeded A (n x k).
template <class T>
struct NewsOnDevice {
  NewsOnDevice(const Context& ctx, index_t k)
      : sp(news_device<T>()), A(DMatrix<T>::upload(ctx, uniform<T>(sp.rows(), k, 11).view())) {
    Xop.sparse = true;
    Xop.sp = &sp;
  }
  const detail::DSparse<T>& sp;
  DMatrix<T> A;
  detail::DataOperand<T> Xop;
};

template <class T>
void BM_CudaNews_Products(benchmark::State& state) {
  if (!need_gpu(state) || !need_news<T>(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  NewsOnDevice<T> p(ctx, k);
  const auto& sp = p.sp;
  const auto& Xop = p.Xop;
  const auto& A = p.A;
  const index_t n = sp.rows(), m = sp.cols();
  DMatrix<T> C(ctx, k, m), G(ctx, k, k);
  auto run = [&] {
    ops::at_x<T>(ctx, T(1), A.view(), Xop, T(0), C.view());
    ops::gram<T>(ctx, A.view(), G.view());
  };
  run();
  time_iterations(state, ctx, run, sparse_product_flops(n, sp.nnz(), k), m);
}

template <class T>
void BM_CudaNews_Forward(benchmark::State& state) {
  if (!need_gpu(state) || !need_news<T>(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  NewsOnDevice<T> p(ctx, k);
  const auto& sp = p.sp;
  const auto& Xop = p.Xop;
  const auto& A = p.A;
  const index_t n = sp.rows(), m = sp.cols();
  DeviceSolve<T> f(ctx, k, m);
  detail::NnlsBatchStats st;
  auto run = [&] {
    f.form(ctx, A.view(), Xop);
    st = f.solve(ctx);
  };
  run();
  time_iterations(state, ctx, run, sparse_product_flops(n, sp.nnz(), k), m);
  state.counters["iter/col"] = double(st.iterations) / double(m);
}

template <class T>
void BM_CudaNews_Backward(benchmark::State& state) {
  if (!need_gpu(state) || !need_news<T>(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  NewsOnDevice<T> p(ctx, k);
  const auto& sp = p.sp;
  const auto& Xop = p.Xop;
  const auto& A = p.A;
  const index_t n = sp.rows(), m = sp.cols();
  DeviceSolve<T> f(ctx, k, m);
  f.form(ctx, A.view(), Xop);
  f.solve(ctx);
  auto W = DMatrix<T>::upload(ctx, uniform<T>(k, m, 5).view());
  DMatrix<T> Z(ctx, k, m), M(ctx, k, k), dA(ctx, n, k);
  auto run = [&] { backward_da<T>(ctx, A.view(), Xop, f, W.view(), Z, M, dA); };
  run();
  time_iterations(state, ctx, run, sparse_product_flops(n, sp.nnz(), k), m);
}

/// The public entry point on a CUDA context: uploads A and X, solves, downloads S.
template <class T>
void BM_CudaNews_EndToEnd(benchmark::State& state) {
  if (!need_gpu(state) || !need_news<T>(state)) return;
  const Context& ctx = *gpu();
  const index_t k = state.range(0);
  const auto& X = *news<T>();
  const auto A = uniform<T>(X.rows(), k, 11);
  auto once = [&] {
    auto r = nnls<T>(ctx, A.view(), X);
    benchmark::DoNotOptimize(r.S.data());
  };
  once();
  time_iterations(state, ctx, once, sparse_product_flops(X.rows(), X.nnz(), k), X.cols());
}

template <class T>
void BM_HostNews_Forward(benchmark::State& state) {
  if (!need_news<T>(state)) return;
  const Context ctx = Context::host();
  const index_t k = state.range(0);
  const auto& X = *news<T>();
  const auto A = uniform<T>(X.rows(), k, 11);
  time_iterations(state, ctx, [&] {
      auto r = nnls<T>(ctx, A.view(), X);
      benchmark::DoNotOptimize(r.S.data());
    }, sparse_product_flops(X.rows(), X.nnz(), k), X.cols());
}

template <class T>
void BM_HostNews_Backward(benchmark::State& state) {
  if (!need_news<T>(state)) return;
  const Context ctx = Context::host();
  const index_t k = state.range(0);
  const auto& X = *news<T>();
  const auto A = uniform<T>(X.rows(), k, 11);
  const auto r = nnls<T>(ctx, A.view(), X);
  const auto W = uniform<T>(k, X.cols(), 5);
  BackwardOptions bo;
  bo.compute_dX = false;
  time_iterations(state, ctx, [&] {
      auto g = nnls_backward<T>(ctx, A.view(), X, r.S.view(), r.support, W.view(), bo);
      benchmark::DoNotOptimize(g.dA.data());
    }, sparse_product_flops(X.rows(), X.nnz(), k), X.cols());
}

/// One Neural NMF epoch on 20 Newsgroups, ranks 20, 6 (energy loss, the paper's text setting;
/// line search, warm-started NNLS, from given seeded factors): range(0) = 0 host, 1 CUDA.
/// Time: the trainer's own per-epoch seconds (epoch 1 excluded: it includes the first NNLS
/// from cold starts and, on the device, the plans); "cols/s" = documents per second per epoch.
template <class T>
void BM_News_Epoch(benchmark::State& state) {
  const bool on_gpu = state.range(0) == 1;
  if ((on_gpu && !need_gpu(state)) || !need_news<T>(state)) return;
  const Context ctx = on_gpu ? *gpu() : Context::host();
  const CscMatrix<T>& X = *news<T>();
  FitOptions o;
  o.ranks = {20, 6};
  o.reconstruction_weight = 0;
  o.energy_weight = 1;
  o.scaling = Scaling::mean;
  o.epochs = 4;
  o.patience = 0;
  o.init = Init::given;
  o.initial_factors = {uniform<double>(X.rows(), 20, 21), uniform<double>(20, 6, 22)};
  double seconds = 0;
  index_t epochs = 0;
  for (auto _ : state) {
    auto m = NeuralNmf<T>::fit(ctx, X, o);
    double s = 0;
    for (std::size_t e = 1; e < m.history().size(); ++e) s += m.history()[e].seconds;
    const index_t n = static_cast<index_t>(m.history().size()) - 1;
    state.SetIterationTime(s);
    seconds += s;
    epochs += n;
  }
  if (epochs > 0 && seconds > 0) {
    state.counters["ms/epoch"] = 1e3 * seconds / double(epochs);
    state.counters["cols/s"] = double(X.cols()) * double(epochs) / seconds;
  }
  state.SetLabel(on_gpu ? "cuda" : ctx.describe());
}

}  // namespace

BENCHMARK_TEMPLATE(BM_News_Epoch, float)->Arg(1)->Arg(0)->Iterations(1)->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_News_Epoch, double)->Arg(1)->Arg(0)->Iterations(1)->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// Registered precision by precision, so that the 16 / 32 GiB device X is generated once per
// precision (dense_device_x keeps one resident).
#define NNMF_BENCH_CASE(fn, T, args) \
  BENCHMARK_TEMPLATE(fn, T)->args->UseManualTime()->Unit(benchmark::kMillisecond)

#define NNMF_BENCH_ALL(T)                                               \
  NNMF_BENCH_CASE(BM_CudaDense_Products, T, Arg(16)->Arg(32)->Arg(64)); \
  NNMF_BENCH_CASE(BM_CudaDense_Solve, T, Arg(16)->Arg(32)->Arg(64));    \
  NNMF_BENCH_CASE(BM_CudaDense_Forward, T, Arg(16)->Arg(32)->Arg(64));  \
  NNMF_BENCH_CASE(BM_CudaDense_Backward, T, Arg(16)->Arg(32)->Arg(64)); \
  NNMF_BENCH_CASE(BM_HostDense_Forward, T, Arg(16)->Arg(32)->Arg(64));  \
  NNMF_BENCH_CASE(BM_HostDense_Backward, T, Arg(16)->Arg(32)->Arg(64)); \
  NNMF_BENCH_CASE(BM_CudaNews_Products, T, Arg(20)->Arg(100));          \
  NNMF_BENCH_CASE(BM_CudaNews_Forward, T, Arg(20)->Arg(100));           \
  NNMF_BENCH_CASE(BM_CudaNews_Backward, T, Arg(20)->Arg(100));          \
  NNMF_BENCH_CASE(BM_CudaNews_EndToEnd, T, Arg(20)->Arg(100));          \
  NNMF_BENCH_CASE(BM_HostNews_Forward, T, Arg(20)->Arg(100));           \
  NNMF_BENCH_CASE(BM_HostNews_Backward, T, Arg(20)->Arg(100))

NNMF_BENCH_ALL(float);
NNMF_BENCH_ALL(double);
