// Forward pass, losses and reverse-mode gradients of Neural NMF (see include/nnmf/model.hpp
// for the losses and their scaling).
#include "core/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

#include "core/nnls_internal.hpp"
#include "core/small_dense.hpp"

namespace nnmf::detail {

template <class T>
Trainer<T>::Trainer(const Context& ctx, const PreparedData<T>& data,
                    const std::vector<index_t>& ranks, const FitOptions& opts,
                    SupervisionData<T>* sup, Missing<T> missing)
    : ctx_(ctx), X_(data), ranks_(ranks), opts_(opts), sup_(sup), mask_(missing.mask),
      held_(missing.held) {
  const index_t L = layers(), n = data.rows(), m = data.cols();
  const bool mean = opts.scaling == Scaling::mean;
  const double mt = double(data.total_cols);  // the mean is over the columns of all processes
  const double nm = double(n) * mt;
  coef_rec_ = opts.reconstruction_weight * (mean ? 1.0 / nm : 1.0);
  coef_energy_.resize(static_cast<std::size_t>(L));
  for (index_t l = 0; l < L; ++l) {
    const double rows_in = l == 0 ? double(n) : double(ranks[static_cast<std::size_t>(l - 1)]);
    coef_energy_[static_cast<std::size_t>(l)] =
        opts.energy_weight * (mean ? 1.0 / (rows_in * mt) : 1.0);
  }
  if (sup) {
    double s = 1.0;
    if (mean) s = sup->loss == SupervisionLoss::l2 ? 1.0 / (double(sup->classes) * mt) : 1.0 / mt;
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
    st.Rrec = DMatrix<T>(ctx_, n, m);
    st.Ren0 = DMatrix<T>(ctx_, n, m);
  }
  if (held_) {
    st.Hrec = DMatrix<T>(ctx_, held_->nnz(), 1);
    st.Hen0 = DMatrix<T>(ctx_, held_->nnz(), 1);
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
  allreduce_sum<T>(ctx_, {M.view(), N.view()});  // sums over the columns of all processes
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
double Trainer<T>::x_term(const DMatrix<T>& A0, const DMatrix<T>& G0, const DMatrix<T>& C0,
                          const DMatrix<T>& V, DMatrix<T>& GV, DMatrix<T>& R, DMatrix<T>& E) {
  if (mask_) {
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A0.view(), V.view(), T(0), R.view());
    ops::masked_diff<T>(ctx_, R.size(), mask_->data(), X_.op.dense.data, R.data(), R.data());
    return ops::sqnorm<T>(ctx_, R.view());
  }
  // ||X - A0 V||^2 = ||X||^2 - 2 <A0^T X, V> + <G0 V, V>; X has dropped H's entries, whose
  // squared residuals (A0 V)_ij^2 are then taken out: the sum over the observed entries.
  ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), G0.view(), V.view(), T(0), GV.view());
  double r = X_.local_sqnorm - 2 * ops::dot<T>(ctx_, C0.view(), V.view()) + ops::dot<T>(ctx_, GV.view(), V.view());
  if (held_) {
    ops::sampled_product<T>(ctx_, A0.view(), V.view(), held_->view(), E.data());
    r -= ops::sqnorm<T>(ctx_, E.view());
  }
  return r;
}

template <class T>
void Trainer<T>::x_term_gradient(T a, const DMatrix<T>& A0, const DMatrix<T>& C0, const DMatrix<T>& V,
                                 const DMatrix<T>& GV, const DMatrix<T>& R, const DMatrix<T>& E,
                                 DMatrix<T>& dV, bool set, DMatrix<T>& dA0) {
  const T one(1), zero(0);
  if (mask_) {  // dV = -2a A0^T R, dA0 += -2a R V^T
    ops::gemm<T>(ctx_, Trans::T, Trans::N, -2 * a, A0.view(), R.view(), set ? zero : one, dV.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::T, -2 * a, R.view(), V.view(), one, dA0.view());
    return;
  }
  // dV = 2a (G0 V - C0); dA0 += 2a A0 (V V^T) - 2a X V^T: the X term through Q, the A0 term
  // through M_[0] (gradient() applies both once).
  if (set) {
    ops::copy<T>(ctx_, GV.view(), dV.view());
    ops::axpy<T>(ctx_, T(-1), C0.view(), dV.view());
    ops::scal<T>(ctx_, dV.size(), 2 * a, dV.data());
  } else {
    ops::axpy<T>(ctx_, 2 * a, GV.view(), dV.view());
    ops::axpy<T>(ctx_, -2 * a, C0.view(), dV.view());
  }
  ops::gemm<T>(ctx_, Trans::N, Trans::T, 2 * a, V.view(), V.view(), one, M_[0].view());
  ops::axpy<T>(ctx_, -2 * a, V.view(), Q_.view());
  if (held_) {  // the held-out entries' terms: dV -= 2a A0^T E, dA0 -= 2a E V^T
    ops::pattern_tn<T>(ctx_, -2 * a, A0.view(), held_->view(), E.data(), dV.view());
    ops::pattern_nt<T>(ctx_, -2 * a, held_->view(), E.data(), V.view(), dA0.view());
  }
}

