// The Neural NMF training machinery, written once against the kernel interface so that a fit
// runs entirely in the context's memory (data moved there once, workspace allocated once).
#pragma once

#include <memory>
#include <vector>

#include "core/data.hpp"
#include "core/nmf_internal.hpp"
#include "nnmf/model.hpp"

namespace nnmf::detail {

/// Labels of the supervision term in the context's memory.
template <class T>
struct SupervisionData {
  int classes = 0;
  Buffer<int> labels;  ///< m
  DMatrix<T> weight;   ///< 1 x m: 1 for a known column, 0 otherwise
  DMatrix<T> Y;        ///< c x m one-hot
  DMatrix<T> Yw;       ///< Y with unknown columns zeroed
  SupervisionLoss loss = SupervisionLoss::l2;
  ClassifierMode mode = ClassifierMode::closed_form;
};

/// The entries of X kept out of the loss terms in X (FitOptions::data_mask, held_out): a dense
/// 0/1 mask W (dense X) or a sparse held-out set H, whose entries X has dropped already. Both
/// null = all observed.
template <class T>
struct Missing {
  const DMatrix<T>* mask = nullptr;  ///< N x m, 1 = observed
  const DPattern* held = nullptr;    ///< H (N x m)
};

/// Everything the forward pass and the loss computed for one set of factors; the backward
/// pass reads it. Two of these (accepted point and trial point) live through a fit.
template <class T>
struct State {
  std::vector<DMatrix<T>> G, C, S;                ///< per layer
  std::vector<std::unique_ptr<BatchSolver<T>>> solvers;  ///< per layer; hold the supports
  std::vector<DMatrix<T>> V;    ///< reconstruction chain V(l-1) = A(l) V(l), l = 1..L
  DMatrix<T> GV0;               ///< G0 V0
  DMatrix<T> GS0;               ///< G0 S0
  DMatrix<T> Rrec, Ren0;        ///< masked residuals W (.) (X - A0 V0), W (.) (X - A0 S0)
  DMatrix<T> Hrec, Hen0;        ///< held-out set H: P_H(A0 V0), P_H(A0 S0) (|H| x 1)
  std::vector<DMatrix<T>> Res;  ///< energy residuals S(l-1) - A(l) S(l), l >= 1
  DMatrix<T> B;                 ///< classifier used for this state (closed form or copy)
  DMatrix<T> P, Rs;             ///< B SL and the supervision residual / d logits
  double rec = 0, energy = 0, sup = 0, total = 0;  ///< weighted, scaled
  index_t nnls_iterations = 0;
};

template <class T>
class Trainer {
 public:
  /// @p data must outlive the trainer. ranks: k0..kL.
  Trainer(const Context& ctx, const PreparedData<T>& data, const std::vector<index_t>& ranks,
          const FitOptions& opts, SupervisionData<T>* sup, Missing<T> missing = {});

  State<T> make_state() const;
  /// Forward pass and loss at factors A (and trained classifier B, if any) into st, the NNLS
  /// warm-started from the supports of @p warm (may be st itself, or null).
  void evaluate(const std::vector<DMatrix<T>>& A, const DMatrix<T>* B, State<T>& st,
                const State<T>* warm);
  /// Gradients of st.total with respect to the factors (and B when trained).
  void gradient(const std::vector<DMatrix<T>>& A, const State<T>& st, std::vector<DMatrix<T>>& dA,
                DMatrix<T>* dB);
  /// S(l) = q(A(l), S(l-1)) only.
  void forward(const std::vector<DMatrix<T>>& A, State<T>& st, const State<T>* warm);

  index_t layers() const { return static_cast<index_t>(ranks_.size()); }
  const Context& context() const { return ctx_; }

 private:
  void loss(const std::vector<DMatrix<T>>& A, const DMatrix<T>* B, State<T>& st);
  void closed_form_classifier(const DMatrix<T>& SL, DMatrix<T>& B);
  /// ||X - A0 V||^2 (masked by W or H) for V (k0 x m); GV = G0 V, R (masked residual) or E
  /// (P_H(A0 V)) are filled for the gradient.
  double x_term(const DMatrix<T>& A0, const DMatrix<T>& G0, const DMatrix<T>& C0,
                const DMatrix<T>& V, DMatrix<T>& GV, DMatrix<T>& R, DMatrix<T>& E);
  /// Gradient of a * x_term: dV = d/dV (@p set) or dV += d/dV; dA0 += d/dA0 except the term
  /// in X, which goes to Q_ (dA0 += X Q^T), and the term in A0, which goes to M_[0]
  /// (dA0 += A0 M_[0]).
  void x_term_gradient(T a, const DMatrix<T>& A0, const DMatrix<T>& C0, const DMatrix<T>& V,
                       const DMatrix<T>& GV, const DMatrix<T>& R, const DMatrix<T>& E,
                       DMatrix<T>& dV, bool set, DMatrix<T>& dA0);

