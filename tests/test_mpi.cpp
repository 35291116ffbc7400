// Data-parallel Neural NMF (docs/mpi.md), run under mpirun -np 1, 2 and 3: every process fits
// the whole problem on one process (the reference) and its block of columns with the others,
// and the two must agree: losses per epoch within 1e-12 relative, factors and classifier
// within 1e-10 of their largest entry, the same accuracies. Splits: even, uneven, and with one
// process holding no column; labels known on one process's block only.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "nnmf/mpi.hpp"
#include "nnmf/nnmf.hpp"

namespace nnmf::test {
namespace {

int world_size() {
  int p = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  return p;
}
int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

Context one() { return Context::host(1); }
Context all() { return with_mpi(Context::host(1), MPI_COMM_WORLD); }

std::string data(const std::string& f) { return std::string(NNMF_TEST_DATA_DIR) + "/" + f; }

enum class Split { even, uneven, empty_last };

/// First column of each process's block (P + 1 bounds) for m columns.
std::vector<index_t> bounds(index_t m, int P, Split s) {
  std::vector<index_t> b(static_cast<std::size_t>(P) + 1, 0);
  // Weights: even 1,1,1; uneven 1,2,3,...; empty_last as uneven with the last process empty.
  std::vector<index_t> w(static_cast<std::size_t>(P), 1);
  for (int r = 0; r < P; ++r) {
    if (s != Split::even) w[static_cast<std::size_t>(r)] = r + 1;
    if (s == Split::empty_last && P > 1 && r == P - 1) w[static_cast<std::size_t>(r)] = 0;
  }
  index_t total = 0;
  for (index_t x : w) total += x;
  index_t acc = 0;
  for (int r = 0; r < P; ++r) {
    acc += w[static_cast<std::size_t>(r)];
    b[static_cast<std::size_t>(r) + 1] = m * acc / total;
  }
  return b;
}

template <class V>
V block_of(const V& v, const std::vector<index_t>& b) {
  const auto r = static_cast<std::size_t>(world_rank());
  if (v.empty()) return v;
  return V(v.begin() + b[r], v.begin() + b[r + 1]);
}

Matrix<double> block_of(const Matrix<double>& X, const std::vector<index_t>& b) {
  const auto r = static_cast<std::size_t>(world_rank());
  const index_t c0 = b[r], c = b[r + 1] - b[r];
  Matrix<double> out(X.rows(), c);
  for (index_t j = 0; j < c; ++j)
    for (index_t i = 0; i < X.rows(); ++i) out(i, j) = X(i, c0 + j);
  return out;
}

CscMatrix<double> block_of(const CscMatrix<double>& X, const std::vector<index_t>& b) {
  const auto r = static_cast<std::size_t>(world_rank());
  std::vector<index_t> cols;
  for (index_t j = b[r]; j < b[r + 1]; ++j) cols.push_back(j);
  return X.select_columns(cols);
}

double max_abs(const Matrix<double>& M) {
  double m = 0;
  for (double v : M.storage()) m = std::max(m, std::abs(v));
  return m;
}

/// Largest |A - B| relative to max |A|.
double rel_diff(const Matrix<double>& A, const Matrix<double>& B) {
  if (A.rows() != B.rows() || A.cols() != B.cols()) return INFINITY;
  double d = 0;
  for (index_t q = 0; q < A.size(); ++q) d = std::max(d, std::abs(A.data()[q] - B.data()[q]));
  const double s = max_abs(A);
  return s > 0 ? d / s : d;
}

/// The checks after every collective call is done (a failed ASSERT would leave the others
/// waiting in a reduction).
void expect_same(const NeuralNmf<double>& ref, const NeuralNmf<double>& par) {
  const auto& h1 = ref.history();
  const auto& h2 = par.history();
  EXPECT_EQ(h1.size(), h2.size()) << "epochs";
  EXPECT_GT(h1.size(), 0u);
  for (std::size_t e = 0; e < std::min(h1.size(), h2.size()); ++e) {
    EXPECT_LE(std::abs(h1[e].loss - h2[e].loss), 1e-12 * std::abs(h1[e].loss)) << "epoch " << e + 1;
    EXPECT_EQ(h1[e].line_search_trials, h2[e].line_search_trials) << "epoch " << e + 1;
    EXPECT_EQ(h1[e].nnls_iterations, h2[e].nnls_iterations) << "epoch " << e + 1;
    EXPECT_EQ(h1[e].validation_accuracy, h2[e].validation_accuracy) << "epoch " << e + 1;
  }
  EXPECT_EQ(ref.stop_reason(), par.stop_reason());
  for (std::size_t l = 0; l < ref.factors().size(); ++l)
    EXPECT_LE(rel_diff(ref.factors()[l], par.factors()[l]), 1e-10) << "A" << l;
  EXPECT_LE(rel_diff(ref.classifier(), par.classifier()), 1e-10) << "B";
}

void expect_same_reports(const std::vector<LayerReport>& a, const std::vector<LayerReport>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t l = 0; l < a.size(); ++l) {
    // ||X - A V||^2 = ||X||^2 - 2 <C, V> + <G V, V> cancels to rel_error^2 of ||X||^2: the
    // rounding of the sums, relative to ||X||^2, grows by 1 / rel_error^2 in it.
    EXPECT_NEAR(a[l].rel_error, b[l].rel_error, 1e-9 * a[l].rel_error) << "layer " << l;
    ASSERT_EQ(a[l].accuracy.has_value(), b[l].accuracy.has_value());
    if (a[l].accuracy) {
      EXPECT_EQ(*a[l].accuracy, *b[l].accuracy) << "layer " << l;
    }
  }
}

struct Synthetic {
  Matrix<double> X = io::read_dense<double>(data("synthetic-hierarchy/X.mtx"));
  std::vector<int> y9 = io::read_labels(data("synthetic-hierarchy/labels9.txt"));
  std::vector<int> y4 = io::read_labels(data("synthetic-hierarchy/labels4.txt"));
  std::vector<int> y2 = io::read_labels(data("synthetic-hierarchy/labels2.txt"));
  std::vector<std::uint8_t> known40 = io::read_mask(data("synthetic-hierarchy/known40.txt"));
};

/// Fits on one process and on all (the block of @p split), then evaluates both with the
/// label sets; compares everything.
void compare_dense(const Matrix<double>& X, const FitOptions& o, Split split,
                   const std::vector<std::vector<int>>& eval) {
  const auto b = bounds(X.cols(), world_size(), split);
  const auto ref = NeuralNmf<double>::fit(one(), X.view(), o);
  FitOptions po = o;
  if (po.supervision) {
    po.supervision->labels = block_of(o.supervision->labels, b);
    po.supervision->known = block_of(o.supervision->known, b);
  }
  const Matrix<double> Xb = block_of(X, b);
  const auto par = NeuralNmf<double>::fit(all(), Xb.view(), po);
  std::vector<std::vector<int>> eval_b;
  for (const auto& y : eval) eval_b.push_back(block_of(y, b));
  const auto r1 = ref.evaluate(one(), X.view(), eval);
  const auto r2 = par.evaluate(all(), Xb.view(), eval_b);
  const auto S1 = ref.transform(one(), X.view());
  const auto S2 = par.transform(all(), Xb.view());
  expect_same(ref, par);
  expect_same_reports(r1, r2);
  for (std::size_t l = 0; l < S1.size(); ++l)
    EXPECT_LE(rel_diff(block_of(S1[l], b), S2[l]), 1e-10) << "S" << l;
}

TEST(Mpi, SyntheticUnsupervisedEvenSplit) {
  Synthetic s;
  FitOptions o;
  o.ranks = {9, 4, 2};
  o.seed = 1;
  o.epochs = 25;
  compare_dense(s.X, o, Split::even, {s.y9, s.y4, s.y2});
}

TEST(Mpi, SyntheticSupervisedUnevenSplit) {
  Synthetic s;
  FitOptions o;
  o.ranks = {9, 4, 2};
  o.seed = 3;
  o.epochs = 25;
  Supervision sup;
  sup.labels = s.y2;
  sup.known = s.known40;
  o.supervision = sup;
  compare_dense(s.X, o, Split::uneven, {s.y9, s.y4, s.y2});
}

/// The columns in the order j -> (37 j) mod m (classes mixed: the bundled data is sorted).
template <class V>
V mixed(const V& v) {
  V out(v);
  const std::size_t m = v.size();
  for (std::size_t j = 0; j < m; ++j) out[j] = v[(37 * j) % m];
  return out;
}

TEST(Mpi, LabelsKnownOnOneProcessAndAnEmptyProcess) {
  Synthetic s;
  // Every class among process 0's columns (the known ones): columns mixed.
  const index_t m = s.X.cols();
  Matrix<double> Xm(s.X.rows(), m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < s.X.rows(); ++i) Xm(i, j) = s.X(i, (37 * j) % m);
  s.X = Xm;
  s.y4 = mixed(s.y4);
  FitOptions o;
  o.ranks = {9, 4};
  o.seed = 5;
  o.epochs = 15;
  o.energy_weight = 1;
  o.scaling = Scaling::mean;
  Supervision sup;
  sup.labels = s.y4;
  // Known: only the columns of process 0's block (of the split below).
  const auto b = bounds(s.X.cols(), world_size(), Split::empty_last);
  sup.known.assign(static_cast<std::size_t>(s.X.cols()), 0);
  for (index_t j = 0; j < b[1]; ++j) sup.known[static_cast<std::size_t>(j)] = 1;
  o.supervision = sup;
  compare_dense(s.X, o, Split::empty_last, {s.y4});
}

TEST(Mpi, MissingDataMaskUnevenSplit) {
  Synthetic s;
  const index_t n = s.X.rows(), m = s.X.cols();
  FitOptions o;
  o.ranks = {9, 4};
  o.seed = 6;
  o.epochs = 10;
  o.energy_weight = 1;
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(n * m));
  for (std::size_t q = 0; q < mask.size(); ++q) mask[q] = (q * 2654435761u) % 7 != 0;  // ~1/7 missing
  o.data_mask = mask;
  const auto b = bounds(m, world_size(), Split::uneven);
  const auto ref = NeuralNmf<double>::fit(one(), s.X.view(), o);
  FitOptions po = o;
  const auto r = static_cast<std::size_t>(world_rank());
  po.data_mask.assign(mask.begin() + b[r] * n, mask.begin() + b[r + 1] * n);  // column-major
  const Matrix<double> Xb = block_of(s.X, b);
  const auto par = NeuralNmf<double>::fit(all(), Xb.view(), po);
  expect_same(ref, par);
}

