// Forward pass, losses and reverse-mode gradients of Neural NMF (see include/nnmf/model.hpp
// for the losses and their scaling).
#include "core/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/nnls_internal.hpp"
#include "core/small_dense.hpp"

namespace nnmf::detail {

template <class T>
Trainer<T>::Trainer(const Context& ctx, const PreparedData<T>& data,
                    const std::vector<index_t>& ranks, const FitOptions& opts,
                    SupervisionData<T>* sup, const DMatrix<T>* data_mask)
    : ctx_(ctx), X_(data), ranks_(ranks), opts_(opts), sup_(sup), mask_(data_mask) {
  const index_t L = layers(), n = data.rows(), m = data.cols();
  const bool mean = opts.scaling == Scaling::mean;
  const double nm = double(n) * double(m);
  coef_rec_ = opts.reconstruction_weight * (mean ? 1.0 / nm : 1.0);
  coef_energy_.resize(static_cast<std::size_t>(L));
  for (index_t l = 0; l < L; ++l) {
    const double rows_in = l == 0 ? double(n) : double(ranks[static_cast<std::size_t>(l - 1)]);
    coef_energy_[static_cast<std::size_t>(l)] =
        opts.energy_weight * (mean ? 1.0 / (rows_in * double(m)) : 1.0);
  }
  if (sup) {
    double s = 1.0;
    if (mean) s = sup->loss == SupervisionLoss::l2 ? 1.0 / (double(sup->classes) * m) : 1.0 / m;
    coef_sup_ = opts.supervision->lambda * s;
  }
  for (index_t l = 0; l < L; ++l) {
    const index_t k = ranks[static_cast<std::size_t>(l)];
    dS_.push_back(DMatrix<T>(ctx, k, m));
    Z_.push_back(DMatrix<T>(ctx, k, m));
    dV_.push_back(DMatrix<T>(ctx, k, m));
    M_.push_back(DMatrix<T>(ctx, k, k));
  }
  Q_ = DMatrix<T>(ctx, ranks[0], m);
  Sw_ = DMatrix<T>(ctx, ranks.back(), m);
}

template <class T>
State<T> Trainer<T>::make_state() const {
  const index_t L = layers(), n = X_.rows(), m = X_.cols();
  State<T> st;
  for (index_t l = 0; l < L; ++l) {
    const index_t k = ranks_[static_cast<std::size_t>(l)];
    st.G.push_back(DMatrix<T>(ctx_, k, k));
    st.C.push_back(DMatrix<T>(ctx_, k, m));
    st.S.push_back(DMatrix<T>(ctx_, k, m));
    st.solvers.push_back(std::make_unique<BatchSolver<T>>(ctx_, k, m, opts_.nnls));
    if (l >= 1) {
      st.V.push_back(DMatrix<T>(ctx_, ranks_[static_cast<std::size_t>(l - 1)], m));
      st.Res.push_back(DMatrix<T>(ctx_, ranks_[static_cast<std::size_t>(l - 1)], m));
    }
  }
  st.GV0 = DMatrix<T>(ctx_, ranks_[0], m);
  st.GS0 = DMatrix<T>(ctx_, ranks_[0], m);
  if (mask_) {
    st.Xhat = DMatrix<T>(ctx_, n, m);
    st.Rrec = DMatrix<T>(ctx_, n, m);
    st.Ren0 = DMatrix<T>(ctx_, n, m);
  }
  if (sup_) {
    st.B = DMatrix<T>(ctx_, sup_->classes, ranks_.back());
    st.P = DMatrix<T>(ctx_, sup_->classes, m);
    st.Rs = DMatrix<T>(ctx_, sup_->classes, m);
  }
  return st;
}

template <class T>
void Trainer<T>::forward(const std::vector<DMatrix<T>>& A, State<T>& st, const State<T>* warm) {
  st.nnls_iterations = 0;
  for (index_t l = 0; l < layers(); ++l) {
    const std::size_t u = static_cast<std::size_t>(l);
    ops::gram<T>(ctx_, A[u].view(), st.G[u].view());
    if (l == 0)
      ops::at_x<T>(ctx_, T(1), A[0].view(), X_.op, T(0), st.C[0].view());
    else
      ops::gemm<T>(ctx_, Trans::T, Trans::N, T(1), A[u].view(), st.S[u - 1].view(), T(0),
                   st.C[u].view());
    const std::uint64_t* ws =
        (opts_.warm_start && warm) ? warm->solvers[u]->support() : nullptr;
    st.nnls_iterations += st.solvers[u]->solve(st.G[u].view(), st.C[u].view(), st.S[u].view(), ws)
                              .iterations;
  }
}

template <class T>
void Trainer<T>::closed_form_classifier(const DMatrix<T>& SL, DMatrix<T>& B) {
  // B = (Z (.) Y) SL^+ = (Yw SL^T)(SL W SL^T)^+ with W the known-column weights.
  const index_t k = SL.rows();
  ops::copy<T>(ctx_, SL.view(), Sw_.view());
  ops::scale_columns<T>(ctx_, Sw_.view(), sup_->weight.data());
  DMatrix<T> M(ctx_, k, k), N(ctx_, sup_->classes, k);
  ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), Sw_.view(), SL.view(), T(0), M.view());
  ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), sup_->Yw.view(), SL.view(), T(0), N.view());
  const Matrix<T> Mh = M.download(), Nh = N.download();
  Matrix<double> Md(k, k), Nd(sup_->classes, k);
  for (index_t q = 0; q < Md.size(); ++q) Md.data()[q] = Mh.data()[q];
  for (index_t q = 0; q < Nd.size(); ++q) Nd.data()[q] = Nh.data()[q];
  const Matrix<double> Bd = right_pinv_solve(Nd, Md);
  Matrix<T> Bh(Bd.rows(), Bd.cols());
  for (index_t q = 0; q < Bh.size(); ++q) Bh.data()[q] = static_cast<T>(Bd.data()[q]);
  B = DMatrix<T>::upload(ctx_, Bh.view());
}

