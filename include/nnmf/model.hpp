// Neural NMF (Will, Zhang, Sadovnik, Gao, Vendrow, Haddock, Molitor, Needell): a hierarchical
// NMF whose layers are S(l) = q(A(l), S(l-1)), S(-1) = X, trained by gradient steps on the
// factors A(l) through the NNLS solves.
//
// Losses (each optional, weighted, summed):
//   reconstruction  R = ||W (.) (X - A0 A1 ... AL SL)||_F^2            (paper eq. 1.5)
//   energy          E = sum_{l=0..L} ||S(l-1) - A(l) S(l)||_F^2          (l = 0 term masked by W)
//   supervision     lambda * ||Z (.) (Y - B SL)||_F^2  (one-hot Y, Z the known-column mask)
//                   or lambda * cross-entropy of softmax(B SL) on the known columns,
// with W an optional 0/1 missing-data mask on X (SSNMF, paper eq. 1.3): FitOptions::data_mask
// (dense, N x m bytes, dense X only) or FitOptions::held_out, the sparse set H of the entries
// where W = 0 (any X; nnmf/held_out.hpp). Training never reads a held-out value: the entries
// with W = 0 are dropped from X (set to 0 in the copy of dense X trained on, removed from
// sparse X), so the forward pass q(A0, X) sees them as absent, and they are left out of the
// terms in X (R and the l = 0 energy term). For sparse X nothing N x m is formed:
//   ||W (.) (X - A0 V)||^2 = [Gram identity below on X without H] - sum_{(i,j) in H} (A0 V)_ij^2,
// with the gradient corrections dV -= 2 A0^T E, dA0 -= 2 E V^T for E = P_H(A0 V) (the entries
// of A0 V on H): O(|H| k0) per evaluation.
// Scaling::sum uses the sums above. Scaling::mean divides each term by its number of entries,
// like the authors' package (mean squared error): R and the l = 0 energy term by N m, the
// l >= 1 energy terms by k(l-1) m, the L2 supervision by c m and the cross-entropy by m
// (unknown columns contribute nothing). Their published step sizes carry over with it:
// synthetic data lr = 1; 20 Newsgroups energy loss lr = 1e10, decay 0.995 every 5 epochs.
//
// Gradients are accumulated in reverse through the layers (O(L) steps): each layer's dL/dS(l)
// goes through the backward pass of q (a masked solve with G_TT per column) into dL/dA(l) and
// dL/dS(l-1). For sparse X nothing n x m is formed: terms in X use Gram identities, e.g.
// ||X - A0 V||^2 = ||X||^2 - 2 <A0^T X, V> + <A0^T A0, V V^T>.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nnmf/context.hpp"
#include "nnmf/held_out.hpp"
#include "nnmf/matrix.hpp"
#include "nnmf/nnls.hpp"