TEST(Mpi, TrainedClassifierAdamRandomInit) {
  Synthetic s;
  FitOptions o;
  o.ranks = {9, 4, 2};
  o.seed = 7;
  o.epochs = 10;
  o.init = Init::random;
  o.optimizer = Optimizer::adam;
  o.scaling = Scaling::mean;
  o.learning_rate = 1e-2;
  Supervision sup;
  sup.labels = s.y2;
  sup.loss = SupervisionLoss::cross_entropy;
  sup.classifier = ClassifierMode::trained;
  o.supervision = sup;
  compare_dense(s.X, o, Split::uneven, {s.y2});
}

/// The 20 Newsgroups sample with its super-topic labels, 60% of them known.
struct News {
  CscMatrix<double> X = io::read_sparse<double>(data("20news-subsample/X.mtx"));
  std::vector<int> y = io::read_labels(data("20news-subsample/super_labels.txt"));
  std::vector<std::uint8_t> known = io::read_mask(data("20news-subsample/known60.txt"));

  FitOptions supervised(FitOptions o) const {
    Supervision sup;
    sup.labels = y;
    sup.known = known;
    o.supervision = sup;
    return o;
  }
  /// One process on all of X, and every process on its block of columns (labels cut to it).
  std::pair<NeuralNmf<double>, NeuralNmf<double>> fit_both(const FitOptions& o, const std::vector<index_t>& b) const {
    FitOptions po = o;
    po.supervision->labels = block_of(y, b);
    po.supervision->known = block_of(known, b);
    return {NeuralNmf<double>::fit(one(), X, o), NeuralNmf<double>::fit(all(), block_of(X, b), po)};
  }
};