template <class T>
void Trainer<T>::loss(const std::vector<DMatrix<T>>& A, const DMatrix<T>* B, State<T>& st) {
  const index_t L = layers(), m = X_.cols();
  const std::size_t uL = static_cast<std::size_t>(L - 1);
  st.rec = st.energy = st.sup = 0;
  if (coef_rec_ != 0) {
    // V(L-1) = SL; V(l-1) = A(l) V(l): V0 = A1 ... AL SL (k0 x m).
    for (index_t l = L - 1; l >= 1; --l) {
      const std::size_t u = static_cast<std::size_t>(l);
      const DMatrix<T>& Vl = (l == L - 1) ? st.S[uL] : st.V[u];
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A[u].view(), Vl.view(), T(0),
                   st.V[u - 1].view());
    }
    const DMatrix<T>& V0 = L == 1 ? st.S[0] : st.V[0];
    double r;
    if (mask_) {
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A[0].view(), V0.view(), T(0), st.Xhat.view());
      ops::masked_diff<T>(ctx_, st.Xhat.size(), mask_->data(), X_.op.dense.data, st.Xhat.data(),
                          st.Rrec.data());
      r = ops::sqnorm<T>(ctx_, st.Rrec.view());
    } else {
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), st.G[0].view(), V0.view(), T(0), st.GV0.view());
      r = X_.sqnorm - 2 * ops::dot<T>(ctx_, st.C[0].view(), V0.view()) +
          ops::dot<T>(ctx_, st.GV0.view(), V0.view());
    }
    st.rec = coef_rec_ * std::max(r, 0.0);
  }
  if (opts_.energy_weight != 0) {
    double e0;
    if (mask_) {
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A[0].view(), st.S[0].view(), T(0),
                   st.Xhat.view());
      ops::masked_diff<T>(ctx_, st.Xhat.size(), mask_->data(), X_.op.dense.data, st.Xhat.data(),
                          st.Ren0.data());
      e0 = ops::sqnorm<T>(ctx_, st.Ren0.view());
    } else {
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), st.G[0].view(), st.S[0].view(), T(0),
                   st.GS0.view());
      e0 = X_.sqnorm - 2 * ops::dot<T>(ctx_, st.C[0].view(), st.S[0].view()) +
           ops::dot<T>(ctx_, st.GS0.view(), st.S[0].view());
    }
    st.energy = coef_energy_[0] * std::max(e0, 0.0);
    for (index_t l = 1; l < L; ++l) {
      const std::size_t u = static_cast<std::size_t>(l);
      DMatrix<T>& R = st.Res[u - 1];
      ops::copy<T>(ctx_, st.S[u - 1].view(), R.view());
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(-1), A[u].view(), st.S[u].view(), T(1), R.view());
      st.energy += coef_energy_[u] * ops::sqnorm<T>(ctx_, R.view());
    }
  }
  if (sup_) {
    const DMatrix<T>& SL = st.S[uL];
    if (sup_->mode == ClassifierMode::closed_form)
      closed_form_classifier(SL, st.B);
    else
      ops::copy<T>(ctx_, B->view(), st.B.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), st.B.view(), SL.view(), T(0), st.P.view());
    double s;
    if (sup_->loss == SupervisionLoss::l2) {
      ops::masked_residual<T>(ctx_, sup_->Y.view(), st.P.view(), sup_->weight.data(), st.Rs.view());
      s = ops::sqnorm<T>(ctx_, st.Rs.view());
    } else {
      s = ops::softmax_xent<T>(ctx_, st.P.view(), sup_->labels.data(), sup_->weight.data(),
                               st.Rs.view());
    }
    st.sup = coef_sup_ * s;
  }
  (void)m;
  st.total = st.rec + st.energy + st.sup;
}