  Context ctx_;
  const PreparedData<T>& X_;
  std::vector<index_t> ranks_;
  FitOptions opts_;
  SupervisionData<T>* sup_;
  const DMatrix<T>* mask_;
  const DPattern* held_;
  double coef_rec_ = 0, coef_sup_ = 0;
  std::vector<double> coef_energy_;
  // Backward workspace, allocated once.
  std::vector<DMatrix<T>> dS_, Z_, dV_;
  std::vector<DMatrix<T>> M_;  ///< k(l) x k(l)
  DMatrix<T> Q_;               ///< k0 x m: coefficient of X in dA0 = X Q^T + ...
  DMatrix<T> Sw_;              ///< kL x m scratch
};

/// Early stopping on held-out known labels (FitOptions::validation_fraction) for optimize():
/// the columns held out of the supervision term, their classes, and the best epoch so far.
template <class T>
struct Validation {
  bool on = false;  ///< held-out columns on some process (then every process records)
  std::vector<index_t> columns;  ///< this block's, local indices
  std::vector<int> labels;
  int patience = 5;
  double best = -1;  ///< accuracy of the best epoch
  int best_epoch = -1;
  std::vector<DMatrix<T>> best_A;
  DMatrix<T> best_B;
  /// Accuracy of the classifier B on the held-out columns of SL (of every process's block).
  double accuracy(const Context& ctx, const DMatrix<T>& B, const DMatrix<T>& SL) const;
  /// Records the accuracy of epoch @p epoch (0: the start); keeps A and B when it is the best.
  double record(int epoch, const std::vector<DMatrix<T>>& A, const State<T>& st, const Context& ctx);
};

/// The held-out columns for @p s (empty when validation is off or too few labels are known):
/// a seeded choice of round(validation_fraction x known) known columns, among those of every
/// process (the same choice for any split); returns this block's, as local indices.
std::vector<index_t> validation_columns(const Context& ctx, const FitOptions& o, const Supervision& s,
                                        index_t m);
/// The same for one process.
inline std::vector<index_t> validation_columns(const FitOptions& o, const Supervision& s, index_t m) {
  return validation_columns(Context::host(1), o, s, m);
}

/// The epochs' records of optimize() and why it stopped.
struct Optimized {
  std::vector<EpochRecord> history;
  StopReason reason = StopReason::epoch_cap;
};

/// True when the loss fell by at most rel_tol x |loss| over the last `window` epochs, given
/// @p losses = the loss before the first epoch, then after each epoch (the convergence test
/// of FitOptions::rel_tol and patience; window 0 = never).
bool window_converged(const std::vector<double>& losses, int window, double rel_tol);

/// Runs the optimiser of @p opts for at most @p epochs epochs (stopping early per
/// window_converged, a stationary line search or opts.should_stop) on the factors A and, when
/// the classifier is trained, on *B (else null), updating them in place; cur receives the
/// state at the final factors. Calls opts.on_epoch after every epoch.
/// With @p val, stops once its accuracy has not improved for val->patience epochs
/// (StopReason::validation) and ends at the factors (and B) of its best epoch, cur evaluated
/// there.
template <class T>
Optimized optimize(Trainer<T>& tr, std::vector<DMatrix<T>>& A, DMatrix<T>* B,
                   const FitOptions& opts, int epochs, State<T>& cur, Validation<T>* val = nullptr);

/// Factors A(0..L) to start from, and whether opts.should_stop cut the initialization short.
template <class T>
struct Initialized {
  std::vector<DMatrix<T>> A;
  bool interrupted = false;
};

/// Factors A(0..L) to start from, per FitOptions::init (sup, may be null, and missing let
/// the NMF start be chosen by the fit's own loss).
template <class T>
Initialized<T> initial_factors(const Context& ctx, const PreparedData<T>& X,
                               const FitOptions& opts, SupervisionData<T>* sup,
                               Missing<T> missing);

}  // namespace nnmf::detail