TEST(Mpi, NewsSampleSparseLeanInit) {
  const News n;
  FitOptions o;
  o.ranks = {10, 4};
  o.seed = 2;
  o.epochs = 15;
  o.energy_weight = 1;
  o.reconstruction_weight = 0;
  o.lean_init_columns = 100;  // the lean path (HALS) on this sample of 200 documents
  o = n.supervised(o);
  for (Split split : {Split::even, Split::empty_last}) {
    const auto b = bounds(n.X.cols(), world_size(), split);
    const auto [ref, par] = n.fit_both(o, b);
    const auto r1 = ref.evaluate(one(), n.X, {n.y}, n.known);
    const auto r2 = par.evaluate(all(), block_of(n.X, b), {block_of(n.y, b)}, block_of(n.known, b));
    expect_same(ref, par);
    expect_same_reports(r1, r2);
  }
}

TEST(Mpi, EarlyStoppingOnHeldOutLabels) {
  const News n;
  FitOptions o;
  o.ranks = {10, 4};
  o.seed = 3;
  o.epochs = 40;
  o.patience = 0;
  o.init_restarts = 1;
  o.validation_fraction = 0.25;  // 30 of the 120 known labels held out, wherever they lie
  o.validation_min_labels = 10;
  o.validation_patience = 3;
  const auto [ref, par] = n.fit_both(n.supervised(o), bounds(n.X.cols(), world_size(), Split::empty_last));
  expect_same(ref, par);
  EXPECT_GE(ref.history().at(0).validation_accuracy, 0.0);
  EXPECT_EQ(ref.stop_reason(), StopReason::validation);  // and the best epoch's factors kept
}

