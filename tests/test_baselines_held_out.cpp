// Held-out entries for the baselines (SsnmfOptions/HierarchicalNmfOptions/DeepNmfOptions
// ::held_out): on sparse X the masked multiplicative updates run on X without H and the |H|
// sampled entries of A S (nothing n x m), and must give the fit of the dense 0/1 mask of the
// same set; no held-out value is ever read; the held-out error tells the planted rank from
// rank 1; bad sets are refused with the argument named.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

Context ctx() { return Context::host(2); }

/// Labels of 3 classes, every third column unknown.
Supervision some_labels(index_t m) {
  Supervision s;
  for (index_t j = 0; j < m; ++j) {
    s.labels.push_back(static_cast<int>(j % 3));
    s.known.push_back(j % 3 == 1 ? 0 : 1);
  }
  return s;
}

/// Same shapes and every entry within tol relative to the largest entry of a.
void expect_close(const Matrix<double>& a, const Matrix<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.rows(), b.rows()) << what;
  ASSERT_EQ(a.cols(), b.cols()) << what;
  double scale = 0, worst = 0;
  for (index_t e = 0; e < a.size(); ++e) scale = std::max(scale, std::abs(a.data()[e]));
  for (index_t e = 0; e < a.size(); ++e) worst = std::max(worst, std::abs(a.data()[e] - b.data()[e]));
  EXPECT_LE(worst, tol * scale) << what << ": largest difference " << worst << " of " << scale;
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t q = 0; q < a.size(); ++q) EXPECT_NEAR(a[q], b[q], tol * std::abs(a[q])) << what << " at " << q;
}

TEST(BaselinesHeldOut, SsnmfSparseHeldOutMatchesTheDenseMask) {
  const auto X = planted(40, 60, 4, 0.3);
  const HeldOut H = random_held_out(X, 0.15, 3);
  for (bool supervised : {false, true}) {
    SsnmfOptions o;
    o.max_iter = 150;
    o.rel_tol = 0;
    if (supervised) o.supervision = some_labels(X.cols());
    SsnmfOptions dense = o, sparse = o;
    dense.data_mask = H.to_mask();
    sparse.held_out = H;
    const auto a = ssnmf<double>(ctx(), X.to_dense().view(), 4, dense);
    const auto b = ssnmf<double>(ctx(), X, 4, sparse);
    const std::string what = supervised ? "ssnmf, labels" : "ssnmf";
    expect_close(a.objective, b.objective, 1e-10, what + " objective");
    expect_close(a.A, b.A, 1e-10, what + " A");
    expect_close(a.S, b.S, 1e-10, what + " S");
    if (supervised) expect_close(a.B, b.B, 1e-10, what + " B");
    // Dense X with held_out is the dense mask itself.
    const auto c = ssnmf<double>(ctx(), X.to_dense().view(), 4, sparse);
    EXPECT_EQ(c.objective, a.objective) << what;
    EXPECT_EQ(c.A.storage(), a.A.storage()) << what;
  }
}

TEST(BaselinesHeldOut, DeepNmfSparseHeldOutMatchesTheDenseMask) {
  const auto X = planted(40, 60, 4, 0.3);
  const HeldOut H = random_held_out(X, 0.15, 4);
  for (index_t pool : {0, 2}) {
    DeepNmfOptions o;
    o.ranks = {4, 2};
    o.pool = pool;
    o.max_iter = 60;
    o.rel_tol = 0;
    o.ssnmf.max_iter = 100;
    o.supervision = some_labels(X.cols());
    if (pool) o.supervision->known.assign(static_cast<std::size_t>(X.cols()), 1);
    if (pool)  // a pooled group shares one label
      for (index_t j = 0; j < X.cols(); ++j) o.supervision->labels[static_cast<std::size_t>(j)] = int(j / 2 % 3);
    DeepNmfOptions dense = o, sparse = o;
    dense.data_mask = H.to_mask();
    sparse.held_out = H;
    const auto a = deep_nmf<double>(ctx(), X.to_dense().view(), dense);
    const auto b = deep_nmf<double>(ctx(), X, sparse);
    const std::string what = "deep, pool " + std::to_string(pool);
    expect_close(a.layer_objective, b.layer_objective, 1e-10, what + " layer objectives");
    expect_close(a.objective, b.objective, 1e-10, what + " objective");
    for (std::size_t l = 0; l < a.A.size(); ++l) {
      expect_close(a.A[l], b.A[l], 1e-10, what + " A" + std::to_string(l));
      expect_close(a.S[l], b.S[l], 1e-10, what + " S" + std::to_string(l));
    }
    expect_close(a.B, b.B, 1e-10, what + " B");
  }
}

