// The paper's baselines (nnmf/baselines.hpp and nmf.hpp): each method decreases its own
// objective where its updates guarantee it, recovers the planted hierarchy of the bundled
// synthetic data, rejects bad input clearly, and runs from the CLI. The new kernels (pooling,
// its Jacobian, the Hadamard product) are checked against naive loops and, with a device,
// CUDA against the host.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/backend_memory.hpp"
#include "core/ops.hpp"
#include "test_util.hpp"

namespace nnmf::test {
namespace {

namespace ops = detail::ops;
using detail::Buffer;
using detail::DMatrix;

/// The bundled synthetic hierarchy (87 x 90; labels of 9, 4 and 2 classes; 40% mask).
struct Synthetic {
  Matrix<double> X;
  std::vector<int> y9, y4, y2;
  std::vector<std::uint8_t> known40;
  static const Synthetic& get() {
    static const Synthetic s = [] {
      Synthetic d;
      const std::string dir = data_dir() + "/synthetic-hierarchy/";
      d.X = io::read_dense<double>(dir + "X.mtx");
      d.y9 = io::read_labels(dir + "labels9.txt", d.X.cols());
      d.y4 = io::read_labels(dir + "labels4.txt", d.X.cols());
      d.y2 = io::read_labels(dir + "labels2.txt", d.X.cols());
      d.known40 = io::read_mask(dir + "known40.txt", d.X.cols());
      return d;
    }();
    return s;
  }
};

Supervision labels_of(const std::vector<int>& y, const std::vector<std::uint8_t>& known = {}) {
  Supervision s;
  s.labels = y;
  s.known = known;
  return s;
}

/// Every value <= the one before, up to rounding of the objective's evaluation.
void expect_nonincreasing(const std::vector<double>& f, const std::string& what) {
  ASSERT_FALSE(f.empty()) << what;
  int bad = 0;
  for (std::size_t i = 1; i < f.size() && bad < 3; ++i)
    if (!(f[i] <= f[i - 1] * (1 + 1e-10) + 1e-12)) {
      ++bad;
      ADD_FAILURE() << what << ": objective rose at iteration " << i + 1 << ": " << f[i - 1] << " -> " << f[i];
    }
}

/// ||S(l-1) - A(l) S(l)|| / ||S(l-1)|| for l >= 1: each layer factors the one above.
double layer_fit(const Matrix<double>& Sprev, const Matrix<double>& A, const Matrix<double>& S) {
  double r = 0, n = 0;
  for (index_t j = 0; j < Sprev.cols(); ++j)
    for (index_t i = 0; i < Sprev.rows(); ++i) {
      double v = Sprev(i, j);
      n += v * v;
      for (index_t q = 0; q < A.cols(); ++q) v -= A(i, q) * S(q, j);
      r += v * v;
    }
  return std::sqrt(r / n);
}

// ---- NMF (the one-layer baseline) -------------------------------------------------------------

TEST(Baselines, NmfMultiplicativeUpdatesAndAnlsDecreaseTheirObjective) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  for (NmfAlgorithm alg : {NmfAlgorithm::mu, NmfAlgorithm::anls}) {
    NmfOptions o;
    o.algorithm = alg;
    o.max_iter = alg == NmfAlgorithm::mu ? 300 : 60;
    o.rel_tol = 0;
    o.seed = 3;
    const auto r = nmf<double>(ctx, d.X.view(), 4, o);
    expect_nonincreasing(r.objective, to_string(alg));
    EXPECT_EQ(r.iterations, o.max_iter);
    EXPECT_GE(label_accuracy<double>(r.H.view(), d.y4), 0.95) << to_string(alg);
  }
}

// ---- SSNMF ---------------------------------------------------------------------------------------

TEST(Baselines, SsnmfMultiplicativeUpdatesDecreaseTheObjectiveAndLearnTheLabels) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  for (SsnmfInit init : {SsnmfInit::nmf, SsnmfInit::random}) {
    SsnmfOptions o;
    o.supervision = labels_of(d.y9, d.known40);
    o.init = init;
    o.max_iter = init == SsnmfInit::nmf ? 300 : 1000;
    o.rel_tol = 0;
    o.seed = 1;
    const auto r = ssnmf<double>(ctx, d.X.view(), 9, o);
    expect_nonincreasing(r.objective, std::string("ssnmf init ") + to_string(init));
    ASSERT_EQ(r.B.rows(), 9);
    ASSERT_EQ(r.B.cols(), 9);
    for (double v : r.A.storage()) ASSERT_GE(v, 0.0);
    for (double v : r.B.storage()) ASSERT_GE(v, 0.0);
    // The classifier it learned predicts the known labels.
    int right = 0, known = 0;
    for (index_t j = 0; j < d.X.cols(); ++j) {
      if (!d.known40[static_cast<std::size_t>(j)]) continue;
      ++known;
      int best = 0;
      double bv = -1;
      for (index_t c = 0; c < 9; ++c) {
        double v = 0;
        for (index_t q = 0; q < 9; ++q) v += r.B(c, q) * r.S(q, j);
        if (v > bv) bv = v, best = static_cast<int>(c);
      }
      right += best == d.y9[static_cast<std::size_t>(j)];
    }
    EXPECT_GE(double(right) / known, 0.9) << to_string(init);
    // The paper's accuracy rule on every column.
    EXPECT_GE(label_accuracy<double>(r.S.view(), d.y9, d.known40), 0.9) << to_string(init);
  }
}