template <class T>
void Trainer<T>::loss(const std::vector<DMatrix<T>>& A, const DMatrix<T>* B, State<T>& st) {
  const index_t L = layers();
  const std::size_t uL = static_cast<std::size_t>(L - 1);
  st.rec = st.energy = st.sup = 0;
  // This block's share of each term, (rec, energy layer 0 .. L-1, supervision, NNLS
  // iterations), all-reduced at once; the weights are applied to the sums.
  std::vector<double> part(static_cast<std::size_t>(L) + 3, 0.0);
  if (coef_rec_ != 0) {
    // V(L-1) = SL; V(l-1) = A(l) V(l): V0 = A1 ... AL SL (k0 x m).
    for (index_t l = L - 1; l >= 1; --l) {
      const std::size_t u = static_cast<std::size_t>(l);
      const DMatrix<T>& Vl = (l == L - 1) ? st.S[uL] : st.V[u];
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), A[u].view(), Vl.view(), T(0),
                   st.V[u - 1].view());
    }
    const DMatrix<T>& V0 = L == 1 ? st.S[0] : st.V[0];
    const double r = x_term(A[0], st.G[0], st.C[0], V0, st.GV0, st.Rrec, st.Hrec);
    part[0] = r;
  }
  if (opts_.energy_weight != 0) {
    const double e0 = x_term(A[0], st.G[0], st.C[0], st.S[0], st.GS0, st.Ren0, st.Hen0);
    part[1] = e0;
    for (index_t l = 1; l < L; ++l) {
      const std::size_t u = static_cast<std::size_t>(l);
      DMatrix<T>& R = st.Res[u - 1];
      ops::copy<T>(ctx_, st.S[u - 1].view(), R.view());
      ops::gemm<T>(ctx_, Trans::N, Trans::N, T(-1), A[u].view(), st.S[u].view(), T(1), R.view());
      part[1 + u] = ops::sqnorm<T>(ctx_, R.view());
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
    part[uL + 2] = s;
  }
  part[uL + 3] = double(st.nnls_iterations);
  allreduce_sum(ctx_, part.data(), part.size());
  if (coef_rec_ != 0) st.rec = coef_rec_ * std::max(part[0], 0.0);
  if (opts_.energy_weight != 0) {
    st.energy = coef_energy_[0] * std::max(part[1], 0.0);
    for (index_t l = 1; l < L; ++l)
      st.energy += coef_energy_[static_cast<std::size_t>(l)] * part[1 + static_cast<std::size_t>(l)];
  }
  if (sup_) st.sup = coef_sup_ * part[uL + 2];
  st.nnls_iterations = static_cast<index_t>(part[uL + 3]);
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
  // dA0 (N x k0, the largest) is first written by the backward's product with A0 unless a mask
  // or a held-out set adds terms to it before: then it is not zeroed (one pass over it fewer).
  const bool dA0_set_late = !mask_ && !held_;
  for (index_t l = 0; l < L; ++l) {
    if (l > 0 || !dA0_set_late) ops::zero<T>(ctx_, dA[static_cast<std::size_t>(l)].view());
    ops::zero<T>(ctx_, dS_[static_cast<std::size_t>(l)].view());
  }
  ops::zero<T>(ctx_, Q_.view());
  ops::zero<T>(ctx_, M_[0].view());  // the coefficient of A0 in dA0: dA0 += A0 M_[0], once
  const T one(1), zero(0);

  // Reconstruction: R = ||X - A0 V0||^2 with V0 = A1 .. AL SL.
  if (coef_rec_ != 0) {
    const T a = static_cast<T>(coef_rec_);
    const DMatrix<T>& V0 = L == 1 ? st.S[0] : st.V[0];
    x_term_gradient(a, A[0], st.C[0], V0, st.GV0, st.Rrec, st.Hrec, dV_[0], true, dA[0]);
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
    x_term_gradient(b0, A[0], st.C[0], st.S[0], st.GS0, st.Ren0, st.Hen0, dS_[0], false, dA[0]);
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
    // dA(l) += S(l-1) Z^T - A(l) (S(l) Z^T + Z S(l)^T); for l = 0 with the terms of
    // x_term_gradient already in M_[0] (one product with the N x k0 factor A0, not three).
    const T keep = l == 0 ? one : zero;
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(-1), st.S[u].view(), Z_[u].view(), keep, M_[u].view());
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(-1), Z_[u].view(), st.S[u].view(), one, M_[u].view());
    ops::gemm<T>(ctx_, Trans::N, Trans::N, one, A[u].view(), M_[u].view(), l == 0 && dA0_set_late ? zero : one,
                 dA[u].view());
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
  // Every gradient is a sum over the columns: one reduction of all of them.
  std::vector<MatrixView<T>> parts;
  for (auto& d : dA) parts.push_back(d.view());
  if (dB) parts.push_back(dB->view());
  allreduce_sum<T>(ctx_, parts);
}

