// Host fast path of the per-column solves: W columns at once, one per lane.
//
// The column solvers of core/column_solver.hpp run one column through a chain of short,
// dependent operations (a Cholesky factor of G_TT, two triangular solves): on a CPU core that
// chain is bound by the latency of each multiply-add, square root and division, not by their
// number. Most columns of a warm-started forward pass (the support of the last epoch is still
// optimal) and every column of the masked solve need exactly one factor and one solve on a
// given support T. Lanes does these for W columns side by side, each operation applied to
// all W lanes in turn (independent chains the core overlaps, and vector instructions where
// the compiler finds them). Column l's arithmetic is the scalar code's, operation for
// operation and in the same order (chol_build, tri_forward with dot_prefix's four
// accumulators, tri_backward; the optimality test's two accumulators), so a column gets the
// same bits whichever path solves it. Lanes with shorter supports are padded with identity
// rows, which leave the real rows' arithmetic untouched. A lane that fails (a pivot, a
// nonpositive component, an index that would enter, a non-finite right-hand side) reports
// it, and its column goes through the scalar solver.
#pragma once

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/column_solver.hpp"

namespace nnmf::detail::host {

template <class T, int W>
class Lanes {
 public:
  explicit Lanes(index_t k)
      : k_(k),
        L_(static_cast<std::size_t>(tri_off(k) * W)),
        y_(static_cast<std::size_t>(k * W)),
        z_(static_cast<std::size_t>(k * W)),
        col_(static_cast<std::size_t>(k * W)),
        P_(static_cast<std::size_t>(k * W)),
        out_(static_cast<std::size_t>(k * W)) {}

  /// Lane l's set T: the bits of support[l] (ceil(k/64) words).
  void set_supports(const std::uint64_t* const* support) {
    npmax_ = 0;
    for (int l = 0; l < W; ++l) {
      // Branch-free: the bits of a support are unpredictable, a branch per bit mispredicts.
      int* P = lane_P(l);
      int* out = lane_out(l);
      index_t np = 0, no = 0;
      for (index_t i = 0; i < k_; ++i) {
        const index_t in = static_cast<index_t>((support[l][i >> 6] >> (i & 63)) & 1u);
        P[np] = static_cast<int>(i);
        out[no] = static_cast<int>(i);
        np += in;
        no += 1 - in;
      }
      np_[l] = np;
      npmax_ = std::max(npmax_, np);
      for (index_t r = np; r < k_; ++r) P[r] = 0;  // padding reads G's first entry times 0
      ok_[l] = factored_[l] = true;
    }
  }

  /// Factors G_TT of every lane as chol_build(G, k, L, P, np, col, pivot_eps, 0, threshold[l])
  /// does; a lane whose pivot fails is marked failed.
  void factor(const T* G, T pivot_eps, const T* threshold) {
    gather(G);
    for (index_t j = 0; j < npmax_; ++j) {
      T* Lj = at(tri_off(j) + j);
      for (int l = 0; l < W; ++l) {
        if (j >= np_[l]) continue;
        const T d2 = Lj[l];
        const T gjj = G[static_cast<index_t>(lane_P(l)[j]) * (k_ + 1)];
        if (!(d2 > pivot_eps * gjj) || !(d2 > threshold[l]) || !(d2 > T(0))) fail(l);
      }
      T inv[W];
      for (int l = 0; l < W; ++l) inv[l] = T(1) / std::sqrt(factored_[l] ? Lj[l] : T(1));
      for (int l = 0; l < W; ++l) Lj[l] = inv[l];
      for (index_t i = j + 1; i < npmax_; ++i) {
        T* Lij = at(tri_off(i) + j);
        T* ci = colv(i);
        for (int l = 0; l < W; ++l) {
          Lij[l] = Lij[l] * inv[l];
          ci[l] = Lij[l];
        }
      }
      for (index_t i = j + 1; i < npmax_; ++i) {
        const T* ci = colv(i);
        T* Li = at(tri_off(i));
        for (index_t q = j + 1; q <= i; ++q) {
          const T* cq = colv(q);
          T* Liq = Li + q * W;
          for (int l = 0; l < W; ++l) Liq[l] -= ci[l] * cq[l];
        }
      }
    }
  }

  /// z (passive order) = G_TT^{-1} b_T for b = rhs[l] (unit stride), by way of y = L^{-1} b_T:
  /// the forward_passive / backward_passive pair of the scalar solver.
  void solve(const T* const* rhs) {
    for (index_t r = 0; r < npmax_; ++r) {
      T* yr = yv(r);
      for (int l = 0; l < W; ++l) yr[l] = r < np_[l] ? rhs[l][lane_P(l)[r]] : T(0);
    }
    forward();
    std::copy(y_.begin(), y_.begin() + npmax_ * W, z_.begin());
    backward();
  }

  /// False once the lane failed a test; factored(l): its factor at least is sound.
  bool ok(int l) const { return ok_[l]; }
  bool factored(int l) const { return factored_[l]; }
  void fail(int l) { ok_[l] = factored_[l] = false; }
  index_t np(int l) const { return np_[l]; }
  /// Component r (passive order) of lane l's solution.
  T z(int l, index_t r) const { return z_[static_cast<std::size_t>(r * W + l)]; }
  int P(int l, index_t r) const { return P_[static_cast<std::size_t>(l * k_ + r)]; }

