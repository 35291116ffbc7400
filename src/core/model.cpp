// NeuralNmf: transform, evaluation, topics, and the on-disk format (docs/model_format.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>

#include "core/checked.hpp"
#include "core/data.hpp"
#include "core/nmf_internal.hpp"
#include "core/small_dense.hpp"
#include "core/validate.hpp"
#include "nnmf/config.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"
#include "nnmf/model.hpp"

namespace nnmf {

template <class T>
NeuralNmf<T> NeuralNmf<T>::from_factors(std::vector<Matrix<T>> A, Matrix<T> B) {
  const char* who = "NeuralNmf::from_factors";
  if (A.empty()) throw InvalidArgument(std::string(who) + ": no factors");
  for (std::size_t l = 0; l < A.size(); ++l) {
    const std::string name = "A" + std::to_string(l);
    if (l > 0 && A[l].rows() != A[l - 1].cols())
      throw DimensionMismatch(std::string(who) + ": " + name + " has " + std::to_string(A[l].rows()) +
                              " rows but A" + std::to_string(l - 1) + " has " +
                              std::to_string(A[l - 1].cols()) + " columns");
    detail::check_factor<T>(who, A[l].view());
  }
  if ((B.rows() != 0 || B.cols() != 0) && (B.rows() == 0 || B.cols() != A.back().cols()))
    throw DimensionMismatch(std::string(who) + ": classifier B is " + shape_string(B.rows(), B.cols()) +
                            " but the last layer has rank " + std::to_string(A.back().cols()));
  NeuralNmf<T> m;
  m.A_ = std::move(A);
  m.B_ = std::move(B);
  return m;
}

template <class T>
std::vector<index_t> NeuralNmf<T>::ranks() const {
  std::vector<index_t> r;
  for (const auto& a : A_) r.push_back(a.cols());
  return r;
}

namespace detail {
namespace {

/// An upper estimate of max |X| in T from the entry sum of nonnegative data (within a factor
/// rows x cols of the maximum, which is all the power-of-two scaling of the solver needs).
template <class T>
T scale_estimate(const PreparedData<T>& X) {
  const double top = static_cast<double>(std::numeric_limits<T>::max());
  return static_cast<T>(X.sum < top ? X.sum : top);
}

/// S(0..L) of prepared data under fixed factors, each layer solved by nnls's scaled path
/// (factors of any magnitude); a layer whose S does not exist in T raises RangeError naming it.
template <class T>
std::vector<Matrix<T>> forward_all(const Context& ctx, const PreparedData<T>& X,
                                   const std::vector<Matrix<T>>& A, const char* who) {
  std::vector<Matrix<T>> out;
  ConstOperand<T> prev;
  for (std::size_t l = 0; l < A.size(); ++l) {
    DataOperand<T> op = X.op;
    T x_max = scale_estimate(X);
    std::vector<T> col_max;
    if (l > 0) {
      const Matrix<T>& Sp = out.back();
      op = DataOperand<T>{};
      op.dense = prev.view;
      col_max.assign(static_cast<std::size_t>(Sp.cols()), T(0));
      for (index_t j = 0; j < Sp.cols(); ++j)
        for (index_t i = 0; i < Sp.rows(); ++i)
          col_max[static_cast<std::size_t>(j)] = std::max(col_max[static_cast<std::size_t>(j)], Sp(i, j));
      x_max = col_max.empty() ? T(0) : *std::max_element(col_max.begin(), col_max.end());
    }
    NnlsResult<T> r = forward_scaled<T>(ctx, A[l].view(), op, x_max,
                                        col_max.empty() ? nullptr : col_max.data(), NnlsOptions{},
                                        std::string(who) + ": layer " + std::to_string(l),
                                        "The factors' magnitudes do not fit the data in this "
                                        "precision: rescale the model's factors");
    out.push_back(std::move(r.S));
    prev = on_backend<T>(ctx, out.back().view());
  }
  return out;
}

template <class T>
void check_data(const char* who, const NeuralNmf<T>& model, index_t rows) {
  if (model.layers() == 0) throw InvalidArgument(std::string(who) + ": the model has no factors");
  if (rows != model.features())
    throw DimensionMismatch(std::string(who) + ": X has " + std::to_string(rows) +
                            " rows but the model was fitted on " + std::to_string(model.features()) +
                            " features");
}

/// M 2^-e (exact unless an entry leaves the range of T).
template <class T>
Matrix<T> times_pow2(const Matrix<T>& M, int e) {
  Matrix<T> out(M.rows(), M.cols());
  const Pow2<T> f(-e);
  for (index_t q = 0; q < M.size(); ++q) out.data()[q] = f(M.data()[q]);
  return out;
}

/// Binary exponent of max |M| (0 for M = 0).
template <class T>
int max_exponent_of(const Matrix<T>& M) {
  T mx = T(0);
  for (T v : M.storage()) mx = std::max(mx, std::abs(v));
  return binary_exponent(mx);
}

/// ||X 2^-ex||_F^2 in double, of this process's block. The prepared squared norm is used while
/// no square can have overflowed or lost its precision in it; otherwise the entries are scaled
/// first (on the host directly, on a device through a scaled copy, chunk by chunk).
template <class T>
double scaled_sqnorm(const Context& ctx, const PreparedData<T>& X, int ex) {
  if (std::is_same<T, float>::value || (std::abs(ex) <= 448 && std::isfinite(X.local_sqnorm)))
    return std::ldexp(X.local_sqnorm, -2 * ex);
  const index_t len = X.op.sparse ? X.op.sp->nnz() : X.rows() * X.cols();
  double s = 0;
  if (ctx.backend() == Backend::host) {
    const Pow2<double> f(-ex);
    auto add = [&](T v) {
      const double d = f(static_cast<double>(v));
      s += d * d;
    };
    if (X.op.sparse) {
      for (index_t p = 0; p < len; ++p) add(X.op.sp->csc().values[p]);
    } else {
      for (index_t j = 0; j < X.cols(); ++j)
        for (index_t i = 0; i < X.rows(); ++i) add(X.op.dense(i, j));
    }
    return s;
  }
  // Device data are contiguous (uploaded dense X or the CSC values).
  const T* data = X.op.sparse ? X.op.sp->csc().values : X.op.dense.data;
  const index_t chunk = std::min<index_t>(len, index_t(1) << 20);
  DMatrix<T> tmp(ctx, chunk, 1);
  for (index_t off = 0; off < len; off += chunk) {
    const index_t cnt = std::min(chunk, len - off);
    ops::copy<T>(ctx, MatrixView<const T>{data + off, cnt, 1, cnt}, MatrixView<T>{tmp.data(), cnt, 1, cnt});
    ops::scal<T>(ctx, cnt, std::ldexp(T(1), -(ex / 2)), tmp.data());
    ops::scal<T>(ctx, cnt, std::ldexp(T(1), -(ex - ex / 2)), tmp.data());
    s += ops::dot<T>(ctx, cnt, tmp.data(), tmp.data());
  }
  return s;
}

/// ||X - A0..Al Sl||_F / ||X||_F for each layer through Gram identities (no N x m product),
/// evaluated on the problem scaled by powers of two, so that factors and data of any
/// magnitude give the error without overflow: X' = X 2^-ex (ex from the entry sum, so
/// X' <= 1), A0' = A0 2^-a0 and V' = A1..Al Sl 2^(a0 - ex), whose chain is formed from
/// factors scaled to largest entry < 1 and unscaled once. ||X - A0 V||^2 / ||X||^2 =
/// (||X'||^2 - 2 <A0'^T X', V'> + <A0'^T A0' V', V'>) / ||X'||^2. A layer whose reconstruction
/// is too large for T next to X raises RangeError naming @p who and the layer.
template <class T>
std::vector<double> layer_rel_errors(const Context& ctx, const PreparedData<T>& X,
                                     const std::vector<Matrix<T>>& A,
                                     const std::vector<Matrix<T>>& S, const char* who) {
  const index_t m = X.cols(), k0 = A[0].cols();
  std::vector<double> err;
  if (!(X.sum > 0)) {
    err.assign(A.size(), 0.0);  // X = 0: nothing to reconstruct
    return err;
  }
  const int ex = std::isfinite(X.sum) ? binary_exponent(X.sum) : std::numeric_limits<double>::max_exponent;
  const int a0 = max_exponent_of(A[0]);
  // This block's share of ||X'||^2 and of each layer's error, all-reduced.
  const double xsq_part = scaled_sqnorm(ctx, X, ex);
  const double xsq = allreduce_sum(ctx, xsq_part);
  DMatrix<T> G0(ctx, k0, k0), C0(ctx, k0, m), GV(ctx, k0, m);
  {
    // C0' = (A0' 2^-h)^T X 2^-(ex - h): half the data's scale inside the product.
    const int h = ex / 2;
    const Matrix<T> A0s = times_pow2(A[0], a0);
    auto dA0 = on_backend<T>(ctx, A0s.view());
    ops::gram<T>(ctx, dA0.view, G0.view());
    const Matrix<T> A0h = times_pow2(A[0], a0 + h);
    auto dA0h = on_backend<T>(ctx, A0h.view());
    ops::at_x<T>(ctx, T(1), dA0h.view, X.op, T(0), C0.view());
    ops::scal<T>(ctx, k0 * m, std::ldexp(T(1), -(ex - h)), C0.data());
  }
  for (std::size_t l = 0; l < A.size(); ++l) {
    // V^ = A1' .. Al' Sl' with every factor scaled to a largest entry < 1 (no overflow), and
    // V' = V^ 2^(e + a0 - ex) where e sums the scaling exponents.
    int e = max_exponent_of(S[l]);
    DMatrix<T> V = DMatrix<T>::upload(ctx, times_pow2(S[l], e).view());
    for (std::size_t q = l; q >= 1; --q) {
      const int aq = max_exponent_of(A[q]);
      const Matrix<T> Aqs = times_pow2(A[q], aq);
      auto dAq = on_backend<T>(ctx, Aqs.view());
      DMatrix<T> Vn(ctx, A[q].rows(), m);
      ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), dAq.view, V.view(), T(0), Vn.view());
      V = std::move(Vn);
      e += aq;
    }
    Matrix<T> Vh = V.download();
    const int shift = e + a0 - ex;
    const Pow2<T> f(shift);
    for (T& v : Vh.storage()) {
      v = f(v);
      if (!std::isfinite(v))
        throw RangeError(std::string(who) + ": layer " + std::to_string(l) +
                         ": the reconstruction A0..Al Sl is about 2^" + std::to_string(shift) +
                         " times the data, beyond the range of " +
                         (std::is_same<T, float>::value ? "float" : "double") +
                         "; its relative error cannot be computed");
    }
    V = DMatrix<T>::upload(ctx, Vh.view());
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), G0.view(), V.view(), T(0), GV.view());
    const double e2 = allreduce_sum(ctx, xsq_part - 2 * ops::dot<T>(ctx, C0.view(), V.view()) +
                                             ops::dot<T>(ctx, GV.view(), V.view()));
    err.push_back(std::sqrt(std::max(e2, 0.0) / xsq));
  }
  return err;
}