bool window_converged(const std::vector<double>& losses, int window, double rel_tol) {
  if (window <= 0 || losses.size() <= static_cast<std::size_t>(window)) return false;
  const double now = losses.back();
  const double then = losses[losses.size() - 1 - static_cast<std::size_t>(window)];
  return std::abs(then - now) <= rel_tol * std::abs(now);
}

template <class T>
double Validation<T>::accuracy(const Context& ctx, const DMatrix<T>& B, const DMatrix<T>& SL) const {
  const Matrix<T> Sh = SL.download();
  const std::vector<int> predicted = classes_of(B.download(), Sh.view());
  double hits = 0;
  for (std::size_t q = 0; q < columns.size(); ++q)
    hits += predicted[static_cast<std::size_t>(columns[q])] == labels[q];
  // Over the held-out columns of every process (a process may hold none).
  double counts[2] = {hits, static_cast<double>(columns.size())};
  allreduce_sum(ctx, counts, 2);
  return counts[0] / counts[1];
}

template <class T>
double Validation<T>::record(int epoch, const std::vector<DMatrix<T>>& A, const State<T>& st, const Context& ctx) {
  const double acc = accuracy(ctx, st.B, st.S.back());
  if (acc > best) {
    best = acc;
    best_epoch = epoch;
    best_A.clear();
    for (const auto& a : A) best_A.push_back(clone<T>(ctx, a.view()));
    best_B = clone<T>(ctx, st.B.view());
  }
  return acc;
}

std::vector<index_t> validation_columns(const Context& ctx, const FitOptions& o, const Supervision& s,
                                        index_t m) {
  std::vector<index_t> known;
  for (index_t j = 0; j < m; ++j)
    if (s.known.empty() || s.known[static_cast<std::size_t>(j)]) known.push_back(j);
  // The known columns of all processes in rank order: K of them, this block's at offset.
  const std::int64_t mine = static_cast<std::int64_t>(known.size());
  const std::int64_t K = allreduce_sum(ctx, mine), offset = exclusive_prefix_sum(ctx, mine);
  const auto n = static_cast<index_t>(std::llround(o.validation_fraction * static_cast<double>(K)));
  if (o.validation_fraction <= 0 || n < o.validation_min_labels || n >= K) return {};
  // Seeded Fisher-Yates on the positions 0..K-1 of the known columns (the same choice on every
  // platform and for any split of the columns), first n; this block keeps its own.
  Rng rng(o.seed ^ 0x76a11da7e5ull);
  std::vector<index_t> pos = seeded_permutation(K, rng);
  pos.resize(static_cast<std::size_t>(n));
  std::sort(pos.begin(), pos.end());
  std::vector<index_t> out;
  for (index_t p : pos)
    if (p >= offset && p < offset + mine) out.push_back(known[static_cast<std::size_t>(p - offset)]);
  return out;
}

/// Ends a validated run at its best epoch: the factors and B kept there, cur evaluated there.
template <class T>
void restore_best(Trainer<T>& tr, std::vector<DMatrix<T>>& A, DMatrix<T>* B, Validation<T>& val, int epochs_run,
                  State<T>& cur) {
  if (val.best_epoch == epochs_run || val.best_A.empty()) return;
  A = std::move(val.best_A);
  if (B) *B = clone<T>(tr.context(), val.best_B.view());
  tr.evaluate(A, B, cur, nullptr);
  // The classifier of the best epoch exactly: the closed form from this cold forward pass can
  // differ from it in the last bits (the epoch's pass was warm-started).
  cur.B = std::move(val.best_B);
}

namespace {

/// The factors' (and a trained B's) steps of one optimize() run: the gradient, then either
/// the line search or a gd / Adam step, leaving the new point's forward pass in cur.
template <class T>
struct Stepper {
  Trainer<T>& tr;
  const Context& ctx;
  std::vector<DMatrix<T>>& A;
  DMatrix<T>* B;
  const FitOptions& opts;
  State<T>& cur;
  std::vector<DMatrix<T>> dA, Atrial, m1, m2;
  DMatrix<T> dB, Btrial;
  State<T> trial;
  double eta = 0.1;  // line search: relative step
  double lr, lrB;

