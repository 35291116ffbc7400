// Neural NMF end to end: the paper's quality targets on the synthetic hierarchy (smaller runs),
// determinism, the optimisers, sparse data, save/load with corruption detection.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

struct Synthetic {
  Matrix<double> X;
  std::vector<std::vector<int>> y;  // labels9, labels4, labels2
  std::vector<std::uint8_t> known40;
};

const Synthetic& synthetic() {
  static const Synthetic s = [] {
    Synthetic d;
    const std::string dir = data_dir() + "/synthetic-hierarchy/";
    d.X = io::read_dense<double>(dir + "X.mtx");
    for (const char* f : {"labels9.txt", "labels4.txt", "labels2.txt"}) d.y.push_back(io::read_labels(dir + f, 90));
    d.known40 = io::read_mask(dir + "known40.txt", 90);
    return d;
  }();
  return s;
}

struct Quality {
  double err = 0, acc = 0;
};

/// Mean last-layer relative error and accuracy over seeds, as in Table 1.
Quality table1(int depth, bool semi, int seeds, int epochs) {
  const auto& d = synthetic();
  Quality q;
  for (int seed = 0; seed < seeds; ++seed) {
    FitOptions o;
    o.ranks = {9, 4, 2};
    o.ranks.resize(static_cast<std::size_t>(depth));
    o.seed = static_cast<std::uint64_t>(seed);
    o.epochs = epochs;
    if (semi) {
      Supervision s;
      s.labels = d.y[static_cast<std::size_t>(depth - 1)];
      s.known = d.known40;
      o.supervision = s;
    }
    const auto m = NeuralNmf<double>::fit(Context::host(2), d.X.view(), o);
    const auto rep = m.evaluate(Context::host(2), d.X.view(), {d.y[static_cast<std::size_t>(depth - 1)]},
                                semi ? d.known40 : std::vector<std::uint8_t>{});
    q.err += rep.back().rel_error / seeds;
    q.acc += *rep.back().accuracy / seeds;
  }
  return q;
}

TEST(Quality, OneLayerUnsupervised) {
  const Quality q = table1(1, false, 3, 60);
  EXPECT_LE(q.err, 0.03);
  EXPECT_EQ(q.acc, 1.0);
}

TEST(Quality, TwoLayersUnsupervised) {
  const Quality q = table1(2, false, 3, 120);
  EXPECT_LE(q.err, 0.32);
  EXPECT_GE(q.acc, 0.95);
}

TEST(Quality, ThreeLayersUnsupervised) {
  const Quality q = table1(3, false, 3, 120);
  EXPECT_LE(q.err, 0.50);
  EXPECT_GE(q.acc, 0.95);
}

TEST(Quality, ThreeLayersWith40PercentLabels) {
  const Quality q = table1(3, true, 3, 120);
  EXPECT_LE(q.err, 0.50);
  EXPECT_GE(q.acc, 0.98);
}

TEST(Quality, EveryLayerOfAThreeLayerFitRecoversItsLevel) {
  const auto& d = synthetic();
  FitOptions o;
  o.ranks = {9, 4, 2};
  o.epochs = 120;
  const auto m = NeuralNmf<double>::fit(Context::host(2), d.X.view(), o);
  const auto rep = m.evaluate(Context::host(2), d.X.view(), d.y);
  ASSERT_EQ(rep.size(), 3u);
  for (const auto& r : rep) EXPECT_GE(*r.accuracy, 0.95) << "rank " << r.rank;
  EXPECT_LT(rep[0].rel_error, rep[1].rel_error);
  EXPECT_LT(rep[1].rel_error, rep[2].rel_error);
}

TEST(Model, SameSeedSameBitsDifferentSeedDifferentStart) {
  const auto& d = synthetic();
  FitOptions o;
  o.ranks = {9, 4};
  o.epochs = 30;
  o.seed = 3;
  const auto a = NeuralNmf<double>::fit(Context::host(2), d.X.view(), o);
  const auto b = NeuralNmf<double>::fit(Context::host(2), d.X.view(), o);
  for (std::size_t l = 0; l < 2; ++l) EXPECT_EQ(a.factors()[l].storage(), b.factors()[l].storage());
  ASSERT_EQ(a.history().size(), b.history().size());
  for (std::size_t e = 0; e < a.history().size(); ++e) EXPECT_EQ(a.history()[e].loss, b.history()[e].loss);
  o.seed = 4;
  const auto c = NeuralNmf<double>::fit(Context::host(2), d.X.view(), o);
  EXPECT_NE(a.factors()[0].storage(), c.factors()[0].storage());
}

