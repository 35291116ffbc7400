// The held-out set H (include/nnmf/held_out.hpp): construction, checks, seeded choice, and X
// with H dropped.
#include "nnmf/held_out.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "core/data.hpp"
#include "core/validate.hpp"
#include "nnmf/error.hpp"
#include "nnmf/model.hpp"

namespace nnmf {
namespace {

[[noreturn]] void bad_held_out(const char* who, const std::string& msg) {
  throw InvalidArgument(std::string(who) + ": held_out " + msg);
}

/// Position of row i in column j of a CSC pattern, or -1.
index_t find_in_column(const std::vector<index_t>& ptr, const std::vector<index_t>& idx, index_t j, index_t i) {
  const auto b = idx.begin() + ptr[static_cast<std::size_t>(j)];
  const auto e = idx.begin() + ptr[static_cast<std::size_t>(j) + 1];
  const auto it = std::lower_bound(b, e, i);
  return (it != e && *it == i) ? static_cast<index_t>(it - idx.begin()) : -1;
}

/// Entries (column-major linear index i + j rows) of H's choice among the zeros of X: by
/// rejection when zeros are plenty, else by a seeded permutation of all of them.
template <class T>
std::vector<index_t> pick_zeros(const CscMatrix<T>& X, index_t want, detail::Rng& rng) {
  const index_t n = X.rows(), m = X.cols();
  const double zeros = double(n) * double(m) - double(X.nnz());
  std::vector<index_t> out;
  if (zeros <= 4.0 * double(want)) {
    std::vector<index_t> all;
    for (index_t j = 0; j < m; ++j)
      for (index_t i = 0; i < n; ++i)
        if (find_in_column(X.colptr(), X.rowind(), j, i) < 0) all.push_back(i + j * n);
    const auto p = detail::seeded_permutation(static_cast<index_t>(all.size()), rng);
    for (index_t q = 0; q < std::min<index_t>(want, static_cast<index_t>(all.size())); ++q)
      out.push_back(all[static_cast<std::size_t>(p[static_cast<std::size_t>(q)])]);
    return out;
  }
  std::unordered_set<index_t> seen;
  while (static_cast<index_t>(out.size()) < want) {
    const auto i = std::min(static_cast<index_t>(rng.uniform() * double(n)), n - 1);
    const auto j = std::min(static_cast<index_t>(rng.uniform() * double(m)), m - 1);
    if (find_in_column(X.colptr(), X.rowind(), j, i) >= 0 || !seen.insert(i + j * n).second) continue;
    out.push_back(i + j * n);
  }
  return out;
}

}  // namespace

HeldOut HeldOut::from_entries(index_t rows, index_t cols, const std::vector<index_t>& i,
                              const std::vector<index_t>& j) {
  if (i.size() != j.size())
    throw DimensionMismatch("HeldOut::from_entries: " + std::to_string(i.size()) + " rows but " +
                            std::to_string(j.size()) + " columns");
  std::vector<std::pair<index_t, index_t>> e;  // (column, row)
  for (std::size_t q = 0; q < i.size(); ++q) {
    if (i[q] < 0 || i[q] >= rows || j[q] < 0 || j[q] >= cols)
      throw InvalidArgument("HeldOut::from_entries: entry (" + std::to_string(i[q]) + ", " + std::to_string(j[q]) +
                            ") lies outside " + shape_string(rows, cols));
    e.emplace_back(j[q], i[q]);
  }
  std::sort(e.begin(), e.end());
  e.erase(std::unique(e.begin(), e.end()), e.end());
  HeldOut H;
  H.rows = rows;
  H.cols = cols;
  H.col_ptr.assign(static_cast<std::size_t>(cols) + 1, 0);
  for (const auto& [c, r] : e) {
    ++H.col_ptr[static_cast<std::size_t>(c) + 1];
    H.row_idx.push_back(r);
  }
  for (std::size_t c = 0; c < static_cast<std::size_t>(cols); ++c) H.col_ptr[c + 1] += H.col_ptr[c];
  return H;
}

template <class T>
HeldOut HeldOut::from_pattern(const CscMatrix<T>& M) {
  HeldOut H;
  H.rows = M.rows();
  H.cols = M.cols();
  H.col_ptr = M.colptr();
  H.row_idx = M.rowind();
  return H;
}

HeldOut HeldOut::from_mask(index_t rows, index_t cols, const std::vector<std::uint8_t>& W) {
  if (static_cast<index_t>(W.size()) != rows * cols)
    throw DimensionMismatch("HeldOut::from_mask: the mask has " + std::to_string(W.size()) + " entries, not " +
                            shape_string(rows, cols));
  HeldOut H;
  H.rows = rows;
  H.cols = cols;
  H.col_ptr.push_back(0);
  for (index_t j = 0; j < cols; ++j) {
    for (index_t i = 0; i < rows; ++i)
      if (W[static_cast<std::size_t>(i + j * rows)] == 0) H.row_idx.push_back(i);
    H.col_ptr.push_back(H.size());
  }
  return H;
}

std::vector<std::uint8_t> HeldOut::to_mask() const {
  std::vector<std::uint8_t> W(static_cast<std::size_t>(rows * cols), 1);
  for (index_t j = 0; j < cols && !none(); ++j)
    for (index_t q = col_ptr[static_cast<std::size_t>(j)]; q < col_ptr[static_cast<std::size_t>(j) + 1]; ++q)
      W[static_cast<std::size_t>(row_idx[static_cast<std::size_t>(q)] + j * rows)] = 0;
  return W;
}

void check_held_out(const char* who, const HeldOut& H, index_t rows, index_t cols) {
  if (H.rows != rows || H.cols != cols)
    throw DimensionMismatch(std::string(who) + ": held_out is " + shape_string(H.rows, H.cols) + " but X is " +
                            shape_string(rows, cols));
  if (static_cast<index_t>(H.col_ptr.size()) != cols + 1)
    throw DimensionMismatch(std::string(who) + ": held_out col_ptr has " + std::to_string(H.col_ptr.size()) +
                            " entries, X has " + std::to_string(cols) + " columns (needs " +
                            std::to_string(cols + 1) + ")");
  if (H.col_ptr[0] != 0) bad_held_out(who, "col_ptr[0] = " + std::to_string(H.col_ptr[0]) + ", must be 0");
  if (H.col_ptr.back() != H.size())
    bad_held_out(who, "col_ptr[" + std::to_string(cols) + "] = " + std::to_string(H.col_ptr.back()) + " but row_idx has " +
                          std::to_string(H.size()) + " entries");
  for (index_t j = 0; j < cols; ++j) {
    const index_t b = H.col_ptr[static_cast<std::size_t>(j)], e = H.col_ptr[static_cast<std::size_t>(j) + 1];
    if (e < b) bad_held_out(who, "col_ptr decreases at column " + std::to_string(j) + " (" + std::to_string(b) + " > " + std::to_string(e) + ")");
    for (index_t q = b; q < e; ++q) {
      const index_t i = H.row_idx[static_cast<std::size_t>(q)];
      if (i < 0 || i >= rows)
        bad_held_out(who, "row " + std::to_string(i) + " in column " + std::to_string(j) + " is out of range [0, " +
                              std::to_string(rows) + ")");
      if (q > b && i <= H.row_idx[static_cast<std::size_t>(q) - 1])
        bad_held_out(who, "rows of column " + std::to_string(j) + " are not strictly increasing (" +
                              std::to_string(H.row_idx[static_cast<std::size_t>(q) - 1]) + " then " + std::to_string(i) +
                              "): sorted, without duplicates");
    }
  }
}

template <class T>
HeldOut random_held_out(const CscMatrix<T>& X, double fraction, std::uint64_t seed) {
  if (!(fraction >= 0 && fraction < 1))
    throw InvalidArgument("random_held_out: fraction must lie in [0, 1), got " + std::to_string(fraction));
  detail::Rng rng(seed * 0x5851F42D4C957F2Dull + 0x14057B7EF767814Full);
  const index_t want = static_cast<index_t>(std::llround(fraction * double(X.nnz())));
  const auto p = detail::seeded_permutation(X.nnz(), rng);
  std::vector<index_t> i, j;
  std::vector<index_t> col_of(static_cast<std::size_t>(X.nnz()));
  for (index_t c = 0; c < X.cols(); ++c)
    for (index_t q = X.colptr()[static_cast<std::size_t>(c)]; q < X.colptr()[static_cast<std::size_t>(c) + 1]; ++q)
      col_of[static_cast<std::size_t>(q)] = c;
  for (index_t q = 0; q < want; ++q) {
    const auto e = static_cast<std::size_t>(p[static_cast<std::size_t>(q)]);
    i.push_back(X.rowind()[e]);
    j.push_back(col_of[e]);
  }
  for (index_t z : pick_zeros(X, want, rng)) {
    i.push_back(z % X.rows());
    j.push_back(z / X.rows());
  }
  return HeldOut::from_entries(X.rows(), X.cols(), i, j);
}

template <class T>
HeldOut random_held_out(MatrixView<const T> X, double fraction, std::uint64_t seed) {
  return random_held_out(CscMatrix<T>::from_dense(X), fraction, seed);
}

template <class T>
CscMatrix<T> drop_held_out(const CscMatrix<T>& X, const HeldOut& H) {
  check_held_out("drop_held_out", H, X.rows(), X.cols());
  std::vector<index_t> ptr{0}, idx;
  std::vector<T> val;
  for (index_t j = 0; j < X.cols(); ++j) {
    for (index_t q = X.colptr()[static_cast<std::size_t>(j)]; q < X.colptr()[static_cast<std::size_t>(j) + 1]; ++q) {
      const index_t i = X.rowind()[static_cast<std::size_t>(q)];
      if (find_in_column(H.col_ptr, H.row_idx, j, i) >= 0) continue;
      idx.push_back(i);
      val.push_back(X.values()[static_cast<std::size_t>(q)]);
    }
    ptr.push_back(static_cast<index_t>(idx.size()));
  }
  return CscMatrix<T>(X.rows(), X.cols(), std::move(ptr), std::move(idx), std::move(val));
}

template <class T>
Matrix<T> drop_held_out(MatrixView<const T> X, const HeldOut& H) {
  check_held_out("drop_held_out", H, X.rows, X.cols);
  Matrix<T> out(X.rows, X.cols);
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t i = 0; i < X.rows; ++i) out(i, j) = X(i, j);
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t q = H.col_ptr[static_cast<std::size_t>(j)]; q < H.col_ptr[static_cast<std::size_t>(j) + 1]; ++q)
      out(H.row_idx[static_cast<std::size_t>(q)], j) = T(0);
  return out;
}