namespace nnmf {

enum class Scaling { sum, mean };
enum class SupervisionLoss { l2, cross_entropy };
/// How the classifier B of the supervision term is obtained.
enum class ClassifierMode {
  closed_form,  ///< B = (Z (.) Y) SL^+ each epoch (L2 only): min over B, so dL/dSL is exact
  trained,      ///< B is a parameter with its own projected-free gradient step
};
enum class Optimizer {
  line_search,  ///< default: backtracking (Armijo) line search on the projected step, each
                ///< step from a quadratic model of the last trial (about one trial an epoch); no lr
  gd,           ///< projected gradient descent A <- max(0, A - lr * grad), step decay
  adam,         ///< Adam with projection onto A >= 0
};
enum class Init {
  nmf,     ///< default: hierarchical NMF (alternating NNLS), layer by layer
  random,  ///< seeded uniform entries scaled to the data
  given,   ///< FitOptions::initial_factors
};

/// Why a fit's training ended (NeuralNmf::stop_reason, the model file, the CLI's report.json).
enum class StopReason {
  none,         ///< not trained by fit (from_factors, or a model file written before this field)
  converged,    ///< the loss moved by less than rel_tol x |loss| over the last `patience` epochs
  stationary,   ///< line search: no descent along the projected gradient (a stationary point)
  epoch_cap,    ///< FitOptions::epochs epochs were run
  validation,   ///< the accuracy on the held-out known labels stopped improving (FitOptions::
                ///< validation_fraction); the factors of its best epoch are kept
  interrupted,  ///< FitOptions::should_stop returned true (during initialization or training)
};

const char* to_string(StopReason v) noexcept;
const char* to_string(Scaling v) noexcept;
const char* to_string(SupervisionLoss v) noexcept;
const char* to_string(ClassifierMode v) noexcept;
const char* to_string(Optimizer v) noexcept;
const char* to_string(Init v) noexcept;

/// Labels for the supervision term.
struct Supervision {
  std::vector<int> labels;           ///< one class per column, 0-based
  std::vector<std::uint8_t> known;   ///< 1 = label used in training; empty = all known
  int num_classes = 0;               ///< 0 = max label + 1
  double lambda = 1.0;               ///< weight of the supervision term
  SupervisionLoss loss = SupervisionLoss::l2;
  ClassifierMode classifier = ClassifierMode::closed_form;
};

/// One epoch of training.
struct EpochRecord {
  int epoch = 0;
  double loss = 0;            ///< total (scaled) loss after the epoch's step
  double reconstruction = 0;  ///< weighted, scaled terms
  double energy = 0;
  double supervision = 0;
  double step = 0;            ///< step size used (line search: relative step eta)
  double seconds = 0;         ///< wall time of the epoch
  index_t nnls_iterations = 0;
  int line_search_trials = 0;
  /// Accuracy on the held-out known labels after the epoch (FitOptions::validation_fraction);
  /// -1 when no labels are held out.
  double validation_accuracy = -1;
};

struct FitOptions {
  std::vector<index_t> ranks;  ///< k0 > k1 > ... > kL, k0 <= number of rows of X
  double reconstruction_weight = 1.0;
  double energy_weight = 0.0;
  Scaling scaling = Scaling::sum;
  std::optional<Supervision> supervision;
  /// 0/1 missing-data mask W on X (rows x cols of X, column-major; 1 = observed); dense X
  /// only. Empty = all observed. The entries with W = 0 are never read by the training.
  std::vector<std::uint8_t> data_mask;
  /// The held-out entries H of X (missing data; masked cross-validation), the sparse form of
  /// data_mask (H = the entries where W = 0) for dense or sparse X. Checked like a CSC pattern
  /// (shape of X, rows sorted and unique per column). Not with data_mask. Under several
  /// processes, each gives the set of its own block of columns. Score a fit on H with
  /// held_out_errors().
  HeldOut held_out;

  Optimizer optimizer = Optimizer::line_search;
  int epochs = 200;           ///< epoch cap
  /// Convergence over a window: after epoch e >= patience, training stops (StopReason::converged)
  /// when the loss moved by at most rel_tol x |loss| over the last `patience` epochs,
  ///   |loss(e - patience) - loss(e)| <= rel_tol * |loss(e)|   (loss(0): before the first epoch).
  /// A window, not a per-epoch test: a loss creeping down by a little more than a per-epoch
  /// threshold every epoch ran to the cap for nothing (the former rule: per-epoch decrease
  /// below 1e-7 for 5 epochs running), and one pausing for a few epochs before a drop stopped.
  /// patience = 0 disables the test. See experiments/results/stopping.md for the choice.
  double rel_tol = 1e-4;
  int patience = 10;          ///< the window, in epochs
  /// Early stopping on held-out labels (supervised fits). A seeded validation_fraction of the
  /// known columns is left out of the supervision term; after every epoch the classifier's
  /// accuracy on them is measured, training stops (StopReason::validation) once it has not
  /// improved for validation_patience epochs, and the factors and classifier of the best epoch
  /// (the earliest, on ties; epoch 0 = the initialization) are kept. The label term otherwise
  /// goes on trading reconstruction for the training labels long after the held-out accuracy
  /// peaked (full 20 Newsgroups, ranks 20,6, train split labelled: held-out accuracy 0.785
  /// after 10 epochs, 0.773 after 50, 0.749 after 200; experiments/results/stopping.md).
  /// Used only when it holds out at least validation_min_labels columns (an accuracy that
  /// resolves 1%): on the paper's small data sets it is off and nothing changes.
  /// validation_fraction = 0 turns it off.
  double validation_fraction = 0.1;
  index_t validation_min_labels = 100;
  int validation_patience = 5;
  double learning_rate = 0;   ///< gd/adam; 0 = 1 for gd with Scaling::mean, else required
  double lr_decay = 1.0;      ///< gd: lr *= lr_decay every decay_every epochs
  int decay_every = 1;
  double classifier_lr = 0;   ///< trained B with gd/adam; 0 = learning_rate
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_eps = 1e-8;