TEST(Model, EveryOptimizerDecreasesTheLoss) {
  const auto& d = synthetic();
  for (Optimizer opt : {Optimizer::line_search, Optimizer::gd, Optimizer::adam}) {
    FitOptions o;
    o.ranks = {9, 4};
    o.epochs = 40;
    o.patience = 0;
    o.init = Init::random;
    o.optimizer = opt;
    o.scaling = Scaling::mean;  // the authors' scaling: lr = 1 carries over
    if (opt == Optimizer::adam) o.learning_rate = 1e-3;
    const auto m = NeuralNmf<double>::fit(Context::host(1), d.X.view(), o);
    const auto& h = m.history();
    ASSERT_EQ(h.size(), 40u) << to_string(opt);
    EXPECT_LT(h.back().loss, 0.9 * h.front().loss) << to_string(opt);
    for (const auto& A : m.factors())
      for (double v : A.storage()) ASSERT_GE(v, 0.0) << to_string(opt);
  }
}

TEST(Model, CrossEntropyWithTrainedClassifierLearnsTheLabels) {
  const auto& d = synthetic();
  FitOptions o;
  o.ranks = {9, 4};
  o.epochs = 60;
  Supervision s;
  s.labels = d.y[1];
  s.known = d.known40;
  s.loss = SupervisionLoss::cross_entropy;
  s.classifier = ClassifierMode::trained;
  o.supervision = s;
  const auto m = NeuralNmf<double>::fit(Context::host(2), d.X.view(), o);
  ASSERT_EQ(m.classifier().rows(), 4);
  ASSERT_EQ(m.classifier().cols(), 4);
  EXPECT_LT(m.history().back().supervision, m.history().front().supervision);
  // The trained classifier itself predicts the unlabelled columns.
  const auto S = m.transform(Context::host(2), d.X.view());
  Matrix<double> P(4, 90);
  for (index_t j = 0; j < 90; ++j)
    for (index_t c = 0; c < 4; ++c)
      for (index_t q = 0; q < 4; ++q) P(c, j) += m.classifier()(c, q) * S[1](q, j);
  const auto pred = argmax_columns<double>(P.view());
  int right = 0, unknown = 0;
  for (index_t j = 0; j < 90; ++j)
    if (!d.known40[static_cast<std::size_t>(j)]) {
      ++unknown;
      right += pred[static_cast<std::size_t>(j)] == d.y[1][static_cast<std::size_t>(j)];
    }
  EXPECT_GE(double(right) / unknown, 0.95);
}

TEST(Model, GivenFactorsAndZeroEpochsReturnThemUnchanged) {
  const auto& d = synthetic();
  FitOptions o;
  o.ranks = {9, 4};
  o.epochs = 0;
  o.init = Init::given;
  o.initial_factors = {random_matrix<double>(87, 9, 11), random_matrix<double>(9, 4, 12)};
  const auto m = NeuralNmf<double>::fit(Context::host(1), d.X.view(), o);
  EXPECT_TRUE(m.history().empty());
  EXPECT_EQ(m.factors()[0].storage(), o.initial_factors[0].storage());
  EXPECT_EQ(m.factors()[1].storage(), o.initial_factors[1].storage());
}

TEST(Model, FloatPrecisionFits) {
  const auto& d = synthetic();
  Matrix<float> Xf(d.X.rows(), d.X.cols());
  for (index_t q = 0; q < Xf.size(); ++q) Xf.data()[q] = static_cast<float>(d.X.data()[q]);
  FitOptions o;
  o.ranks = {9};
  o.epochs = 40;
  const auto m = NeuralNmf<float>::fit(Context::host(2), Xf.view(), o);
  const auto rep = m.evaluate(Context::host(2), Xf.view(), {d.y[0]});
  EXPECT_LE(rep[0].rel_error, 0.03);
  EXPECT_EQ(*rep[0].accuracy, 1.0);
}

