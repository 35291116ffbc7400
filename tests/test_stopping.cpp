// Why and when training stops: the window convergence rule, the stop reasons (converged,
// epoch cap, interrupted during training and during the initialization), their round trip
// through the model file, the phase callback; and the HALS NMF solver (monotone objective,
// the same error as ANLS on a small problem).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/trainer.hpp"
#include "test_util.hpp"

namespace nnmf::test {
namespace {

Context ctx() { return Context::host(2); }

/// A small hierarchical problem: two groups of three blocks plus noise (n x m = 30 x 36).
Matrix<double> blocks(std::uint64_t seed) {
  Matrix<double> X = random_matrix<double>(30, 36, seed);
  for (index_t j = 0; j < 36; ++j)
    for (index_t i = 0; i < 30; ++i) {
      X(i, j) *= 0.05;
      if (i / 5 == j / 6) X(i, j) += 2.0;
      if (i / 15 == j / 18) X(i, j) += 0.5;
    }
  return X;
}

FitOptions small_options() {
  FitOptions o;
  o.ranks = {6, 2};
  o.init_restarts = 1;
  o.init_iterations = 20;
  return o;
}

TEST(WindowRule, StopsOnlyWhenTheLossMovedLessThanTolOverTheWindow) {
  using detail::window_converged;
  // Start 100, then each epoch 0.05 lower: over 3 epochs 0.15, relative ~1.5e-3.
  std::vector<double> losses{100};
  for (int e = 1; e <= 5; ++e) losses.push_back(100 - 0.05 * e);
  EXPECT_FALSE(window_converged(losses, 3, 1e-3));
  EXPECT_TRUE(window_converged(losses, 3, 2e-3));
  // Fewer epochs than the window: never.
  EXPECT_FALSE(window_converged({100, 100}, 3, 1.0));
  // Exactly the window: compared with the start.
  EXPECT_TRUE(window_converged({100, 100, 100, 100}, 3, 0.0));
  // Window 0 disables the rule.
  EXPECT_FALSE(window_converged(losses, 0, 1.0));
  // A per-epoch rule with patience would stop on a creeping loss whose window moved a lot:
  // 0.9 per mille per epoch, 10 epochs = 0.9% > 1e-3.
  std::vector<double> creep{1.0};
  for (int e = 1; e <= 10; ++e) creep.push_back(creep.back() * (1 - 9e-4));
  EXPECT_FALSE(window_converged(creep, 10, 1e-3));
  // A loss that rose is moving too (gradient descent overshooting).
  EXPECT_FALSE(window_converged({100, 120, 140}, 2, 1e-3));
}

TEST(StopReason, EpochCapWhenTheWindowRuleIsOff) {
  FitOptions o = small_options();
  o.epochs = 4;
  o.patience = 0;
  const Matrix<double> X = blocks(1);
  const auto m = NeuralNmf<double>::fit(ctx(), X.view(), o);
  EXPECT_EQ(m.stop_reason(), StopReason::epoch_cap);
  EXPECT_EQ(m.history().size(), 4u);
}

TEST(StopReason, ConvergedByTheWindowBeforeTheCap) {
  FitOptions o = small_options();
  o.epochs = 200;
  o.patience = 3;
  o.rel_tol = 0.5;  // any loss that did not halve over 3 epochs has "stopped moving"
  const Matrix<double> X = blocks(2);
  const auto m = NeuralNmf<double>::fit(ctx(), X.view(), o);
  EXPECT_EQ(m.stop_reason(), StopReason::converged);
  EXPECT_EQ(m.history().size(), 3u);
  // The rule as documented holds at the stop.
  const auto& h = m.history();
  EXPECT_LE(std::abs(h[0].loss - h[2].loss), 0.5 * h[2].loss);
}

TEST(StopReason, InterruptedDuringTrainingKeepsTheEpochsRun) {
  FitOptions o = small_options();
  o.epochs = 50;
  o.patience = 0;
  int epochs_seen = 0;
  o.on_epoch = [&](const EpochRecord&) { ++epochs_seen; };
  // Polled between the initialization's phases too: stop once 3 epochs have run.
  o.should_stop = [&]() { return epochs_seen >= 3; };
  const Matrix<double> X = blocks(3);
  const auto m = NeuralNmf<double>::fit(ctx(), X.view(), o);
  EXPECT_EQ(m.stop_reason(), StopReason::interrupted);
  EXPECT_EQ(m.history().size(), 3u);
}

TEST(StopReason, InterruptedDuringInitializationGivesACompleteModel) {
  FitOptions o = small_options();
  o.ranks = {6, 3, 2};
  o.init_restarts = 4;
  o.epochs = 50;
  Supervision s;
  for (index_t j = 0; j < 36; ++j) s.labels.push_back(static_cast<int>(j / 18));
  o.supervision = s;
  int polls = 0;
  o.should_stop = [&]() { return ++polls >= 2; };  // during the first layer's starts
  std::vector<std::string> phases;
  o.on_phase = [&](const std::string& p, int, int) { phases.push_back(p); };
  const Matrix<double> X = blocks(4);
  const auto m = NeuralNmf<double>::fit(ctx(), X.view(), o);
  EXPECT_EQ(m.stop_reason(), StopReason::interrupted);
  EXPECT_TRUE(m.history().empty());
  ASSERT_EQ(m.layers(), 3);
  EXPECT_EQ(m.ranks(), (std::vector<index_t>{6, 3, 2}));
  EXPECT_EQ(m.classifier().rows(), 2);
  for (const auto& A : m.factors())
    for (double v : A.storage()) EXPECT_TRUE(std::isfinite(v) && v >= 0);
  // One start per later layer, no short training; training is announced and skipped.
  for (const auto& p : phases) EXPECT_EQ(p.find("short training"), std::string::npos) << p;
  ASSERT_FALSE(phases.empty());
  EXPECT_EQ(phases.back(), "training");
  // A usable model: transform and evaluate run on it.
  EXPECT_EQ(m.evaluate(ctx(), X.view()).size(), 3u);
}

TEST(StopReason, SavedAndLoadedWithTheModel) {
  FitOptions o = small_options();
  o.epochs = 2;
  o.patience = 0;
  const Matrix<double> X = blocks(5);
  const auto m = NeuralNmf<double>::fit(ctx(), X.view(), o);
  ASSERT_EQ(m.stop_reason(), StopReason::epoch_cap);
  const std::string path = ::testing::TempDir() + "stop_reason.nnmf";
  m.save(path);
  EXPECT_EQ(NeuralNmf<double>::load(path).stop_reason(), StopReason::epoch_cap);
  std::remove(path.c_str());
  EXPECT_EQ(NeuralNmf<double>::from_factors(m.factors()).stop_reason(), StopReason::none);
  EXPECT_STREQ(to_string(StopReason::interrupted), "interrupted");
  EXPECT_STREQ(to_string(StopReason::converged), "converged");
}

TEST(Phases, ReportInitializationStepsInOrderThenTraining) {
  FitOptions o = small_options();
  o.init_restarts = 2;
  o.epochs = 2;
  std::vector<std::string> names;
  std::vector<std::pair<int, int>> steps;
  o.on_phase = [&](const std::string& p, int i, int n) {
    names.push_back(p);
    steps.emplace_back(i, n);
  };
  const Matrix<double> X = blocks(6);
  NeuralNmf<double>::fit(ctx(), X.view(), o);
  ASSERT_GE(names.size(), 3u);
  EXPECT_EQ(names.front(), "init layer 0 (k=6): NMF start");
  EXPECT_EQ(steps.front(), (std::pair<int, int>{1, 2}));
  EXPECT_EQ(names.back(), "training");
  EXPECT_EQ(steps.back(), (std::pair<int, int>{0, 2}));
  for (const auto& s : steps) EXPECT_LE(s.first, s.second);
}

TEST(LeanInit, FromLeanInitColumnsOneLayerZeroStartAndNoShortTraining) {
  FitOptions o = small_options();
  o.ranks = {6, 3};
  o.init_restarts = 3;
  o.epochs = 5;
  std::map<std::string, int> steps;  // phase -> its n
  o.on_phase = [&](const std::string& p, int, int n) { steps[p] = n; };
  const Matrix<double> X = blocks(8);
  o.lean_init_columns = 37;  // X has 36 columns: the full initialization
  NeuralNmf<double>::fit(ctx(), X.view(), o);
  EXPECT_EQ(steps["init layer 0 (k=6): NMF start"], 3);
  EXPECT_EQ(steps["init layer 1 (k=3): NMF start"], 24);
  EXPECT_EQ(steps.count("init layer 1 (k=3): short training"), 1u);
  steps.clear();
  o.lean_init_columns = 36;  // lean
  const auto m = NeuralNmf<double>::fit(ctx(), X.view(), o);
  EXPECT_EQ(steps["init layer 0 (k=6): NMF start"], 1);
  EXPECT_EQ(steps["init layer 1 (k=3): NMF start"], 3);
  EXPECT_EQ(steps.count("init layer 1 (k=3): short training"), 0u);
  EXPECT_EQ(m.ranks(), (std::vector<index_t>{6, 3}));
  o.lean_init_columns = -1;
  EXPECT_THROW(NeuralNmf<double>::fit(ctx(), X.view(), o), InvalidArgument);
}

TEST(Hals, ObjectiveDecreasesMonotonicallyAndReachesAnlsError) {
  const Matrix<double> X = blocks(7);
  for (const bool sparse : {false, true}) {
    NmfOptions o;
    o.algorithm = NmfAlgorithm::hals;
    o.max_iter = 2000;
    o.rel_tol = 1e-12;
    NmfOptions a = o;
    a.algorithm = NmfAlgorithm::anls;
    a.max_iter = 300;
    NmfResult<double> h, r;
    if (sparse) {
      const CscMatrix<double> Xs = CscMatrix<double>::from_dense(X.view());
      h = nmf(ctx(), Xs, 6, o);
      r = nmf(ctx(), Xs, 6, a);
    } else {
      h = nmf(ctx(), X.view(), 6, o);
      r = nmf(ctx(), X.view(), 6, a);
    }
    ASSERT_GT(h.objective.size(), 2u);
    for (std::size_t q = 1; q < h.objective.size(); ++q)
      EXPECT_LE(h.objective[q], h.objective[q - 1] * (1 + 1e-12)) << "iteration " << q;
    // Same local minimum from the same NNDSVD start: within 0.1% of ANLS's objective.
    EXPECT_LE(h.objective.back(), r.objective.back() * 1.001) << (sparse ? "sparse" : "dense");
    for (double v : h.W.storage()) EXPECT_GE(v, 0);
    for (double v : h.H.storage()) EXPECT_GE(v, 0);
    // The reported objective is ||X - W H||^2 of the returned factors.
    Matrix<double> WH(30, 36);
    double f = 0;
    for (index_t j = 0; j < 36; ++j)
      for (index_t i = 0; i < 30; ++i) {
        double s = 0;
        for (index_t p = 0; p < 6; ++p) s += h.W(i, p) * h.H(p, j);
        f += (X(i, j) - s) * (X(i, j) - s);
      }
    EXPECT_NEAR(f, h.objective.back(), 1e-9 * (1 + f));
  }
}

}  // namespace
}  // namespace nnmf::test