  Init init = Init::nmf;
  /// Init::nmf, built layer by layer. Layer 0: init_restarts starts (NNDSVD, then seeded
  /// random ones) get min(30, init_iterations) alternating-NNLS iterations each; the one with
  /// the smallest training loss restricted to layer 0 gets the remaining iterations.
  /// Layer l >= 1: 8 x init_restarts NMF starts of S(l-1) are scored the same way on layers
  /// 0..l; the best two and a start that groups the topics of A(0)..A(l-1) by average-linkage
  /// clustering are each trained min(epochs, 20) epochs as the network A(0)..A(l), and the
  /// network with the smallest loss is kept (its earlier layers included).
  /// Lean on large data (X with at least lean_init_columns columns): layer 0 gets the NNDSVD
  /// start only, run on by HALS (NmfAlgorithm::hals) instead of ANLS, and layers l >= 1
  /// init_restarts NMF starts, the best-scored kept without short training. On many documents
  /// the starts agree (full 20 Newsgroups, ranks 20, 6: random layer-0 starts scored
  /// 0.02-0.04% worse than NNDSVD, the short trainings ended within 0.1% of each other and the
  /// grouping start 2% behind) while each costs passes over all of X; see
  /// experiments/results/stopping.md.
  int init_iterations = 300;
  int init_restarts = 4;
  index_t lean_init_columns = 5000;  ///< 0 = never lean
  std::vector<Matrix<double>> initial_factors;  ///< Init::given: A(0..L)
  std::uint64_t seed = 0;

  bool warm_start = true;     ///< start each epoch's NNLS from the previous supports
  NnlsOptions nnls;           ///< tolerance and iteration cap of the forward solves
  /// Called after every epoch (progress display, logging). May be empty.
  std::function<void(const EpochRecord&)> on_epoch;
  /// Called as the fit enters each phase and step of it (progress display): @p phase names it
  /// ("init layer 0 (k=20): NMF start", "init layer 0 (k=20): NMF iterations",
  /// "init layer 1 (k=6): short training", "training"),
  /// @p i of @p n counts its steps (1-based; for "training", i = 0 and n = the epoch cap).
  /// May be empty.
  std::function<void(const std::string& phase, int i, int n)> on_phase;
  /// Polled after every epoch (and between initialization phases); returning true ends the
  /// fit there with the factors reached so far (Ctrl-C in the CLI and in Python), and the
  /// model's stop_reason() is StopReason::interrupted. Interrupted during the initialization,
  /// the current layer keeps its best start so far, later layers get one short NMF start
  /// each (so the model is complete and valid) and no epochs run. May be empty.
  std::function<bool()> should_stop;
};

/// Per-layer quality of a fitted model on some data.
struct LayerReport {
  index_t rank = 0;
  double rel_error = 0;  ///< ||X - A0..Al Sl||_F / ||X||_F (masked by W if one was used)
  std::optional<double> accuracy;  ///< paper's rule, when labels are given
};

template <class T>
class NeuralNmf {
 public:
  NeuralNmf() = default;

  /// Fits a model to X (N x m, dense or sparse). Throws InvalidArgument/DimensionMismatch for
  /// bad data or options (ranks not decreasing, k0 > N, labels out of range, ...).
  static NeuralNmf fit(const Context& ctx, MatrixView<const T> X, const FitOptions& opts);
  static NeuralNmf fit(const Context& ctx, const CscMatrix<T>& X, const FitOptions& opts);

  /// Builds a model from given factors (A(l) is k(l-1) x k(l)) and an optional classifier.
  static NeuralNmf from_factors(std::vector<Matrix<T>> A, Matrix<T> B = {});

