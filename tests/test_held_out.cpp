// The held-out set H (nnmf/held_out.hpp, FitOptions::held_out): its checks, the seeded draw,
// the sampled-product kernels against dense products (host, and CUDA when there is a device),
// training that never reads a held-out value, and masked cross-validation choosing the rank.
// The loss and gradients with H are checked in test_training.cpp (HeldOutLoss, TrainingGradient).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/data.hpp"
#include "core/ops.hpp"
#include "test_util.hpp"

namespace nnmf::test {
namespace {

Context ctx() { return Context::host(1); }

/// 3 x 4, column 0: rows 0, 2; column 2: row 1; column 3: rows 0, 1, 2.
HeldOut small_set() { return HeldOut::from_entries(3, 4, {2, 0, 1, 0, 1, 2}, {0, 0, 2, 3, 3, 3}); }

std::string error_of(const HeldOut& H, index_t rows = 3, index_t cols = 4) {
  try {
    check_held_out("fit", H, rows, cols);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(HeldOutSet, FromEntriesSortsAndMerges) {
  const HeldOut H = HeldOut::from_entries(3, 4, {2, 0, 2, 1}, {0, 0, 0, 2});
  EXPECT_EQ(H.col_ptr, (std::vector<index_t>{0, 2, 2, 3, 3}));
  EXPECT_EQ(H.row_idx, (std::vector<index_t>{0, 2, 1}));
  EXPECT_EQ(error_of(H), "");
  EXPECT_EQ(HeldOut::from_mask(3, 4, H.to_mask()).row_idx, H.row_idx);
}

TEST(HeldOutSet, ChecksNameTheArgumentAndTheValues) {
  HeldOut H = small_set();
  H.row_idx[2] = 3;  // column 2, row 3 of 3 rows
  EXPECT_NE(error_of(H).find("held_out row 3 in column 2 is out of range [0, 3)"), std::string::npos) << error_of(H);
  H = small_set();
  std::swap(H.row_idx[3], H.row_idx[4]);  // column 3: 1, 0, 2
  EXPECT_NE(error_of(H).find("held_out rows of column 3 are not strictly increasing (1 then 0)"), std::string::npos)
      << error_of(H);
  H = small_set();
  H.row_idx[1] = 0;  // column 0: 0, 0
  EXPECT_NE(error_of(H).find("held_out rows of column 0 are not strictly increasing (0 then 0)"), std::string::npos)
      << error_of(H);
  EXPECT_NE(error_of(small_set(), 3, 5).find("held_out is 3 x 4 but X is 3 x 5"), std::string::npos);
  H = small_set();
  H.col_ptr.pop_back();
  EXPECT_NE(error_of(H).find("held_out col_ptr has 4 entries"), std::string::npos) << error_of(H);
  H = small_set();
  H.col_ptr.back() = 5;
  EXPECT_NE(error_of(H).find("held_out col_ptr[4] = 5 but row_idx has 6 entries"), std::string::npos) << error_of(H);
}

TEST(HeldOutSet, FitRefusesABadSetAndTheDenseMaskWithIt) {
  const auto X = random_sparse<double>(3, 4, 0.5, 1);
  FitOptions o;
  o.ranks = {1};
  o.held_out = small_set();
  o.held_out.row_idx[0] = 7;
  try {
    NeuralNmf<double>::fit(ctx(), X, o);
    FAIL() << "accepted a held-out row out of range";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("NeuralNmf::fit: held_out row 7 in column 0 is out of range"), std::string::npos)
        << e.what();
  }
  o.held_out = small_set();
  o.data_mask.assign(12, 1);
  EXPECT_THROW(NeuralNmf<double>::fit(ctx(), X.to_dense().view(), o), InvalidArgument);
}

TEST(HeldOutSet, RandomDrawHoldsOutNonzerosAndAsManyZerosDeterministically) {
  const auto X = random_sparse<double>(40, 50, 0.1, 3);
  const HeldOut H = random_held_out(X, 0.2, 9);
  EXPECT_EQ(error_of(H, 40, 50), "");
  const auto v = values_at(X, H);
  index_t nonzero = 0;
  for (double x : v) nonzero += x != 0;
  const index_t want = std::llround(0.2 * double(X.nnz()));
  EXPECT_EQ(nonzero, want);
  EXPECT_EQ(H.size(), 2 * want);
  const HeldOut again = random_held_out(X, 0.2, 9), other = random_held_out(X, 0.2, 10);
  EXPECT_EQ(again.row_idx, H.row_idx);
  EXPECT_EQ(again.col_ptr, H.col_ptr);
  EXPECT_NE(other.row_idx, H.row_idx);
  // Dense X: the same draw as its nonzeros in CSC form.
  EXPECT_EQ(random_held_out<double>(X.to_dense().view(), 0.2, 9).row_idx, H.row_idx);
  // Nearly full X: the zeros are enumerated, fewer than asked for.
  const auto F = random_sparse<double>(10, 10, 0.95, 4);
  const HeldOut G = random_held_out(F, 0.5, 1);
  EXPECT_LE(G.size(), 2 * std::llround(0.5 * double(F.nnz())));
}

/// The three kernels on @p c against dense products on the host.
void kernels_body(const Context& c) {
  namespace ops = detail::ops;
  const index_t n = 30, k = 5, m = 40;
  const auto A = random_matrix<double>(n, k, 11), V = random_matrix<double>(k, m, 12);
  const HeldOut H = random_held_out(random_sparse<double>(n, m, 0.2, 13), 0.3, 2);
  const detail::DPattern P(c, H);
  const auto dA = detail::DMatrix<double>::upload(c, A.view()), dV = detail::DMatrix<double>::upload(c, V.view());
  detail::DMatrix<double> E(c, H.size(), 1);
  ops::sampled_product<double>(c, dA.view(), dV.view(), P.view(), E.data());
  auto C = detail::DMatrix<double>::zeros(c, k, m), R = detail::DMatrix<double>::zeros(c, n, k);
  ops::pattern_tn<double>(c, 2.0, dA.view(), P.view(), E.data(), C.view());
  ops::pattern_nt<double>(c, 2.0, P.view(), E.data(), dV.view(), R.view());
  const Matrix<double> Eh = E.download(), Ch = C.download(), Rh = R.download();
  Matrix<double> D(n, m), Cref(k, m), Rref(n, k);  // D = P_H(A V)
  for (index_t j = 0; j < m; ++j)
    for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) {
      const index_t i = H.row_idx[q];
      for (index_t r = 0; r < k; ++r) D(i, j) += A(i, r) * V(r, j);
      EXPECT_NEAR(Eh.data()[q], D(i, j), 1e-12) << "entry " << q;
    }
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < n; ++i)
      for (index_t r = 0; r < k; ++r) {
        Cref(r, j) += 2 * A(i, r) * D(i, j);
        Rref(i, r) += 2 * D(i, j) * V(r, j);
      }
  for (index_t e = 0; e < Cref.size(); ++e) EXPECT_NEAR(Ch.data()[e], Cref.data()[e], 1e-11);
  for (index_t e = 0; e < Rref.size(); ++e) EXPECT_NEAR(Rh.data()[e], Rref.data()[e], 1e-11);
}

TEST(HeldOutKernels, HostMatchesDenseProducts) { kernels_body(Context::host(2)); }

TEST(HeldOutKernels, CudaMatchesDenseProducts) {
  if (Context::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device (or built without CUDA)";
  kernels_body(Context::cuda(0));
}

FitOptions quick(std::vector<index_t> ranks) {
  FitOptions o;
  o.ranks = std::move(ranks);
  o.energy_weight = 0.5;
  o.epochs = 6;
  o.init_iterations = 20;
  o.init_restarts = 2;
  o.seed = 4;
  return o;
}

void expect_same_factors(const NeuralNmf<double>& a, const NeuralNmf<double>& b) {
  ASSERT_EQ(a.layers(), b.layers());
  for (index_t l = 0; l < a.layers(); ++l)
    EXPECT_EQ(a.factors()[l].storage(), b.factors()[l].storage()) << "A" << l;
  EXPECT_EQ(a.history().size(), b.history().size());
}

TEST(HeldOutFit, TrainingNeverReadsAHeldOutValueSparse) {
  const auto X = random_sparse<double>(30, 40, 0.3, 21);
  FitOptions o = quick({5, 3});
  o.held_out = random_held_out(X, 0.2, 1);
  const auto a = NeuralNmf<double>::fit(ctx(), X, o);
  const auto b = NeuralNmf<double>::fit(ctx(), vandalized(X, o.held_out), o);
  expect_same_factors(a, b);
  // Not a set that changes nothing: without it the fit differs.
  FitOptions plain = quick({5, 3});
  EXPECT_NE(NeuralNmf<double>::fit(ctx(), X, plain).factors()[0].storage(), a.factors()[0].storage());
}

TEST(HeldOutFit, TrainingNeverReadsAHeldOutValueDense) {
  const auto X = random_sparse<double>(30, 40, 0.5, 22).to_dense();
  FitOptions o = quick({5, 3});
  o.held_out = random_held_out<double>(X.view(), 0.2, 2);
  Matrix<double> Y = X;
  const auto W = o.held_out.to_mask();
  for (index_t e = 0; e < Y.size(); ++e)
    if (!W[static_cast<std::size_t>(e)]) Y.data()[e] = e % 2 ? std::numeric_limits<double>::quiet_NaN() : 1e6;
  const auto a = NeuralNmf<double>::fit(ctx(), X.view(), o);
  expect_same_factors(a, NeuralNmf<double>::fit(ctx(), Y.view(), o));
  // The dense mask W is the same set, and it too never reads the entries where W = 0.
  FitOptions d = o;
  d.held_out = HeldOut{};
  d.data_mask = W;
  expect_same_factors(a, NeuralNmf<double>::fit(ctx(), Y.view(), d));
  // Sparse X with the same set: the same model up to rounding (sparse products sum differently).
  const auto s = NeuralNmf<double>::fit(ctx(), CscMatrix<double>::from_dense(X.view()), o);
  for (index_t l = 0; l < a.layers(); ++l)
    for (index_t e = 0; e < a.factors()[l].size(); ++e)
      EXPECT_NEAR(s.factors()[l].data()[e], a.factors()[l].data()[e], 1e-6 * (1 + std::abs(a.factors()[l].data()[e])));
}

double held_out_error_at(const CscMatrix<double>& X, const HeldOut& H, index_t k) {
  FitOptions o = quick({k});
  o.energy_weight = 0;
  o.epochs = 40;
  o.held_out = H;
  const auto model = NeuralNmf<double>::fit(ctx(), X, o);
  return held_out_errors(ctx(), model, X, H)[0];
}

TEST(HeldOutFit, MaskedCrossValidationFindsThePlantedRank) {
  const auto X = planted(60, 80, 4);
  const HeldOut H = random_held_out(X, 0.15, 7);
  const double e1 = held_out_error_at(X, H, 1), e4 = held_out_error_at(X, H, 4), e20 = held_out_error_at(X, H, 20);
  std::printf("[ held-out ] planted rank 4: error %.4f at k = 1, %.4f at k = 4, %.4f at k = 20\n", e1, e4, e20);
  EXPECT_LT(e4, 0.6 * e1);
  EXPECT_LT(e4, e20);
}

TEST(HeldOutFit, HeldOutErrorsPredictFromTheForwardPassWithoutTheHeldOutEntries) {
  const auto A = random_matrix<double>(8, 2, 41);
  const auto X = random_matrix<double>(8, 10, 42);
  const auto model = NeuralNmf<double>::from_factors({A});
  const HeldOut H = HeldOut::from_entries(8, 10, {0, 3, 7, 2}, {1, 4, 9, 9});
  // By hand: S from X with H's entries set to 0 (as the fit saw X), scored on H only.
  const Matrix<double> Xo = drop_held_out<double>(X.view(), H);
  const Matrix<double> S = model.transform(ctx(), Xo.view())[0];
  double rr = 0, xx = 0;
  for (index_t j = 0; j < 10; ++j)
    for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) {
      const index_t i = H.row_idx[q];
      const double e = X(i, j) - A(i, 0) * S(0, j) - A(i, 1) * S(1, j);
      rr += e * e;
      xx += X(i, j) * X(i, j);
    }
  EXPECT_NEAR(held_out_errors<double>(ctx(), model, X.view(), H)[0], std::sqrt(rr / xx), 1e-12);
  EXPECT_NEAR(held_out_errors(ctx(), model, CscMatrix<double>::from_dense(X.view()), H)[0], std::sqrt(rr / xx), 1e-9);
  // Nothing to score against: X is 0 on every held-out entry.
  const Matrix<double> Z = drop_held_out<double>(X.view(), H);
  EXPECT_THROW(held_out_errors<double>(ctx(), model, Z.view(), H), InvalidArgument);
}

TEST(HeldOutFit, HeldOutErrorsFromGivenCoefficientsAreTheModelsWithoutASecondForwardPass) {
  const CscMatrix<double> Xs = planted(30, 40, 3);
  const Matrix<double> X = Xs.to_dense();
  const HeldOut H = random_held_out(Xs, 0.2, 5);
  const auto model = NeuralNmf<double>::from_factors({random_matrix<double>(30, 4, 1), random_matrix<double>(4, 2, 2)});
  const Matrix<double> Xo = drop_held_out<double>(X.view(), H);
  const std::vector<Matrix<double>> S = model.transform(ctx(), Xo.view());
  EXPECT_EQ(held_out_errors<double>(ctx(), X.view(), model.factors(), S, H),
            held_out_errors<double>(ctx(), model, X.view(), H));
  const std::vector<Matrix<double>> Ss = model.transform(ctx(), drop_held_out(Xs, H));
  EXPECT_EQ(held_out_errors<double>(ctx(), Xs, model.factors(), Ss, H), held_out_errors(ctx(), model, Xs, H));
  // S of the wrong shape, or one S short: an error naming it, never a read past S.
  std::vector<Matrix<double>> bad = S;
  bad[1] = Matrix<double>(2, 39);
  EXPECT_THROW(held_out_errors<double>(ctx(), X.view(), model.factors(), bad, H), DimensionMismatch);
  bad.pop_back();
  EXPECT_THROW(held_out_errors<double>(ctx(), Xs, model.factors(), bad, H), InvalidArgument);
}

}  // namespace
}  // namespace nnmf::test