template <class T>
std::vector<LayerReport> reports_from(const Context& ctx, const NeuralNmf<T>& model, const std::vector<double>& rel,
                                      const std::vector<Matrix<T>>& S,
                                      const std::vector<std::vector<int>>& labels,
                                      const std::vector<std::uint8_t>& fit_mask,
                                      const std::vector<std::uint8_t>& score_mask) {
  std::vector<LayerReport> out;
  for (index_t l = 0; l < model.layers(); ++l) {
    LayerReport r;
    r.rank = model.factors()[static_cast<std::size_t>(l)].cols();
    r.rel_error = rel[static_cast<std::size_t>(l)];
    if (!labels.empty()) {
      const auto& y = labels.size() == 1 ? labels[0] : labels[static_cast<std::size_t>(l)];
      r.accuracy = label_accuracy<T>(ctx, S[static_cast<std::size_t>(l)].view(), y, fit_mask, score_mask);
    }
    out.push_back(r);
  }
  return out;
}

template <class T>
std::vector<LayerReport> evaluate_prepared(const Context& ctx, const NeuralNmf<T>& model,
                                           const PreparedData<T>& X,
                                           const std::vector<std::vector<int>>& labels,
                                           const std::vector<std::uint8_t>& fit_mask,
                                           const std::vector<std::uint8_t>& score_mask) {
  const char* who = "NeuralNmf::evaluate";
  const index_t L = model.layers(), m = X.cols();
  all_or_none(ctx, [&] {
    if (!labels.empty() && labels.size() != 1 && static_cast<index_t>(labels.size()) != L)
      throw InvalidArgument(std::string(who) + ": " + std::to_string(labels.size()) +
                            " label sets for " + std::to_string(L) + " layers (give 1 or " +
                            std::to_string(L) + ")");
    for (const auto& y : labels)
      if (static_cast<index_t>(y.size()) != m)
        throw DimensionMismatch(std::string(who) + ": " + std::to_string(y.size()) + " labels for " +
                                std::to_string(m) + " columns");
  });
  const auto S = forward_all(ctx, X, model.factors(), who);
  const auto rel = layer_rel_errors(ctx, X, model.factors(), S, who);
  return reports_from(ctx, model, rel, S, labels, fit_mask, score_mask);
}

}  // namespace
}  // namespace detail


