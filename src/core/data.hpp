// Data X moved to the context once, plus seeded random matrices: shared by the training loops
// (Neural NMF, NMF and the baselines).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/backend_memory.hpp"
#include "core/ops.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// X (N x m) in the context's memory with its squared norm and entry sum.
template <class T>
struct PreparedData {
  ConstOperand<T> dense;
  std::unique_ptr<DSparse<T>> sparse;
  DataOperand<T> op;
  double sqnorm = 0;  ///< ||X||_F^2
  double sum = 0;     ///< sum of the entries
  index_t rows() const { return op.rows(); }
  index_t cols() const { return op.cols(); }
  double mean() const {
    const double cnt = double(rows()) * double(cols());
    return cnt > 0 ? sum / cnt : 0.0;
  }
};

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
  return d;
}

/// Seeded uniform [0, 1) numbers, identical on every platform (53 random bits per double;
/// std::uniform_real_distribution is implementation-defined).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

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

/// rows x cols of scale * uniform[0, 1) in the context's memory.
template <class T>
DMatrix<T> random_matrix(const Context& ctx, index_t rows, index_t cols, double scale, Rng& rng) {
  Matrix<T> h(rows, cols);
  for (auto& v : h.storage()) v = static_cast<T>(scale * rng.uniform());
  return DMatrix<T>::upload(ctx, h.view());
}

/// A deep copy within the context.
template <class T>
DMatrix<T> clone(const Context& ctx, MatrixView<const T> A) {
  DMatrix<T> B(ctx, A.rows, A.cols);
  ops::copy<T>(ctx, A, B.view());
  return B;
}

}  // namespace nnmf::detail