TEST(Baselines, SsnmfWithAMissingDataMaskIgnoresTheMaskedEntries) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  SsnmfOptions o;
  o.supervision = labels_of(d.y4, d.known40);
  o.max_iter = 200;
  o.rel_tol = 0;
  o.data_mask.assign(static_cast<std::size_t>(d.X.size()), 1);
  for (std::size_t q = 0; q < o.data_mask.size(); q += 7) o.data_mask[q] = 0;
  // Corrupting the masked entries changes nothing.
  Matrix<double> Xc = d.X;
  for (std::size_t q = 0; q < o.data_mask.size(); q += 7) Xc.data()[q] = 50.0;
  const auto a = ssnmf<double>(ctx, d.X.view(), 4, o);
  o.init = SsnmfInit::random;  // the NMF start would see the corrupted values
  const auto b = ssnmf<double>(ctx, d.X.view(), 4, o), c = ssnmf<double>(ctx, Xc.view(), 4, o);
  expect_nonincreasing(a.objective, "masked ssnmf");
  expect_nonincreasing(b.objective, "masked ssnmf, random start");
  EXPECT_EQ(b.objective, c.objective);
  EXPECT_GE(label_accuracy<double>(a.S.view(), d.y4, d.known40), 0.95);
}

TEST(Baselines, SsnmfOnSparseDataMatchesDense) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  SsnmfOptions o;
  o.supervision = labels_of(d.y2, d.known40);
  o.max_iter = 50;
  const auto a = ssnmf<double>(ctx, d.X.view(), 4, o);
  const auto b = ssnmf<double>(ctx, CscMatrix<double>::from_dense(d.X.view()), 4, o);
  ASSERT_EQ(a.objective.size(), b.objective.size());
  for (std::size_t i = 0; i < a.objective.size(); ++i)
    EXPECT_NEAR(a.objective[i], b.objective[i], 1e-9 * a.objective[0]);
}

// ---- hierarchical NMF ----------------------------------------------------------------------------