template <class T>
std::vector<Matrix<T>> NeuralNmf<T>::transform(const Context& ctx, MatrixView<const T> X) const {
  detail::all_or_none(ctx, [&] {
    detail::check_data("NeuralNmf::transform", *this, X.rows);
    detail::check_values("NeuralNmf::transform", "X", X, true, ctx.threads());
  });
  auto d = detail::prepare(ctx, X);
  return detail::forward_all(ctx, *d, A_, "NeuralNmf::transform");
}

template <class T>
std::vector<Matrix<T>> NeuralNmf<T>::transform(const Context& ctx, const CscMatrix<T>& X) const {
  detail::all_or_none(ctx, [&] {
    detail::check_data("NeuralNmf::transform", *this, X.rows());
    detail::check_values("NeuralNmf::transform", "X", X.view(), true, ctx.threads());
  });
  auto d = detail::prepare(ctx, X);
  return detail::forward_all(ctx, *d, A_, "NeuralNmf::transform");
}

template <class T>
std::vector<LayerReport> NeuralNmf<T>::evaluate(const Context& ctx, MatrixView<const T> X,
                                                const std::vector<std::vector<int>>& labels,
                                                const std::vector<std::uint8_t>& fit_mask,
                                                const std::vector<std::uint8_t>& score_mask) const {
  detail::all_or_none(ctx, [&] {
    detail::check_data("NeuralNmf::evaluate", *this, X.rows);
    detail::check_values("NeuralNmf::evaluate", "X", X, true, ctx.threads());
  });
  auto d = detail::prepare(ctx, X);
  return detail::evaluate_prepared(ctx, *this, *d, labels, fit_mask, score_mask);
}