TEST(BaselinesHeldOut, HierarchicalNmfSparseHeldOutMatchesDense) {
  const auto X = planted(40, 60, 4, 0.3);
  HierarchicalNmfOptions o;
  o.ranks = {4, 2};
  o.ssnmf.max_iter = 100;
  o.held_out = random_held_out(X, 0.15, 5);
  const auto a = hierarchical_nmf<double>(ctx(), X.to_dense().view(), o);
  const auto b = hierarchical_nmf<double>(ctx(), X, o);
  expect_close(a.layer_objective, b.layer_objective, 1e-10, "hnmf layer objectives");
  for (std::size_t l = 0; l < a.A.size(); ++l) expect_close(a.A[l], b.A[l], 1e-9, "hnmf A" + std::to_string(l));
  // Layer 0 is the masked SSNMF of X (no labels) with the hierarchical ssnmf settings.
  SsnmfOptions s = o.ssnmf;
  s.held_out = o.held_out;
  EXPECT_NEAR(ssnmf<double>(ctx(), X, 4, s).objective.back(), b.layer_objective[0], 1e-12 * b.layer_objective[0]);
}

TEST(BaselinesHeldOut, HeldOutValuesAreNeverRead) {
  const auto X = planted(30, 40, 3);
  const HeldOut H = random_held_out(X, 0.2, 6);
  const auto Y = vandalized(X, H);
  SsnmfOptions so;
  so.max_iter = 60;
  so.held_out = H;
  so.supervision = some_labels(X.cols());
  const auto a = ssnmf<double>(ctx(), X, 3, so), b = ssnmf<double>(ctx(), Y, 3, so);
  EXPECT_EQ(a.A.storage(), b.A.storage());
  EXPECT_EQ(a.objective, b.objective);
  const auto c = ssnmf<double>(ctx(), X.to_dense().view(), 3, so), d = ssnmf<double>(ctx(), Y.to_dense().view(), 3, so);
  EXPECT_EQ(c.A.storage(), d.A.storage());
  EXPECT_EQ(c.objective, d.objective);
  DeepNmfOptions dopt;
  dopt.ranks = {3, 2};
  dopt.max_iter = 30;
  dopt.held_out = H;
  const auto e = deep_nmf<double>(ctx(), X, dopt), f = deep_nmf<double>(ctx(), Y, dopt);
  EXPECT_EQ(e.objective, f.objective);
  EXPECT_EQ(e.A[0].storage(), f.A[0].storage());
  EXPECT_EQ(e.S[1].storage(), f.S[1].storage());
  HierarchicalNmfOptions ho;
  ho.ranks = {3, 2};
  ho.held_out = H;
  const auto g = hierarchical_nmf<double>(ctx(), X.to_dense().view(), ho),
             h = hierarchical_nmf<double>(ctx(), Y.to_dense().view(), ho);
  EXPECT_EQ(g.A[1].storage(), h.A[1].storage());
  // Not a set that changes nothing: without it the fit differs.
  so.held_out = HeldOut{};
  EXPECT_NE(ssnmf<double>(ctx(), X, 3, so).A.storage(), a.A.storage());
}

TEST(BaselinesHeldOut, MaskedUpdatesDecreaseTheMaskedObjective) {
  const auto X = planted(40, 50, 4, 0.3);
  SsnmfOptions o;
  o.max_iter = 100;
  o.rel_tol = 0;
  o.init = SsnmfInit::random;
  o.held_out = random_held_out(X, 0.25, 8);
  const auto r = ssnmf<double>(ctx(), X, 4, o);
  for (std::size_t q = 1; q < r.objective.size(); ++q)
    ASSERT_LE(r.objective[q], r.objective[q - 1] * (1 + 1e-10)) << "iteration " << q + 1;
  // The objective is the residual on the observed entries only.
  const auto model = NeuralNmf<double>::from_factors({r.A});
  const auto Xo = drop_held_out(X, o.held_out).to_dense();
  const auto W = o.held_out.to_mask();
  double f = 0;
  for (index_t j = 0; j < X.cols(); ++j)
    for (index_t i = 0; i < X.rows(); ++i) {
      double p = 0;
      for (index_t q = 0; q < 4; ++q) p += r.A(i, q) * r.S(q, j);
      if (W[static_cast<std::size_t>(i + j * X.rows())]) f += (Xo(i, j) - p) * (Xo(i, j) - p);
    }
  EXPECT_NEAR(r.objective.back(), f, 1e-10 * f);
}