  Stepper(Trainer<T>& t, std::vector<DMatrix<T>>& a, DMatrix<T>* b, const FitOptions& o, State<T>& c)
      : tr(t), ctx(t.context()), A(a), B(b), opts(o), cur(c), trial(t.make_state()) {
    for (const auto& f : A) {
      dA.push_back(DMatrix<T>(ctx, f.rows(), f.cols()));
      Atrial.push_back(DMatrix<T>(ctx, f.rows(), f.cols()));
      if (opts.optimizer == Optimizer::adam) {
        m1.push_back(DMatrix<T>::zeros(ctx, f.rows(), f.cols()));
        m2.push_back(DMatrix<T>::zeros(ctx, f.rows(), f.cols()));
      }
    }
    if (B) {
      dB = DMatrix<T>(ctx, B->rows(), B->cols());
      Btrial = DMatrix<T>(ctx, B->rows(), B->cols());
    }
    lr = opts.learning_rate > 0 ? opts.learning_rate : 1.0;
    lrB = opts.classifier_lr > 0 ? opts.classifier_lr : lr;
  }

  double norm_of(const DMatrix<T>& M) const { return std::sqrt(ops::sqnorm<T>(ctx, M.view())); }
  /// ||M|| / ||g||: a relative step eta along g changes M by about eta of its norm.
  T relative_scale(const DMatrix<T>& M, const DMatrix<T>& g) const {
    const double gn = norm_of(g), mn = norm_of(M);
    return gn > 0 ? static_cast<T>((mn > 0 ? mn : 1.0) / gn) : T(0);
  }

  /// One epoch's step; false when there is no descent (a stationary point).
  bool step(int epoch, EpochRecord& rec) {
    tr.gradient(A, cur, dA, B ? &dB : nullptr);
    if (opts.optimizer == Optimizer::line_search) return line_search(rec);
    plain_step(epoch, rec);
    return true;
  }

  /// The trial point at relative step eta along the projected direction; returns the linear
  /// model's decrease <g, A - Atrial> (+ the classifier's).
  double trial_point(const std::vector<T>& scale, T scaleB) {
    double decrease = 0;
    for (std::size_t u = 0; u < A.size(); ++u) {
      ops::projected_step<T>(ctx, A[u].size(), A[u].data(), dA[u].data(), static_cast<T>(eta) * scale[u],
                             Atrial[u].data());
      decrease += ops::dot<T>(ctx, dA[u].view(), A[u].view()) - ops::dot<T>(ctx, dA[u].view(), Atrial[u].view());
    }
    if (B) {
      ops::copy<T>(ctx, B->view(), Btrial.view());
      ops::axpy<T>(ctx, -static_cast<T>(eta) * scaleB, dB.view(), Btrial.view());
      decrease += eta * double(scaleB) * ops::sqnorm<T>(ctx, dB.view());
    }
    return decrease;
  }

  /// Armijo backtracking on the projected path along d(l) = (||A(l)|| / ||g(l)||) g(l).
  bool line_search(EpochRecord& rec) {
    std::vector<T> scale;
    for (std::size_t u = 0; u < A.size(); ++u) scale.push_back(relative_scale(A[u], dA[u]));
    const T scaleB = B ? relative_scale(*B, dB) : T(0);
    for (int trialno = 1; trialno <= 40; ++trialno) {
      rec.line_search_trials = trialno;
      const double decrease = trial_point(scale, scaleB);
      if (!(decrease > 0)) break;  // projected gradient is zero: stationary
      tr.evaluate(Atrial, B ? &Btrial : nullptr, trial, &cur);
      rec.nnls_iterations += trial.nnls_iterations;
      // The loss along the step, f(t eta) ~ f0 - t decrease + q t^2, through this trial;
      // its minimum in units of eta, on a grid of quarter powers of 2 (q is a difference of
      // nearby losses, so its rounding, which varies with the split of the columns over
      // processes, must not move the steps).
      const double q = trial.total - cur.total + decrease;
      const double best = q > 0 ? std::exp2(std::round(4 * std::log2(decrease / (2 * q))) / 4) : 2.0;
      if (trial.total <= cur.total - 1e-4 * decrease) {
        rec.step = eta;
        // The next epoch starts at this step, or up to twice it where the model's minimum
        // lies beyond (the former fixed growth of 1.5 overshot every other epoch): most
        // epochs need one forward pass. (Starting below an accepted step where the model
        // says so changed which of the initialization's candidates won, and with it the
        // accuracy of the paper's settings in Table 2, from 0.689 to 0.509.)
        eta = std::min(1.0, eta * std::clamp(best, 1.0, 2.0));
        std::swap(A, Atrial);
        std::swap(cur, trial);
        if (B) std::swap(*B, Btrial);
        return true;
      }
      eta *= std::clamp(best, 0.1, 0.5);
      if (eta < 1e-14) break;
    }
    rec.step = eta;
    return false;
  }