TEST(Baselines, HierarchicalNmfRecoversThePlantedHierarchy) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  HierarchicalNmfOptions o;
  o.ranks = {9, 4, 2};
  const auto r = hierarchical_nmf<double>(ctx, d.X.view(), o);
  ASSERT_EQ(r.A.size(), 3u);
  ASSERT_EQ(r.S.size(), 3u);
  EXPECT_TRUE(r.B.empty());
  EXPECT_EQ(r.A[1].rows(), 9);
  EXPECT_EQ(r.A[1].cols(), 4);
  EXPECT_EQ(r.S[2].rows(), 2);
  // NNDSVD's start merges two of the nine small blocks (85 of 90 columns right); the middle
  // and top levels are recovered exactly.
  EXPECT_GE(label_accuracy<double>(r.S[0].view(), d.y9), 0.9);
  EXPECT_GE(label_accuracy<double>(r.S[1].view(), d.y4), 0.95);
  EXPECT_GE(label_accuracy<double>(r.S[2].view(), d.y2), 0.95);
  const auto err = relative_errors<double>(ctx, d.X.view(), r.A, r.S);
  EXPECT_LT(err[0], 0.15);
  EXPECT_LT(err[2], 0.7);
  for (std::size_t l = 1; l < 3; ++l) EXPECT_LT(layer_fit(r.S[l - 1], r.A[l], r.S[l]), 0.6) << l;
  // Normalisation: the columns of A0 A1 have unit norm.
  Matrix<double> P(d.X.rows(), 4);
  for (index_t j = 0; j < 4; ++j)
    for (index_t q = 0; q < 9; ++q)
      for (index_t i = 0; i < P.rows(); ++i) P(i, j) += r.A[0](i, q) * r.A[1](q, j);
  for (index_t j = 0; j < 4; ++j) {
    double n = 0;
    for (index_t i = 0; i < P.rows(); ++i) n += P(i, j) * P(i, j);
    EXPECT_NEAR(std::sqrt(n), 1.0, 1e-9);
  }
}

TEST(Baselines, HierarchicalNmfWithLabelsUsesSsnmfAtTheLastLayer) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  HierarchicalNmfOptions o;
  o.ranks = {9, 4, 2};
  o.supervision = labels_of(d.y2, d.known40);
  const auto r = hierarchical_nmf<double>(ctx, d.X.view(), o);
  ASSERT_EQ(r.B.rows(), 2);
  ASSERT_EQ(r.B.cols(), 2);
  EXPECT_GE(label_accuracy<double>(r.S[2].view(), d.y2, d.known40), 0.95);
  // Sparse X gives the same factors.
  const auto s = hierarchical_nmf<double>(ctx, CscMatrix<double>::from_dense(d.X.view()), o);
  for (std::size_t l = 0; l < 3; ++l)
    for (index_t q = 0; q < r.S[l].size(); ++q)
      ASSERT_NEAR(r.S[l].data()[q], s.S[l].data()[q], 1e-6 * (1 + std::abs(r.S[l].data()[q])));
}

// ---- Deep NMF -----------------------------------------------------------------------------------

TEST(Baselines, DeepNmfBackpropagationDecreasesItsObjectiveAndKeepsTheHierarchy) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  for (bool supervised : {false, true}) {
    DeepNmfOptions o;
    o.ranks = {9, 4, 2};
    o.forward.init = NmfInit::random;
    o.max_iter = 150;
    o.rel_tol = 0;
    if (supervised) o.supervision = labels_of(d.y2, d.known40);
    const auto r = deep_nmf<double>(ctx, d.X.view(), o);
    const std::string what = supervised ? "deep, 40% labels" : "deep, unsupervised";
    EXPECT_EQ(r.iterations, 150) << what;
    expect_nonincreasing(r.objective, what);
    EXPECT_LT(r.objective.back(), 0.99 * r.objective.front()) << what;
    EXPECT_EQ(r.B.empty(), !supervised);
    EXPECT_GE(label_accuracy<double>(r.S[0].view(), d.y9), 0.95) << what;
    EXPECT_GE(label_accuracy<double>(r.S[2].view(), d.y2, supervised ? d.known40 : std::vector<std::uint8_t>{}),
              0.95)
        << what;
    const auto err = relative_errors<double>(ctx, d.X.view(), r.A, r.S);
    EXPECT_LT(err[0], 0.05) << what;
    EXPECT_LT(err[2], 0.75) << what;
  }
}