TEST(Model, SparseSubsampleEnergyLossTrainsAndClusters) {
  const std::string dir = data_dir() + "/20news-subsample/";
  const auto X = io::read_sparse<double>(dir + "X.mtx");
  const auto sub = io::read_labels(dir + "sub_labels.txt", X.cols());
  FitOptions o;
  o.ranks = {10, 6};
  o.reconstruction_weight = 0;
  o.energy_weight = 1;
  o.epochs = 15;
  o.init_iterations = 30;
  o.init_restarts = 2;
  const auto m = NeuralNmf<double>::fit(Context::host(2), X, o);
  const auto& h = m.history();
  ASSERT_FALSE(h.empty());
  EXPECT_LE(h.back().loss, h.front().loss);
  const auto rep = m.evaluate(Context::host(2), X, {sub});
  // Ten newsgroups, 20 documents each: a linear read-out of the 10 topics does well above
  // chance (0.1); 200 tf-idf documents over 37693 terms give noisy topics (about 0.4).
  EXPECT_GT(*rep[0].accuracy, 0.25);
  EXPECT_LT(rep[0].rel_error, 1.0);
  // Transform of the training data equals the fitted forward pass; top terms are words.
  const auto S = m.transform(Context::host(2), X);
  ASSERT_EQ(S.size(), 2u);
  EXPECT_EQ(S[1].rows(), 6);
  const auto vocab = io::read_lines(dir + "vocab.txt");
  const auto terms = m.top_terms(0, 5, vocab);
  ASSERT_EQ(terms.size(), 10u);
  EXPECT_EQ(terms[0].size(), 5u);
}

TEST(Model, MissingDataMaskIgnoresMaskedEntries) {
  // Entries masked out may hold anything: the fit must not depend on them.
  const auto& d = synthetic();
  Matrix<double> X2 = d.X;
  FitOptions o;
  o.ranks = {9};
  o.epochs = 20;
  o.data_mask.assign(static_cast<std::size_t>(d.X.size()), 1);
  for (index_t q = 0; q < d.X.size(); q += 7) {
    o.data_mask[static_cast<std::size_t>(q)] = 0;
    X2.data()[q] = 0;
  }
  o.init = Init::given;
  o.initial_factors = {random_matrix<double>(87, 9, 5)};
  const auto a = NeuralNmf<double>::fit(Context::host(1), d.X.view(), o);
  const auto b = NeuralNmf<double>::fit(Context::host(1), X2.view(), o);
  // The forward NNLS still sees all of X, so factors differ a little; the masked loss of
  // each fit is computed without the masked entries and both decrease.
  EXPECT_LT(a.history().back().loss, a.history().front().loss);
  EXPECT_LT(b.history().back().loss, b.history().front().loss);
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(Context::host(1), CscMatrix<double>::from_dense(d.X.view()), o),
                   InvalidArgument, "dense X");
}

class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nnmf-model-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const auto& d = synthetic();
    FitOptions o;
    o.ranks = {9, 4};
    o.epochs = 5;
    Supervision s;
    s.labels = d.y[1];
    o.supervision = s;
    model_ = NeuralNmf<double>::fit(Context::host(1), d.X.view(), o);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string bytes(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  void put(const std::string& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }
  std::string dir_;
  NeuralNmf<double> model_;
};

TEST_F(ModelFile, RoundTripKeepsEverything) {
  const std::string p = dir_ + "/m.nnmf";
  model_.save(p);
  const auto m = NeuralNmf<double>::load(p);
  ASSERT_EQ(m.layers(), 2);
  for (std::size_t l = 0; l < 2; ++l) EXPECT_EQ(m.factors()[l].storage(), model_.factors()[l].storage());
  EXPECT_EQ(m.classifier().storage(), model_.classifier().storage());
  EXPECT_EQ(m.classifier().rows(), 4);
  ASSERT_EQ(m.history().size(), model_.history().size());
  EXPECT_EQ(m.history().back().loss, model_.history().back().loss);
  // A double model loads into float too.
  const auto f = NeuralNmf<float>::load(p);
  EXPECT_NEAR(f.factors()[0](3, 2), model_.factors()[0](3, 2), 1e-6);
}