template <class T>
std::vector<LayerReport> NeuralNmf<T>::evaluate(const Context& ctx, const CscMatrix<T>& X,
                                                const std::vector<std::vector<int>>& labels,
                                                const std::vector<std::uint8_t>& fit_mask,
                                                const std::vector<std::uint8_t>& score_mask) const {
  detail::all_or_none(ctx, [&] {
    detail::check_data("NeuralNmf::evaluate", *this, X.rows());
    detail::check_values("NeuralNmf::evaluate", "X", X.view(), true, ctx.threads());
  });
  auto d = detail::prepare(ctx, X);
  return detail::evaluate_prepared(ctx, *this, *d, labels, fit_mask, score_mask);
}

template <class T>
std::vector<double> relative_errors(const Context& ctx, MatrixView<const T> X,
                                    const std::vector<Matrix<T>>& A, const std::vector<Matrix<T>>& S) {
  detail::all_or_none(ctx, [&] { detail::check_hierarchy("relative_errors", X.rows, X.cols, A, S); });
  auto d = detail::prepare(ctx, X);
  return detail::layer_rel_errors(ctx, *d, A, S, "relative_errors");
}

template <class T>
std::vector<double> relative_errors(const Context& ctx, const CscMatrix<T>& X,
                                    const std::vector<Matrix<T>>& A, const std::vector<Matrix<T>>& S) {
  detail::all_or_none(ctx, [&] { detail::check_hierarchy("relative_errors", X.rows(), X.cols(), A, S); });
  auto d = detail::prepare(ctx, X);
  return detail::layer_rel_errors(ctx, *d, A, S, "relative_errors");
}

template <class T>
Matrix<T> NeuralNmf<T>::layer_dictionary(index_t l) const {
  if (l < 0 || l >= layers())
    throw InvalidArgument("NeuralNmf::layer_dictionary: layer " + std::to_string(l) +
                          " is outside [0, " + std::to_string(layers()) + ")");
  Matrix<T> D = A_[0];
  for (index_t q = 1; q <= l; ++q) {
    const Matrix<T>& Aq = A_[static_cast<std::size_t>(q)];
    Matrix<T> N(D.rows(), Aq.cols());
    for (index_t j = 0; j < Aq.cols(); ++j)
      for (index_t p = 0; p < Aq.rows(); ++p) {
        const T a = Aq(p, j);
        if (a == T(0)) continue;
        for (index_t i = 0; i < D.rows(); ++i) N(i, j) += D(i, p) * a;
      }
    D = std::move(N);
  }
  return D;
}

template <class T>
std::vector<std::vector<index_t>> NeuralNmf<T>::top_features(index_t l, index_t count) const {
  const Matrix<T> D = layer_dictionary(l);
  if (count < 0) throw InvalidArgument("NeuralNmf::top_features: count must be >= 0");
  count = std::min(count, D.rows());
  std::vector<std::vector<index_t>> out;
  for (index_t j = 0; j < D.cols(); ++j) {
    std::vector<index_t> idx(static_cast<std::size_t>(D.rows()));
    std::iota(idx.begin(), idx.end(), index_t{0});
    // Largest weight first; ties by feature index, so the order is deterministic.
    std::partial_sort(idx.begin(), idx.begin() + count, idx.end(), [&](index_t a, index_t b) {
      return D(a, j) > D(b, j) || (D(a, j) == D(b, j) && a < b);
    });
    idx.resize(static_cast<std::size_t>(count));
    out.push_back(std::move(idx));
  }
  return out;
}

template <class T>
std::vector<std::vector<std::string>> NeuralNmf<T>::top_terms(index_t l, index_t count,
                                                              const std::vector<std::string>& vocab) const {
  if (static_cast<index_t>(vocab.size()) != features())
    throw DimensionMismatch("NeuralNmf::top_terms: vocabulary has " + std::to_string(vocab.size()) +
                            " terms but the model has " + std::to_string(features()) + " features");
  std::vector<std::vector<std::string>> out;
  for (const auto& topic : top_features(l, count)) {
    std::vector<std::string> words;
    for (index_t i : topic) words.push_back(vocab[static_cast<std::size_t>(i)]);
    out.push_back(std::move(words));
  }
  return out;
}

template <class T>
std::vector<int> NeuralNmf<T>::classify(MatrixView<const T> SL) const {
  if (B_.empty())
    throw InvalidArgument("NeuralNmf::classify: the model has no classifier (fit it with labels, or score layers "
                          "with evaluate(), which fits one by the paper's rule)");
  if (SL.rows != B_.cols())
    throw DimensionMismatch("NeuralNmf::classify: S has " + std::to_string(SL.rows) + " rows but the classifier " +
                            std::to_string(B_.cols()) + " columns (the last rank)");
  return detail::classes_of(B_, SL);
}