template <class T>
std::vector<T> values_at(const CscMatrix<T>& X, const HeldOut& H) {
  check_held_out("values_at", H, X.rows(), X.cols());
  std::vector<T> v(static_cast<std::size_t>(H.size()), T(0));
  for (index_t j = 0; j < X.cols(); ++j)
    for (index_t q = H.col_ptr[static_cast<std::size_t>(j)]; q < H.col_ptr[static_cast<std::size_t>(j) + 1]; ++q) {
      const index_t p = find_in_column(X.colptr(), X.rowind(), j, H.row_idx[static_cast<std::size_t>(q)]);
      if (p >= 0) v[static_cast<std::size_t>(q)] = X.values()[static_cast<std::size_t>(p)];
    }
  return v;
}

template <class T>
std::vector<T> values_at(MatrixView<const T> X, const HeldOut& H) {
  check_held_out("values_at", H, X.rows, X.cols);
  std::vector<T> v;
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t q = H.col_ptr[static_cast<std::size_t>(j)]; q < H.col_ptr[static_cast<std::size_t>(j) + 1]; ++q)
      v.push_back(X(H.row_idx[static_cast<std::size_t>(q)], j));
  return v;
}

namespace {

/// D(l) = A0 A1 .. Al for each layer (NeuralNmf::layer_dictionary, which checks the shapes).
template <class T>
std::vector<Matrix<T>> dictionaries(const std::vector<Matrix<T>>& A) {
  const NeuralNmf<T> model = NeuralNmf<T>::from_factors(A);
  std::vector<Matrix<T>> D;
  for (index_t l = 0; l < model.layers(); ++l) D.push_back(model.layer_dictionary(l));
  return D;
}

/// sum over H of (x_h - (D(l) S(l))_h)^2 for each layer, given P_H(X) as @p x.
template <class T>
std::vector<double> held_out_residuals(const std::vector<Matrix<T>>& D, const std::vector<Matrix<T>>& S,
                                       const HeldOut& H, const std::vector<T>& x) {
  std::vector<double> out;
  for (std::size_t l = 0; l < D.size(); ++l) {
    const Matrix<T>& Dl = D[l];
    const Matrix<T>& Sl = S.at(l);
    double rr = 0;
    for (index_t j = 0; j < H.cols; ++j)
      for (index_t q = H.col_ptr[static_cast<std::size_t>(j)]; q < H.col_ptr[static_cast<std::size_t>(j) + 1]; ++q) {
        const index_t i = H.row_idx[static_cast<std::size_t>(q)];
        double p = 0;
        for (index_t r = 0; r < Dl.cols(); ++r) p += double(Dl(i, r)) * Sl(r, j);
        const double e = double(x[static_cast<std::size_t>(q)]) - p;
        rr += e * e;
      }
    out.push_back(rr);
  }
  return out;
}

/// ||P_H(X) - P_H(D S)|| / ||P_H(X)|| for each layer's D = A0..Al and S(l), given P_H(X) as @p x.
template <class T>
std::vector<double> held_out_scores(const std::vector<Matrix<T>>& A, const std::vector<Matrix<T>>& S,
                                    const HeldOut& H, const std::vector<T>& x) {
  double xx = 0;
  for (T v : x) xx += double(v) * v;
  if (!(xx > 0)) throw InvalidArgument("held_out_errors: X is 0 on every held-out entry; nothing to score against");
  std::vector<double> out = held_out_residuals(dictionaries(A), S, H, x);
  for (double& r : out) r = std::sqrt(r / xx);
  return out;
}

/// observed_errors from X with H's entries dropped (Xd, dense or sparse).
template <class T, class Data>
std::vector<double> observed_from_dropped(const Context& ctx, const Data& Xd, double xd2,
                                          const std::vector<Matrix<T>>& A, const std::vector<Matrix<T>>& S,
                                          const HeldOut& H) {
  if (!(xd2 > 0)) throw InvalidArgument("observed_errors: X is 0 on every observed entry");
  // ||Xd - Xhat||^2 counts the held-out entries as 0 - Xhat_h: take those squares out.
  const std::vector<double> e = relative_errors<T>(ctx, Xd, A, S);
  const std::vector<T> zeros(static_cast<std::size_t>(H.size()), T(0));
  const std::vector<double> h = held_out_residuals(dictionaries(A), S, H, zeros);
  std::vector<double> out;
  for (std::size_t l = 0; l < e.size(); ++l) out.push_back(std::sqrt(std::max(0.0, e[l] * e[l] * xd2 - h[l]) / xd2));
  return out;
}

template <class T>
double sum_of_squares(const T* v, std::size_t n) {
  double s = 0;
  for (std::size_t q = 0; q < n; ++q) s += double(v[q]) * v[q];
  return s;
}

}  // namespace