template <class T>
void Trainer<T>::evaluate(const std::vector<DMatrix<T>>& A, const DMatrix<T>* B, State<T>& st,
                          const State<T>* warm) {
  forward(A, st, warm);
  loss(A, B, st);
}

template <class T>
void Trainer<T>::gradient(const std::vector<DMatrix<T>>& A, const State<T>& st,
                          std::vector<DMatrix<T>>& dA, DMatrix<T>* dB) {
  const index_t L = layers();
  const std::size_t uL = static_cast<std::size_t>(L - 1);
  for (index_t l = 0; l < L; ++l) {
    ops::zero<T>(ctx_, dA[static_cast<std::size_t>(l)].view());
    ops::zero<T>(ctx_, dS_[static_cast<std::size_t>(l)].view());
  }
  ops::zero<T>(ctx_, Q_.view());
  const T one(1), zero(0);

  // Reconstruction: R = ||X - A0 V0||^2 with V0 = A1 .. AL SL.
  if (coef_rec_ != 0) {
    const T a = static_cast<T>(coef_rec_);
    const DMatrix<T>& V0 = L == 1 ? st.S[0] : st.V[0];
    DMatrix<T>& dV0 = dV_[0];
    if (mask_) {
      // dV0 = -2a A0^T Rrec, dA0 += -2a Rrec V0^T.
      ops::gemm<T>(ctx_, Trans::T, Trans::N, -2 * a, A[0].view(), st.Rrec.view(), zero, dV0.view());
      ops::gemm<T>(ctx_, Trans::N, Trans::T, -2 * a, st.Rrec.view(), V0.view(), one, dA[0].view());
    } else {
      // dV0 = 2a (G0 V0 - C0); dA0 += 2a A0 (V0 V0^T) - 2a X V0^T (the X term through Q).
      ops::copy<T>(ctx_, st.GV0.view(), dV0.view());
      ops::axpy<T>(ctx_, T(-1), st.C[0].view(), dV0.view());
      ops::scal<T>(ctx_, dV0.size(), 2 * a, dV0.data());
      ops::gemm<T>(ctx_, Trans::N, Trans::T, one, V0.view(), V0.view(), zero, M_[0].view());
      ops::gemm<T>(ctx_, Trans::N, Trans::N, 2 * a, A[0].view(), M_[0].view(), one, dA[0].view());
      ops::axpy<T>(ctx_, -2 * a, V0.view(), Q_.view());
    }
    // Through V(l-1) = A(l) V(l): dA(l) += dV(l-1) V(l)^T, dV(l) = A(l)^T dV(l-1).
    for (index_t l = 1; l < L; ++l) {
      const std::size_t u = static_cast<std::size_t>(l);
      const DMatrix<T>& Vl = (l == L - 1) ? st.S[uL] : st.V[u];
      ops::gemm<T>(ctx_, Trans::N, Trans::T, one, dV_[u - 1].view(), Vl.view(), one, dA[u].view());
      ops::gemm<T>(ctx_, Trans::T, Trans::N, one, A[u].view(), dV_[u - 1].view(), zero,
                   dV_[u].view());
    }
    ops::axpy<T>(ctx_, one, dV_[uL].view(), dS_[uL].view());
  }

  // Energy: sum_l ||S(l-1) - A(l) S(l)||^2.
  if (opts_.energy_weight != 0) {
    const T b0 = static_cast<T>(coef_energy_[0]);
    if (mask_) {
      ops::gemm<T>(ctx_, Trans::T, Trans::N, -2 * b0, A[0].view(), st.Ren0.view(), one,
                   dS_[0].view());
      ops::gemm<T>(ctx_, Trans::N, Trans::T, -2 * b0, st.Ren0.view(), st.S[0].view(), one,
                   dA[0].view());
    } else {
      ops::axpy<T>(ctx_, 2 * b0, st.GS0.view(), dS_[0].view());
      ops::axpy<T>(ctx_, -2 * b0, st.C[0].view(), dS_[0].view());
      ops::gemm<T>(ctx_, Trans::N, Trans::T, one, st.S[0].view(), st.S[0].view(), zero,
                   M_[0].view());
      ops::gemm<T>(ctx_, Trans::N, Trans::N, 2 * b0, A[0].view(), M_[0].view(), one, dA[0].view());
      ops::axpy<T>(ctx_, -2 * b0, st.S[0].view(), Q_.view());
    }
    for (index_t l = 1; l < L; ++l) {
      const std::size_t u = static_cast<std::size_t>(l);
      const T bl = static_cast<T>(coef_energy_[u]);
      const DMatrix<T>& R = st.Res[u - 1];
      ops::axpy<T>(ctx_, 2 * bl, R.view(), dS_[u - 1].view());
      ops::gemm<T>(ctx_, Trans::N, Trans::T, -2 * bl, R.view(), st.S[u].view(), one, dA[u].view());
      ops::gemm<T>(ctx_, Trans::T, Trans::N, -2 * bl, A[u].view(), R.view(), one, dS_[u].view());
    }
  }

  // Supervision on the last layer.
  if (sup_) {
    const T d = static_cast<T>(coef_sup_);
    const T f = sup_->loss == SupervisionLoss::l2 ? -2 * d : d;  // L2: -2 B^T R; CE: B^T dlogits
    ops::gemm<T>(ctx_, Trans::T, Trans::N, f, st.B.view(), st.Rs.view(), one, dS_[uL].view());
    if (dB)
      ops::gemm<T>(ctx_, Trans::N, Trans::T, f, st.Rs.view(), st.S[uL].view(), zero, dB->view());
  }

  // Through the NNLS layers, last to first.
  for (index_t l = L - 1; l >= 0; --l) {
    const std::size_t u = static_cast<std::size_t>(l);
    const index_t k = ranks_[u];
    ops::masked_solve<T>(ctx_, st.G[u].view(), st.solvers[u]->support(), dS_[u].view(),
                         pivot_eps<T>(k), default_ridge<T>(), Z_[u].view(), nullptr);
    // dA(l) += S(l-1) Z^T - A(l) (S(l) Z^T + Z S(l)^T)
    ops::gemm<T>(ctx_, Trans::N, Trans::T, one, st.S[u].view(), Z_[u].view(), zero, M_[u].view());
    ops::gemm<T>(ctx_, Trans::N, Trans::T, one, Z_[u].view(), st.S[u].view(), one, M_[u].view());
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(-1), A[u].view(), M_[u].view(), one, dA[u].view());
    if (l == 0) {
      ops::axpy<T>(ctx_, one, Z_[0].view(), Q_.view());
    } else {
      ops::gemm<T>(ctx_, Trans::N, Trans::T, one, st.S[u - 1].view(), Z_[u].view(), one,
                   dA[u].view());
      ops::gemm<T>(ctx_, Trans::N, Trans::N, one, A[u].view(), Z_[u].view(), one,
                   dS_[u - 1].view());
    }
  }
  // All terms in X at once: dA0 += X Q^T.
  ops::x_zt<T>(ctx_, one, X_.op, Q_.view(), one, dA[0].view());
}