  /// S(0..L) for the columns of X with the factors fixed (the forward pass), solved as nnls()
  /// does (scale invariant: factors and data of any magnitude); a layer whose S does not exist
  /// in T (e.g. two layers of factors ~1e300 give S1 ~ 1e-600) raises RangeError naming it.
  std::vector<Matrix<T>> transform(const Context& ctx, MatrixView<const T> X) const;
  std::vector<Matrix<T>> transform(const Context& ctx, const CscMatrix<T>& X) const;

  /// Relative error of each layer and, when @p labels is given, its accuracy by the paper's
  /// rule: B = (Z (.) Y) S^+ from the columns with @p fit_mask set (empty = all), predicted
  /// class argmax(B S), scored on the columns with @p score_mask set (empty = all).
  /// @p labels holds either one label vector for all layers or one per layer.
  std::vector<LayerReport> evaluate(const Context& ctx, MatrixView<const T> X,
                                    const std::vector<std::vector<int>>& labels = {},
                                    const std::vector<std::uint8_t>& fit_mask = {},
                                    const std::vector<std::uint8_t>& score_mask = {}) const;
  std::vector<LayerReport> evaluate(const Context& ctx, const CscMatrix<T>& X,
                                    const std::vector<std::vector<int>>& labels = {},
                                    const std::vector<std::uint8_t>& fit_mask = {},
                                    const std::vector<std::uint8_t>& score_mask = {}) const;

  index_t layers() const { return static_cast<index_t>(A_.size()); }
  std::vector<index_t> ranks() const;
  index_t features() const { return A_.empty() ? 0 : A_[0].rows(); }
  /// A(l), k(l-1) x k(l); A(0) is N x k0 (topics as columns over features).
  const std::vector<Matrix<T>>& factors() const { return A_; }
  /// A(0) A(1) ... A(l): the topics of layer l expressed over the features (N x k(l)).
  Matrix<T> layer_dictionary(index_t l) const;
  /// A(1..L): how the topics of layer l-1 combine into those of layer l.
  std::vector<Matrix<T>> hierarchy() const {
    return std::vector<Matrix<T>>(A_.begin() + (A_.empty() ? 0 : 1), A_.end());
  }
  /// Classifier B (c x kL) of a supervised fit; empty otherwise.
  const Matrix<T>& classifier() const { return B_; }
  /// The class of each column by the model's own classifier: argmax over the classes of
  /// B S(L), with @p SL (kL x m) the last layer of transform(); ties (e.g. a column of SL that
  /// is all zero) go to the lowest class. Throws InvalidArgument when the model has no
  /// classifier and DimensionMismatch when SL does not have kL rows.
  std::vector<int> classify(MatrixView<const T> SL) const;
  const std::vector<EpochRecord>& history() const { return history_; }
  /// Why the fit's training ended; StopReason::none for a model built from factors.
  StopReason stop_reason() const { return stop_reason_; }
  /// The method that produced the factors ("neural" for fit; what set_method recorded for
  /// factors from elsewhere, e.g. the CLI's baselines; empty when unknown). Saved in the file.
  const std::string& method() const { return method_; }
  void set_method(std::string name) { method_ = std::move(name); }
  /// Names of the classes of the classifier's rows (empty when not given). Saved in the file.
  const std::vector<std::string>& class_names() const { return class_names_; }
  /// Throws DimensionMismatch unless @p names is empty or has one name per row of B.
  void set_class_names(std::vector<std::string> names);

  /// Top @p count features of each topic of layer l (indices into the rows of X, by weight in
  /// layer_dictionary(l)); with a vocabulary, use top_terms.
  std::vector<std::vector<index_t>> top_features(index_t l, index_t count) const;
  std::vector<std::vector<std::string>> top_terms(index_t l, index_t count,
                                                  const std::vector<std::string>& vocab) const;

  /// Binary file with the factors, the classifier, the training history and a CRC-32 over
  /// everything; written atomically. See docs/model_format.md.
  void save(const std::string& path) const;
  /// Throws IoError naming the file for a wrong magic, an unsupported version, a truncated
  /// file or a checksum mismatch.
  static NeuralNmf load(const std::string& path);