TEST(Baselines, DeepNmfWithMaxPoolingAlongColumnGroups) {
  // Every document of the synthetic data as two "paragraphs" (columns 2j and 2j+1): the
  // second at half intensity. Pooling by 2 between layers turns paragraphs into documents.
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  const index_t n = d.X.rows(), m = d.X.cols();
  Matrix<double> X2(n, 2 * m);
  std::vector<int> y;
  std::vector<std::uint8_t> known;
  for (index_t j = 0; j < m; ++j) {
    for (index_t i = 0; i < n; ++i) {
      X2(i, 2 * j) = d.X(i, j);
      X2(i, 2 * j + 1) = 0.5 * d.X(i, j);
    }
    for (int r = 0; r < 2; ++r) {
      y.push_back(d.y4[static_cast<std::size_t>(j)]);
      known.push_back(d.known40[static_cast<std::size_t>(j)]);
    }
  }
  DeepNmfOptions o;
  o.ranks = {9, 4};
  o.pool = 2;
  o.forward.init = NmfInit::random;
  o.max_iter = 100;
  o.rel_tol = 0;
  o.supervision = labels_of(y, known);
  const auto r = deep_nmf<double>(ctx, X2.view(), o);
  ASSERT_EQ(r.S[0].cols(), 2 * m);
  ASSERT_EQ(r.S[1].cols(), m);  // one column per document after pooling
  EXPECT_LT(r.objective.back(), r.objective.front());
  // S(1) scored per document, and expanded back to the paragraphs.
  EXPECT_GE(label_accuracy<double>(r.S[1].view(), d.y4, d.known40), 0.95);
  const Matrix<double> S1 = unpool_columns<double>(r.S[1], 2, 2 * m);
  ASSERT_EQ(S1.cols(), 2 * m);
  for (index_t i = 0; i < 4; ++i) EXPECT_EQ(S1(i, 7), r.S[1](i, 3));
  EXPECT_EQ(relative_errors<double>(ctx, X2.view(), r.A, {r.S[0], S1}).size(), 2u);
  // A group whose paragraphs disagree on the label is refused.
  y[1] = (y[0] + 1) % 4;
  o.supervision = labels_of(y, known);
  EXPECT_THROW_MSG(deep_nmf<double>(ctx, X2.view(), o), InvalidArgument, "deep_nmf", "group 0", "mixes labels");
}

// ---- bad input -----------------------------------------------------------------------------------

