// Topic reading of a fitted model (include/nnmf/topics.hpp).
#include "nnmf/topics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "nnmf/error.hpp"

namespace nnmf {
namespace {

/// Indices 0..n-1 ordered by @p key descending, ties by index; the first @p count of them.
template <class Key>
std::vector<index_t> top_by(index_t n, index_t count, Key key) {
  std::vector<index_t> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), index_t{0});
  count = std::max<index_t>(0, std::min(count, n));
  std::partial_sort(idx.begin(), idx.begin() + count, idx.end(), [&](index_t a, index_t b) {
    const double ka = key(a), kb = key(b);
    return ka > kb || (ka == kb && a < b);
  });
  idx.resize(static_cast<std::size_t>(count));
  return idx;
}

template <class T>
void check_layer(const NeuralNmf<T>& model, index_t l, index_t first, const char* who) {
  if (l < first || l >= model.layers())
    throw InvalidArgument(std::string(who) + ": layer " + std::to_string(l) + " is outside " + std::to_string(first) +
                          ".." + std::to_string(model.layers() - 1) + " of the model");
}

/// The pairs' NPMI from the co-occurrence counts of one topic's features.
double mean_npmi(const std::vector<index_t>& df, const std::vector<index_t>& pair_df, std::size_t n, double M) {
  if (n < 2) return 0;
  double sum = 0;
  std::size_t q = 0;
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = a + 1; b < n; ++b, ++q) {
      const double dab = static_cast<double>(pair_df[q]);
      if (dab == 0) {
        sum += -1;
      } else if (dab == M) {
        sum += 1;
      } else {
        const double pmi = std::log(dab * M / (static_cast<double>(df[a]) * static_cast<double>(df[b])));
        sum += pmi / -std::log(dab / M);
      }
    }
  return sum / static_cast<double>(n * (n - 1) / 2);
}

/// Document and pair counts of each topic's features, from one pass over the columns.
template <class T>
std::vector<double> npmi_of(const CscView<T>& X, const std::vector<std::vector<index_t>>& topics) {
  if (X.cols == 0) throw InvalidArgument("npmi_coherence: X has no columns (documents)");
  for (std::size_t t = 0; t < topics.size(); ++t)
    for (index_t w : topics[t])
      if (w < 0 || w >= X.rows)
        throw InvalidArgument("npmi_coherence: topic " + std::to_string(t) + " lists feature " + std::to_string(w) +
                              " but X has " + std::to_string(X.rows) + " rows");
  std::vector<std::uint8_t> present(static_cast<std::size_t>(X.rows), 0);
  std::vector<std::vector<index_t>> df(topics.size()), pair_df(topics.size());
  for (std::size_t t = 0; t < topics.size(); ++t) {
    const std::size_t n = topics[t].size();
    df[t].assign(n, 0);
    pair_df[t].assign(n * (n - 1) / 2, 0);
  }
  for (index_t j = 0; j < X.cols; ++j) {
    for (index_t p = X.colptr[j]; p < X.colptr[j + 1]; ++p)
      if (X.values[p] != T(0)) present[static_cast<std::size_t>(X.rowind[p])] = 1;
    for (std::size_t t = 0; t < topics.size(); ++t) {
      const auto& w = topics[t];
      std::size_t q = 0;
      for (std::size_t a = 0; a < w.size(); ++a) {
        const bool in_a = present[static_cast<std::size_t>(w[a])] != 0;
        df[t][a] += in_a;
        for (std::size_t b = a + 1; b < w.size(); ++b, ++q)
          pair_df[t][q] += in_a && present[static_cast<std::size_t>(w[b])] != 0;
      }
    }
    for (index_t p = X.colptr[j]; p < X.colptr[j + 1]; ++p) present[static_cast<std::size_t>(X.rowind[p])] = 0;
  }
  std::vector<double> out;
  for (std::size_t t = 0; t < topics.size(); ++t)
    out.push_back(mean_npmi(df[t], pair_df[t], topics[t].size(), static_cast<double>(X.cols)));
  return out;
}

}  // namespace

template <class T>
Matrix<double> column_shares(MatrixView<const T> M) {
  Matrix<double> out(M.rows, M.cols);
  for (index_t j = 0; j < M.cols; ++j) {
    double s = 0;
    for (index_t i = 0; i < M.rows; ++i) s += static_cast<double>(M(i, j));
    if (s > 0)
      for (index_t i = 0; i < M.rows; ++i) out(i, j) = static_cast<double>(M(i, j)) / s;
  }
  return out;
}

template <class T>
std::vector<std::vector<TopicLink>> topic_children(const NeuralNmf<T>& model, index_t l, double threshold) {
  check_layer(model, l, 1, "topic_children");
  if (!(threshold >= 0 && threshold <= 1))
    throw InvalidArgument("topic_children: threshold " + std::to_string(threshold) + " is outside [0, 1]");
  const Matrix<double> H = column_shares<T>(model.factors()[static_cast<std::size_t>(l)].view());
  std::vector<std::vector<TopicLink>> out;
  for (index_t j = 0; j < H.cols(); ++j) {
    std::vector<TopicLink> links;
    for (index_t i : top_by(H.rows(), H.rows(), [&](index_t i) { return H(i, j); }))
      if (H(i, j) > 0 && H(i, j) >= threshold) links.push_back({i, H(i, j)});
    out.push_back(std::move(links));
  }
  return out;
}