TEST(Mpi, NmfAnlsAndHals) {
  const auto X = io::read_sparse<double>(data("20news-subsample/X.mtx"));
  const auto b = bounds(X.cols(), world_size(), Split::uneven);
  const auto Xb = block_of(X, b);
  for (NmfAlgorithm a : {NmfAlgorithm::anls, NmfAlgorithm::hals, NmfAlgorithm::mu}) {
    NmfOptions o;
    o.algorithm = a;
    o.max_iter = 20;
    o.init = a == NmfAlgorithm::mu ? NmfInit::random : NmfInit::nndsvd;
    const auto r1 = nmf<double>(one(), X, 8, o);
    const auto r2 = nmf<double>(all(), Xb, 8, o);
    EXPECT_LE(rel_diff(r1.W, r2.W), 1e-10) << to_string(a);
    EXPECT_LE(rel_diff(block_of(r1.H, b), r2.H), 1e-10) << to_string(a);
    ASSERT_EQ(r1.objective.size(), r2.objective.size());
    EXPECT_LE(std::abs(r1.objective.back() - r2.objective.back()), 1e-12 * r1.objective.back());
  }
}

/// Objectives per iteration within 1e-12 relative, the same iteration count.
void expect_same_objective(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t q = 0; q < a.size(); ++q)
    EXPECT_LE(std::abs(a[q] - b[q]), 1e-12 * std::abs(a[q])) << what << " iteration " << q + 1;
}

/// With @p pool > 1, layer l's columns are X's pooled by pool^l (blocks at multiples of it).
void expect_same_layers(const MultilayerResult<double>& ref, const MultilayerResult<double>& par,
                        std::vector<index_t> b, const char* what, index_t pool = 1) {
  expect_same_objective(ref.objective, par.objective, what);
  ASSERT_EQ(ref.layer_objective.size(), par.layer_objective.size());
  for (std::size_t l = 0; l < ref.layer_objective.size(); ++l)
    EXPECT_LE(std::abs(ref.layer_objective[l] - par.layer_objective[l]), 1e-12 * ref.layer_objective[l]) << what;
  for (std::size_t l = 0; l < ref.A.size(); ++l) {
    EXPECT_LE(rel_diff(ref.A[l], par.A[l]), 1e-10) << what << " A" << l;
    EXPECT_LE(rel_diff(block_of(ref.S[l], b), par.S[l]), 1e-10) << what << " S" << l;
    for (auto& x : b) x = (x + pool - 1) / pool;
  }
  EXPECT_LE(rel_diff(ref.B, par.B), 1e-10) << what << " B";
}