  /// Projected gradient descent or Adam with the learning rate and its decay.
  void plain_step(int epoch, EpochRecord& rec) {
    for (std::size_t u = 0; u < A.size(); ++u) {
      if (opts.optimizer == Optimizer::gd)
        ops::projected_step<T>(ctx, A[u].size(), A[u].data(), dA[u].data(), static_cast<T>(lr), A[u].data());
      else
        ops::adam_step<T>(ctx, A[u].size(), A[u].data(), dA[u].data(), m1[u].data(), m2[u].data(),
                          static_cast<T>(lr), static_cast<T>(opts.adam_beta1), static_cast<T>(opts.adam_beta2),
                          static_cast<T>(opts.adam_eps), epoch);
    }
    if (B) ops::axpy<T>(ctx, -static_cast<T>(lrB), dB.view(), B->view());
    rec.step = lr;
    tr.evaluate(A, B, cur, &cur);
    rec.nnls_iterations += cur.nnls_iterations;
    if (epoch % opts.decay_every == 0) {
      lr *= opts.lr_decay;
      lrB *= opts.lr_decay;
    }
  }
};

/// Why training stops after this epoch, if it does.
template <class T>
std::optional<StopReason> stop_reason(bool moved, const FitOptions& opts, const std::vector<double>& losses,
                                      int epoch, const Validation<T>* val) {
  if (!moved) return StopReason::stationary;
  if (opts.should_stop && opts.should_stop()) return StopReason::interrupted;
  if (window_converged(losses, opts.patience, opts.rel_tol)) return StopReason::converged;
  if (val && epoch - val->best_epoch >= val->patience) return StopReason::validation;
  return std::nullopt;
}

}  // namespace

template <class T>
Optimized optimize(Trainer<T>& tr, std::vector<DMatrix<T>>& A, DMatrix<T>* B,
                   const FitOptions& opts, int epochs, State<T>& cur, Validation<T>* val) {
  using clock = std::chrono::steady_clock;
  const Context& ctx = tr.context();
  Stepper<T> stepper(tr, A, B, opts, cur);
  tr.evaluate(A, B, cur, nullptr);
  if (val) val->record(0, A, cur, ctx);
  Optimized out;
  std::vector<double> losses{cur.total};  // before the first epoch, then after each
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const auto t0 = clock::now();
    EpochRecord rec;
    rec.epoch = epoch;
    const bool moved = stepper.step(epoch, rec);
    rec.loss = cur.total;
    rec.reconstruction = cur.rec;
    rec.energy = cur.energy;
    rec.supervision = cur.sup;
    if (val) rec.validation_accuracy = val->record(epoch, A, cur, ctx);
    rec.seconds = std::chrono::duration<double>(clock::now() - t0).count();
    out.history.push_back(rec);
    if (opts.on_epoch) opts.on_epoch(rec);
    losses.push_back(cur.total);
    if (const auto why = stop_reason<T>(moved, opts, losses, epoch, val)) {
      out.reason = *why;
      break;
    }
  }
  if (val) restore_best(tr, A, B, *val, static_cast<int>(out.history.size()), cur);
  return out;
}

namespace {

/// A start for A(l), l >= 1, that groups the k(l-1) topics of the layer above by the
/// similarity of their feature profiles (the columns of P = A(0) .. A(l-1), @p above):
/// topics that share features belong under one parent. Average-linkage agglomerative
/// clustering of the cosine similarities into k groups; A(l)(i, c) = 1 when topic i is in
/// group c, else 0.01 (so that the alternating NNLS that follows can still move).
/// P = A(0) A(1) ... A(last), N x k(last).
template <class T>
DMatrix<T> chain_product(const Context& ctx, const std::vector<DMatrix<T>>& A) {
  DMatrix<T> P = clone<T>(ctx, A[0].view());
  for (std::size_t q = 1; q < A.size(); ++q) {
    DMatrix<T> N(ctx, P.rows(), A[q].cols());
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), P.view(), A[q].view(), T(0), N.view());
    P = std::move(N);
  }
  return P;
}