 private:
  std::vector<Matrix<T>> A_;
  Matrix<T> B_;
  std::vector<EpochRecord> history_;
  StopReason stop_reason_ = StopReason::none;
  std::string method_;
  std::vector<std::string> class_names_;
};

/// Accuracy by the paper's rule for one layer's S (k x m): B = (Z (.) Y) S^+ from the columns
/// in @p fit_mask (empty = all), predicted class argmax(B S), scored on @p score_mask
/// (empty = all). Labels are 0-based; the class count is max label + 1.
template <class T>
double label_accuracy(MatrixView<const T> S, const std::vector<int>& labels,
                      const std::vector<std::uint8_t>& fit_mask = {},
                      const std::vector<std::uint8_t>& score_mask = {});
/// The same on the context's processes: S, labels and masks are this process's block of
/// columns; the sums that fit B and the counts are taken over every process's block.
template <class T>
double label_accuracy(const Context& ctx, MatrixView<const T> S, const std::vector<int>& labels,
                      const std::vector<std::uint8_t>& fit_mask = {},
                      const std::vector<std::uint8_t>& score_mask = {});

/// ||X - A0 A1 .. Al S(l)||_F / ||X||_F for each layer l, given the factors A(0..L) and the
/// per-layer coefficients S(0..L) of any hierarchical method (for Neural NMF, S(l) is the
/// forward pass). Computed through Gram identities: nothing N x m is formed for sparse X; on the
/// problem scaled by powers of two, so data and factors of any magnitude give the error without
/// overflow (RangeError naming the layer if the reconstruction itself is beyond the type).
template <class T>
std::vector<double> relative_errors(const Context& ctx, MatrixView<const T> X,
                                    const std::vector<Matrix<T>>& A, const std::vector<Matrix<T>>& S);
template <class T>
std::vector<double> relative_errors(const Context& ctx, const CscMatrix<T>& X,
                                    const std::vector<Matrix<T>>& A, const std::vector<Matrix<T>>& S);

/// The held-out error of each layer, ||P_H(X - A0..Al Sl)||_F / ||P_H(X)||_F, with S(l) the
/// forward pass of X with H's entries dropped (the data a fit with FitOptions::held_out saw),
/// so that no held-out value reaches the prediction. O(|H| k) per layer after the forward pass.
/// Throws InvalidArgument when P_H(X) = 0 (nothing to score against).
template <class T>
std::vector<double> held_out_errors(const Context& ctx, const NeuralNmf<T>& model,
                                    const CscMatrix<T>& X, const HeldOut& H);
template <class T>
std::vector<double> held_out_errors(const Context& ctx, const NeuralNmf<T>& model,
                                    MatrixView<const T> X, const HeldOut& H);
/// The same from given factors A(0..L) and that forward pass S(0..L) (or any method's
/// coefficients fitted without H), without running it again: what a fit with a held-out set
/// returns. Throws DimensionMismatch / InvalidArgument naming the matrix whose shape is wrong.
template <class T>
std::vector<double> held_out_errors(const Context& ctx, const CscMatrix<T>& X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H);
template <class T>
std::vector<double> held_out_errors(const Context& ctx, MatrixView<const T> X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H);

/// The training error of each layer on the observed entries, ||P(X - A0..Al Sl)||_F / ||P(X)||_F
/// with P keeping the entries outside H: what relative_errors is for a fit that held H out
/// (there the held-out entries were never fitted, so counting them would score the
/// prediction, not the fit: held_out_errors does that). Throws InvalidArgument when X is 0 on
/// every observed entry.
template <class T>
std::vector<double> observed_errors(const Context& ctx, const CscMatrix<T>& X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H);
template <class T>
std::vector<double> observed_errors(const Context& ctx, MatrixView<const T> X, const std::vector<Matrix<T>>& A,
                                    const std::vector<Matrix<T>>& S, const HeldOut& H);
/// The same for a model, with S(l) its forward pass of X with H's entries dropped (as
/// held_out_errors predicts H from it).
template <class T>
std::vector<double> observed_errors(const Context& ctx, const NeuralNmf<T>& model, const CscMatrix<T>& X,
                                    const HeldOut& H);
template <class T>
std::vector<double> observed_errors(const Context& ctx, const NeuralNmf<T>& model, MatrixView<const T> X,
                                    const HeldOut& H);

/// Index of the largest entry of each column.
template <class T>
std::vector<int> argmax_columns(MatrixView<const T> M);

}  // namespace nnmf