template <class T>
std::vector<int> argmax_columns(MatrixView<const T> M) {
  std::vector<int> out(static_cast<std::size_t>(M.cols));
  for (index_t j = 0; j < M.cols; ++j) {
    index_t best = 0;
    for (index_t i = 1; i < M.rows; ++i)
      if (M(i, j) > M(best, j)) best = i;
    out[static_cast<std::size_t>(j)] = static_cast<int>(best);
  }
  return out;
}

template <class T>
double label_accuracy(MatrixView<const T> S, const std::vector<int>& labels,
                      const std::vector<std::uint8_t>& fit_mask,
                      const std::vector<std::uint8_t>& score_mask) {
  return label_accuracy<T>(Context::host(1), S, labels, fit_mask, score_mask);
}

namespace detail {
namespace {
void check_accuracy_inputs(const char* who, index_t m, const std::vector<int>& labels,
                           const std::vector<std::uint8_t>& fit_mask,
                           const std::vector<std::uint8_t>& score_mask) {
  if (static_cast<index_t>(labels.size()) != m)
    throw DimensionMismatch(std::string(who) + ": " + std::to_string(labels.size()) + " labels for " +
                            std::to_string(m) + " columns");
  if (!fit_mask.empty() && static_cast<index_t>(fit_mask.size()) != m)
    throw DimensionMismatch(std::string(who) + ": fit mask has " + std::to_string(fit_mask.size()) +
                            " entries for " + std::to_string(m) + " columns");
  if (!score_mask.empty() && static_cast<index_t>(score_mask.size()) != m)
    throw DimensionMismatch(std::string(who) + ": score mask has " + std::to_string(score_mask.size()) +
                            " entries for " + std::to_string(m) + " columns");
  for (int y : labels)
    if (y < 0) throw InvalidArgument(std::string(who) + ": negative label " + std::to_string(y));
}
}  // namespace
}  // namespace detail

template <class T>
double label_accuracy(const Context& ctx, MatrixView<const T> S, const std::vector<int>& labels,
                      const std::vector<std::uint8_t>& fit_mask,
                      const std::vector<std::uint8_t>& score_mask) {
  const char* who = "label_accuracy";
  const index_t k = S.rows, m = S.cols;
  detail::all_or_none(ctx, [&] { detail::check_accuracy_inputs(who, m, labels, fit_mask, score_mask); });
  std::int64_t top = -1;
  for (int y : labels) top = std::max<std::int64_t>(top, y);
  const int c = static_cast<int>(std::max<std::int64_t>(0, detail::allreduce_max(ctx, top) + 1));
  // B = Y_K S_K^+ = (Y_K S_K^T)(S_K S_K^T)^+ over the fit columns K.
  Matrix<double> M(k, k), N(c, k);
  for (index_t j = 0; j < m; ++j) {
    if (!fit_mask.empty() && !fit_mask[static_cast<std::size_t>(j)]) continue;
    for (index_t b = 0; b < k; ++b) {
      const double sb = S(b, j);
      if (sb == 0) continue;
      for (index_t a = 0; a < k; ++a) M(a, b) += double(S(a, j)) * sb;
      N(labels[static_cast<std::size_t>(j)], b) += sb;
    }
  }
  detail::allreduce_sum<double>(ctx, {M.view(), N.view()});  // host memory: a host context
  const Matrix<double> B = detail::right_pinv_solve(N, M);
  index_t right = 0, scored = 0;
  for (index_t j = 0; j < m; ++j) {
    if (!score_mask.empty() && !score_mask[static_cast<std::size_t>(j)]) continue;
    int best = 0;
    double bestv = -1e300;
    for (int i = 0; i < c; ++i) {
      double v = 0;
      for (index_t a = 0; a < k; ++a) v += B(i, a) * double(S(a, j));
      if (v > bestv) {
        bestv = v;
        best = i;
      }
    }
    ++scored;
    right += best == labels[static_cast<std::size_t>(j)];
  }
  std::int64_t counts[2] = {right, scored};
  detail::allreduce_sum(ctx, counts, 2);
  right = counts[0];
  scored = counts[1];
  if (scored == 0) throw InvalidArgument(std::string(who) + ": no column to score");
  return double(right) / double(scored);
}

// ---- on-disk format ---------------------------------------------------------------------------

