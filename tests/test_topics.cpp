// Reading a model as topics (nnmf/topics.hpp): NPMI against a hand computation, the hierarchy
// recovered on the synthetic data, classes from B, relevance, top documents, .npy output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

/// 3 terms x 4 documents: w0 in d0 d1 d2, w1 in d0 d1, w2 in d3.
Matrix<double> tiny_corpus() {
  Matrix<double> X(3, 4);
  X(0, 0) = 1, X(0, 1) = 2, X(0, 2) = 0.5;
  X(1, 0) = 3, X(1, 1) = 1;
  X(2, 3) = 4;
  return X;
}

TEST(Npmi, MatchesAHandComputation) {
  // D(w0) = 3, D(w1) = 2, D(w0, w1) = 2, M = 4:
  //   NPMI(w0, w1) = log(2 * 4 / (3 * 2)) / -log(2 / 4) = log(4/3) / log(2) = 0.415037...
  // w2 never meets w0 or w1: NPMI = -1 for both pairs.
  const double n01 = std::log(4.0 / 3.0) / std::log(2.0);
  const Matrix<double> X = tiny_corpus();
  const std::vector<std::vector<index_t>> topics{{0, 1}, {0, 1, 2}, {2}, {}};
  for (const auto& v : {npmi_coherence<double>(X.view(), topics),
                        npmi_coherence<double>(CscMatrix<double>::from_dense(X.view()), topics)}) {
    ASSERT_EQ(v.size(), 4u);
    EXPECT_NEAR(v[0], 0.41503749927884376, 1e-15);
    EXPECT_NEAR(v[0], n01, 1e-15);
    EXPECT_NEAR(v[1], (n01 - 1 - 1) / 3, 1e-15);
    EXPECT_EQ(v[2], 0.0);  // one term: no pair
    EXPECT_EQ(v[3], 0.0);
  }
  const auto f = npmi_coherence<float>(CscMatrix<float>::from_dense(Matrix<float>(3, 4, 1.0f).view()), {{0, 1}});
  EXPECT_EQ(f[0], 1.0);  // always together
}

