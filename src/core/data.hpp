// Data X moved to the context once, plus seeded random matrices: shared by the training loops
// (Neural NMF, NMF and the baselines).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/backend_memory.hpp"
#include "core/comm.hpp"
#include "core/ops.hpp"
#include "nnmf/error.hpp"
#include "nnmf/held_out.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// X (N x m) in the context's memory with its squared norm and entry sum. With several
/// processes (docs/mpi.md) this is the process's block of columns first_col ..
/// first_col + cols() - 1 of a matrix of total_cols columns; sqnorm and sum are then those of
/// the whole matrix and local_sqnorm that of the block (the block's share of a loss).
template <class T>
struct PreparedData {
  ConstOperand<T> dense;
  std::unique_ptr<DSparse<T>> sparse;
  DataOperand<T> op;
  double sqnorm = 0;        ///< ||X||_F^2 (all processes)
  double local_sqnorm = 0;  ///< ||X block||_F^2
  double sum = 0;           ///< sum of the entries (all processes)
  index_t first_col = 0;    ///< global index of this block's first column
  index_t total_cols = 0;   ///< columns over all processes
  index_t rows() const { return op.rows(); }
  index_t cols() const { return op.cols(); }
  double mean() const {
    const double cnt = double(rows()) * double(total_cols);
    return cnt > 0 ? sum / cnt : 0.0;
  }
};

/// Fills the global fields of @p d from its block's sqnorm and sum (a collective call).
template <class T>
void finish_prepare(const Context& ctx, PreparedData<T>& d) {
  d.local_sqnorm = d.sqnorm;
  double s[2] = {d.sqnorm, d.sum};
  allreduce_sum(ctx, s, 2);
  d.sqnorm = s[0];
  d.sum = s[1];
  if (distributed(ctx)) {
    std::int64_t r[2] = {d.rows(), -d.rows()};
    allreduce_max(ctx, r, 2);
    if (r[0] != -r[1])
      throw DimensionMismatch("X: the processes' blocks have between " + std::to_string(-r[1]) +
                              " and " + std::to_string(r[0]) +
                              " rows; every block of columns needs the same rows");
  }
  d.first_col = exclusive_prefix_sum(ctx, d.cols());
  d.total_cols = allreduce_sum(ctx, std::int64_t(d.cols()));
}

/// Dense host X to the context (a view on the host, no copy).
template <class T>
std::unique_ptr<PreparedData<T>> prepare(const Context& ctx, MatrixView<const T> X) {
  auto d = std::make_unique<PreparedData<T>>();
  d->dense = on_backend(ctx, X);
  d->op.dense = d->dense.view;
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t i = 0; i < X.rows; ++i) {
      d->sqnorm += double(X(i, j)) * X(i, j);
      d->sum += X(i, j);
    }
  finish_prepare(ctx, *d);
  return d;
}

/// Sparse host X to the context, with its row form (needed for products X Z^T).
template <class T>
std::unique_ptr<PreparedData<T>> prepare(const Context& ctx, const CscMatrix<T>& X) {
  auto d = std::make_unique<PreparedData<T>>();
  d->sparse = std::make_unique<DSparse<T>>(ctx, X.view(), true);
  d->op.sparse = true;
  d->op.sp = d->sparse.get();
  for (T v : X.values()) {
    d->sqnorm += double(v) * v;
    d->sum += v;
  }
  finish_prepare(ctx, *d);
  return d;
}

/// A held-out set H (checked) in the context's memory, by columns and by rows.
class DPattern {
 public:
  DPattern(const Context& ctx, const HeldOut& H) : view_{H.rows, H.cols, H.size()} {
    std::vector<index_t> row_ptr(static_cast<std::size_t>(H.rows) + 1, 0), col_idx(H.row_idx.size()),
        perm(H.row_idx.size());
    for (index_t i : H.row_idx) ++row_ptr[static_cast<std::size_t>(i) + 1];
    for (std::size_t i = 0; i < static_cast<std::size_t>(H.rows); ++i) row_ptr[i + 1] += row_ptr[i];
    std::vector<index_t> next(row_ptr.begin(), row_ptr.end() - 1);
    for (index_t j = 0; j < H.cols; ++j)  // columns in order: each row's columns increase
      for (index_t q = H.col_ptr[static_cast<std::size_t>(j)]; q < H.col_ptr[static_cast<std::size_t>(j) + 1]; ++q) {
        const auto p = static_cast<std::size_t>(next[static_cast<std::size_t>(H.row_idx[static_cast<std::size_t>(q)])]++);
        col_idx[p] = j;
        perm[p] = q;
      }
    view_.col_ptr = put(ctx, col_ptr_, H.col_ptr);
    view_.row_idx = put(ctx, row_idx_, H.row_idx);
    view_.row_ptr = put(ctx, row_ptr_, row_ptr);
    view_.col_idx = put(ctx, col_idx_, col_idx);
    view_.perm = put(ctx, perm_, perm);
  }
  const PatternView& view() const { return view_; }
  index_t nnz() const { return view_.nnz; }

 private:
  static const index_t* put(const Context& ctx, Buffer<index_t>& b, const std::vector<index_t>& h) {
    b = Buffer<index_t>(ctx, std::max<std::size_t>(h.size(), 1));
    b.upload(h.data(), h.size());
    return b.data();
  }
  Buffer<index_t> col_ptr_, row_idx_, row_ptr_, col_idx_, perm_;
  PatternView view_;
};

/// Seeded uniform [0, 1) numbers, identical on every platform (53 random bits per double;
/// std::uniform_real_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// Skips @p n numbers (as n calls of uniform() would), in O(1).
  void skip(std::uint64_t n) { s_ += n * 0x9E3779B97F4A7C15ull; }

 private:
  // splitmix64
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint64_t s_;
};

/// A seeded permutation of 0..n-1 by Fisher-Yates (the same on every platform): the held-out
/// labels of early stopping, the row and column splits of select_rank.
inline std::vector<index_t> seeded_permutation(index_t n, Rng& rng) {
  std::vector<index_t> p(static_cast<std::size_t>(n));
  for (std::size_t q = 0; q < p.size(); ++q) p[q] = static_cast<index_t>(q);
  for (std::size_t q = p.size(); q > 1; --q) {
    const auto r = std::min(static_cast<std::size_t>(rng.uniform() * static_cast<double>(q)), q - 1);
    std::swap(p[q - 1], p[r]);
  }
  return p;
}

/// rows x cols of scale * uniform[0, 1) in the context's memory.
template <class T>
DMatrix<T> random_matrix(const Context& ctx, index_t rows, index_t cols, double scale, Rng& rng) {
  Matrix<T> h(rows, cols);
  for (auto& v : h.storage()) v = static_cast<T>(scale * rng.uniform());
  return DMatrix<T>::upload(ctx, h.view());
}

/// Columns first_col .. first_col + cols - 1 of the rows x total matrix random_matrix would
/// draw from @p rng: a block of columns is the same whatever the process count.
template <class T>
DMatrix<T> random_columns(const Context& ctx, index_t rows, index_t cols, index_t first_col,
                          double scale, Rng& rng) {
  rng.skip(static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(first_col));
  return random_matrix<T>(ctx, rows, cols, scale, rng);
}

/// A deep copy within the context.
template <class T>
DMatrix<T> clone(const Context& ctx, MatrixView<const T> A) {
  DMatrix<T> B(ctx, A.rows, A.cols);
  ops::copy<T>(ctx, A, B.view());
  return B;
}

}  // namespace nnmf::detail