namespace detail {
namespace {

constexpr char kMagic[8] = {'N', 'N', 'M', 'F', 'M', 'O', 'D', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeader = 8 + 4 + 4 + 8;

template <class U>
void put(std::string& out, U v) {
  char b[sizeof(U)];
  std::memcpy(b, &v, sizeof(U));
  out.append(b, sizeof(U));
}

/// The bytes of a model file: a regular file no larger than the memory budget.
std::string read_model_bytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(path + ": cannot open model file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(path + ": not a regular file (a model file is expected)");
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > memory_budget()) {
    ::close(fd);
    throw IoError(path + ": model file of " + byte_string(double(size)) +
                  " is larger than the memory budget (" + memory_budget_source() + ")");
  }
  std::string d(static_cast<std::size_t>(size), '\0');
  std::size_t off = 0;
  while (off < d.size()) {
    const ssize_t got = ::read(fd, &d[off], d.size() - off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    off += static_cast<std::size_t>(got);
  }
  ::close(fd);
  d.resize(off);  // a file that shrank while read is then reported as truncated
  return d;
}

/// An integer field of the metadata in [lo, hi]; anything else is corruption.
index_t json_int(const nlohmann::json& h, const char* key, index_t lo, index_t hi) {
  const auto& v = h.at(key);
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(hi)))
    throw IoError(std::string("'") + key + "' is not an integer in range");
  const auto x = v.get<std::int64_t>();
  if (x < lo || x > hi) throw IoError(std::string("'") + key + "' = " + std::to_string(x) + " is out of range");
  return x;
}

/// A real field of the metadata (a JSON number; null stands for a non-finite value).
double json_real(const nlohmann::json& h, const char* key) {
  const auto& v = h.at(key);
  if (v.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (!v.is_number()) throw IoError(std::string("'") + key + "' is not a number");
  return v.get<double>();
}

class Reader {
 public:
  Reader(const std::string& path, const std::string& data, std::size_t pos, std::size_t end)
      : path_(path), d_(data), pos_(pos), end_(end) {}
  template <class U>
  U get() {
    need(sizeof(U));
    U v;
    std::memcpy(&v, d_.data() + pos_, sizeof(U));
    pos_ += sizeof(U);
    return v;
  }
  std::string bytes(std::size_t n) {
    need(n);
    std::string s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  template <class T>
  Matrix<T> matrix(std::uint32_t value_size) {
    const auto rows = get<std::uint64_t>(), cols = get<std::uint64_t>();
    // rows x cols x value_size must fit in what is left of the payload: checked without
    // overflow before anything is allocated.
    const index_t bytes = rows > (1ull << 40) || cols > (1ull << 40)
                              ? -1
                              : checked_mul3(static_cast<index_t>(rows), static_cast<index_t>(cols),
                                             static_cast<index_t>(value_size));
    if (bytes < 0 || static_cast<std::uint64_t>(bytes) > end_ - pos_)
      throw IoError(path_ + ": corrupt model file (a " + std::to_string(rows) + " x " +
                    std::to_string(cols) + " matrix does not fit in the " +
                    std::to_string(end_ - pos_) + " bytes left)");
    Matrix<T> M(static_cast<index_t>(rows), static_cast<index_t>(cols));
    for (index_t q = 0; q < M.size(); ++q) {
      if (value_size == 8)
        M.data()[q] = static_cast<T>(get<double>());
      else
        M.data()[q] = static_cast<T>(get<float>());
    }
    return M;
  }
  bool at_end() const { return pos_ == end_; }

 private:
  void need(std::size_t n) const {
    if (pos_ + n > end_) throw IoError(path_ + ": corrupt model file (a section runs past its end)");
  }
  const std::string& path_;
  const std::string& d_;
  std::size_t pos_, end_;
};

template <class T>
void put_matrix(std::string& out, const Matrix<T>& M) {
  put<std::uint64_t>(out, static_cast<std::uint64_t>(M.rows()));
  put<std::uint64_t>(out, static_cast<std::uint64_t>(M.cols()));
  out.append(reinterpret_cast<const char*>(M.data()), sizeof(T) * static_cast<std::size_t>(M.size()));
}

/// Where a model file's payload ends (its CRC follows) and the size of its values, from a
/// header checked against the file.
struct ModelLayout {
  std::uint32_t value_size = 0;
  std::size_t end = 0;
};

/// Checks that @p d is not empty, starts with the magic and holds a whole header and a CRC.
void check_model_start(const std::string& path, const std::string& d) {
  if (d.empty()) throw IoError(path + ": model file is empty");
  if (d.size() < 8 || std::memcmp(d.data(), kMagic, 8) != 0)
    throw IoError(path + ": not an nnmf model file (bad magic)");
  if (d.size() < kHeader + 4)
    throw IoError(path + ": truncated model file (" + std::to_string(d.size()) + " bytes)");
}

/// The end of a payload of @p payload bytes, which with the header and the CRC must be the
/// whole file @p d (no more, no less).
std::size_t payload_end(const std::string& path, const std::string& d, std::uint64_t payload) {
  const std::size_t want = payload > d.size() ? SIZE_MAX : kHeader + payload + 4;
  if (d.size() < want)
    throw IoError(path + ": truncated model file: " + std::to_string(d.size()) + " bytes, expected " +
                  std::to_string(want));
  if (d.size() > want)
    throw IoError(path + ": corrupt model file: " + std::to_string(d.size() - want) +
                  " bytes after its end");
  return kHeader + payload;
}

/// Checks the CRC-32 stored at @p end against the bytes before it.
void check_model_crc(const std::string& path, const std::string& d, std::size_t end) {
  std::uint32_t stored;
  std::memcpy(&stored, d.data() + end, 4);
  const auto crc = static_cast<std::uint32_t>(
      crc32_z(0L, reinterpret_cast<const Bytef*>(d.data()), end));
  if (crc != stored) throw IoError(path + ": corrupt model file (checksum mismatch)");
}

/// Checks everything about the file @p d outside its payload: magic, version, value size,
/// length and checksum.
ModelLayout check_model_file(const std::string& path, const std::string& d) {
  check_model_start(path, d);
  Reader hdr(path, d, 8, kHeader);
  const auto version = hdr.get<std::uint32_t>();
  const auto value_size = hdr.get<std::uint32_t>();
  const auto payload = hdr.get<std::uint64_t>();
  if (version != kVersion)
    throw IoError(path + ": unsupported model format version " + std::to_string(version) +
                  " (this build reads version " + std::to_string(kVersion) + ")");
  if (value_size != 4 && value_size != 8)
    throw IoError(path + ": corrupt model file (value size " + std::to_string(value_size) + ")");
  const std::size_t end = payload_end(path, d, payload);
  check_model_crc(path, d, end);
  return {value_size, end};
}

/// The payload of a model file: the factors, the classifier and the metadata (JSON text).
template <class T>
struct ModelPayload {
  std::vector<Matrix<T>> A;
  Matrix<T> B;
  std::string meta;
};

/// Reads the payload of @p d (layer count, A(0..L-1), B, metadata), which must fill it exactly;
/// every size is checked against the bytes left before it is used.
template <class T>
ModelPayload<T> read_model_payload(const std::string& path, const std::string& d, const ModelLayout& f) {
  Reader r(path, d, kHeader, f.end);
  const auto L = r.get<std::uint32_t>();
  if (L == 0 || L > 1000) throw IoError(path + ": corrupt model file (" + std::to_string(L) + " layers)");
  ModelPayload<T> p;
  for (std::uint32_t l = 0; l < L; ++l) p.A.push_back(r.template matrix<T>(f.value_size));
  p.B = r.template matrix<T>(f.value_size);
  const auto jl = r.get<std::uint64_t>();
  p.meta = r.bytes(static_cast<std::size_t>(jl));
  if (!r.at_end()) throw IoError(path + ": corrupt model file (unread bytes in the payload)");
  return p;
}

/// The model of the factors and classifier read from @p path; IoError if they do not fit together.
template <class T>
NeuralNmf<T> model_from_payload(const std::string& path, ModelPayload<T>& p) {
  try {
    return NeuralNmf<T>::from_factors(std::move(p.A), std::move(p.B));
  } catch (const Error& e) {
    throw IoError(path + ": inconsistent model: " + e.what());
  }
}

/// One record of the metadata's training history.
EpochRecord epoch_record(const nlohmann::json& h) {
  EpochRecord rec;
  rec.epoch = static_cast<int>(json_int(h, "epoch", 0, INT32_MAX));
  rec.loss = json_real(h, "loss");
  rec.reconstruction = json_real(h, "reconstruction");
  rec.energy = json_real(h, "energy");
  rec.supervision = json_real(h, "supervision");
  rec.step = json_real(h, "step");
  if (h.contains("seconds")) rec.seconds = json_real(h, "seconds");
  rec.nnls_iterations = json_int(h, "nnls_iterations", 0, INT64_MAX);
  rec.line_search_trials = static_cast<int>(json_int(h, "line_search_trials", 0, INT32_MAX));
  if (h.contains("validation_accuracy")) rec.validation_accuracy = json_real(h, "validation_accuracy");
  return rec;
}

/// The StopReason whose name is @p why; IoError for a name no StopReason has.
StopReason stop_reason_named(const std::string& why) {
  for (StopReason v : {StopReason::none, StopReason::converged, StopReason::stationary,
                       StopReason::epoch_cap, StopReason::interrupted, StopReason::validation})
    if (why == to_string(v)) return v;
  throw IoError("unknown stop_reason '" + why + "'");
}

/// What a model file's metadata holds besides the factors.
struct ModelMeta {
  std::vector<EpochRecord> history;
  StopReason stop_reason = StopReason::none;
  std::string method;
  std::vector<std::string> class_names;
};

/// Parses the metadata text @p js (throws nlohmann::json::exception or IoError when corrupt).
ModelMeta parse_model_meta(const std::string& js) {
  const auto meta = nlohmann::json::parse(js);
  ModelMeta out;
  for (const auto& h : meta.at("history")) out.history.push_back(epoch_record(h));
  // Absent in files written before it existed: StopReason::none.
  if (meta.contains("stop_reason")) out.stop_reason = stop_reason_named(meta.at("stop_reason").get<std::string>());
  if (meta.contains("method")) out.method = meta.at("method").get<std::string>();
  if (meta.contains("class_names")) out.class_names = meta.at("class_names").get<std::vector<std::string>>();
  return out;
}

/// Runs @p f, reporting a JSON error, an IoError or a DimensionMismatch from it as corrupt
/// metadata of @p path (IoError).
template <class F>
void as_metadata_error(const std::string& path, F&& f) {
  try {
    f();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(path + ": corrupt model metadata: " + e.what());
  } catch (const IoError& e) {
    throw IoError(path + ": corrupt model metadata: " + e.what());
  } catch (const DimensionMismatch& e) {
    throw IoError(path + ": corrupt model metadata: " + e.what());
  }
}

}  // namespace
}  // namespace detail

template <class T>
void NeuralNmf<T>::set_class_names(std::vector<std::string> names) {
  if (!names.empty() && static_cast<index_t>(names.size()) != B_.rows())
    throw DimensionMismatch("NeuralNmf::set_class_names: " + std::to_string(names.size()) + " names for a classifier of " +
                            std::to_string(B_.rows()) + " classes");
  class_names_ = std::move(names);
}

template <class T>
void NeuralNmf<T>::save(const std::string& path) const {
  using detail::put;
  if (A_.empty()) throw InvalidArgument("NeuralNmf::save: the model has no factors");
  std::string payload;
  put<std::uint32_t>(payload, static_cast<std::uint32_t>(A_.size()));
  for (const auto& a : A_) detail::put_matrix(payload, a);
  detail::put_matrix(payload, B_);
  nlohmann::json meta;
  meta["created_by"] = std::string("nnmf ") + NNMF_VERSION_STRING;
  meta["stop_reason"] = to_string(stop_reason_);
  if (!method_.empty()) meta["method"] = method_;
  if (!class_names_.empty()) meta["class_names"] = class_names_;
  meta["history"] = nlohmann::json::array();
  // No wall times here (they belong in the CLI's report.json): the same fit saves the same bytes.
  for (const auto& r : history_) {
    meta["history"].push_back({{"epoch", r.epoch},
                               {"loss", r.loss},
                               {"reconstruction", r.reconstruction},
                               {"energy", r.energy},
                               {"supervision", r.supervision},
                               {"step", r.step},
                               {"nnls_iterations", r.nnls_iterations},
                               {"line_search_trials", r.line_search_trials}});
    if (r.validation_accuracy >= 0) meta["history"].back()["validation_accuracy"] = r.validation_accuracy;
  }
  const std::string js = meta.dump();
  put<std::uint64_t>(payload, js.size());
  payload += js;

  std::string out(detail::kMagic, 8);
  put<std::uint32_t>(out, detail::kVersion);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(sizeof(T)));
  put<std::uint64_t>(out, payload.size());
  out += payload;
  const auto crc = static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size())));
  put<std::uint32_t>(out, crc);
  io::write_file_atomic(path, out);
}