template <class T>
std::vector<DMatrix<T>> initial_factors(const Context& ctx, const PreparedData<T>& X,
                                        const FitOptions& opts) {
  const index_t L = static_cast<index_t>(opts.ranks.size());
  std::vector<DMatrix<T>> A;
  if (opts.init == Init::given) {
    for (const auto& Ad : opts.initial_factors) {
      Matrix<T> h(Ad.rows(), Ad.cols());
      for (index_t q = 0; q < h.size(); ++q) h.data()[q] = static_cast<T>(Ad.data()[q]);
      A.push_back(DMatrix<T>::upload(ctx, h.view()));
    }
    return A;
  }
  // Layer by layer: factor S(l-1) (X for l = 0), then S(l) = q(A(l), S(l-1)).
  const PreparedData<T>* input = &X;
  std::unique_ptr<PreparedData<T>> layer_data;
  DMatrix<T> S_prev, P_prev;  // S(l-1) and A(0) .. A(l-1)
  Rng rng(opts.seed);
  for (index_t l = 0; l < L; ++l) {
    const index_t k = opts.ranks[static_cast<std::size_t>(l)];
    if (opts.init == Init::nmf) {
      // Several short alternating-NNLS runs, from NNDSVD and from seeded random starts; the
      // best one is run on. NMF has poor local minima (merged blocks) that any single start
      // may fall into and that gradient steps on the factors leave only slowly.
      NmfOptions no;
      no.algorithm = NmfAlgorithm::anls;
      no.max_iter = std::min(opts.init_iterations, 30);
      no.rel_tol = 0;
      no.nnls = opts.nnls;
      NmfState<T> best;
      double best_obj = std::numeric_limits<double>::infinity();
      for (int r = 0; r < std::max(1, opts.init_restarts); ++r) {
        no.seed = opts.seed * 1000003ull + 7919ull * static_cast<std::uint64_t>(l) +
                  static_cast<std::uint64_t>(r);
        no.init = r == 0 ? NmfInit::nndsvd : NmfInit::random;
        NmfState<T> st = nmf_on_backend<T>(ctx, *input, k, no, nullptr);
        if (st.objective.back() < best_obj) {
          best_obj = st.objective.back();
          best = std::move(st);
        }
      }
      no.max_iter = opts.init_iterations - no.max_iter;
      no.rel_tol = 1e-8;
      if (no.max_iter > 0) best = nmf_on_backend<T>(ctx, *input, k, no, &best.W);
      A.push_back(std::move(best.W));
    } else {
      const double scale = std::sqrt(std::max(input->mean(), 1e-300) / double(k));
      A.push_back(random_matrix<T>(ctx, input->rows(), k, scale, rng));
    }
    {
      // Scale the columns of A(l) so that those of A(0) .. A(l) have unit norm. q is
      // scale-equivariant (q(A D^-1, X) = D q(A, X)), so the model is unchanged, but the rows
      // of S(l) then weigh each topic by its share of the reconstruction of X, which is what
      // the next layer's NMF of S(l) should see (unscaled, it favours whichever topics NMF
      // happened to give small columns).
      DMatrix<T>& Al = A.back();
      DMatrix<T> Pl(ctx, X.rows(), k);
      if (l == 0)
        ops::copy<T>(ctx, Al.view(), Pl.view());
      else
        ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), P_prev.view(), Al.view(), T(0), Pl.view());
      const Matrix<T> Ph = Pl.download();
      Matrix<T> inv(1, k);
      for (index_t j = 0; j < k; ++j) {
        double nrm = 0;
        for (index_t i = 0; i < Ph.rows(); ++i) nrm += double(Ph(i, j)) * Ph(i, j);
        inv(0, j) = nrm > 0 ? static_cast<T>(1 / std::sqrt(nrm)) : T(1);
      }
      const DMatrix<T> dinv = DMatrix<T>::upload(ctx, inv.view());
      ops::scale_columns<T>(ctx, Al.view(), dinv.data());
      ops::scale_columns<T>(ctx, Pl.view(), dinv.data());
      P_prev = std::move(Pl);
    }
    if (l + 1 < L) {
      // S(l) for the next layer.
      const index_t m = X.cols();
      DMatrix<T> G(ctx, k, k), C(ctx, k, m), S(ctx, k, m);
      ops::gram<T>(ctx, A.back().view(), G.view());
      ops::at_x<T>(ctx, T(1), A.back().view(), input->op, T(0), C.view());
      BatchSolver<T> solver(ctx, k, m, opts.nnls);
      solver.solve(G.view(), C.view(), S.view(), nullptr);
      S_prev = std::move(S);
      layer_data = std::make_unique<PreparedData<T>>();
      layer_data->op.dense = S_prev.view();
      layer_data->sqnorm = ops::sqnorm<T>(ctx, S_prev.view());
      const Matrix<T> Sh = S_prev.download();
      for (T v : Sh.storage()) layer_data->sum += v;
      input = layer_data.get();
    }
  }
  return A;
}

template class Trainer<float>;
template class Trainer<double>;
template std::vector<DMatrix<float>> initial_factors<float>(const Context&,
                                                            const PreparedData<float>&,
                                                            const FitOptions&);
template std::vector<DMatrix<double>> initial_factors<double>(const Context&,
                                                              const PreparedData<double>&,
                                                              const FitOptions&);

}  // namespace nnmf::detail
