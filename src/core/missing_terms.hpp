// The missing-data terms of the baselines' masked multiplicative updates (SSNMF, hierarchical
// NMF's and Deep NMF's layer 0; docs/baselines.md): the products of the updates that see only
// the observed entries of X, for a dense 0/1 mask W (dense X) or a sparse held-out set H (any X,
// never n x m). In both, X has its missing entries set to 0 (dense) or dropped (sparse) before
// it reaches here, so that no missing value is read, the NMF start included.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/data.hpp"
#include "nnmf/held_out.hpp"

namespace nnmf::detail {

/// The products of masked MU at (A, S) of layer 0, X (n x m, this process's columns) fixed.
template <class T>
class MissingTerms {
 public:
  virtual ~MissingTerms() = default;
  /// C = A^T (W(.)X), D = A^T (W(.)(A S)): k x m, this process's columns (no reduction).
  virtual void s_terms(const DMatrix<T>& A, const DMatrix<T>& S, DMatrix<T>& C, DMatrix<T>& D) = 0;
  /// R = (W(.)X) S^T, D = (W(.)(A S)) S^T: n x k, summed over all processes' columns.
  virtual void a_terms(const DMatrix<T>& A, const DMatrix<T>& S, DMatrix<T>& R, DMatrix<T>& D) = 0;
  /// ||W(.)(X - A S)||^2 over all processes' columns.
  virtual double residual(const DMatrix<T>& A, const DMatrix<T>& S) = 0;
  /// The count of observed entries over all processes (the scale of a random start).
  virtual double observed() const = 0;
};

/// A dense 0/1 mask W (n x m) on dense X: W(.)X once, W(.)(A S) formed per call (n x m).
template <class T>
class MaskedTerms final : public MissingTerms<T> {
 public:
  MaskedTerms(const Context& c, DMatrix<T> mask, const PreparedData<T>& X)
      : ctx_(c), W_(std::move(mask)), n_(X.rows()), m_(X.cols()), X_(X.op.dense.data), Xw_(c, n_, m_),
        AS_(c, n_, m_), WAS_(c, n_, m_) {
    ops::hadamard<T>(ctx_, n_ * m_, W_.data(), X_, Xw_.data());
    observed_ = allreduce_sum(ctx_, ops::sqnorm<T>(ctx_, W_.view()));  // W is 0/1
  }
  void s_terms(const DMatrix<T>& A, const DMatrix<T>& S, DMatrix<T>& C, DMatrix<T>& D) override {
    product(A, S);
    ops::gemm<T>(ctx_, Trans::T, Trans::N, T(1), A.view(), Xw_.view(), T(0), C.view());
    ops::gemm<T>(ctx_, Trans::T, Trans::N, T(1), A.view(), WAS_.view(), T(0), D.view());
  }
  void a_terms(const DMatrix<T>& A, const DMatrix<T>& S, DMatrix<T>& R, DMatrix<T>& D) override {
    product(A, S);
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), Xw_.view(), S.view(), T(0), R.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), WAS_.view(), S.view(), T(0), D.view());
    allreduce_sum<T>(ctx_, {R.view(), D.view()});
  }
  double residual(const DMatrix<T>& A, const DMatrix<T>& S) override {
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A.view(), S.view(), T(0), AS_.view());
    ops::masked_diff<T>(ctx_, n_ * m_, W_.data(), X_, AS_.data(), WAS_.data());
    return allreduce_sum(ctx_, ops::sqnorm<T>(ctx_, WAS_.view()));
  }
  double observed() const override { return observed_; }

 private:
  /// WAS = W (.) (A S).
  void product(const DMatrix<T>& A, const DMatrix<T>& S) {
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A.view(), S.view(), T(0), AS_.view());
    ops::hadamard<T>(ctx_, n_ * m_, W_.data(), AS_.data(), WAS_.data());
  }
  Context ctx_;
  DMatrix<T> W_;
  index_t n_, m_;
  const T* X_;
  DMatrix<T> Xw_, AS_, WAS_;
  double observed_ = 0;
};