TEST(Baselines, BadInputsAreRejectedNamingTheArgument) {
  const auto& d = Synthetic::get();
  const Context ctx = Context::host(2);
  const auto Xs = CscMatrix<double>::from_dense(d.X.view());
  SsnmfOptions so;
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 0, so), InvalidArgument, "ssnmf", "rank k = 0");
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 88, so), InvalidArgument, "rank k = 88", "87 x 90");
  so.max_iter = 0;
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 3, so), InvalidArgument, "max_iter");
  so = {};
  so.supervision = labels_of({0, 1, 2});
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 3, so), DimensionMismatch, "3 labels for 90 columns");
  so.supervision = labels_of(d.y2, std::vector<std::uint8_t>(90, 0));
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 3, so), InvalidArgument, "marks no column");
  so.supervision = labels_of(d.y2);
  so.supervision->loss = SupervisionLoss::cross_entropy;
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 3, so), InvalidArgument, "cross_entropy");
  so = {};
  so.data_mask.assign(90, 1);
  EXPECT_THROW_MSG(ssnmf<double>(ctx, d.X.view(), 3, so), DimensionMismatch, "data_mask has 90 entries", "87 x 90");
  so.data_mask.assign(87 * 90, 1);
  EXPECT_THROW_MSG(ssnmf<double>(ctx, Xs, 3, so), InvalidArgument, "needs dense X");
  Matrix<double> neg = d.X;
  neg(3, 4) = -1;
  EXPECT_THROW_MSG(ssnmf<double>(ctx, neg.view(), 3, SsnmfOptions{}), InvalidArgument, "ssnmf", "negative");

  HierarchicalNmfOptions ho;
  EXPECT_THROW_MSG(hierarchical_nmf<double>(ctx, d.X.view(), ho), InvalidArgument, "ranks is empty");
  ho.ranks = {4, 9};
  EXPECT_THROW_MSG(hierarchical_nmf<double>(ctx, d.X.view(), ho), InvalidArgument, "hierarchical_nmf",
                   "rank k1 = 9", "k0 = 4");
  ho.ranks = {100};
  EXPECT_THROW_MSG(hierarchical_nmf<double>(ctx, d.X.view(), ho), InvalidArgument, "k0 = 100", "N = 87");
  ho.ranks = {9, 4};
  ho.supervision = labels_of(std::vector<int>(90, -1));
  EXPECT_THROW_MSG(hierarchical_nmf<double>(ctx, d.X.view(), ho), InvalidArgument, "label -1");

  DeepNmfOptions dopt;
  dopt.ranks = {9, 4};
  dopt.pool = -2;
  EXPECT_THROW_MSG(deep_nmf<double>(ctx, d.X.view(), dopt), InvalidArgument, "deep_nmf", "pool");
  dopt.pool = 30;  // 90 columns -> 3 after one pooling: rank 4 does not fit
  EXPECT_THROW_MSG(deep_nmf<double>(ctx, d.X.view(), dopt), InvalidArgument, "rank k1 = 4", "3 columns");
  dopt.pool = 0;
  dopt.data_mask.assign(87 * 90, 1);
  EXPECT_THROW_MSG(deep_nmf<double>(ctx, Xs, dopt), InvalidArgument, "needs dense X");
  EXPECT_THROW_MSG(unpool_columns<double>(Matrix<double>(2, 5), 2, 20), DimensionMismatch, "5 columns");
}

// ---- kernels -------------------------------------------------------------------------------------

/// Pooling, its transposed Jacobian and the Hadamard product on one backend.
template <class T>
std::vector<std::vector<double>> kernel_body(const Context& ctx) {
  const index_t k = 7, m = 1003;  // groups of 1..5 columns, ties included
  Matrix<T> S = random_matrix<T>(k, m, 91);
  for (index_t j = 0; j < m; j += 4) S(2, j) = S(2, std::min(m - 1, j + 1)) = T(0.75);
  std::vector<index_t> ptr{0};
  while (ptr.back() < m) ptr.push_back(std::min(m, ptr.back() + 1 + static_cast<index_t>(ptr.size() % 5)));
  const index_t G = static_cast<index_t>(ptr.size()) - 1;
  Buffer<index_t> dptr(ctx, ptr.size());
  dptr.upload(ptr.data(), ptr.size());
  auto dS = DMatrix<T>::upload(ctx, S.view());
  DMatrix<T> P(ctx, k, G);
  Buffer<index_t> arg(ctx, static_cast<std::size_t>(k * G));
  ops::max_pool_cols<T>(ctx, dS.view(), dptr.data(), P.view(), arg.data());
  auto D = DMatrix<T>::upload(ctx, random_matrix<T>(k, G, 92, -1, 1).view());
  auto Out = DMatrix<T>::upload(ctx, random_matrix<T>(k, m, 93).view());
  ops::max_pool_cols_backward<T>(ctx, D.view(), arg.data(), T(0.5), Out.view());
  const auto x = random_matrix<T>(k * m, 1, 94, -2, 2), y = random_matrix<T>(k * m, 1, 95, -2, 2);
  auto dx = DMatrix<T>::upload(ctx, x.view()), dy = DMatrix<T>::upload(ctx, y.view());
  DMatrix<T> h(ctx, k * m, 1);
  ops::hadamard<T>(ctx, k * m, dx.data(), dy.data(), h.data());
  ops::hadamard<T>(ctx, k * m, h.data(), dy.data(), dx.data());  // aliasing output and input
  std::vector<index_t> a(static_cast<std::size_t>(k * G));
  arg.download(a.data(), a.size());
  std::vector<std::vector<double>> out;
  for (const auto* M : {&P, &Out, &h, &dx}) {
    const Matrix<T> hM = M->download();
    out.emplace_back(hM.storage().begin(), hM.storage().end());
  }
  out.emplace_back(a.begin(), a.end());
  return out;
}

