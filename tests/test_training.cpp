// Neural NMF training: whole-network gradients against central finite differences for every
// loss (reconstruction, energy, L2 and cross-entropy supervision, closed-form and trained
// classifier, missing-data mask, sparse X), and the optimisers decrease the loss.
#include <gtest/gtest.h>

#include "core/trainer.hpp"
#include "test_util.hpp"

namespace nnmf::test {
namespace {

using detail::DMatrix;
using detail::PreparedData;
using detail::State;
using detail::Trainer;

Context ctx() { return Context::host(2); }

struct Problem {
  Matrix<double> X;
  CscMatrix<double> Xs;
  bool sparse = false;
  std::vector<Matrix<double>> A;
  FitOptions opts;
};

Problem make_problem(std::uint64_t seed, bool sparse) {
  Problem p;
  const index_t n = 14, m = 16;
  p.sparse = sparse;
  if (sparse) {
    p.Xs = random_sparse<double>(n, m, 0.4, seed);
    p.X = p.Xs.to_dense();
  } else {
    p.X = random_matrix<double>(n, m, seed);
  }
  p.opts.ranks = {5, 3, 2};
  p.A.push_back(random_matrix<double>(n, 5, seed + 1));
  p.A.push_back(random_matrix<double>(5, 3, seed + 2));
  p.A.push_back(random_matrix<double>(3, 2, seed + 3));
  p.opts.nnls.tol = 1e-14;
  return p;
}

/// Supports of every layer of a state, as host words, to detect kinks of q.
std::vector<std::uint64_t> supports(const State<double>& st, index_t m) {
  std::vector<std::uint64_t> out;
  for (const auto& s : st.solvers) out.insert(out.end(), s->support(), s->support() + m * s->words_per_col());
  return out;
}

/// The trainer's data and missing entries for @p p: a dense 0/1 @p mask, or p.opts.held_out
/// (X then has H's entries dropped, as NeuralNmf::fit does).
struct Setup {
  std::unique_ptr<PreparedData<double>> data;
  DMatrix<double> dmask;
  std::unique_ptr<detail::DPattern> held;
  CscMatrix<double> dropped;
  detail::Missing<double> missing() const { return {dmask.size() ? &dmask : nullptr, held.get()}; }
};

Setup setup(const Context& c, const Problem& p, const std::vector<std::uint8_t>& mask) {
  Setup s;
  if (!p.opts.held_out.none()) {
    s.dropped = drop_held_out(p.Xs, p.opts.held_out);
    s.data = detail::prepare(c, s.dropped);
    s.held = std::make_unique<detail::DPattern>(c, p.opts.held_out);
    return s;
  }
  s.data = p.sparse ? detail::prepare(c, p.Xs) : detail::prepare<double>(c, p.X.view());
  if (!mask.empty()) {
    Matrix<double> h(p.X.rows(), p.X.cols());
    for (index_t q = 0; q < h.size(); ++q) h.data()[q] = mask[static_cast<std::size_t>(q)];
    s.dmask = DMatrix<double>::upload(c, h.view());
  }
  return s;
}

/// Checks dL/dA(l) (and dL/dB when trained) of the trainer against central differences.
void check_gradients(Problem& p, std::unique_ptr<detail::SupervisionData<double>> sup = nullptr,
                     const std::vector<std::uint8_t>& mask = {}) {
  const Context c = ctx();
  const Setup su = setup(c, p, mask);
  Trainer<double> tr(c, *su.data, p.opts.ranks, p.opts, sup.get(), su.missing());
  const bool trained = sup && sup->mode == ClassifierMode::trained;
  const index_t m = p.X.cols();
  std::vector<DMatrix<double>> A, dA;
  for (const auto& a : p.A) {
    A.push_back(DMatrix<double>::upload(c, a.view()));
    dA.push_back(DMatrix<double>(c, a.rows(), a.cols()));
  }
  DMatrix<double> B, dB;
  if (trained) {
    B = DMatrix<double>::upload(c, random_matrix<double>(sup->classes, p.opts.ranks.back(), 77, -1, 1).view());
    dB = DMatrix<double>(c, B.rows(), B.cols());
  }
  State<double> base = tr.make_state(), pert = tr.make_state();
  tr.evaluate(A, trained ? &B : nullptr, base, nullptr);
  ASSERT_GT(base.total, 0);
  tr.gradient(A, base, dA, trained ? &dB : nullptr);
  const auto sup0 = supports(base, m);

  int checked = 0, skipped = 0;
  auto fd = [&](double* entry, double analytic, const char* what, index_t e) {
    const double orig = *entry, h = 1e-6 * std::max(1.0, std::abs(orig));
    *entry = orig + h;
    tr.evaluate(A, trained ? &B : nullptr, pert, &base);
    const double lp = pert.total;
    const bool same1 = supports(pert, m) == sup0;
    *entry = orig - h;
    tr.evaluate(A, trained ? &B : nullptr, pert, &base);
    const double lm = pert.total;
    const bool same2 = supports(pert, m) == sup0;
    *entry = orig;
    if (!same1 || !same2) {
      ++skipped;
      return;
    }
    const double num = (lp - lm) / (2 * h);
    EXPECT_NEAR(analytic, num, 1e-5 * (1 + std::abs(num)) + 1e-7 * std::abs(base.total))
        << what << " entry " << e;
    ++checked;
  };
  for (std::size_t l = 0; l < A.size(); ++l) {
    const Matrix<double> g = dA[l].download();
    for (index_t e = 0; e < g.size(); ++e) fd(A[l].data() + e, g.data()[e], ("dA" + std::to_string(l)).c_str(), e);
  }
  if (trained) {
    const Matrix<double> g = dB.download();
    for (index_t e = 0; e < g.size(); ++e) fd(B.data() + e, g.data()[e], "dB", e);
  }
  EXPECT_GT(checked, 4 * (skipped + 1)) << "checked " << checked << ", skipped (kinks) " << skipped;
}

TEST(TrainingGradient, Reconstruction) {
  auto p = make_problem(10, false);
  check_gradients(p);
}

TEST(TrainingGradient, ReconstructionSparseX) {
  auto p = make_problem(20, true);
  check_gradients(p);
}

TEST(TrainingGradient, EnergyMeanScaling) {
  auto p = make_problem(30, false);
  p.opts.reconstruction_weight = 0;
  p.opts.energy_weight = 1;
  p.opts.scaling = Scaling::mean;
  check_gradients(p);
}

TEST(TrainingGradient, EnergyAndReconstructionSparse) {
  auto p = make_problem(40, true);
  p.opts.reconstruction_weight = 0.7;
  p.opts.energy_weight = 1.3;
  check_gradients(p);
}

std::unique_ptr<detail::SupervisionData<double>> supervision(const Problem& p, SupervisionLoss loss,
                                                             ClassifierMode mode, double lambda,
                                                             FitOptions& opts) {
  Supervision s;
  const index_t m = p.X.cols();
  for (index_t j = 0; j < m; ++j) s.labels.push_back(static_cast<int>((j * 7) % 3));
  for (index_t j = 0; j < m; ++j) s.known.push_back(j % 4 != 0);
  s.loss = loss;
  s.classifier = mode;
  s.lambda = lambda;
  opts.supervision = s;
  auto d = std::make_unique<detail::SupervisionData<double>>();
  d->classes = 3;
  d->loss = loss;
  d->mode = mode;
  Matrix<double> w(1, m), Y(3, m), Yw(3, m);
  for (index_t j = 0; j < m; ++j) {
    w(0, j) = s.known[static_cast<std::size_t>(j)];
    Y(s.labels[static_cast<std::size_t>(j)], j) = 1;
    Yw(s.labels[static_cast<std::size_t>(j)], j) = w(0, j);
  }
  const Context c = ctx();
  d->weight = DMatrix<double>::upload(c, w.view());
  d->Y = DMatrix<double>::upload(c, Y.view());
  d->Yw = DMatrix<double>::upload(c, Yw.view());
  d->labels = detail::Buffer<int>(c, static_cast<std::size_t>(m));
  d->labels.upload(s.labels.data(), static_cast<std::size_t>(m));
  return d;
}

TEST(TrainingGradient, L2SupervisionClosedFormClassifier) {
  auto p = make_problem(50, false);
  auto sup = supervision(p, SupervisionLoss::l2, ClassifierMode::closed_form, 2.0, p.opts);
  check_gradients(p, std::move(sup));
}

TEST(TrainingGradient, L2SupervisionTrainedClassifierMeanScaling) {
  auto p = make_problem(60, true);
  p.opts.scaling = Scaling::mean;
  auto sup = supervision(p, SupervisionLoss::l2, ClassifierMode::trained, 3.0, p.opts);
  check_gradients(p, std::move(sup));
}

TEST(TrainingGradient, CrossEntropySupervision) {
  auto p = make_problem(70, false);
  p.opts.energy_weight = 0.5;
  auto sup = supervision(p, SupervisionLoss::cross_entropy, ClassifierMode::trained, 1.5, p.opts);
  check_gradients(p, std::move(sup));
}

TEST(TrainingGradient, MissingDataMask) {
  auto p = make_problem(80, false);
  p.opts.energy_weight = 1.0;
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(p.X.size()));
  for (std::size_t q = 0; q < mask.size(); ++q) mask[q] = (q * 13) % 5 != 0;
  p.opts.data_mask = mask;
  check_gradients(p, nullptr, mask);
}

/// A held-out set on X's 14 x 16 entries: stored entries and zeros alike.
HeldOut some_held_out(const Problem& p, std::uint64_t seed) {
  return random_held_out(p.Xs, 0.3, seed);
}

TEST(TrainingGradient, HeldOutSparseX) {
  auto p = make_problem(85, true);
  p.opts.energy_weight = 0.8;
  p.opts.held_out = some_held_out(p, 5);
  ASSERT_GT(p.opts.held_out.size(), 20);
  check_gradients(p);
}

TEST(TrainingGradient, HeldOutSparseXSingleLayerMeanScaling) {
  auto p = make_problem(86, true);
  p.opts.ranks = {4};
  p.A = {random_matrix<double>(p.X.rows(), 4, 87)};
  p.opts.energy_weight = 1.0;
  p.opts.scaling = Scaling::mean;
  p.opts.held_out = some_held_out(p, 6);
  check_gradients(p);
}

/// Loss and gradients of the trainer at p.A.
struct Evaluated {
  double total = 0;
  std::vector<Matrix<double>> dA;
};

Evaluated evaluate_at(const Problem& p, const std::vector<std::uint8_t>& mask) {
  const Context c = ctx();
  const Setup su = setup(c, p, mask);
  Trainer<double> tr(c, *su.data, p.opts.ranks, p.opts, nullptr, su.missing());
  std::vector<DMatrix<double>> A, dA;
  for (const auto& a : p.A) {
    A.push_back(DMatrix<double>::upload(c, a.view()));
    dA.push_back(DMatrix<double>(c, a.rows(), a.cols()));
  }
  State<double> st = tr.make_state();
  tr.evaluate(A, nullptr, st, nullptr);
  tr.gradient(A, st, dA, nullptr);
  Evaluated e{st.total, {}};
  for (const auto& d : dA) e.dA.push_back(d.download());
  return e;
}

/// The sparse held-out set H gives the loss and gradients of the dense mask W = 1 - H on the
/// same data densified (with the held-out entries zeroed, as the fit trains on them).
void expect_held_out_equals_dense_mask(index_t layers, std::uint64_t seed) {
  auto p = make_problem(seed, true);
  p.opts.ranks.resize(static_cast<std::size_t>(layers));
  p.A.resize(static_cast<std::size_t>(layers));
  p.opts.energy_weight = 0.6;
  p.opts.held_out = some_held_out(p, seed + 1);
  const Evaluated sparse = evaluate_at(p, {});
  Problem d = p;
  d.sparse = false;
  d.X = drop_held_out<double>(p.X.view(), p.opts.held_out);
  const auto W = p.opts.held_out.to_mask();
  d.opts.held_out = HeldOut{};
  const Evaluated dense = evaluate_at(d, W);
  EXPECT_NEAR(sparse.total, dense.total, 1e-10 * dense.total) << layers << " layers";
  for (std::size_t l = 0; l < dense.dA.size(); ++l)
    for (index_t e = 0; e < dense.dA[l].size(); ++e)
      EXPECT_NEAR(sparse.dA[l].data()[e], dense.dA[l].data()[e], 1e-9 * (1 + std::abs(dense.dA[l].data()[e])))
          << "dA" << l << " entry " << e;
}

TEST(HeldOutLoss, SparseSetEqualsDenseMaskOneLayer) { expect_held_out_equals_dense_mask(1, 300); }
TEST(HeldOutLoss, SparseSetEqualsDenseMaskTwoLayers) { expect_held_out_equals_dense_mask(2, 310); }

TEST(TrainingGradient, SingleLayer) {
  auto p = make_problem(90, true);
  p.opts.ranks = {4};
  p.A = {random_matrix<double>(p.X.rows(), 4, 91)};
  p.opts.energy_weight = 0.3;
  check_gradients(p);
}

}  // namespace
}  // namespace nnmf::test