template <class T>
DMatrix<T> topic_grouping_start(const Context& ctx, const std::vector<DMatrix<T>>& above,
                                index_t k) {
  const DMatrix<T> P = chain_product<T>(ctx, above);
  const index_t kp = P.cols();
  DMatrix<T> Gd(ctx, kp, kp);
  ops::gram<T>(ctx, P.view(), Gd.view());
  const Matrix<T> G = Gd.download();
  std::vector<std::vector<index_t>> groups;
  for (index_t i = 0; i < kp; ++i) groups.push_back({i});
  auto norm = [&](index_t i) { return std::sqrt(std::max(double(G(i, i)), 1e-300)); };
  while (static_cast<index_t>(groups.size()) > k) {
    std::size_t ba = 0, bb = 1;
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t a = 0; a < groups.size(); ++a)
      for (std::size_t b = a + 1; b < groups.size(); ++b) {
        double s = 0;
        for (index_t i : groups[a])
          for (index_t j : groups[b]) s += double(G(i, j)) / (norm(i) * norm(j));
        s /= double(groups[a].size() * groups[b].size());
        if (s > best) {
          best = s;
          ba = a;
          bb = b;
        }
      }
    groups[ba].insert(groups[ba].end(), groups[bb].begin(), groups[bb].end());
    groups.erase(groups.begin() + static_cast<std::ptrdiff_t>(bb));
  }
  Matrix<T> W(kp, k, T(0.01));
  for (std::size_t c = 0; c < groups.size(); ++c)
    for (index_t i : groups[c]) W(i, static_cast<index_t>(c)) = T(1);
  return DMatrix<T>::upload(ctx, W.view());
}

/// Tells opts.on_phase that the fit enters step i of n of @p name, and polls opts.should_stop.
bool enter_phase(const FitOptions& opts, const std::string& name, int i, int n) {
  if (opts.on_phase) opts.on_phase(name, i, n);
  return opts.should_stop && opts.should_stop();
}

/// NNMF_TRACE_INIT=1 prints what each initialization start scored and which won (for
/// measuring which starts matter; see experiments/results/stopping.md).
bool trace_init() {
  static const bool on = std::getenv("NNMF_TRACE_INIT") != nullptr;
  return on;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Scales the columns of A(l) = A.back() so that those of A(0) .. A(l) have unit norm. q is
/// scale-equivariant (q(A D^-1, X) = D q(A, X)), so the model is unchanged, but the rows of
/// S(l) then weigh each topic by its share of the reconstruction of X, which is what the
/// next layer's NMF of S(l) should see (unscaled, it favours whichever topics NMF happened
/// to give small columns).
template <class T>
void normalize_last_layer(const Context& ctx, std::vector<DMatrix<T>>& A) {
  const index_t k = A.back().cols();
  const DMatrix<T> P = chain_product<T>(ctx, A);
  const Matrix<T> Ph = P.download();
  Matrix<T> inv(1, k);
  for (index_t j = 0; j < k; ++j) {
    double nrm = 0;
    for (index_t i = 0; i < Ph.rows(); ++i) nrm += double(Ph(i, j)) * Ph(i, j);
    inv(0, j) = nrm > 0 ? static_cast<T>(1 / std::sqrt(nrm)) : T(1);
  }
  const DMatrix<T> dinv = DMatrix<T>::upload(ctx, inv.view());
  ops::scale_columns<T>(ctx, A.back().view(), dinv.data());
}

}  // namespace