TEST(BaselineKernels, PoolingJacobianAndHadamardMatchNaiveLoops) {
  const auto got = kernel_body<double>(Context::host(2));
  const index_t k = 7, m = 1003;
  Matrix<double> S = random_matrix<double>(k, m, 91);
  for (index_t j = 0; j < m; j += 4) S(2, j) = S(2, std::min(m - 1, j + 1)) = 0.75;
  std::vector<index_t> ptr{0};
  while (ptr.back() < m) ptr.push_back(std::min(m, ptr.back() + 1 + static_cast<index_t>(ptr.size() % 5)));
  const index_t G = static_cast<index_t>(ptr.size()) - 1;
  const Matrix<double> D = random_matrix<double>(k, G, 92, -1, 1);
  Matrix<double> Out = random_matrix<double>(k, m, 93);
  for (index_t g = 0; g < G; ++g)
    for (index_t i = 0; i < k; ++i) {
      index_t best = ptr[g];  // first maximum
      for (index_t j = ptr[g]; j < ptr[g + 1]; ++j)
        if (S(i, j) > S(i, best)) best = j;
      ASSERT_EQ(got[0][static_cast<std::size_t>(i + g * k)], S(i, best));
      ASSERT_EQ(got[4][static_cast<std::size_t>(i + g * k)], double(best));
      Out(i, best) += 0.5 * D(i, g);
    }
  EXPECT_EQ(got[1], Out.storage());
  const auto x = random_matrix<double>(k * m, 1, 94, -2, 2), y = random_matrix<double>(k * m, 1, 95, -2, 2);
  for (index_t q = 0; q < k * m; ++q) {
    ASSERT_EQ(got[2][static_cast<std::size_t>(q)], x.data()[q] * y.data()[q]);
    ASSERT_EQ(got[3][static_cast<std::size_t>(q)], x.data()[q] * y.data()[q] * y.data()[q]);
  }
}

template <class T>
void kernels_cuda_vs_host() {
  const auto ref = kernel_body<T>(Context::host(2));
  const auto got = kernel_body<T>(Context::cuda(0));
  // Selections and single products: the same bits (built without FMA contraction).
  EXPECT_EQ(ref, got);
}

TEST(BaselinesCudaVsHost, PoolingJacobianAndHadamardKernels) {
  NNMF_REQUIRE_CUDA();
  kernels_cuda_vs_host<double>();
  kernels_cuda_vs_host<float>();
}

TEST(BaselinesCudaVsHost, SsnmfHierarchicalAndDeepNmfAgree) {
  NNMF_REQUIRE_CUDA();
  const auto& d = Synthetic::get();
  const Context host = Context::host(2), gpu = Context::cuda(0);
  SsnmfOptions so;
  so.supervision = labels_of(d.y9, d.known40);
  so.max_iter = 100;
  so.init = SsnmfInit::random;
  const auto a = ssnmf<double>(host, d.X.view(), 9, so), b = ssnmf<double>(gpu, d.X.view(), 9, so);
  ASSERT_EQ(a.objective.size(), b.objective.size());
  for (std::size_t i = 0; i < a.objective.size(); ++i)
    EXPECT_NEAR(a.objective[i], b.objective[i], 1e-8 * a.objective[0]) << i;
  DeepNmfOptions dopt;
  dopt.ranks = {9, 4, 2};
  dopt.max_iter = 50;
  dopt.rel_tol = 0;
  dopt.supervision = labels_of(d.y2, d.known40);
  const auto Xs = CscMatrix<double>::from_dense(d.X.view());
  const auto dh = deep_nmf<double>(host, Xs, dopt), dg = deep_nmf<double>(gpu, Xs, dopt);
  ASSERT_EQ(dh.objective.size(), dg.objective.size());
  for (std::size_t i = 0; i < dh.objective.size(); ++i)
    EXPECT_NEAR(dh.objective[i], dg.objective[i], 1e-6 * dh.objective[0]) << i;
  EXPECT_NEAR(label_accuracy<double>(dh.S[2].view(), d.y2), label_accuracy<double>(dg.S[2].view(), d.y2), 0.02);
}