/// A held-out set H on X with H's entries dropped (X_d; dense or sparse): W(.)X = X_d and
/// W(.)(A S) = A S - P_H(A S), with P_H(A S) the |H| sampled entries E, so that
///   A^T (W(.)(A S)) = (A^T A) S - A^T E,   (W(.)(A S)) S^T = A (S S^T) - E S^T,
///   ||W(.)(X - A S)||^2 = ||X_d - A S||^2 - ||E||^2
/// in O(nnz(X) k + |H| k + (n + m) k^2) per call; nothing n x m.
template <class T>
class HeldTerms final : public MissingTerms<T> {
 public:
  HeldTerms(const Context& c, const PreparedData<T>& X, const HeldOut& H)
      : ctx_(c), X_(X), H_(c, H), E_(c, std::max<index_t>(H.size(), 1), 1), k_(0) {
    const double held = allreduce_sum(ctx_, double(H.size()));
    observed_ = double(X.rows()) * double(X.total_cols) - held;
  }
  void s_terms(const DMatrix<T>& A, const DMatrix<T>& S, DMatrix<T>& C, DMatrix<T>& D) override {
    fresh_ = false;  // S is about to change: R_ and SS_ no longer hold this S
    ensure(A.cols());
    ops::at_x<T>(ctx_, T(1), A.view(), X_.op, T(0), C.view());
    ops::gram<T>(ctx_, A.view(), G_.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), G_.view(), S.view(), T(0), D.view());
    if (sample(A, S)) ops::pattern_tn<T>(ctx_, T(-1), A.view(), H_.view(), E_.data(), D.view());
  }
  void a_terms(const DMatrix<T>& A, const DMatrix<T>& S, DMatrix<T>& R, DMatrix<T>& D) override {
    ensure(A.cols());
    ops::x_zt<T>(ctx_, T(1), X_.op, S.view(), T(0), R_.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), S.view(), S.view(), T(0), SS_.view());
    ops::zero<T>(ctx_, ES_.view());
    if (sample(A, S)) ops::pattern_nt<T>(ctx_, T(1), H_.view(), E_.data(), S.view(), ES_.view());
    allreduce_sum<T>(ctx_, {R_.view(), SS_.view(), ES_.view()});  // sums over the columns
    ops::copy<T>(ctx_, R_.view(), R.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A.view(), SS_.view(), T(0), D.view());
    ops::axpy<T>(ctx_, T(-1), ES_.view(), D.view());
    fresh_ = true;
  }
  /// Reuses X_d S^T and S S^T of the last a_terms when S has not been updated since (SSNMF
  /// scores right after its A update; Deep NMF after the S update, which forms them anew).
  double residual(const DMatrix<T>& A, const DMatrix<T>& S) override {
    ensure(A.cols());
    if (!fresh_) {
      ops::x_zt<T>(ctx_, T(1), X_.op, S.view(), T(0), R_.view());
      ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), S.view(), S.view(), T(0), SS_.view());
      allreduce_sum<T>(ctx_, {R_.view(), SS_.view()});
      fresh_ = true;
    }
    ops::gram<T>(ctx_, A.view(), G_.view());
    // ||X_d - A S||^2 = ||X_d||^2 - 2 <A, X_d S^T> + <A^T A, S S^T>; X_d is 0 on H.
    const double held = sample(A, S) ? ops::sqnorm<T>(ctx_, E_.view()) : 0.0;
    const double f =
        X_.sqnorm - 2 * ops::dot<T>(ctx_, A.view(), R_.view()) + ops::dot<T>(ctx_, G_.view(), SS_.view());
    return std::max(f - allreduce_sum(ctx_, held), 0.0);
  }
  double observed() const override { return observed_; }

 private:
  /// E = P_H(A S); false when this process holds no entry of H.
  bool sample(const DMatrix<T>& A, const DMatrix<T>& S) {
    if (H_.nnz() == 0) return false;
    ops::sampled_product<T>(ctx_, A.view(), S.view(), H_.view(), E_.data());
    return true;
  }
  /// Scratch for rank k: G, S S^T (k x k), X_d S^T and E S^T (n x k).
  void ensure(index_t k) {
    if (k == k_) return;
    k_ = k;
    G_ = DMatrix<T>(ctx_, k, k);
    SS_ = DMatrix<T>(ctx_, k, k);
    R_ = DMatrix<T>(ctx_, X_.rows(), k);
    ES_ = DMatrix<T>(ctx_, X_.rows(), k);
  }
  Context ctx_;
  const PreparedData<T>& X_;
  DPattern H_;
  DMatrix<T> E_;  // (|H|, 1)
  index_t k_;
  DMatrix<T> G_, SS_, R_, ES_;
  bool fresh_ = false;
  double observed_ = 0;
};

/// The missing-data terms for prepared X (this process's block) from a dense 0/1 mask
/// (column-major n x m) or a held-out set; null when no process has either. Collective: every
/// process takes the same kind (one with neither gets an all-observed mask or an empty set).
template <class T>
std::unique_ptr<MissingTerms<T>> missing_terms(const Context& ctx, const PreparedData<T>& X,
                                               const std::vector<std::uint8_t>& mask, const HeldOut& held) {
  std::int64_t any[2] = {std::int64_t(!mask.empty()), std::int64_t(!held.none())};
  allreduce_max(ctx, any, 2);
  const index_t n = X.rows(), m = X.cols();
  if (any[0]) {
    Matrix<T> h(n, m);
    for (index_t q = 0; q < h.size(); ++q)
      h.data()[q] = mask.empty() || mask[static_cast<std::size_t>(q)] ? T(1) : T(0);
    return std::make_unique<MaskedTerms<T>>(ctx, DMatrix<T>::upload(ctx, h.view()), X);
  }
  if (!any[1]) return nullptr;
  if (!held.none()) return std::make_unique<HeldTerms<T>>(ctx, X, held);
  HeldOut none;
  none.rows = n;
  none.cols = m;
  none.col_ptr.assign(static_cast<std::size_t>(m) + 1, 0);
  return std::make_unique<HeldTerms<T>>(ctx, X, none);
}

}  // namespace nnmf::detail