/// SSNMF with labels known on process 0's block only (the last process has no column), from
/// an NMF start and from a random one, and with a missing-data mask.
TEST(Mpi, SsnmfLabelsOnOneProcess) {
  Synthetic s;
  const index_t n = s.X.rows(), m = s.X.cols();
  const auto b = bounds(m, world_size(), Split::empty_last);
  SsnmfOptions o;
  o.max_iter = 40;
  Supervision sup;
  sup.labels = mixed(s.y4);
  sup.known.assign(static_cast<std::size_t>(m), 0);
  for (index_t j = 0; j < std::max<index_t>(b[1], 1); ++j) sup.known[static_cast<std::size_t>(j)] = 1;
  o.supervision = sup;
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(n * m));
  for (std::size_t q = 0; q < mask.size(); ++q) mask[q] = (q * 2654435761u) % 7 != 0;
  const Matrix<double> Xb = block_of(s.X, b);
  for (int variant = 0; variant < 3; ++variant) {
    SsnmfOptions ro = o;
    if (variant == 1) ro.init = SsnmfInit::random;
    if (variant == 2) ro.data_mask = mask;
    SsnmfOptions po = ro;
    po.supervision->labels = block_of(sup.labels, b);
    po.supervision->known = block_of(sup.known, b);
    const auto r = static_cast<std::size_t>(world_rank());
    if (variant == 2) po.data_mask.assign(mask.begin() + b[r] * n, mask.begin() + b[r + 1] * n);
    const auto r1 = ssnmf<double>(one(), s.X.view(), 4, ro);
    const auto r2 = ssnmf<double>(all(), Xb.view(), 4, po);
    expect_same_objective(r1.objective, r2.objective, "ssnmf");
    EXPECT_LE(rel_diff(r1.A, r2.A), 1e-10) << "variant " << variant;
    EXPECT_LE(rel_diff(r1.B, r2.B), 1e-10) << "variant " << variant;
    EXPECT_LE(rel_diff(block_of(r1.S, b), r2.S), 1e-10) << "variant " << variant;
  }
}

TEST(Mpi, HierarchicalNmfSupervisedUnevenSplit) {
  Synthetic s;
  const auto b = bounds(s.X.cols(), world_size(), Split::uneven);
  HierarchicalNmfOptions o;
  o.ranks = {9, 4, 2};
  o.nmf.max_iter = 30;
  o.ssnmf.max_iter = 30;
  Supervision sup;
  sup.labels = s.y2;
  sup.known = s.known40;
  o.supervision = sup;
  HierarchicalNmfOptions po = o;
  po.supervision->labels = block_of(s.y2, b);
  po.supervision->known = block_of(s.known40, b);
  const Matrix<double> Xb = block_of(s.X, b);
  expect_same_layers(hierarchical_nmf<double>(one(), s.X.view(), o), hierarchical_nmf<double>(all(), Xb.view(), po),
                     b, "hnmf");
}

/// Deep NMF on the sparse news sample, the last process empty; the supervised last layer.
TEST(Mpi, DeepNmfSparseWithAnEmptyProcess) {
  const News nw;
  const auto b = bounds(nw.X.cols(), world_size(), Split::empty_last);
  DeepNmfOptions o;
  o.ranks = {10, 4};
  o.forward.max_iter = 20;
  o.ssnmf.max_iter = 20;
  o.max_iter = 15;
  o.rel_tol = 0;
  Supervision sup;
  sup.labels = nw.y;
  sup.known = nw.known;
  o.supervision = sup;
  DeepNmfOptions po = o;
  po.supervision->labels = block_of(nw.y, b);
  po.supervision->known = block_of(nw.known, b);
  expect_same_layers(deep_nmf<double>(one(), nw.X, o), deep_nmf<double>(all(), block_of(nw.X, b), po), b, "deep");
}

/// Pooling: blocks at multiples of the window agree with one process; a block that splits a
/// pooled group stops every process with the same error.
TEST(Mpi, DeepNmfPoolingNeedsAlignedBlocks) {
  Synthetic s;
  const int P = world_size();
  DeepNmfOptions o;
  o.ranks = {9, 4};
  o.pool = 2;
  o.forward.max_iter = 20;
  o.max_iter = 10;
  o.rel_tol = 0;
  std::vector<index_t> b(static_cast<std::size_t>(P) + 1, s.X.cols());
  for (int r = 0; r < P; ++r) b[static_cast<std::size_t>(r)] = std::min<index_t>(s.X.cols(), 2 * (s.X.cols() / 2 / P) * r);
  const Matrix<double> Xb = block_of(s.X, b);
  expect_same_layers(deep_nmf<double>(one(), s.X.view(), o), deep_nmf<double>(all(), Xb.view(), o),
                     b, "deep pool 2", 2);
  if (P == 1) return;
  std::vector<index_t> odd = b;
  odd[1] += 1;  // process 1 starts inside a group
  const Matrix<double> Xo = block_of(s.X, odd);
  std::string what;
  try {
    deep_nmf<double>(all(), Xo.view(), o);
  } catch (const InvalidArgument& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("multiple of 2"), std::string::npos) << what;
}

