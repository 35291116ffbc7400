// Reading a fitted model as topics: the hierarchy (which topics of a layer feed each topic of
// the layer above), the class each supervised topic speaks for, terms ranked by how
// distinctive they are for a topic, the documents that carry a topic most, and the NPMI
// coherence of each topic's top terms on a corpus. Used by `nnmf topics`; all deterministic
// (ties broken by the lower index).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnmf/matrix.hpp"
#include "nnmf/model.hpp"

namespace nnmf {

/// Each column of @p M divided by its sum (a column summing to 0 stays 0): the share of each
/// row in the column. For A(l), entry (i, j) is the share of topic i of layer l-1 in topic j
/// of layer l; for B, the share of class i in topic j.
template <class T>
Matrix<double> column_shares(MatrixView<const T> M);

/// A topic of the layer below feeding a topic, with its share of that topic's weight.
struct TopicLink {
  index_t topic = 0;
  double share = 0;
};

/// For each topic j of layer @p l >= 1: the topics of layer l-1 whose share in column j of A(l)
/// is at least @p threshold, largest share first. Throws InvalidArgument for l outside
/// 1..layers-1 or a threshold outside [0, 1].
template <class T>
std::vector<std::vector<TopicLink>> topic_children(const NeuralNmf<T>& model, index_t l, double threshold);

/// The class a topic of the last layer speaks for: argmax_i B(i, j), with B(i, j)'s share of
/// the positive entries of column j (1 = the topic votes for that class alone). B may have
/// negative entries (Neural NMF's closed-form B = (Z o Y) S^+ has); they count against a class
/// and are left out of the share.
struct TopicClass {
  int cls = -1;   ///< -1 when column j of B has no positive entry (the topic votes for no class)
  double share = 0;
};

/// One entry per topic of the last layer; empty for a model without a classifier.
template <class T>
std::vector<TopicClass> topic_classes(const NeuralNmf<T>& model);

/// The @p count most distinctive features of each topic of layer @p l by LDAvis relevance
/// (Sievert & Shirley 2014):
///   r(w, t) = lambda log phi(w|t) + (1 - lambda) log(phi(w|t) / p(w)),
/// phi(w|t) the topic's column of layer_dictionary(l) normalised to sum 1 and p(w) the
/// overall frequency of feature w: @p feature_weight (e.g. the row sums of X; normalised
/// here), or when empty the mean of phi(w|t) over the layer's topics. lambda = 1 ranks by
/// weight alone (top_features); lambda = 0 by lift. Features with phi(w|t) = 0 come last.
template <class T>
std::vector<std::vector<index_t>> relevant_features(const NeuralNmf<T>& model, index_t l, index_t count,
                                                    double lambda = 0.6,
                                                    const std::vector<double>& feature_weight = {});

/// The @p count columns with the largest entries in each row of @p S (k x m): the documents
/// that carry each topic most. Columns with a zero entry are never listed.
template <class T>
std::vector<std::vector<index_t>> top_documents(MatrixView<const T> S, index_t count);

/// NPMI coherence of each list of features (a topic's top terms) on the corpus @p X (features
/// x documents), from document co-occurrence: with D(w) the number of documents where w is
/// nonzero, D(w, v) the number where both are, and M the number of documents,
///   NPMI(w, v) = log(D(w, v) M / (D(w) D(v))) / -log(D(w, v) / M),
/// -1 when D(w, v) = 0 (never together) and 1 when D(w, v) = M (always together).
/// A topic's coherence is the mean over its pairs of features; a topic with fewer than two
/// features gets 0. Throws InvalidArgument for a feature index outside X's rows or X with no
/// columns.
template <class T>
std::vector<double> npmi_coherence(const CscMatrix<T>& X, const std::vector<std::vector<index_t>>& topics);
template <class T>
std::vector<double> npmi_coherence(MatrixView<const T> X, const std::vector<std::vector<index_t>>& topics);

/// The sum of each row of X (e.g. the corpus weight of each term, for relevant_features).
template <class T>
std::vector<double> row_sums(const CscMatrix<T>& X);
template <class T>
std::vector<double> row_sums(MatrixView<const T> X);

}  // namespace nnmf