template <class T>
std::vector<double> observed_errors(const Context& ctx, const CscMatrix<T>& X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H) {
  check_held_out("observed_errors", H, X.rows(), X.cols());
  const CscMatrix<T> Xd = drop_held_out(X, H);
  return observed_from_dropped<T>(ctx, Xd, sum_of_squares(Xd.values().data(), Xd.values().size()), A, S, H);
}

template <class T>
std::vector<double> observed_errors(const Context& ctx, MatrixView<const T> X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H) {
  check_held_out("observed_errors", H, X.rows, X.cols);
  const Matrix<T> Xd = drop_held_out(X, H);
  return observed_from_dropped<T>(ctx, Xd.view(), sum_of_squares(Xd.data(), static_cast<std::size_t>(Xd.size())), A, S,
                                  H);
}

template <class T>
std::vector<double> observed_errors(const Context& ctx, const NeuralNmf<T>& model, const CscMatrix<T>& X,
                                    const HeldOut& H) {
  check_held_out("observed_errors", H, X.rows(), X.cols());
  const CscMatrix<T> Xd = drop_held_out(X, H);
  return observed_from_dropped<T>(ctx, Xd, sum_of_squares(Xd.values().data(), Xd.values().size()), model.factors(),
                                  model.transform(ctx, Xd), H);
}