template <class T>
std::vector<TopicClass> topic_classes(const NeuralNmf<T>& model) {
  const Matrix<T>& B = model.classifier();
  std::vector<TopicClass> out;
  for (index_t j = 0; j < B.cols(); ++j) {
    double positive = 0;
    for (index_t i = 0; i < B.rows(); ++i) positive += std::max(0.0, static_cast<double>(B(i, j)));
    const index_t best = top_by(B.rows(), 1, [&](index_t i) { return static_cast<double>(B(i, j)); })[0];
    const double b = static_cast<double>(B(best, j));
    out.push_back(b > 0 ? TopicClass{static_cast<int>(best), b / positive} : TopicClass{});
  }
  return out;
}

template <class T>
std::vector<std::vector<index_t>> relevant_features(const NeuralNmf<T>& model, index_t l, index_t count,
                                                    double lambda, const std::vector<double>& feature_weight) {
  const char* who = "relevant_features";
  check_layer(model, l, 0, who);
  if (!(lambda >= 0 && lambda <= 1)) throw InvalidArgument(std::string(who) + ": lambda must lie in [0, 1]");
  if (count < 0) throw InvalidArgument(std::string(who) + ": count must be >= 0");
  const Matrix<T> D = model.layer_dictionary(l);
  const Matrix<double> phi = column_shares<T>(D.view());
  const index_t N = phi.rows(), k = phi.cols();
  if (!feature_weight.empty() && static_cast<index_t>(feature_weight.size()) != N)
    throw DimensionMismatch(std::string(who) + ": " + std::to_string(feature_weight.size()) +
                            " feature weights for a model of " + std::to_string(N) + " features");
  std::vector<double> p(static_cast<std::size_t>(N), 0);
  for (index_t w = 0; w < N; ++w)
    if (feature_weight.empty()) {
      for (index_t t = 0; t < k; ++t) p[static_cast<std::size_t>(w)] += phi(w, t) / static_cast<double>(k);
    } else {
      p[static_cast<std::size_t>(w)] = std::max(0.0, feature_weight[static_cast<std::size_t>(w)]);
    }
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  std::vector<std::vector<index_t>> out;
  for (index_t t = 0; t < k; ++t)
    out.push_back(top_by(N, count, [&](index_t w) {
      const double f = phi(w, t), pw = total > 0 ? p[static_cast<std::size_t>(w)] / total : 0;
      if (f <= 0) return -std::numeric_limits<double>::infinity();
      // A feature the corpus never uses but a topic does: rank it by weight alone.
      const double lift = pw > 0 ? std::log(f / pw) : 0;
      return lambda * std::log(f) + (1 - lambda) * lift;
    }));
  return out;
}

template <class T>
std::vector<std::vector<index_t>> top_documents(MatrixView<const T> S, index_t count) {
  if (count < 0) throw InvalidArgument("top_documents: count must be >= 0");
  std::vector<std::vector<index_t>> out;
  for (index_t t = 0; t < S.rows; ++t) {
    auto idx = top_by(S.cols, count, [&](index_t j) { return static_cast<double>(S(t, j)); });
    idx.erase(std::remove_if(idx.begin(), idx.end(), [&](index_t j) { return !(S(t, j) > T(0)); }), idx.end());
    out.push_back(std::move(idx));
  }
  return out;
}

template <class T>
std::vector<double> npmi_coherence(const CscMatrix<T>& X, const std::vector<std::vector<index_t>>& topics) {
  return npmi_of<T>(X.view(), topics);
}

template <class T>
std::vector<double> npmi_coherence(MatrixView<const T> X, const std::vector<std::vector<index_t>>& topics) {
  const CscMatrix<T> sparse = CscMatrix<T>::from_dense(X);
  return npmi_of<T>(sparse.view(), topics);
}

template <class T>
std::vector<double> row_sums(const CscMatrix<T>& X) {
  std::vector<double> s(static_cast<std::size_t>(X.rows()), 0);
  for (index_t p = 0; p < X.nnz(); ++p)
    s[static_cast<std::size_t>(X.rowind()[static_cast<std::size_t>(p)])] += X.values()[static_cast<std::size_t>(p)];
  return s;
}

template <class T>
std::vector<double> row_sums(MatrixView<const T> X) {
  std::vector<double> s(static_cast<std::size_t>(X.rows), 0);
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t i = 0; i < X.rows; ++i) s[static_cast<std::size_t>(i)] += X(i, j);
  return s;
}

#define NNMF_TOPICS_INSTANTIATE(T)                                                                               \
  template Matrix<double> column_shares<T>(MatrixView<const T>);                                                 \
  template std::vector<std::vector<TopicLink>> topic_children<T>(const NeuralNmf<T>&, index_t, double);          \
  template std::vector<TopicClass> topic_classes<T>(const NeuralNmf<T>&);                                        \
  template std::vector<std::vector<index_t>> relevant_features<T>(const NeuralNmf<T>&, index_t, index_t, double, \
                                                                  const std::vector<double>&);                   \
  template std::vector<std::vector<index_t>> top_documents<T>(MatrixView<const T>, index_t);                     \
  template std::vector<double> npmi_coherence<T>(const CscMatrix<T>&, const std::vector<std::vector<index_t>>&); \
  template std::vector<double> npmi_coherence<T>(MatrixView<const T>, const std::vector<std::vector<index_t>>&); \
  template std::vector<double> row_sums<T>(const CscMatrix<T>&);                                                 \
  template std::vector<double> row_sums<T>(MatrixView<const T>);
NNMF_TOPICS_INSTANTIATE(float)
NNMF_TOPICS_INSTANTIATE(double)

}  // namespace nnmf