template <class T>
Initialized<T> initial_factors(const Context& ctx, const PreparedData<T>& X,
                               const FitOptions& opts, SupervisionData<T>* sup,
                               Missing<T> missing) {
  const index_t L = static_cast<index_t>(opts.ranks.size());
  Initialized<T> out;
  std::vector<DMatrix<T>>& A = out.A;
  if (opts.init == Init::given) {
    for (const auto& Ad : opts.initial_factors) {
      Matrix<T> h(Ad.rows(), Ad.cols());
      for (index_t q = 0; q < h.size(); ++q) h.data()[q] = static_cast<T>(Ad.data()[q]);
      A.push_back(DMatrix<T>::upload(ctx, h.view()));
    }
    return out;
  }
  // Layer by layer: factor S(l-1) (X for l = 0), then S(l) = q(A(l), S(l-1)) through the
  // network A(0) .. A(l) built so far.
  const PreparedData<T>* input = &X;
  std::unique_ptr<PreparedData<T>> layer_data;
  DMatrix<T> S_prev;
  Rng rng(opts.seed);
  bool& stopped = out.interrupted;
  for (index_t l = 0; l < L; ++l) {
    const index_t k = opts.ranks[static_cast<std::size_t>(l)];
    const std::string layer = "init layer " + std::to_string(l) + " (k=" + std::to_string(k) + ")";
    // The fit's own loss restricted to layers 0..l (the supervision only at the last layer,
    // scored with the optimal classifier), to choose between starts.
    FitOptions partial = opts;
    partial.ranks.resize(static_cast<std::size_t>(l + 1));
    partial.on_epoch = nullptr;
    partial.on_phase = nullptr;
    partial.optimizer = Optimizer::line_search;
    partial.patience = 0;
    const bool last = l + 1 == L;
    if (!last) partial.supervision.reset();
    SupervisionData<T>* psup = last ? sup : nullptr;
    const ClassifierMode mode = psup ? psup->mode : ClassifierMode::closed_form;
    if (psup) psup->mode = ClassifierMode::closed_form;
    Trainer<T> scorer(ctx, X, partial.ranks, partial, psup, missing);
    State<T> scored = scorer.make_state();

    if (opts.init == Init::nmf) {
      // Several short alternating-NNLS runs of NMF(S(l-1), k), from NNDSVD and from seeded
      // random starts. NMF has poor local minima (merged blocks, wrong groupings of the topics
      // above) that any single start may fall into and that gradient steps on the factors
      // leave only slowly. On the first layer the start whose network has the smallest loss
      // is run on. Deeper layers factor the small S(l-1), get eight times the starts, plus one
      // that groups the topics above by the similarity of their feature profiles; the NMF
      // objective of S(l-1) does not tell groupings apart well, so the best two NMF starts and
      // the grouping start are each trained briefly as part of the network A(0) .. A(l) and
      // the network with the smallest loss is kept. Once interrupted, each remaining layer
      // gets its first start only, so that the model is complete.
      NmfOptions no;
      no.algorithm = NmfAlgorithm::anls;
      no.max_iter = std::min(opts.init_iterations, 30);
      no.rel_tol = 0;
      no.nnls = opts.nnls;
      const bool lean = opts.lean_init_columns > 0 && X.total_cols >= opts.lean_init_columns;
      // Lean: the NNDSVD start goes straight to the HALS iterations below (30 ANLS iterations
      // first cost 1.8 s of a 4 s fit on the full 20 Newsgroups and changed nothing after).
      if (lean && l == 0) no.max_iter = 0;
      const int restarts = std::max(1, opts.init_restarts);
      const int starts = stopped ? 1 : lean ? (l == 0 ? 1 : restarts) : restarts * (l == 0 ? 1 : 8);
      std::vector<std::pair<double, DMatrix<T>>> kept;  // (loss, W), best first, at most 2
      for (int r = 0; r < starts; ++r) {
        if (enter_phase(opts, layer + ": NMF start", r + 1, starts) && r > 0) {
          stopped = true;
          break;
        }
        const auto t0 = std::chrono::steady_clock::now();
        no.seed = opts.seed * 1000003ull + 7919ull * static_cast<std::uint64_t>(l) +
                  static_cast<std::uint64_t>(r);
        no.init = r == 0 ? NmfInit::nndsvd : NmfInit::random;
        NmfState<T> st = nmf_on_backend<T>(ctx, *input, k, no, nullptr);
        A.push_back(std::move(st.W));
        scorer.evaluate(A, nullptr, scored, nullptr);
        DMatrix<T> W = std::move(A.back());
        A.pop_back();
        if (trace_init())
          std::fprintf(stderr, "[init] layer %d start %d (%s): nmf obj %.9g, loss %.9g, %.3f s\n",
                       int(l), r, r == 0 ? "nndsvd" : "random",
                       st.objective.empty() ? 0.0 : st.objective.back(), scored.total,
                       seconds_since(t0));
        kept.emplace_back(scored.total, std::move(W));
        std::stable_sort(kept.begin(), kept.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        if (kept.size() > 2) kept.pop_back();
      }
      const int short_epochs = std::min(opts.epochs, 20);
      if (l > 0 && starts > 1 && short_epochs > 0 && !stopped && !lean) {
        std::vector<DMatrix<T>> candidates;
        candidates.push_back(topic_grouping_start<T>(ctx, A, k));
        for (auto& c : kept) candidates.push_back(std::move(c.second));
        double best_loss = std::numeric_limits<double>::infinity();
        std::vector<DMatrix<T>> best;
        const int nc = static_cast<int>(candidates.size());
        for (int c = 0; c < nc && !stopped; ++c) {
          // Polled before the first candidate too: the best NMF start is kept then.
          if (enter_phase(opts, layer + ": short training", c + 1, nc)) {
            stopped = true;
            if (best.empty()) {
              for (const auto& a : A) best.push_back(clone<T>(ctx, a.view()));
              best.push_back(std::move(candidates[1]));
            }
            break;
          }
          const auto t0 = std::chrono::steady_clock::now();
          std::vector<DMatrix<T>> net;
          for (const auto& a : A) net.push_back(clone<T>(ctx, a.view()));
          net.push_back(std::move(candidates[static_cast<std::size_t>(c)]));
          const Optimized o = optimize<T>(scorer, net, nullptr, partial, short_epochs, scored);
          if (o.reason == StopReason::interrupted) stopped = true;
          if (trace_init())
            std::fprintf(stderr, "[init] layer %d candidate %d (%s): loss after %d epochs %.9g, %.3f s\n",
                         int(l), c, c == 0 ? "grouping" : "nmf", int(o.history.size()),
                         scored.total, seconds_since(t0));
          if (scored.total < best_loss) {
            best_loss = scored.total;
            best = std::move(net);
          }
        }
        A = std::move(best);
      } else {
        DMatrix<T> W = std::move(kept.front().second);
        // The rest of the iterations for the best start, in chunks between which the fit
        // can be stopped (ANLS restarts exactly from W, so the chunks change nothing else).
        const int rest = stopped ? 0 : opts.init_iterations - no.max_iter;
        no.rel_tol = 1e-8;
        // On large data HALS reaches a lower NMF error sooner than ANLS (full 20 Newsgroups,
        // k = 20: 0.97971 after 40 iterations against ANLS's 0.97972 after 90), and needs less
        // of the tolerance: at 1e-7 (52 iterations, 1.6 s) the semi-supervised fit ends as
        // accurate as at 1e-8 (79 iterations, 3.1 s; held-out accuracy at layer 1 over seeds
        // 0-2: 0.794 / 0.793 / 0.793 against 0.794 / 0.786 / 0.788), while 1e-6 (37
        // iterations) left layer 1 a poorer start (0.672). experiments/results/stopping.md.
        if (lean) {
          no.algorithm = NmfAlgorithm::hals;
          no.rel_tol = 1e-7;
        }
        const int chunk = 30, chunks = (rest + chunk - 1) / chunk;
        const auto t0 = std::chrono::steady_clock::now();
        int done = 0;
        for (int c = 0; c < chunks; ++c) {
          if (enter_phase(opts, layer + ": NMF iterations", c + 1, chunks)) {
            stopped = true;
            break;
          }
          no.max_iter = std::min(chunk, rest - c * chunk);
          NmfState<T> st = nmf_on_backend<T>(ctx, *input, k, no, &W);
          W = std::move(st.W);
          done += st.iterations;
          if (st.iterations < no.max_iter) break;  // converged (rel_tol)
        }
        if (trace_init())
          std::fprintf(stderr, "[init] layer %d best start refined %d iterations, %.3f s\n",
                       int(l), done, seconds_since(t0));
        A.push_back(std::move(W));
      }
    } else {
      const double scale = std::sqrt(std::max(input->mean(), 1e-300) / double(k));
      A.push_back(random_matrix<T>(ctx, input->rows(), k, scale, rng));
    }
    if (psup) psup->mode = mode;
    normalize_last_layer<T>(ctx, A);
    if (l + 1 < L) {
      // S(l) through the network as it now stands, for the next layer.
      scorer.forward(A, scored, nullptr);
      S_prev = clone<T>(ctx, scored.S.back().view());
      layer_data = std::make_unique<PreparedData<T>>();
      layer_data->op.dense = S_prev.view();
      layer_data->sqnorm = ops::sqnorm<T>(ctx, S_prev.view());
      const Matrix<T> Sh = S_prev.download();
      for (T v : Sh.storage()) layer_data->sum += v;
      finish_prepare(ctx, *layer_data);
      input = layer_data.get();
    }
  }
  return out;
}

template class Trainer<float>;
template class Trainer<double>;
template struct Validation<float>;
template struct Validation<double>;
template Optimized optimize<float>(Trainer<float>&, std::vector<DMatrix<float>>&, DMatrix<float>*,
                                   const FitOptions&, int, State<float>&, Validation<float>*);
template Optimized optimize<double>(Trainer<double>&, std::vector<DMatrix<double>>&,
                                    DMatrix<double>*, const FitOptions&, int, State<double>&,
                                    Validation<double>*);
template Initialized<float> initial_factors<float>(const Context&, const PreparedData<float>&,
                                                   const FitOptions&, SupervisionData<float>*,
                                                   Missing<float>);
template Initialized<double> initial_factors<double>(const Context&, const PreparedData<double>&,
                                                     const FitOptions&, SupervisionData<double>*,
                                                     Missing<double>);

}  // namespace nnmf::detail