template <class T>
std::vector<double> observed_errors(const Context& ctx, const NeuralNmf<T>& model, MatrixView<const T> X,
                                    const HeldOut& H) {
  check_held_out("observed_errors", H, X.rows, X.cols);
  const Matrix<T> Xd = drop_held_out(X, H);
  return observed_from_dropped<T>(ctx, Xd.view(), sum_of_squares(Xd.data(), static_cast<std::size_t>(Xd.size())),
                                  model.factors(), model.transform(ctx, Xd.view()), H);
}

template <class T>
std::vector<double> held_out_errors(const Context&, const CscMatrix<T>& X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H) {
  check_held_out("held_out_errors", H, X.rows(), X.cols());
  detail::check_hierarchy("held_out_errors", X.rows(), X.cols(), A, S);
  return held_out_scores(A, S, H, values_at(X, H));
}

template <class T>
std::vector<double> held_out_errors(const Context&, MatrixView<const T> X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H) {
  check_held_out("held_out_errors", H, X.rows, X.cols);
  detail::check_hierarchy("held_out_errors", X.rows, X.cols, A, S);
  return held_out_scores(A, S, H, values_at(X, H));
}

template <class T>
std::vector<double> held_out_errors(const Context& ctx, const NeuralNmf<T>& model,
                                    const CscMatrix<T>& X, const HeldOut& H) {
  check_held_out("held_out_errors", H, X.rows(), X.cols());
  return held_out_scores(model.factors(), model.transform(ctx, drop_held_out(X, H)), H, values_at(X, H));
}