TEST(Npmi, RejectsFeaturesOutsideX) {
  const Matrix<double> X = tiny_corpus();
  try {
    npmi_coherence<double>(X.view(), {{0, 3}});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("feature 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(npmi_coherence<double>(Matrix<double>(3, 0).view(), {{0, 1}}), InvalidArgument);
}

TEST(Topics, ChildrenClassesRelevanceAndDocuments) {
  Matrix<double> A0(4, 3, 0.0), A1(3, 2, 0.0), B(3, 2, 0.0);
  A0(0, 0) = 4, A0(1, 0) = 1, A0(1, 1) = 2, A0(2, 1) = 2, A0(3, 2) = 1, A0(0, 2) = 0.1;
  A1(0, 0) = 3, A1(1, 0) = 1, A1(2, 0) = 0.2, A1(2, 1) = 5;
  B(1, 0) = 2, B(2, 0) = -1, B(0, 1) = 1, B(2, 1) = 3;
  auto model = NeuralNmf<double>::from_factors({A0, A1}, B);
  const auto kids = topic_children(model, 1, 0.1);
  ASSERT_EQ(kids.size(), 2u);
  ASSERT_EQ(kids[0].size(), 2u);  // 3/4.2 and 1/4.2 kept, 0.2/4.2 = 0.048 dropped
  EXPECT_EQ(kids[0][0].topic, 0);
  EXPECT_NEAR(kids[0][0].share, 3 / 4.2, 1e-15);
  EXPECT_EQ(kids[0][1].topic, 1);
  ASSERT_EQ(kids[1].size(), 1u);
  EXPECT_EQ(kids[1][0].topic, 2);
  EXPECT_EQ(topic_children(model, 1, 0.0)[0].size(), 3u);
  EXPECT_THROW(topic_children(model, 0, 0.1), InvalidArgument);
  EXPECT_THROW(topic_children(model, 1, 1.5), InvalidArgument);

  const auto cls = topic_classes(model);
  ASSERT_EQ(cls.size(), 2u);
  EXPECT_EQ(cls[0].cls, 1);
  EXPECT_EQ(cls[0].share, 1.0);  // the negative entry is left out of the share
  EXPECT_EQ(cls[1].cls, 2);
  EXPECT_NEAR(cls[1].share, 0.75, 1e-15);
  EXPECT_TRUE(topic_classes(NeuralNmf<double>::from_factors({A0, A1})).empty());

  // Layer 0, topic 2: weights 0.1 (w0) and 1 (w3). By weight (lambda = 1) w3 leads. By lift
  // (lambda = 0) against the model's own frequencies (w0 is also most of topic 0) w3 leads;
  // against a corpus where w3 is in nearly everything, w0 does.
  EXPECT_EQ(relevant_features(model, 0, 2, 1.0), model.top_features(0, 2));
  EXPECT_EQ(relevant_features(model, 0, 1, 0.0, {1, 1, 1, 100})[2], std::vector<index_t>{0});
  EXPECT_EQ(relevant_features(model, 0, 1, 0.0)[2], std::vector<index_t>{3});
  EXPECT_THROW(relevant_features(model, 0, 1, 0.5, {1, 2}), DimensionMismatch);

  Matrix<double> S(2, 4, 0.0);
  S(0, 1) = 3, S(0, 3) = 1, S(1, 2) = 2;
  const auto docs = top_documents<double>(S.view(), 3);
  EXPECT_EQ(docs[0], (std::vector<index_t>{1, 3}));  // zero entries never listed
  EXPECT_EQ(docs[1], (std::vector<index_t>{2}));
}

TEST(Topics, ClassifyUsesTheModelsOwnClassifier) {
  Matrix<double> A0(3, 2, 1.0), B(2, 2, 0.0);
  B(0, 0) = 1, B(1, 1) = 1, B(0, 1) = -0.5;
  const auto model = NeuralNmf<double>::from_factors({A0}, B);
  Matrix<double> S(2, 3, 0.0);
  S(0, 0) = 1, S(1, 1) = 1, S(0, 2) = 1, S(1, 2) = 3;  // column 2: scores (-0.5, 3)
  EXPECT_EQ(model.classify(S.view()), (std::vector<int>{0, 1, 1}));
  EXPECT_THROW(model.classify(Matrix<double>(3, 1).view()), DimensionMismatch);
  EXPECT_THROW(NeuralNmf<double>::from_factors({A0}).classify(S.view()), InvalidArgument);
}

/// The majority of @p labels over the columns whose largest entry of S is in row t, per row.
std::vector<int> majority(const Matrix<double>& S, const std::vector<int>& labels) {
  std::vector<std::map<int, int>> votes(static_cast<std::size_t>(S.rows()));
  const auto best = argmax_columns<double>(S.view());
  for (std::size_t j = 0; j < labels.size(); ++j) votes[static_cast<std::size_t>(best[j])][labels[j]]++;
  std::vector<int> out;
  for (const auto& v : votes) {
    int who = -1, n = 0;
    for (const auto& [c, k] : v)
      if (k > n) who = c, n = k;
    out.push_back(who);
  }
  return out;
}

/// Whether each topic of layer 1 lists, at @p threshold, exactly the fine topics of its middle
/// class (topics named by the majority label of the documents they dominate).
void expect_right_children(std::uint64_t seed, double threshold) {
  const std::string dir = data_dir() + "/synthetic-hierarchy/";
  const Matrix<double> X = io::read_dense<double>(dir + "X.mtx");
  const auto y9 = io::read_labels(dir + "labels9.txt", 90), y4 = io::read_labels(dir + "labels4.txt", 90);
  FitOptions o;
  o.ranks = {9, 4, 2};
  o.seed = seed;
  const auto model = NeuralNmf<double>::fit(Context::host(), X.view(), o);
  const auto S = model.transform(Context::host(), X.view());
  const auto fine = majority(S[0], y9), middle = majority(S[1], y4);
  std::map<int, std::set<int>> truth;  // middle class -> its fine classes
  for (std::size_t j = 0; j < y9.size(); ++j) truth[y4[j]].insert(y9[j]);
  const auto kids = topic_children(model, 1, threshold);
  ASSERT_EQ(kids.size(), 4u);
  std::set<int> middles;
  for (std::size_t t = 0; t < 4; ++t) {
    std::set<int> got;
    std::string why;
    for (const auto& c : kids[t]) {
      got.insert(fine[static_cast<std::size_t>(c.topic)]);
      why += " " + std::to_string(c.topic) + " (fine " + std::to_string(fine[static_cast<std::size_t>(c.topic)]) +
             ", share " + std::to_string(c.share) + ")";
    }
    EXPECT_EQ(got, truth[middle[t]]) << "seed " << seed << ", layer-1 topic " << t << " (middle class " << middle[t]
                                     << "):" << why;
    EXPECT_GE(truth[middle[t]].size(), 2u);
    middles.insert(middle[t]);
  }
  EXPECT_EQ(middles.size(), 4u) << "seed " << seed;  // each middle class found once
}

TEST(Topics, HierarchyOfTheSyntheticDataNamesTheRightFineTopics) {
  // The default fit (seed 0) at the default threshold of `nnmf topics`; other seeds spill
  // shares of up to 0.15 onto a fine topic of another branch, under a threshold of 0.2.
  expect_right_children(0, 0.1);
  for (std::uint64_t seed : {1, 2, 3}) expect_right_children(seed, 0.2);
}

class Npy : public TempDirTest {};

TEST_F(Npy, HeaderAndValuesAsNumpyReadsThem) {
  Matrix<double> A(3, 2);
  for (index_t q = 0; q < 6; ++q) A.storage()[static_cast<std::size_t>(q)] = 0.5 * static_cast<double>(q) - 1;
  io::write_npy<double>(path("A.npy"), A.view());
  const std::string b = [&] {
    std::ifstream f(path("A.npy"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();
  ASSERT_GE(b.size(), 10u);
  EXPECT_EQ(b.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t hl = static_cast<unsigned char>(b[8]) | static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8;
  EXPECT_EQ((10 + hl) % 64, 0u);
  const std::string header = b.substr(10, hl);
  EXPECT_NE(header.find("'descr': '<f8'"), std::string::npos) << header;
  EXPECT_NE(header.find("'fortran_order': True"), std::string::npos);
  EXPECT_NE(header.find("'shape': (3, 2)"), std::string::npos);
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(b.size(), 10 + hl + 6 * sizeof(double));
  std::vector<double> v(6);
  std::memcpy(v.data(), b.data() + 10 + hl, 6 * sizeof(double));
  EXPECT_EQ(v, A.storage());
}

}  // namespace
}  // namespace nnmf::test