TEST(Mpi, OneProcessIsBitIdentical) {
  if (world_size() != 1) GTEST_SKIP() << "one process only";
  Synthetic s;
  FitOptions o;
  o.ranks = {9, 4, 2};
  o.seed = 4;
  o.epochs = 10;
  const auto a = NeuralNmf<double>::fit(one(), s.X.view(), o);
  const auto b = NeuralNmf<double>::fit(all(), s.X.view(), o);
  for (std::size_t e = 0; e < a.history().size(); ++e) EXPECT_EQ(a.history()[e].loss, b.history()[e].loss);
  for (std::size_t l = 0; l < a.factors().size(); ++l)
    EXPECT_EQ(rel_diff(a.factors()[l], b.factors()[l]), 0.0);
}

TEST(Mpi, BadBlockOnOneProcessStopsAll) {
  Synthetic s;
  const int P = world_size();
  FitOptions o;
  o.ranks = {4};
  o.epochs = 2;
  Supervision sup;
  const auto b = bounds(s.X.cols(), P, Split::even);
  sup.labels = block_of(s.y2, b);
  if (world_rank() == P - 1) sup.labels.pop_back();  // the last process's labels are short
  o.supervision = sup;
  const Matrix<double> Xb = block_of(s.X, b);
  std::string what;
  bool peer = false;
  try {
    NeuralNmf<double>::fit(all(), Xb.view(), o);
  } catch (const PeerError& e) {
    peer = true;
    what = e.what();
  } catch (const DimensionMismatch& e) {
    what = e.what();
  }
  if (world_rank() == P - 1) {
    EXPECT_FALSE(peer);
    EXPECT_NE(what.find("labels for"), std::string::npos) << what;
  } else {
    EXPECT_TRUE(peer) << what;
    EXPECT_NE(what.find("process " + std::to_string(P - 1) + " of " + std::to_string(P) + " failed"),
              std::string::npos) << what;
    EXPECT_NE(what.find("labels for"), std::string::npos) << what;
  }
}

TEST(Mpi, RepeatableForAGivenProcessCount) {
  Synthetic s;
  FitOptions o;
  o.ranks = {9, 4};
  o.seed = 8;
  o.epochs = 10;
  const auto b = bounds(s.X.cols(), world_size(), Split::uneven);
  const Matrix<double> Xb = block_of(s.X, b);
  const auto a1 = NeuralNmf<double>::fit(all(), Xb.view(), o);
  const auto a2 = NeuralNmf<double>::fit(all(), Xb.view(), o);
  ASSERT_EQ(a1.history().size(), a2.history().size());
  for (std::size_t e = 0; e < a1.history().size(); ++e) EXPECT_EQ(a1.history()[e].loss, a2.history()[e].loss);
  for (std::size_t l = 0; l < a1.factors().size(); ++l) EXPECT_EQ(a1.factors()[l].storage(), a2.factors()[l].storage());
}

TEST(Mpi, CommunicationIsCounted) {
  Synthetic s;
  FitOptions o;
  o.ranks = {4};
  o.epochs = 3;
  const Context c = all();
  const auto b = bounds(s.X.cols(), world_size(), Split::even);
  const Matrix<double> Xb = block_of(s.X, b);
  NeuralNmf<double>::fit(c, Xb.view(), o);
  const CommunicationStats st = c.communication();
  EXPECT_EQ(c.processes(), world_size());
  EXPECT_EQ(c.process(), world_rank());
  if (world_size() == 1) {
    EXPECT_EQ(st.calls, 0u);
  } else {
    EXPECT_GT(st.calls, 0u);
    EXPECT_GT(st.bytes, 0u);
  }
}

/// Run alone by the ctest mpi_rank_dies: the last process exits in the middle of training;
/// mpirun must end every process (the test checks its exit status and its time).
TEST(MpiDeath, DISABLED_RankDies) {
  Synthetic s;
  FitOptions o;
  o.ranks = {9, 4};
  o.epochs = 1000;
  o.patience = 0;
  const int P = world_size();
  const auto b = bounds(s.X.cols(), P, Split::even);
  o.on_epoch = [P](const EpochRecord& r) {
    if (r.epoch == 3 && world_rank() == P - 1) _exit(3);
  };
  const Matrix<double> Xb = block_of(s.X, b);
  NeuralNmf<double>::fit(all(), Xb.view(), o);
}

/// Failures of processes other than 0 are printed with their rank (only process 0 prints the
/// usual report).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[process %d] %s:%d: failure\n%s\n", world_rank(),
                   r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
  }
};

}  // namespace
}  // namespace nnmf::test

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (nnmf::test::world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new nnmf::test::RankFailurePrinter);
  }
  int rc = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return rc;
}