  /// Lane l's solution as a column of k entries (zero off T).
  void scatter(int l, T* x) const {
    std::fill(x, x + k_, T(0));
    for (index_t r = 0; r < np_[l]; ++r) x[P(l, r)] = z(l, r);
  }

  /// Lane l's factor, T and y = L^{-1} b_T in the scalar solver's layout (column_solver.hpp),
  /// for it to carry on from there.
  void export_lane(int l, ColumnWorkspace<T, UnitStride> ws) const {
    for (index_t e = 0; e < tri_off(np_[l]); ++e) ws.L[e] = L_[static_cast<std::size_t>(e * W + l)];
    for (index_t r = 0; r < np_[l]; ++r) {
      ws.P[r] = P(l, r);
      ws.y[r] = y_[static_cast<std::size_t>(r * W + l)];
    }
  }

  /// Marks failed the lanes whose solution has a nonpositive component.
  void require_positive() {
    for (int l = 0; l < W; ++l)
      for (index_t r = 0; r < np_[l]; ++r)
        if (!(z(l, r) > T(0))) ok_[l] = false;
  }

  /// Marks failed the lanes where an index outside T has w_i = c_i - (G z)_i > tol[l] (the
  /// optimality test of nnls_column, its sums in the same order).
  void require_optimal(const T* G, const T* const* c, const T* tol) {
    for (int l = 0; l < W; ++l) {
      if (!ok_[l]) continue;
      const int* P = lane_P(l);
      const int* out = lane_out(l);
      const index_t np = np_[l];
      bool optimal = true;
      const LaneVector zl{z_.data() + l};
      for (index_t q = 0; q < k_ - np; ++q) {
        const index_t i = out[q];
        optimal = optimal && !(c[l][i] - passive_product<T>(G + i * k_, P, zl, np) > tol[l]);
      }
      ok_[l] = optimal;
    }
  }

 private:
  /// Lane l's entries of a lane-interleaved vector, indexed as one vector.
  struct LaneVector {
    const T* base;
    T operator[](index_t r) const { return base[r * W]; }
  };

  T* at(index_t e) { return L_.data() + e * W; }
  T* yv(index_t r) { return y_.data() + r * W; }
  T* colv(index_t r) { return col_.data() + r * W; }
  int* lane_P(int l) { return P_.data() + l * k_; }
  int* lane_out(int l) { return out_.data() + l * k_; }
  const int* lane_out(int l) const { return out_.data() + l * k_; }
  const int* lane_P(int l) const { return P_.data() + l * k_; }

  /// L's lower triangle from G_TT; rows past a lane's |T| are identity rows.
  void gather(const T* G) {
    for (int l = 0; l < W; ++l) {
      const int* P = lane_P(l);
      for (index_t r = 0; r < npmax_; ++r) {
        T* row = at(tri_off(r)) + l;
        if (r < np_[l]) {
          const T* Gr = G + static_cast<index_t>(P[r]) * k_;
          for (index_t q = 0; q <= r; ++q) row[q * W] = Gr[P[q]];
        } else {
          for (index_t q = 0; q < r; ++q) row[q * W] = T(0);
          row[r * W] = T(1);
        }
      }
    }
  }

  /// y = L^{-1} y row by row; each row's dot product in dot_prefix's order.
  void forward() {
    for (index_t r = 0; r < npmax_; ++r) {
      const T* Lr = at(tri_off(r));
      T s0[W] = {}, s1[W] = {}, s2[W] = {}, s3[W] = {};
      index_t q = 0;
      for (; q + 4 <= r; q += 4)
        for (int l = 0; l < W; ++l) {
          s0[l] += Lr[q * W + l] * y_[static_cast<std::size_t>(q * W + l)];
          s1[l] += Lr[(q + 1) * W + l] * y_[static_cast<std::size_t>((q + 1) * W + l)];
          s2[l] += Lr[(q + 2) * W + l] * y_[static_cast<std::size_t>((q + 2) * W + l)];
          s3[l] += Lr[(q + 3) * W + l] * y_[static_cast<std::size_t>((q + 3) * W + l)];
        }
      for (; q < r; ++q)
        for (int l = 0; l < W; ++l) s0[l] += Lr[q * W + l] * y_[static_cast<std::size_t>(q * W + l)];
      T* yr = yv(r);
      for (int l = 0; l < W; ++l) yr[l] = (yr[l] - ((s0[l] + s1[l]) + (s2[l] + s3[l]))) * Lr[r * W + l];
    }
  }

  /// z = L^{-T} z, rows last to first (tri_backward).
  void backward() {
    for (index_t r = npmax_ - 1; r >= 0; --r) {
      const T* Lr = at(tri_off(r));
      T* yr = z_.data() + r * W;
      T zr[W];
      for (int l = 0; l < W; ++l) {
        zr[l] = yr[l] * Lr[r * W + l];
        yr[l] = zr[l];
      }
      for (index_t q = 0; q < r; ++q) {
        T* yq = z_.data() + q * W;
        for (int l = 0; l < W; ++l) yq[l] -= Lr[q * W + l] * zr[l];
      }
    }
  }

  index_t k_;
  std::vector<T> L_, y_, z_, col_;  ///< lane-interleaved: entry e of lane l at e * W + l
  std::vector<int> P_;          ///< lane l's T at l * k
  std::vector<int> out_;        ///< lane l's indices outside T at l * k
  index_t np_[W] = {};
  index_t npmax_ = 0;
  bool ok_[W] = {};
  bool factored_[W] = {};
};

}  // namespace nnmf::detail::host