template <class T>
NeuralNmf<T> NeuralNmf<T>::load(const std::string& path) {
  const std::string d = detail::read_model_bytes(path);
  const detail::ModelLayout layout = detail::check_model_file(path, d);
  detail::ModelPayload<T> p = detail::read_model_payload<T>(path, d, layout);
  NeuralNmf<T> m = detail::model_from_payload(path, p);
  detail::as_metadata_error(path, [&] {
    detail::ModelMeta meta = detail::parse_model_meta(p.meta);
    m.history_ = std::move(meta.history);
    m.stop_reason_ = meta.stop_reason;
    m.method_ = std::move(meta.method);
    m.set_class_names(std::move(meta.class_names));
  });
  return m;
}

template class NeuralNmf<float>;
template class NeuralNmf<double>;
template std::vector<double> relative_errors<float>(const Context&, MatrixView<const float>,
                                                   const std::vector<Matrix<float>>&,
                                                   const std::vector<Matrix<float>>&);
template std::vector<double> relative_errors<double>(const Context&, MatrixView<const double>,
                                                    const std::vector<Matrix<double>>&,
                                                    const std::vector<Matrix<double>>&);
template std::vector<double> relative_errors<float>(const Context&, const CscMatrix<float>&,
                                                   const std::vector<Matrix<float>>&,
                                                   const std::vector<Matrix<float>>&);
template std::vector<double> relative_errors<double>(const Context&, const CscMatrix<double>&,
                                                    const std::vector<Matrix<double>>&,
                                                    const std::vector<Matrix<double>>&);
template std::vector<int> argmax_columns<float>(MatrixView<const float>);
template std::vector<int> argmax_columns<double>(MatrixView<const double>);
template double label_accuracy<float>(MatrixView<const float>, const std::vector<int>&,
                                      const std::vector<std::uint8_t>&, const std::vector<std::uint8_t>&);
template double label_accuracy<double>(MatrixView<const double>, const std::vector<int>&,
                                       const std::vector<std::uint8_t>&, const std::vector<std::uint8_t>&);
template double label_accuracy<float>(const Context&, MatrixView<const float>, const std::vector<int>&,
                                      const std::vector<std::uint8_t>&, const std::vector<std::uint8_t>&);
template double label_accuracy<double>(const Context&, MatrixView<const double>, const std::vector<int>&,
                                       const std::vector<std::uint8_t>&, const std::vector<std::uint8_t>&);

}  // namespace nnmf
