// Benchmark baseline: classical Lawson-Hanson NNLS for one column, working on A (n x k) itself
// as scipy.optimize.nnls does (the authors' package calls it once per document), with nothing
// shared between columns. Each outer step forms w = A^T (b - A x) (dgemv, O(n k)); the
// passive columns are kept in a QR factorisation by modified Gram-Schmidt, extended in O(n |P|)
// when a column enters and rebuilt when columns leave. Written for this benchmark only.
#pragma once

#include <cblas.h>

#include <cmath>
#include <vector>

namespace nnmf::bench {

class LawsonHansonOnA {
 public:
  LawsonHansonOnA(const double* A, long n, long k)
      : A_(A), n_(n), k_(k), Q_(static_cast<std::size_t>(n * k)), R_(static_cast<std::size_t>(k * k)),
        r_(static_cast<std::size_t>(n)), w_(static_cast<std::size_t>(k)), qb_(static_cast<std::size_t>(k)),
        z_(static_cast<std::size_t>(k)), inP_(static_cast<std::size_t>(k)) {}

  /// s (k) = argmin_{s >= 0} ||b - A s||.
  void solve(const double* b, double* s, double tol = 1e-10) {
    P_.clear();
    std::fill(inP_.begin(), inP_.end(), 0);
    for (long q = 0; q < k_; ++q) s[q] = 0;
    double scale = 0;
    cblas_dgemv(CblasColMajor, CblasTrans, n_, k_, 1.0, A_, n_, b, 1, 0.0, w_.data(), 1);
    for (long q = 0; q < k_; ++q) scale = std::max(scale, std::abs(w_[q]));
    const double thresh = tol * std::max(scale, 1e-300);
    for (int outer = 0; outer < 3 * k_ + 30; ++outer) {
      // r = b - A x, w = A^T r.
      std::copy(b, b + n_, r_.begin());
      cblas_dgemv(CblasColMajor, CblasNoTrans, n_, k_, -1.0, A_, n_, s, 1, 1.0, r_.data(), 1);
      cblas_dgemv(CblasColMajor, CblasTrans, n_, k_, 1.0, A_, n_, r_.data(), 1, 0.0, w_.data(), 1);
      long t = -1;
      double best = thresh;
      for (long q = 0; q < k_; ++q)
        if (!inP_[static_cast<std::size_t>(q)] && w_[static_cast<std::size_t>(q)] > best) {
          best = w_[static_cast<std::size_t>(q)];
          t = q;
        }
      if (t < 0) return;
      if (!append(t)) return;  // dependent column: stop (scipy would too, within rounding)
      for (;;) {
        least_squares(b);
        bool feasible = true;
        for (std::size_t c = 0; c < P_.size(); ++c) feasible = feasible && z_[c] > 0;
        if (feasible) {
          for (std::size_t c = 0; c < P_.size(); ++c) s[P_[c]] = z_[c];
          break;
        }
        double alpha = 1;
        for (std::size_t c = 0; c < P_.size(); ++c)
          if (z_[c] <= 0) alpha = std::min(alpha, s[P_[c]] / (s[P_[c]] - z_[c]));
        std::vector<long> keep;
        for (std::size_t c = 0; c < P_.size(); ++c) {
          const long p = P_[c];
          s[p] += alpha * (z_[c] - s[p]);
          if (s[p] > 1e-14) {
            keep.push_back(p);
          } else {
            s[p] = 0;
            inP_[static_cast<std::size_t>(p)] = 0;
          }
        }
        P_.clear();
        for (long p : keep) {
          inP_[static_cast<std::size_t>(p)] = 0;
          append(p);
        }
      }
    }
  }

 private:
  /// Adds column t of A to the QR of A_P (modified Gram-Schmidt, twice for stability).
  bool append(long t) {
    const long np = static_cast<long>(P_.size());
    double* q = Q_.data() + np * n_;
    std::copy(A_ + t * n_, A_ + (t + 1) * n_, q);
    for (long c = 0; c < np; ++c) R_[static_cast<std::size_t>(c + np * k_)] = 0;
    for (int pass = 0; pass < 2; ++pass)
      for (long c = 0; c < np; ++c) {
        const double* qc = Q_.data() + c * n_;
        const double d = cblas_ddot(n_, qc, 1, q, 1);
        cblas_daxpy(n_, -d, qc, 1, q, 1);
        R_[static_cast<std::size_t>(c + np * k_)] += d;
      }
    const double nrm = cblas_dnrm2(n_, q, 1);
    if (!(nrm > 1e-12 * cblas_dnrm2(n_, A_ + t * n_, 1))) return false;
    cblas_dscal(n_, 1.0 / nrm, q, 1);
    R_[static_cast<std::size_t>(np + np * k_)] = nrm;
    P_.push_back(t);
    inP_[static_cast<std::size_t>(t)] = 1;
    return true;
  }
  /// z = R^{-1} Q^T b on the passive set.
  void least_squares(const double* b) {
    const long np = static_cast<long>(P_.size());
    cblas_dgemv(CblasColMajor, CblasTrans, n_, np, 1.0, Q_.data(), n_, b, 1, 0.0, qb_.data(), 1);
    for (long i = np - 1; i >= 0; --i) {
      double v = qb_[static_cast<std::size_t>(i)];
      for (long j = i + 1; j < np; ++j) v -= R_[static_cast<std::size_t>(i + j * k_)] * z_[static_cast<std::size_t>(j)];
      z_[static_cast<std::size_t>(i)] = v / R_[static_cast<std::size_t>(i + i * k_)];
    }
  }

  const double* A_;
  long n_, k_;
  std::vector<double> Q_, R_, r_, w_, qb_, z_;
  std::vector<char> inP_;
  std::vector<long> P_;
};

}  // namespace nnmf::bench
