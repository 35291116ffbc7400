// Backend-level pieces of the factorisation algorithms, shared by NMF, Neural NMF and the
// baselines: a batched NNLS solver that keeps its supports for warm starts, and NMF on data
// already in the context's memory.
#pragma once

#include <chrono>
#include <vector>

#include "core/data.hpp"
#include "core/kernels.hpp"
#include "core/nnls_internal.hpp"
#include "nnmf/nmf.hpp"
#include "nnmf/nnls.hpp"

namespace nnmf::detail {

/// Repeated batched solves of one shape (k x m) that warm-start from their previous supports.
template <class T>
struct BatchSolver {
  BatchSolver(const Context& ctx, index_t k, index_t m, const NnlsOptions& o);
  /// S = q on the normal equations (G, C), starting from the supports @p warm (same shape;
  /// may be this solver's own support(); null = cold start).
  NnlsBatchStats solve(MatrixView<const T> G, MatrixView<const T> C, MatrixView<T> S,
                       const std::uint64_t* warm);
  /// Supports of the last solve, or null before the first.
  const std::uint64_t* support() const { return have_ ? support_.data() : nullptr; }
  index_t words_per_col() const { return wpc_; }

 private:
  Context ctx_;
  NnlsBatchParams<T> params_;
  index_t wpc_;
  Buffer<std::uint64_t> support_;
  Buffer<std::uint8_t> status_;
  bool have_ = false;
};

template <class T>
struct NmfState {
  DMatrix<T> W, H;
  std::vector<double> objective;
  std::vector<double> seconds;  ///< from t0 of nmf_on_backend's caller to each iteration's end
  int iterations = 0;
};

/// NNDSVDa start of prepared data (see NmfInit::nndsvd): W (N x k) and, with @p with_h, H
/// transposed (this process's m x k block; H = Ht^T).
template <class T>
struct NndsvdStart {
  DMatrix<T> W, Ht;
};
template <class T>
NndsvdStart<T> nndsvd(const Context& ctx, const PreparedData<T>& X, index_t k, std::uint64_t seed,
                      bool with_h);

/// NMF of prepared data; W starts from W0 when given, else per o.init.
template <class T>
NmfState<T> nmf_on_backend(const Context& ctx, const PreparedData<T>& X, index_t k,
                           const NmfOptions& o, const DMatrix<T>* W0,
                           std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now());

}  // namespace nnmf::detail