/// Layer 0's held-out error of ssnmf (no labels), deep and hierarchical NMF at rank k.
std::vector<double> held_out_errors_at(const CscMatrix<double>& X, const HeldOut& H, index_t k) {
  SsnmfOptions so;
  so.held_out = H;
  const auto s = ssnmf<double>(ctx(), X, k, so);
  DeepNmfOptions dopt;
  dopt.ranks = {k, 1};
  dopt.max_iter = 100;
  dopt.held_out = H;
  const auto d = deep_nmf<double>(ctx(), X, dopt);
  HierarchicalNmfOptions ho;
  ho.ranks = {k, 1};
  ho.held_out = H;
  const auto h = hierarchical_nmf<double>(ctx(), X, ho);
  return {held_out_errors(ctx(), NeuralNmf<double>::from_factors({s.A}), X, H)[0],
          held_out_errors(ctx(), NeuralNmf<double>::from_factors(d.A), X, H)[0],
          held_out_errors(ctx(), NeuralNmf<double>::from_factors(h.A), X, H)[0]};
}

TEST(BaselinesHeldOut, HeldOutErrorTellsThePlantedRankFromRankOne) {
  const auto X = planted(60, 80, 4);
  const HeldOut H = random_held_out(X, 0.15, 7);
  const auto e1 = held_out_errors_at(X, H, 1), e4 = held_out_errors_at(X, H, 4);
  const char* names[] = {"ssnmf", "deep", "hnmf"};
  for (std::size_t q = 0; q < 3; ++q) {
    std::printf("[ held-out ] %s, planted rank 4: error %.4f at k = 1, %.4f at k = 4\n", names[q], e1[q], e4[q]);
    EXPECT_LT(e4[q], 0.6 * e1[q]) << names[q];
  }
}

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(BaselinesHeldOut, ChecksNameTheArgumentAndTheSizes) {
  const auto X = planted(12, 10, 2);
  const HeldOut wrong = random_held_out(planted(12, 9, 2), 0.2, 1);
  SsnmfOptions so;
  so.held_out = wrong;
  EXPECT_THROW_MSG(ssnmf<double>(ctx(), X, 2, so), DimensionMismatch, "ssnmf", "held_out is 12 x 9 but X is 12 x 10");
  EXPECT_THROW_MSG(ssnmf<double>(ctx(), X.to_dense().view(), 2, so), DimensionMismatch, "held_out is 12 x 9");
  so.held_out = random_held_out(X, 0.2, 1);
  so.held_out.row_idx[0] = 12;
  EXPECT_THROW_MSG(ssnmf<double>(ctx(), X, 2, so), InvalidArgument, "ssnmf: held_out row 12", "out of range");
  so.held_out = random_held_out(X, 0.2, 1);
  so.data_mask.assign(120, 1);
  EXPECT_THROW_MSG(ssnmf<double>(ctx(), X.to_dense().view(), 2, so), InvalidArgument, "ssnmf",
                   "data_mask and held_out are both given");
  DeepNmfOptions dopt;
  dopt.ranks = {2};
  dopt.held_out = wrong;
  EXPECT_THROW_MSG(deep_nmf<double>(ctx(), X, dopt), DimensionMismatch, "deep_nmf", "held_out is 12 x 9");
  dopt.held_out = random_held_out(X, 0.2, 1);
  dopt.data_mask.assign(120, 1);
  EXPECT_THROW_MSG(deep_nmf<double>(ctx(), X.to_dense().view(), dopt), InvalidArgument, "deep_nmf",
                   "data_mask and held_out are both given");
  EXPECT_THROW_MSG(deep_nmf<double>(ctx(), X, dopt), InvalidArgument, "deep_nmf", "data_mask and held_out");
  HierarchicalNmfOptions ho;
  ho.ranks = {2};
  ho.held_out = wrong;
  EXPECT_THROW_MSG(hierarchical_nmf<double>(ctx(), X, ho), DimensionMismatch, "hierarchical_nmf",
                   "held_out is 12 x 9");
  // A dense mask on sparse X points to held_out.
  SsnmfOptions mo;
  mo.data_mask.assign(120, 1);
  EXPECT_NE(message_of([&] { ssnmf<double>(ctx(), X, 2, mo); }).find("give the missing entries as held_out"),
            std::string::npos);
}

}  // namespace
}  // namespace nnmf::test
