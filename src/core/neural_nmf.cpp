// Neural NMF: option checks, the optimisers and the public model operations.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "core/small_dense.hpp"
#include "core/trainer.hpp"
#include "core/validate.hpp"
#include "nnmf/error.hpp"
#include "nnmf/model.hpp"

namespace nnmf {

const char* to_string(Scaling v) noexcept { return v == Scaling::sum ? "sum" : "mean"; }
const char* to_string(SupervisionLoss v) noexcept {
  return v == SupervisionLoss::l2 ? "l2" : "cross_entropy";
}
const char* to_string(ClassifierMode v) noexcept {
  return v == ClassifierMode::closed_form ? "closed_form" : "trained";
}
const char* to_string(Optimizer v) noexcept {
  switch (v) {
    case Optimizer::line_search:
      return "line_search";
    case Optimizer::gd:
      return "gd";
    case Optimizer::adam:
      return "adam";
  }
  return "unknown";
}
const char* to_string(StopReason v) noexcept {
  switch (v) {
    case StopReason::none:
      return "none";
    case StopReason::converged:
      return "converged";
    case StopReason::stationary:
      return "stationary";
    case StopReason::epoch_cap:
      return "epoch_cap";
    case StopReason::interrupted:
      return "interrupted";
    case StopReason::validation:
      return "validation";
  }
  return "unknown";
}
const char* to_string(Init v) noexcept {
  switch (v) {
    case Init::nmf:
      return "nmf";
    case Init::random:
      return "random";
    case Init::given:
      return "given";
  }
  return "unknown";
}

namespace detail {
namespace {

const char* kWho = "NeuralNmf::fit";

[[noreturn]] void bad(const std::string& msg) { throw InvalidArgument(std::string(kWho) + ": " + msg); }

void check_finite_nonneg(const char* name, double v) {
  if (!(v >= 0) || !std::isfinite(v)) bad(std::string(name) + " must be finite and >= 0, got " + std::to_string(v));
}

/// Checks the ranks: at least one, each >= 1 and at most the rows of X (k0) or the rank above.
void check_ranks(const std::vector<index_t>& ranks, index_t n) {
  if (ranks.empty()) bad("ranks is empty; give at least one rank k0");
  for (std::size_t l = 0; l < ranks.size(); ++l) {
    const index_t k = ranks[l];
    const index_t above = l == 0 ? n : ranks[l - 1];
    if (k < 1) bad("rank k" + std::to_string(l) + " = " + std::to_string(k) + " must be >= 1");
    if (k > above)
      bad("rank k" + std::to_string(l) + " = " + std::to_string(k) + " exceeds " +
          (l == 0 ? "the number of rows of X, N = "
                  : "the rank of the layer above, k" + std::to_string(l - 1) + " = ") +
          std::to_string(above) + "; ranks must satisfy N >= k0 >= k1 >= ...");
  }
}

/// Checks the weights of the loss terms: finite, >= 0 and not all 0.
void check_loss_weights(const FitOptions& o) {
  check_finite_nonneg("reconstruction_weight", o.reconstruction_weight);
  check_finite_nonneg("energy_weight", o.energy_weight);
  if (o.reconstruction_weight == 0 && o.energy_weight == 0 && !o.supervision)
    bad("every loss term has weight 0");
}

/// Checks the labels and known mask against the @p m columns of X, the classes and the
/// supervision term's weight and classifier.
void check_supervision(const Supervision& s, index_t m) {
  check_label_counts(kWho, s, m);
  const int maxl = s.labels.empty() ? -1 : *std::max_element(s.labels.begin(), s.labels.end());
  const int c = s.num_classes > 0 ? s.num_classes : maxl + 1;
  for (std::size_t j = 0; j < s.labels.size(); ++j) {
    if (s.labels[j] < 0 || s.labels[j] >= c)
      bad("label " + std::to_string(s.labels[j]) + " of column " + std::to_string(j) +
          " is out of range [0, " + std::to_string(c) + ")");
    if (!s.known.empty() && s.known[j] > 1)
      bad("known mask entry " + std::to_string(int(s.known[j])) + " at column " + std::to_string(j) + " is not 0 or 1");
  }
  check_finite_nonneg("supervision lambda", s.lambda);
  if (s.loss == SupervisionLoss::cross_entropy && s.classifier == ClassifierMode::closed_form)
    bad("the cross-entropy loss has no closed-form classifier; use ClassifierMode::trained");
}

/// Checks the held-out entries and the missing-data mask (one of them, the mask on dense X only,
/// n x m entries of 0 or 1).
void check_missing_entries(const FitOptions& o, index_t n, index_t m, bool sparse) {
  if (!o.held_out.none()) {
    check_held_out(kWho, o.held_out, n, m);
    if (!o.data_mask.empty()) bad("give data_mask or held_out, not both");
  }
  if (!o.data_mask.empty()) {
    if (sparse)
      bad("data_mask needs dense X (a dense mask on sparse X would densify it); give the held-out entries as "
          "held_out");
    if (static_cast<index_t>(o.data_mask.size()) != n * m)
      throw DimensionMismatch(std::string(kWho) + ": data_mask has " + std::to_string(o.data_mask.size()) +
                              " entries, X has " + shape_string(n, m) + " = " + std::to_string(n * m));
    for (std::size_t q = 0; q < o.data_mask.size(); ++q)
      if (o.data_mask[q] > 1) bad("data_mask entry " + std::to_string(q) + " is not 0 or 1");
  }
}

/// Checks when training stops: the epoch cap, the convergence test and the validation split.
void check_stopping(const FitOptions& o) {
  if (o.epochs < 0) bad("epochs must be >= 0, got " + std::to_string(o.epochs));
  check_finite_nonneg("rel_tol", o.rel_tol);
  if (o.patience < 0) bad("patience must be >= 0");
  if (!(o.validation_fraction >= 0 && o.validation_fraction < 1))
    bad("validation_fraction must lie in [0, 1), got " + std::to_string(o.validation_fraction));
  if (o.validation_min_labels < 1 || o.validation_patience < 1)
    bad("validation_min_labels and validation_patience must be >= 1");
}

/// Checks the optimizer's settings: learning rates, their decay and Adam's parameters.
void check_optimizer(const FitOptions& o) {
  check_finite_nonneg("learning_rate", o.learning_rate);
  check_finite_nonneg("classifier_lr", o.classifier_lr);
  if (o.optimizer != Optimizer::line_search && o.learning_rate == 0 && o.scaling != Scaling::mean)
    bad(std::string("optimizer '") + to_string(o.optimizer) +
        "' needs learning_rate > 0 (it defaults to 1 only with Scaling::mean)");
  if (!(o.lr_decay > 0 && o.lr_decay <= 1)) bad("lr_decay must lie in (0, 1], got " + std::to_string(o.lr_decay));
  if (o.decay_every < 1) bad("decay_every must be >= 1");
  if (!(o.adam_beta1 >= 0 && o.adam_beta1 < 1) || !(o.adam_beta2 >= 0 && o.adam_beta2 < 1) || !(o.adam_eps > 0))
    bad("Adam parameters need 0 <= beta1, beta2 < 1 and eps > 0");
}

/// Checks the initialization: NMF iterations and restarts, lean columns, and given factors
/// (one per layer, A(l) k(l-1) x k(l) with k(-1) = n, finite and nonnegative).
void check_init(const FitOptions& o, index_t n) {
  if (o.init == Init::nmf && (o.init_iterations < 1 || o.init_restarts < 1))
    bad("init_iterations and init_restarts must be >= 1");
  if (o.lean_init_columns < 0)
    bad("lean_init_columns must be >= 0 (0 = never lean), got " + std::to_string(o.lean_init_columns));
  if (o.init != Init::given) return;
  if (o.initial_factors.size() != o.ranks.size())
    bad(std::to_string(o.initial_factors.size()) + " initial factors for " +
        std::to_string(o.ranks.size()) + " layers");
  for (std::size_t l = 0; l < o.ranks.size(); ++l) {
    const Matrix<double>& A = o.initial_factors[l];
    const index_t rows = l == 0 ? n : o.ranks[l - 1];
    const std::string name = "initial factor A" + std::to_string(l);
    check_shape(kWho, name.c_str(), A.rows(), A.cols(), rows, o.ranks[l]);
    check_values<double>(kWho, name.c_str(), A.view(), true);
  }
}

/// Checks everything about the options that does not need the data's values.
void check_fit_options(const FitOptions& o, index_t n, index_t m, bool sparse) {
  check_ranks(o.ranks, n);
  check_loss_weights(o);
  if (o.supervision) check_supervision(*o.supervision, m);
  check_missing_entries(o, n, m, sparse);
  check_stopping(o);
  check_optimizer(o);
  check_init(o, n);
  if (!(o.nnls.tol >= 0) || o.nnls.max_iter < 0) bad("nnls options: tol and max_iter must be >= 0");
}

/// Checks of the labels that span every process's block (a block may have no known label, or
/// no column at all): some column is known, and the class count.
int checked_classes(const Context& ctx, const Supervision& s) {
  std::int64_t known = s.known.empty() ? std::int64_t(s.labels.size())
                                       : std::accumulate(s.known.begin(), s.known.end(), std::int64_t(0));
  known = allreduce_sum(ctx, known);
  if (known == 0) bad("the known mask marks no column as labelled");
  const std::int64_t maxl = allreduce_max(
      ctx, s.labels.empty() ? std::int64_t(-1) : *std::max_element(s.labels.begin(), s.labels.end()));
  if (maxl < 0) bad("no labels: X has no columns");
  return s.num_classes > 0 ? s.num_classes : static_cast<int>(maxl) + 1;
}

template <class T>
std::unique_ptr<SupervisionData<T>> make_supervision(const Context& ctx, const Supervision& s, index_t m) {
  auto d = std::make_unique<SupervisionData<T>>();
  d->classes = checked_classes(ctx, s);
  d->loss = s.loss;
  d->mode = s.classifier;
  const index_t c = d->classes;
  Matrix<T> w(1, m), Y(c, m), Yw(c, m);
  for (index_t j = 0; j < m; ++j) {
    const bool known = s.known.empty() || s.known[static_cast<std::size_t>(j)];
    w(0, j) = known ? T(1) : T(0);
    Y(s.labels[static_cast<std::size_t>(j)], j) = T(1);
    if (known) Yw(s.labels[static_cast<std::size_t>(j)], j) = T(1);
  }
  d->weight = DMatrix<T>::upload(ctx, w.view());
  d->Y = DMatrix<T>::upload(ctx, Y.view());
  d->Yw = DMatrix<T>::upload(ctx, Yw.view());
  d->labels = Buffer<int>(ctx, static_cast<std::size_t>(m));
  d->labels.upload(s.labels.data(), static_cast<std::size_t>(m));
  return d;
}

/// With several processes, should_stop is polled on each and true on all when true on one
/// (Ctrl-C reaching one process ends the training of all after the same epoch).
FitOptions collective_stop(const Context& ctx, const FitOptions& opts) {
  FitOptions o = opts;
  if (distributed(ctx))
    o.should_stop = [ctx, f = opts.should_stop] {
      return allreduce_max(ctx, std::int64_t(f && f())) != 0;
    };
  return o;
}

template <class T>
NeuralNmf<T> fit_prepared(const Context& ctx, const PreparedData<T>& X, const FitOptions& given,
                          NeuralNmf<T> (*make)(std::vector<Matrix<T>>, Matrix<T>, Optimized)) {
  const FitOptions opts = collective_stop(ctx, given);
  const index_t m = X.cols();
  std::unique_ptr<SupervisionData<T>> sup;
  Validation<T> val;
  if (opts.supervision) {
    // The held-out labels (FitOptions::validation_fraction) leave the supervision term.
    Supervision trained_on = *opts.supervision;
    val.columns = validation_columns(ctx, opts, trained_on, m);
    val.on = detail::allreduce_max(ctx, std::int64_t(!val.columns.empty())) != 0;  // on every process
    if (!val.columns.empty() && trained_on.known.empty()) trained_on.known.assign(static_cast<std::size_t>(m), 1);
    for (index_t j : val.columns) {
      trained_on.known[static_cast<std::size_t>(j)] = 0;
      val.labels.push_back(trained_on.labels[static_cast<std::size_t>(j)]);
    }
    val.patience = opts.validation_patience;
    sup = make_supervision<T>(ctx, trained_on, m);
  }
  // Masked when any process has a mask (one with no column has none to give): all take the
  // masked path; an empty mask is then all observed.
  DMatrix<T> mask;
  const bool masked = allreduce_max(ctx, std::int64_t(!opts.data_mask.empty())) != 0;
  if (masked) {
    Matrix<T> h(X.rows(), m);
    for (index_t q = 0; q < h.size(); ++q)
      h.data()[q] = opts.data_mask.empty() || opts.data_mask[static_cast<std::size_t>(q)] ? T(1) : T(0);
    mask = DMatrix<T>::upload(ctx, h.view());
  }
  std::unique_ptr<DPattern> held;
  if (!opts.held_out.none()) held = std::make_unique<DPattern>(ctx, opts.held_out);
  const Missing<T> maskp{masked ? &mask : nullptr, held.get()};
  Trainer<T> tr(ctx, X, opts.ranks, opts, sup.get(), maskp);

  Initialized<T> init = initial_factors<T>(ctx, X, opts, sup.get(), maskp);
  std::vector<DMatrix<T>>& A = init.A;
  const bool trained_B = sup && sup->mode == ClassifierMode::trained;
  State<T> cur = tr.make_state();
  DMatrix<T> B;
  if (trained_B) {
    // Start the trained classifier at the closed-form optimum of the initial factors.
    sup->mode = ClassifierMode::closed_form;
    tr.evaluate(A, nullptr, cur, nullptr);
    sup->mode = ClassifierMode::trained;
    B = clone<T>(ctx, cur.B.view());
  }
  Optimized trained;
  if (opts.on_phase) opts.on_phase("training", 0, opts.epochs);
  if (init.interrupted || (opts.should_stop && opts.should_stop())) {
    trained.reason = StopReason::interrupted;
    if (sup && !trained_B) tr.evaluate(A, nullptr, cur, nullptr);  // the classifier B
  } else {
    trained = optimize<T>(tr, A, trained_B ? &B : nullptr, opts, opts.epochs, cur,
                          val.on ? &val : nullptr);
  }
  std::vector<Matrix<T>> Ah;
  for (const auto& a : A) Ah.push_back(a.download());
  Matrix<T> Bh;
  if (sup) Bh = cur.B.download();
  return make(std::move(Ah), std::move(Bh), std::move(trained));
}

}  // namespace
}  // namespace detail

namespace detail {
namespace {

/// Dense X as trained on: a copy with the entries where W = 0 (data_mask, or held_out turned
/// into data_mask) set to 0, so that no held-out value is read; X itself when nothing is held out.
template <class T>
MatrixView<const T> observed(MatrixView<const T> X, FitOptions& o, Matrix<T>& copy) {
  if (!o.held_out.none()) {
    o.data_mask = o.held_out.to_mask();
    o.held_out = HeldOut{};
  }
  if (o.data_mask.empty()) return X;
  copy = Matrix<T>(X.rows, X.cols);
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t i = 0; i < X.rows; ++i)
      copy(i, j) = o.data_mask[static_cast<std::size_t>(i + j * X.rows)] ? X(i, j) : T(0);
  return copy.view();
}

}  // namespace
}  // namespace detail