namespace nnmf::test {
namespace {

TEST(HeldOutFit, ObservedErrorsCountOnlyTheEntriesOutsideTheSet) {
  // Two layers; S free on the held-out entries (as a baseline's masked fit leaves it): the
  // held-out entries' large residuals must not count.
  const auto A0 = random_matrix<double>(9, 3, 51), A1 = random_matrix<double>(3, 2, 52);
  const auto S0 = random_matrix<double>(3, 12, 53), S1 = random_matrix<double>(2, 12, 54);
  auto X = random_matrix<double>(9, 12, 55);
  const HeldOut H = HeldOut::from_entries(9, 12, {0, 3, 8, 2, 5}, {1, 4, 11, 11, 0});
  for (index_t j = 0; j < 12; ++j)
    for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) X(H.row_idx[q], j) = 50.0;  // far off
  std::vector<double> expect;
  for (int l = 0; l < 2; ++l) {
    double rr = 0, xx = 0;
    for (index_t j = 0; j < 12; ++j)
      for (index_t i = 0; i < 9; ++i) {
        bool held = false;
        for (index_t q = H.col_ptr[j]; q < H.col_ptr[j + 1]; ++q) held = held || H.row_idx[q] == i;
        if (held) continue;
        double p = 0;
        for (index_t r = 0; r < 3; ++r) {
          const double s = l == 0 ? S0(r, j) : A1(r, 0) * S1(0, j) + A1(r, 1) * S1(1, j);
          p += A0(i, r) * s;
        }
        rr += (X(i, j) - p) * (X(i, j) - p);
        xx += X(i, j) * X(i, j);
      }
    expect.push_back(std::sqrt(rr / xx));
  }
  const auto dense = observed_errors<double>(ctx(), X.view(), {A0, A1}, {S0, S1}, H);
  const auto sparse = observed_errors(ctx(), CscMatrix<double>::from_dense(X.view()), {A0, A1}, {S0, S1}, H);
  for (int l = 0; l < 2; ++l) {
    EXPECT_NEAR(dense[l], expect[l], 1e-10) << l;
    EXPECT_NEAR(sparse[l], expect[l], 1e-10) << l;
  }
  // The plain relative error counts the far-off held-out values.
  EXPECT_LT(dense[0], relative_errors<double>(ctx(), X.view(), {A0, A1}, {S0, S1})[0] - 0.02);
  EXPECT_THROW(observed_errors<double>(ctx(), X.view(), {A0, A1}, {S0, S1}, HeldOut::from_entries(8, 12, {0}, {0})),
               DimensionMismatch);
}

}  // namespace
}  // namespace nnmf::test