template <class T>
std::vector<double> held_out_errors(const Context& ctx, const NeuralNmf<T>& model,
                                    MatrixView<const T> X, const HeldOut& H) {
  check_held_out("held_out_errors", H, X.rows, X.cols);
  const Matrix<T> Xo = drop_held_out(X, H);
  return held_out_scores(model.factors(), model.transform(ctx, Xo.view()), H, values_at(X, H));
}

#define NNMF_HELD_OUT_INSTANTIATE(T)                                                          \
  template HeldOut HeldOut::from_pattern<T>(const CscMatrix<T>&);                             \
  template HeldOut random_held_out<T>(const CscMatrix<T>&, double, std::uint64_t);            \
  template HeldOut random_held_out<T>(MatrixView<const T>, double, std::uint64_t);            \
  template CscMatrix<T> drop_held_out<T>(const CscMatrix<T>&, const HeldOut&);                \
  template Matrix<T> drop_held_out<T>(MatrixView<const T>, const HeldOut&);                   \
  template std::vector<T> values_at<T>(const CscMatrix<T>&, const HeldOut&);                  \
  template std::vector<T> values_at<T>(MatrixView<const T>, const HeldOut&);                   \
  template std::vector<double> held_out_errors<T>(const Context&, const NeuralNmf<T>&,          \
                                                  const CscMatrix<T>&, const HeldOut&);         \
  template std::vector<double> held_out_errors<T>(const Context&, const NeuralNmf<T>&,          \
                                                  MatrixView<const T>, const HeldOut&);         \
  template std::vector<double> held_out_errors<T>(const Context&, const CscMatrix<T>&,          \
                                                  const std::vector<Matrix<T>>&,               \
                                                  const std::vector<Matrix<T>>&, const HeldOut&); \
  template std::vector<double> held_out_errors<T>(const Context&, MatrixView<const T>,          \
                                                  const std::vector<Matrix<T>>&,               \
                                                  const std::vector<Matrix<T>>&, const HeldOut&); \
  template std::vector<double> observed_errors<T>(const Context&, const CscMatrix<T>&,          \
                                                  const std::vector<Matrix<T>>&,                \
                                                  const std::vector<Matrix<T>>&, const HeldOut&); \
  template std::vector<double> observed_errors<T>(const Context&, MatrixView<const T>,          \
                                                  const std::vector<Matrix<T>>&,                \
                                                  const std::vector<Matrix<T>>&, const HeldOut&); \
  template std::vector<double> observed_errors<T>(const Context&, const NeuralNmf<T>&,          \
                                                  const CscMatrix<T>&, const HeldOut&);         \
  template std::vector<double> observed_errors<T>(const Context&, const NeuralNmf<T>&,          \
                                                  MatrixView<const T>, const HeldOut&);
NNMF_HELD_OUT_INSTANTIATE(float)
NNMF_HELD_OUT_INSTANTIATE(double)
#undef NNMF_HELD_OUT_INSTANTIATE

}  // namespace nnmf