template <class T>
NeuralNmf<T> NeuralNmf<T>::fit(const Context& ctx, MatrixView<const T> X, const FitOptions& opts) {
  FitOptions o = opts;
  Matrix<T> copy;
  MatrixView<const T> Xo = X;
  detail::all_or_none(ctx, [&] {
    detail::check_fit_options(opts, X.rows, X.cols, false);
    Xo = detail::observed(X, o, copy);
    detail::check_values(detail::kWho, "X", Xo, true, ctx.threads());
  });
  auto d = detail::prepare(ctx, Xo);
  return detail::fit_prepared<T>(ctx, *d, o, [](std::vector<Matrix<T>> A, Matrix<T> B, detail::Optimized h) {
    NeuralNmf<T> m = from_factors(std::move(A), std::move(B));
    m.history_ = std::move(h.history);
    m.stop_reason_ = h.reason;
    m.method_ = "neural";
    return m;
  });
}

template <class T>
NeuralNmf<T> NeuralNmf<T>::fit(const Context& ctx, const CscMatrix<T>& X, const FitOptions& opts) {
  CscMatrix<T> dropped;
  const CscMatrix<T>* Xo = &X;
  detail::all_or_none(ctx, [&] {
    detail::check_fit_options(opts, X.rows(), X.cols(), true);
    if (!opts.held_out.none()) Xo = &(dropped = drop_held_out(X, opts.held_out));
    detail::check_values(detail::kWho, "X", Xo->view(), true, ctx.threads());
  });
  auto d = detail::prepare(ctx, *Xo);
  return detail::fit_prepared<T>(ctx, *d, opts, [](std::vector<Matrix<T>> A, Matrix<T> B, detail::Optimized h) {
    NeuralNmf<T> m = from_factors(std::move(A), std::move(B));
    m.history_ = std::move(h.history);
    m.stop_reason_ = h.reason;
    m.method_ = "neural";
    return m;
  });
}

template NeuralNmf<float> NeuralNmf<float>::fit(const Context&, MatrixView<const float>, const FitOptions&);
template NeuralNmf<double> NeuralNmf<double>::fit(const Context&, MatrixView<const double>, const FitOptions&);
template NeuralNmf<float> NeuralNmf<float>::fit(const Context&, const CscMatrix<float>&, const FitOptions&);
template NeuralNmf<double> NeuralNmf<double>::fit(const Context&, const CscMatrix<double>&, const FitOptions&);

}  // namespace nnmf