TEST_F(ModelFile, CorruptionAndTruncationAreDetected) {
  const std::string p = dir_ + "/m.nnmf";
  model_.save(p);
  const std::string good = bytes(p);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  put(p, flipped);
  EXPECT_THROW_MSG(NeuralNmf<double>::load(p), IoError, "m.nnmf", "checksum");
  put(p, good.substr(0, good.size() - 100));
  EXPECT_THROW_MSG(NeuralNmf<double>::load(p), IoError, "truncated");
  put(p, good + "x");
  EXPECT_THROW_MSG(NeuralNmf<double>::load(p), IoError, "after its end");
  put(p, "not a model at all");
  EXPECT_THROW_MSG(NeuralNmf<double>::load(p), IoError, "bad magic");
  put(p, "");
  EXPECT_THROW_MSG(NeuralNmf<double>::load(p), IoError, "empty");
  EXPECT_THROW_MSG(NeuralNmf<double>::load(dir_ + "/none.nnmf"), IoError, "cannot open");
}

TEST_F(ModelFile, FailedSaveKeepsTheEarlierFile) {
  const std::string p = dir_ + "/m.nnmf";
  model_.save(p);
  const std::string good = bytes(p);
  EXPECT_THROW(model_.save(dir_ + "/missing-dir/m.nnmf"), IoError);
  EXPECT_THROW(NeuralNmf<double>().save(p), InvalidArgument);
  EXPECT_EQ(bytes(p), good);
}

TEST(ModelErrors, BadOptionsAreRejectedClearly) {
  const auto& d = synthetic();
  const Context c = Context::host(1);
  FitOptions o;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "ranks is empty");
  o.ranks = {100};
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "k0 = 100", "N = 87");
  o.ranks = {4, 9};
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "k1 = 9", "k0 = 4");
  o.ranks = {9, 4};
  Supervision s;
  s.labels = d.y[1];
  s.labels[5] = 7;
  s.num_classes = 4;
  o.supervision = s;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "label 7", "column 5",
                   "[0, 4)");
  s.labels.resize(80);
  o.supervision = s;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), DimensionMismatch, "80 labels", "90 columns");
  s.labels = d.y[1];
  s.known.assign(90, 0);
  o.supervision = s;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "no column as labelled");
  s.known.clear();
  s.loss = SupervisionLoss::cross_entropy;
  o.supervision = s;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "cross-entropy",
                   "closed-form");
  o.supervision.reset();
  o.optimizer = Optimizer::gd;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "learning_rate");
  o.optimizer = Optimizer::line_search;
  Matrix<double> Xbad = d.X;
  Xbad(4, 6) = -1;
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, Xbad.view(), o), InvalidArgument, "negative", "row 4, column 6");
  o.init = Init::given;
  o.initial_factors = {random_matrix<double>(87, 9, 1)};
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), InvalidArgument, "1 initial factors", "2 layers");
  o.initial_factors.push_back(random_matrix<double>(9, 5, 2));
  EXPECT_THROW_MSG(NeuralNmf<double>::fit(c, d.X.view(), o), DimensionMismatch, "A1", "9 x 5", "9 x 4");
}

TEST(Accuracy, PaperRuleOnAPerfectAndAScrambledCode) {
  // S with one-hot columns of the label: accuracy 1; scoring only masked columns works too.
  const std::vector<int> y = {0, 1, 2, 0, 1, 2, 2, 1};
  Matrix<double> S(3, 8);
  for (index_t j = 0; j < 8; ++j) S(y[static_cast<std::size_t>(j)], j) = 1.0 + 0.1 * j;
  EXPECT_EQ(label_accuracy<double>(S.view(), y), 1.0);
  std::vector<std::uint8_t> fit = {1, 1, 1, 0, 0, 0, 1, 1}, score = {0, 0, 0, 1, 1, 1, 0, 0};
  EXPECT_EQ(label_accuracy<double>(S.view(), y, fit, score), 1.0);
  // All columns identical: at most the majority class is right.
  Matrix<double> same(3, 8, 1.0);
  EXPECT_LE(label_accuracy<double>(same.view(), y), 3.0 / 8.0 + 1e-12);
}

}  // namespace
}  // namespace nnmf::test