// ---- the command line ------------------------------------------------------------------------------

#ifdef NNMF_CLI_PATH
struct CliRun {
  int status = -1;
  std::string output;
};

CliRun run_cli(const std::string& args) {
  CliRun r;
  // $NNMF_CLI first (a bundle or another build), the compiled path as the default.
  const char* env = std::getenv("NNMF_CLI");
  const std::string cli = env && *env ? env : NNMF_CLI_PATH;
  FILE* p = popen((cli + " " + args + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), p)) r.output += buf.data();
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(BaselinesCli, FitWithEachBaselineWritesFactorsAndAReport) {
  char tmpl[] = "/tmp/nnmf-baselines-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, syn = data_dir() + "/synthetic-hierarchy/";
  struct Case {
    std::string method, ranks, extra;
    std::size_t layers;
  };
  const std::vector<Case> cases = {
      {"ssnmf", "9", "--labels " + syn + "labels9.txt --known " + syn + "known40.txt --set max_iter=200", 1},
      {"hnmf", "9,4,2", "--labels " + syn + "labels2.txt --known " + syn + "known40.txt", 3},
      {"deep", "9,4,2", "--labels " + syn + "labels2.txt --known " + syn + "known40.txt --epochs 50", 3},
      {"deep", "9,4", "--eval-labels " + syn + "labels4.txt --set pool=1", 2},
      {"nmf", "9", "--set algorithm_mu=1 --epochs 100", 1},
  };
  int n = 0;
  for (const auto& c : cases) {
    const std::string out = dir + "/o" + std::to_string(n++);
    const CliRun r = run_cli("fit " + syn + "X.mtx --ranks " + c.ranks + " --method " + c.method + " " + c.extra +
                             " -q -o " + out);
    ASSERT_EQ(r.status, 0) << c.method << ": " << r.output;
    std::ifstream f(out + "/report.json");
    const auto rep = nlohmann::json::parse(f);
    EXPECT_EQ(rep["method"], c.method);
    ASSERT_EQ(rep["layers"].size(), c.layers) << c.method;
    const auto& last = rep["layers"][c.layers - 1];
    EXPECT_GT(last["rel_error"].get<double>(), 0.0);
    EXPECT_LT(last["rel_error"].get<double>(), 0.75);
    if (last.contains("accuracy")) {
      EXPECT_GE(last["accuracy"].get<double>(), 0.9) << c.method;
    }
    for (std::size_t l = 0; l < c.layers; ++l) {
      struct stat st {};
      EXPECT_EQ(stat((out + "/A" + std::to_string(l) + ".mtx").c_str(), &st), 0) << c.method;
      EXPECT_EQ(stat((out + "/S" + std::to_string(l) + ".mtx").c_str(), &st), 0) << c.method;
    }
    if (c.extra.find("--labels") != std::string::npos) {
      struct stat st {};
      EXPECT_EQ(stat((out + "/B.mtx").c_str(), &st), 0) << c.method;
    }
  }
  // Unknown settings and a supervised one-layer nmf are one-line errors.
  const CliRun bad = run_cli("fit " + syn + "X.mtx --ranks 9,4 --method deep --set poool=2 -q -o " + dir + "/bad");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("poool"), std::string::npos) << bad.output;
  const CliRun sup = run_cli("fit " + syn + "X.mtx --ranks 9 --method nmf --labels " + syn + "labels9.txt -q -o " +
                             dir + "/bad2");
  EXPECT_NE(sup.status, 0);
  EXPECT_NE(sup.output.find("ssnmf"), std::string::npos) << sup.output;
  std::system(("rm -rf " + dir).c_str());
}
#endif

}  // namespace
}  // namespace nnmf::test
