// The paper's baselines (include/nnmf/baselines.hpp): SSNMF by multiplicative updates,
// hierarchical NMF and Deep NMF, written once against the kernel interface (ops::) so that a
// fit runs entirely in the context's memory on the host or on CUDA.
#include "nnmf/baselines.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>

#include "core/data.hpp"
#include "core/missing_terms.hpp"
#include "core/nmf_internal.hpp"
#include "core/validate.hpp"
#include "nnmf/error.hpp"

namespace nnmf {

const char* to_string(SsnmfInit v) noexcept { return v == SsnmfInit::nmf ? "nmf" : "random"; }

namespace detail {

// Defined in nmf.cpp: rank in [1, min(N, m)], max_iter >= 1, rel_tol >= 0, mu_eps > 0.
void check_nmf_options(const char* who, const NmfOptions& o, index_t n, index_t m, index_t k);

namespace {

// ---- argument checks ---------------------------------------------------------------------------

const char* kSsnmf = "ssnmf";
const char* kHier = "hierarchical_nmf";
const char* kDeep = "deep_nmf";

[[noreturn]] void bad(const char* who, const std::string& msg) {
  throw InvalidArgument(std::string(who) + ": " + msg);
}

void check_finite_nonneg(const char* who, const char* name, double v) {
  if (!(v >= 0) || !std::isfinite(v))
    bad(who, std::string(name) + " must be finite and >= 0, got " + std::to_string(v));
}

/// Checks of this process's labels (its block of columns under MPI): lengths, ranges, flags.
void check_supervision(const char* who, const Supervision& s, index_t m) {
  check_label_counts(who, s, m);
  for (std::size_t j = 0; j < s.labels.size(); ++j) {
    if (s.labels[j] < 0 || (s.num_classes > 0 && s.labels[j] >= s.num_classes))
      bad(who, "label " + std::to_string(s.labels[j]) + " of column " + std::to_string(j) +
                   " is out of range [0, " + std::to_string(s.num_classes) + ")");
    if (!s.known.empty() && s.known[j] > 1)
      bad(who, "known mask entry " + std::to_string(int(s.known[j])) + " at column " +
                   std::to_string(j) + " is not 0 or 1");
  }
  check_finite_nonneg(who, "supervision lambda", s.lambda);
  if (s.loss != SupervisionLoss::l2)
    bad(who, "the multiplicative updates minimise the L2 label term; SupervisionLoss::cross_entropy "
             "is not supported");
}

/// The checks of the labels that span every process's block (a block may have no known label,
/// or no column): some column is known; returns the class count (the largest label + 1 over
/// all processes unless given). Collective, and the same verdict on every process.
int checked_classes(const Context& ctx, const char* who, const Supervision& s) {
  const std::int64_t known = allreduce_sum(
      ctx, s.known.empty() ? std::int64_t(s.labels.size())
                           : std::accumulate(s.known.begin(), s.known.end(), std::int64_t(0)));
  const std::int64_t maxl = allreduce_max(
      ctx, s.labels.empty() ? std::int64_t(-1) : *std::max_element(s.labels.begin(), s.labels.end()));
  if (maxl < 0) bad(who, "no labels");
  if (known == 0) bad(who, "the known mask marks no column as labelled");
  return s.num_classes > 0 ? s.num_classes : static_cast<int>(maxl) + 1;
}

void check_mask(const char* who, const std::vector<std::uint8_t>& mask, index_t n, index_t m,
                bool sparse) {
  if (mask.empty()) return;
  if (sparse)
    bad(who, "a missing-data mask needs dense X (a mask on sparse X would densify it); give the missing entries "
             "as held_out");
  if (static_cast<index_t>(mask.size()) != n * m)
    throw DimensionMismatch(std::string(who) + ": data_mask has " + std::to_string(mask.size()) +
                            " entries, X has " + shape_string(n, m) + " = " + std::to_string(n * m));
  for (std::size_t q = 0; q < mask.size(); ++q)
    if (mask[q] > 1) bad(who, "data_mask entry " + std::to_string(q) + " is not 0 or 1");
}

/// The missing entries of this process's n x m block: a 0/1 data_mask (dense X only) or a
/// held-out set (any X), not both.
void check_missing(const char* who, const std::vector<std::uint8_t>& mask, const HeldOut& held, index_t n,
                   index_t m, bool sparse) {
  if (!held.none()) {
    check_held_out(who, held, n, m);
    if (!mask.empty())
      bad(who, "data_mask and held_out are both given; give one (held_out, a sparse set of entries, works on "
               "dense and sparse X)");
  }
  check_mask(who, mask, n, m, sparse);
}

void check_ssnmf_options(const char* who, const SsnmfOptions& o) {
  if (o.max_iter < 1) bad(who, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
  check_finite_nonneg(who, "rel_tol", o.rel_tol);
  if (!(o.mu_eps > 0) || !std::isfinite(o.mu_eps)) bad(who, "mu_eps must be finite and > 0");
  if (o.init == SsnmfInit::nmf && o.init_iterations < 1)
    bad(who, "init_iterations must be >= 1, got " + std::to_string(o.init_iterations));
}

/// Columns of each layer: m, then ceil(m / pool) per pooling (pool <= 1: no pooling).
std::vector<index_t> layer_columns(index_t m, std::size_t layers, index_t pool) {
  std::vector<index_t> cols{m};
  for (std::size_t l = 1; l < layers; ++l) {
    const index_t prev = cols.back();
    cols.push_back(pool > 1 ? (prev + pool - 1) / pool : prev);
  }
  return cols;
}

void check_ranks(const char* who, const std::vector<index_t>& ranks, index_t n,
                 const std::vector<index_t>& cols) {
  if (ranks.empty()) bad(who, "ranks is empty; give at least one rank k0");
  for (std::size_t l = 0; l < ranks.size(); ++l) {
    const index_t k = ranks[l];
    const std::string name = "rank k" + std::to_string(l) + " = " + std::to_string(k);
    if (k < 1) bad(who, name + " must be >= 1");
    const index_t above = l == 0 ? n : ranks[l - 1];
    if (k > above)
      bad(who, name + " exceeds " +
                   (l == 0 ? std::string("the number of rows of X, N = ")
                           : "the rank of the layer above, k" + std::to_string(l - 1) + " = ") +
                   std::to_string(above) + "; ranks must satisfy N >= k0 >= k1 >= ...");
    if (k > cols[l])
      bad(who, name + " exceeds the " + std::to_string(cols[l]) + " columns of layer " +
                   std::to_string(l) + (l == 0 ? " (X)" : " (after pooling)"));
  }
}

// ---- data in the context's memory -------------------------------------------------------------

/// Labels of the supervision term: known-column weights (1 x m) and one-hot labels with the
/// unknown columns zeroed (c x m).
template <class T>
struct Labels {
  int classes = 0;
  double lambda = 1;
  DMatrix<T> w, Yw;
};

/// The labels of @p s (this process's columns) in the context's memory, with the class count of
/// all processes (collective).
template <class T>
std::unique_ptr<Labels<T>> upload_labels(const Context& ctx, const char* who, const Supervision& s) {
  auto d = std::make_unique<Labels<T>>();
  const std::vector<int>& labels = s.labels;
  const std::vector<std::uint8_t>& known = s.known;
  const index_t m = static_cast<index_t>(labels.size());
  const int classes = checked_classes(ctx, who, s);
  d->classes = classes;
  d->lambda = s.lambda;
  Matrix<T> w(1, m), Yw(classes, m);
  for (index_t j = 0; j < m; ++j) {
    const bool k = known.empty() || known[static_cast<std::size_t>(j)];
    w(0, j) = k ? T(1) : T(0);
    if (k) Yw(labels[static_cast<std::size_t>(j)], j) = T(1);
  }
  d->w = DMatrix<T>::upload(ctx, w.view());
  d->Yw = DMatrix<T>::upload(ctx, Yw.view());
  return d;
}

/// A dense matrix of the context as the data operand of a layer.
template <class T>
std::unique_ptr<PreparedData<T>> prepared_view(const Context& ctx, const DMatrix<T>& S) {
  auto d = std::make_unique<PreparedData<T>>();
  d->op.dense = S.view();
  d->sqnorm = ops::sqnorm<T>(ctx, S.view());
  DMatrix<T> ones(ctx, S.rows(), S.cols());
  ops::fill<T>(ctx, ones.size(), T(1), ones.data());
  d->sum = ops::dot<T>(ctx, ones.view(), S.view());
  finish_prepare(ctx, *d);
  return d;
}

/// Mean of the entries of a matrix of the context whose columns are this process's block of
/// @p total_cols columns (the mean over all processes).
template <class T>
double mean_of(const Context& ctx, const DMatrix<T>& M, index_t total_cols) {
  DMatrix<T> ones(ctx, M.rows(), M.cols());
  ops::fill<T>(ctx, ones.size(), T(1), ones.data());
  const double sum = allreduce_sum(ctx, M.size() ? ops::dot<T>(ctx, ones.view(), M.view()) : 0.0);
  const index_t count = M.rows() * total_cols;
  return count ? sum / double(count) : 0.0;
}

/// Entries below floor set to floor (multiplicative updates cannot leave an exact zero); the
/// floor is rel times the mean entry. @p total_cols >= 0: M is a block of columns of a matrix
/// of that many (the mean over all processes); -1: M is replicated.
template <class T>
void lift_zeros(const Context& ctx, DMatrix<T>& M, double rel, index_t total_cols = -1) {
  Matrix<T> h = M.download();
  double mean = 0;
  for (T v : h.storage()) mean += v;
  index_t count = h.size();
  if (total_cols >= 0) {
    mean = allreduce_sum(ctx, mean);
    count = h.rows() * total_cols;
  }
  mean = count ? mean / double(count) : 0;
  const T floor = static_cast<T>(rel * mean);
  if (!(floor > T(0))) return;
  for (T& v : h.storage()) v = std::max(v, floor);
  M = DMatrix<T>::upload(ctx, h.view());
}

// ---- SSNMF -----------------------------------------------------------------------------------

template <class T>
struct SsnmfState {
  DMatrix<T> A, S, B;
  std::vector<double> objective;
  int iterations = 0;
};

/// Multiplicative updates of the B factor only (c x k), from P = B S.
template <class T>
struct ClassifierUpdate {
  ClassifierUpdate(const Context& ctx, const Labels<T>& lab, index_t k, index_t m)
      : ctx_(ctx), lab_(lab), P(ctx, lab.classes, m), Pw(ctx, lab.classes, m),
        N(ctx, lab.classes, k), D(ctx, lab.classes, k) {}
  /// P = B S, Pw = Z (.) P.
  void predict(const DMatrix<T>& B, const DMatrix<T>& S) {
    ops::gemm<T>(ctx_, Trans::N, Trans::N, T(1), B.view(), S.view(), T(0), P.view());
    ops::copy<T>(ctx_, P.view(), Pw.view());
    ops::scale_columns<T>(ctx_, Pw.view(), lab_.w.data());
  }
  /// B <- B (.) [(Z(.)Y) S^T] / [(Z(.)(B S)) S^T].
  void step(DMatrix<T>& B, const DMatrix<T>& S, T eps) {
    predict(B, S);
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), lab_.Yw.view(), S.view(), T(0), N.view());
    ops::gemm<T>(ctx_, Trans::N, Trans::T, T(1), Pw.view(), S.view(), T(0), D.view());
    allreduce_sum<T>(ctx_, {N.view(), D.view()});  // sums over the columns
    ops::mu_update<T>(ctx_, B.size(), B.data(), N.data(), D.data(), eps);
  }
  /// lambda ||Z (.) (Y - B S)||^2 over all processes' columns (P from predict()).
  double loss() {
    DMatrix<T> R(ctx_, P.rows(), P.cols());
    ops::masked_residual<T>(ctx_, lab_.Yw.view(), P.view(), lab_.w.data(), R.view());
    return lab_.lambda * allreduce_sum(ctx_, ops::sqnorm<T>(ctx_, R.view()));
  }
  /// num += lambda B^T (Z(.)Y), den += lambda B^T (Z(.)(B S)) (after predict()).
  void add_to_s_update(const DMatrix<T>& B, DMatrix<T>& num, DMatrix<T>& den) {
    const T lam = static_cast<T>(lab_.lambda);
    ops::gemm<T>(ctx_, Trans::T, Trans::N, lam, B.view(), lab_.Yw.view(), T(1), num.view());
    ops::gemm<T>(ctx_, Trans::T, Trans::N, lam, B.view(), Pw.view(), T(1), den.view());
  }

  Context ctx_;
  const Labels<T>& lab_;
  DMatrix<T> P, Pw, N, D;
};

/// A seeded positive classifier at the scale of S (B S about as large as one-hot Y).
template <class T>
DMatrix<T> initial_classifier(const Context& ctx, const DMatrix<T>& S, index_t total_cols, int classes,
                              Rng& rng) {
  const index_t k = S.rows();
  const double ms = mean_of(ctx, S, total_cols);
  const double scale = ms > 0 ? 2.0 / (double(classes) * double(k) * ms) : 1.0;
  return random_matrix<T>(ctx, classes, k, scale, rng);
}

/// Scale of the observed entries of X: its mean, or with missing entries the mean of the
/// observed ones (X holds zeros there); over all processes.
template <class T>
double observed_mean(const PreparedData<T>& X, const MissingTerms<T>* miss) {
  if (!miss) return X.mean();
  return miss->observed() > 0 ? X.sum / miss->observed() : 0.0;
}

/// SSNMF's starting A and S (this process's columns): NMF, or seeded uniform entries drawn as
/// for the whole matrix (each column the same numbers whatever the split); @p rng is left
/// after all of them, where the classifier's draws begin.
template <class T>
void ssnmf_start(const Context& ctx, const PreparedData<T>& X, index_t k, const MissingTerms<T>* miss,
                 const SsnmfOptions& o, SsnmfState<T>& st, Rng& rng) {
  if (o.init == SsnmfInit::nmf) {
    NmfOptions no;
    no.algorithm = NmfAlgorithm::anls;
    no.init = NmfInit::nndsvd;
    no.max_iter = o.init_iterations;
    no.seed = o.seed;
    NmfState<T> s0 = nmf_on_backend<T>(ctx, X, k, no, nullptr);
    st.A = std::move(s0.W);
    st.S = std::move(s0.H);
    lift_zeros(ctx, st.A, 1e-3);
    lift_zeros(ctx, st.S, 1e-3, X.total_cols);
    return;
  }
  const double scale = std::sqrt(std::max(observed_mean(X, miss), 1e-300) / double(k));
  st.A = random_matrix<T>(ctx, X.rows(), k, scale, rng);
  st.S = random_columns<T>(ctx, k, X.cols(), X.first_col, scale, rng);
  rng.skip(static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(X.total_cols - X.first_col - X.cols()));
}

/// The scratch of SSNMF's iterations: k x k, k x m (this process's columns) and n x k.
template <class T>
struct SsnmfWork {
  SsnmfWork(const Context& ctx, index_t n, index_t k, index_t m)
      : G(ctx, k, k), H(ctx, k, k), C(ctx, k, m), GS(ctx, k, m), R(ctx, n, k), AH(ctx, n, k) {}
  DMatrix<T> G, H, C, GS, R, AH;
};

/// S <- S (.) [A^T (W(.)X) + lambda B^T (Z(.)Y)] / [A^T (W(.)(A S)) + lambda B^T (Z(.)(B S))]:
/// per column, no reduction (A^T A is replicated).
template <class T>
void ssnmf_update_s(const Context& ctx, const PreparedData<T>& X, SsnmfState<T>& st, MissingTerms<T>* miss,
                    ClassifierUpdate<T>* cls, SsnmfWork<T>& w, T eps) {
  if (miss) {
    miss->s_terms(st.A, st.S, w.C, w.GS);
  } else {
    ops::at_x<T>(ctx, T(1), st.A.view(), X.op, T(0), w.C.view());
    ops::gram<T>(ctx, st.A.view(), w.G.view());
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), w.G.view(), st.S.view(), T(0), w.GS.view());
  }
  if (cls) {
    cls->predict(st.B, st.S);
    cls->add_to_s_update(st.B, w.C, w.GS);
  }
  ops::mu_update<T>(ctx, st.S.size(), st.S.data(), w.C.data(), w.GS.data(), eps);
}

/// A <- A (.) [(W(.)X) S^T] / [(W(.)(A S)) S^T], from the sums over all processes' columns.
/// Leaves R = X S^T and H = S S^T (without a mask) for the objective.
template <class T>
void ssnmf_update_a(const Context& ctx, const PreparedData<T>& X, SsnmfState<T>& st, MissingTerms<T>* miss,
                    SsnmfWork<T>& w, T eps) {
  if (miss) {
    miss->a_terms(st.A, st.S, w.R, w.AH);
  } else {
    ops::x_zt<T>(ctx, T(1), X.op, st.S.view(), T(0), w.R.view());
    ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), st.S.view(), st.S.view(), T(0), w.H.view());
    allreduce_sum<T>(ctx, {w.R.view(), w.H.view()});
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), st.A.view(), w.H.view(), T(0), w.AH.view());
  }
  ops::mu_update<T>(ctx, st.A.size(), st.A.data(), w.R.data(), w.AH.data(), eps);
}

/// The SSNMF objective after an iteration (R and H from ssnmf_update_a).
template <class T>
double ssnmf_objective(const Context& ctx, const PreparedData<T>& X, SsnmfState<T>& st, MissingTerms<T>* miss,
                       ClassifierUpdate<T>* cls, SsnmfWork<T>& w) {
  double f;
  if (miss) {
    f = miss->residual(st.A, st.S);
  } else {
    // ||X - A S||^2 = ||X||^2 - 2 <A, X S^T> + <A^T A, S S^T>; R and H hold this S.
    ops::gram<T>(ctx, st.A.view(), w.G.view());
    f = std::max(X.sqnorm - 2 * ops::dot<T>(ctx, st.A.view(), w.R.view()) +
                     ops::dot<T>(ctx, w.G.view(), w.H.view()),
                 0.0);
  }
  if (cls) {
    cls->predict(st.B, st.S);
    f += cls->loss();
  }
  return f;
}

/// SSNMF of prepared data. miss: the terms of the missing entries (dense mask or held-out set)
/// or null.
/// With several processes each holds its columns of X, S, the labels and W; A and B are
/// replicated, and every sum over the columns is all-reduced (docs/mpi.md).
template <class T>
SsnmfState<T> ssnmf_on_backend(const Context& ctx, const PreparedData<T>& X, index_t k,
                               const Labels<T>* lab, MissingTerms<T>* miss, const SsnmfOptions& o) {
  const index_t n = X.rows(), m = X.cols();
  const T eps = static_cast<T>(o.mu_eps);
  SsnmfState<T> st;
  Rng rng(o.seed);
  ssnmf_start(ctx, X, k, miss, o, st, rng);
  std::unique_ptr<ClassifierUpdate<T>> cls;
  if (lab) {
    cls = std::make_unique<ClassifierUpdate<T>>(ctx, *lab, k, m);
    st.B = initial_classifier(ctx, st.S, X.total_cols, lab->classes, rng);
    // From an NMF start, fit B to that S before S moves: a random B would pull S at random.
    if (o.init == SsnmfInit::nmf)
      for (int it = 0; it < 50; ++it) cls->step(st.B, st.S, eps);
  }
  SsnmfWork<T> w(ctx, n, k, m);
  double prev = std::numeric_limits<double>::infinity();
  for (int it = 1; it <= o.max_iter; ++it) {
    ssnmf_update_s(ctx, X, st, miss, cls.get(), w, eps);
    ssnmf_update_a(ctx, X, st, miss, w, eps);
    if (cls) cls->step(st.B, st.S, eps);  // B <- B (.) [(Z(.)Y) S^T] / [(Z(.)(B S)) S^T]
    const double f = ssnmf_objective(ctx, X, st, miss, cls.get(), w);
    st.objective.push_back(f);
    st.iterations = it;
    if (o.rel_tol > 0 && std::isfinite(prev) && prev - f <= o.rel_tol * prev) break;
    prev = f;
  }
  return st;
}

// ---- layer helpers ----------------------------------------------------------------------------

/// Rescales layer l so that P(l) = P(l-1) A(l) (A(0) for l = 0) has unit-norm columns:
/// A(l) <- A(l) D^-1, S(l) <- D S(l), B <- B D^-1. Returns P(l).
template <class T>
DMatrix<T> normalize_layer(const Context& ctx, const DMatrix<T>* Pprev, DMatrix<T>& A,
                           DMatrix<T>& S, DMatrix<T>* B) {
  const index_t k = A.cols();
  DMatrix<T> P(ctx, Pprev ? Pprev->rows() : A.rows(), k);
  if (Pprev)
    ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), Pprev->view(), A.view(), T(0), P.view());
  else
    ops::copy<T>(ctx, A.view(), P.view());
  DMatrix<T> G(ctx, k, k);
  ops::gram<T>(ctx, P.view(), G.view());
  const Matrix<T> Gh = G.download();
  Matrix<T> inv(1, k), D(k, k);
  for (index_t j = 0; j < k; ++j) {
    const double nrm = std::sqrt(std::max(double(Gh(j, j)), 0.0));
    inv(0, j) = nrm > 0 ? static_cast<T>(1 / nrm) : T(1);
    D(j, j) = nrm > 0 ? static_cast<T>(nrm) : T(1);
  }
  const DMatrix<T> dinv = DMatrix<T>::upload(ctx, inv.view()), Dd = DMatrix<T>::upload(ctx, D.view());
  ops::scale_columns<T>(ctx, A.view(), dinv.data());
  ops::scale_columns<T>(ctx, P.view(), dinv.data());
  if (B && B->size()) ops::scale_columns<T>(ctx, B->view(), dinv.data());
  DMatrix<T> S2(ctx, S.rows(), S.cols());
  ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), Dd.view(), S.view(), T(0), S2.view());
  S = std::move(S2);
  return P;
}

/// Group pointers of windows of @p pool consecutive columns out of m (context memory).
Buffer<index_t> window_groups(const Context& ctx, index_t m, index_t pool) {
  const index_t G = (m + pool - 1) / pool;
  std::vector<index_t> ptr(static_cast<std::size_t>(G + 1));
  for (index_t g = 0; g <= G; ++g) ptr[static_cast<std::size_t>(g)] = std::min(g * pool, m);
  Buffer<index_t> b(ctx, ptr.size());
  b.upload(ptr.data(), ptr.size());
  return b;
}

/// Everything a multilayer forward pass produces, in the context's memory.
template <class T>
struct Layers {
  std::vector<DMatrix<T>> A, S;
  DMatrix<T> B;
  std::vector<double> layer_objective;
};

/// Forward pass of hierarchical NMF (pool <= 1) and Deep NMF: layer l factors X(l) (X, then
/// S(l-1) or its pooling) by NMF, or by SSNMF at the last layer with labels, or by masked MU
/// at layer 0 with missing entries (miss).
template <class T>
Layers<T> forward_layers(const Context& ctx, const PreparedData<T>& X, const std::vector<index_t>& ranks,
                         index_t pool, const Labels<T>* lab, MissingTerms<T>* miss, NmfOptions nmf_o,
                         SsnmfOptions ss_o, bool normalize, std::uint64_t seed) {
  const std::size_t L = ranks.size();
  Layers<T> out;
  const PreparedData<T>* input = &X;
  std::unique_ptr<PreparedData<T>> layer_data;
  DMatrix<T> pooled, Pprev;
  for (std::size_t l = 0; l < L; ++l) {
    const index_t k = ranks[l];
    const std::uint64_t s = seed + 1000003ull * l;
    const bool last = l + 1 == L;
    MissingTerms<T>* mask = l == 0 ? miss : nullptr;
    DMatrix<T> A, S, B;
    double obj;
    if ((last && lab) || mask) {
      ss_o.seed = s;
      SsnmfState<T> st = ssnmf_on_backend<T>(ctx, *input, k, last ? lab : nullptr, mask, ss_o);
      A = std::move(st.A);
      S = std::move(st.S);
      B = std::move(st.B);
      obj = st.objective.back();
    } else {
      nmf_o.seed = s;
      NmfState<T> st = nmf_on_backend<T>(ctx, *input, k, nmf_o, nullptr);
      A = std::move(st.W);
      S = std::move(st.H);
      obj = st.objective.back();
    }
    if (normalize) Pprev = normalize_layer<T>(ctx, l == 0 ? nullptr : &Pprev, A, S, &B);
    out.layer_objective.push_back(obj);
    out.A.push_back(std::move(A));
    out.S.push_back(std::move(S));
    if (last) {
      out.B = std::move(B);
    } else {
      const DMatrix<T>& Sl = out.S.back();
      if (pool > 1) {
        const Buffer<index_t> ptr = window_groups(ctx, Sl.cols(), pool);
        const index_t G = static_cast<index_t>(ptr.size()) - 1;
        pooled = DMatrix<T>(ctx, k, G);
        Buffer<index_t> arg(ctx, static_cast<std::size_t>(k * G));
        ops::max_pool_cols<T>(ctx, Sl.view(), ptr.data(), pooled.view(), arg.data());
        layer_data = prepared_view<T>(ctx, pooled);
      } else {
        layer_data = prepared_view<T>(ctx, Sl);
      }
      input = layer_data.get();
    }
  }
  return out;
}

template <class T>
MultilayerResult<T> download(Layers<T>&& f) {
  MultilayerResult<T> r;
  for (const auto& a : f.A) r.A.push_back(a.download());
  for (const auto& s : f.S) r.S.push_back(s.download());
  if (f.B.size()) r.B = f.B.download();
  r.layer_objective = std::move(f.layer_objective);
  return r;
}

// ---- Deep NMF backward pass ---------------------------------------------------------------------

/// Multiplicative updates of E = ||W(.)(X - A0 S0)||^2 + sum_l ||p(S(l-1)) - Al Sl||^2
/// + lambda ||Z(.)(Y - B SL)||^2 over every factor, Gauss-Seidel from layer 0 to L, then B.
template <class T>
std::vector<double> deep_backward(const Context& ctx, const PreparedData<T>& X, Layers<T>& f,
                                  index_t pool, const Labels<T>* lab, MissingTerms<T>* miss,
                                  const DeepNmfOptions& o) {
  const std::size_t L = f.A.size();
  const T eps = static_cast<T>(o.mu_eps);
  const bool pooling = pool > 1;
  // X(l) for l >= 1: p(S(l-1)) (pooled copy with its argmax columns) or S(l-1) itself.
  std::vector<DMatrix<T>> P(L);
  std::vector<Buffer<index_t>> arg(L), ptr(L);
  auto input = [&](std::size_t l) -> const DMatrix<T>& { return pooling ? P[l] : f.S[l - 1]; };
  auto repool = [&](std::size_t l) {  // P(l) = p(S(l-1))
    if (pooling)
      ops::max_pool_cols<T>(ctx, f.S[l - 1].view(), ptr[l].data(), P[l].view(), arg[l].data());
  };
  for (std::size_t l = 1; l < L && pooling; ++l) {
    ptr[l] = window_groups(ctx, f.S[l - 1].cols(), pool);
    const index_t G = static_cast<index_t>(ptr[l].size()) - 1;
    P[l] = DMatrix<T>(ctx, f.S[l - 1].rows(), G);
    arg[l] = Buffer<index_t>(ctx, static_cast<std::size_t>(f.S[l - 1].rows() * G));
    repool(l);
  }
  std::unique_ptr<ClassifierUpdate<T>> cls;
  if (lab) cls = std::make_unique<ClassifierUpdate<T>>(ctx, *lab, f.A.back().cols(), f.S.back().cols());

  std::vector<double> history;
  double prev = std::numeric_limits<double>::infinity();
  for (int it = 1; it <= o.max_iter; ++it) {
    double E = 0;
    for (std::size_t l = 0; l < L; ++l) {
      DMatrix<T>& A = f.A[l];
      DMatrix<T>& S = f.S[l];
      const index_t rows = A.rows(), k = A.cols(), cols = S.cols();
      // A(l) <- A(l) (.) [X(l) S(l)^T] / [A(l) S(l) S(l)^T]
      DMatrix<T> num_a(ctx, rows, k), den_a(ctx, rows, k), H(ctx, k, k), G(ctx, k, k);
      if (l == 0 && miss) {
        miss->a_terms(A, S, num_a, den_a);
      } else {
        if (l == 0)
          ops::x_zt<T>(ctx, T(1), X.op, S.view(), T(0), num_a.view());
        else
          ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), input(l).view(), S.view(), T(0), num_a.view());
        ops::gemm<T>(ctx, Trans::N, Trans::T, T(1), S.view(), S.view(), T(0), H.view());
        allreduce_sum<T>(ctx, {num_a.view(), H.view()});
        ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), A.view(), H.view(), T(0), den_a.view());
      }
      ops::mu_update<T>(ctx, A.size(), A.data(), num_a.data(), den_a.data(), eps);
      // S(l) <- S(l) (.) [A^T X(l) + J^T (A(l+1) S(l+1)) (+ labels)]
      //                 / [A^T A S(l) + J^T p(S(l)) (+ labels)]
      DMatrix<T> C(ctx, k, cols), num_s(ctx, k, cols), den_s(ctx, k, cols);
      if (l == 0 && miss) {
        miss->s_terms(A, S, C, den_s);
      } else {
        if (l == 0)
          ops::at_x<T>(ctx, T(1), A.view(), X.op, T(0), C.view());
        else
          ops::gemm<T>(ctx, Trans::T, Trans::N, T(1), A.view(), input(l).view(), T(0), C.view());
        ops::gram<T>(ctx, A.view(), G.view());
        ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), G.view(), S.view(), T(0), den_s.view());
      }
      ops::copy<T>(ctx, C.view(), num_s.view());
      if (l + 1 < L) {
        // The next layer's term ||p(S(l)) - A(l+1) S(l+1)||^2 through the pooling Jacobian.
        const DMatrix<T>& An = f.A[l + 1];
        const DMatrix<T>& Sn = f.S[l + 1];
        DMatrix<T> Q(ctx, An.rows(), Sn.cols());  // k(l) x m(l+1)
        ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), An.view(), Sn.view(), T(0), Q.view());
        if (pooling) {
          ops::max_pool_cols_backward<T>(ctx, Q.view(), arg[l + 1].data(), T(1), num_s.view());
          ops::max_pool_cols_backward<T>(ctx, P[l + 1].view(), arg[l + 1].data(), T(1), den_s.view());
        } else {
          ops::axpy<T>(ctx, T(1), Q.view(), num_s.view());
          ops::axpy<T>(ctx, T(1), S.view(), den_s.view());
        }
      }
      if (l + 1 == L && cls) {
        cls->predict(f.B, S);
        cls->add_to_s_update(f.B, num_s, den_s);
      }
      ops::mu_update<T>(ctx, S.size(), S.data(), num_s.data(), den_s.data(), eps);
      if (l + 1 < L) repool(l + 1);
      // This layer's term of E at the updated A(l), S(l) (later layers do not change it).
      if (l == 0 && miss) {
        E += miss->residual(A, S);
      } else if (l == 0) {
        // ||X||^2 - 2 <A^T X, S> + <A^T A S, S>, with C and G at the updated A.
        ops::gemm<T>(ctx, Trans::N, Trans::N, T(1), G.view(), S.view(), T(0), den_s.view());
        double dots[2] = {ops::dot<T>(ctx, C.view(), S.view()), ops::dot<T>(ctx, den_s.view(), S.view())};
        allreduce_sum(ctx, dots, 2);
        E += std::max(X.sqnorm - 2 * dots[0] + dots[1], 0.0);
      } else {
        DMatrix<T> R = clone<T>(ctx, input(l).view());
        ops::gemm<T>(ctx, Trans::N, Trans::N, T(-1), A.view(), S.view(), T(1), R.view());
        E += allreduce_sum(ctx, ops::sqnorm<T>(ctx, R.view()));
      }
    }
    if (cls) {
      cls->step(f.B, f.S.back(), eps);
      cls->predict(f.B, f.S.back());
      E += cls->loss();
    }
    history.push_back(E);
    if (o.rel_tol > 0 && std::isfinite(prev) && prev - E <= o.rel_tol * prev) break;
    prev = E;
  }
  return history;
}

// ---- entry points on prepared data ------------------------------------------------------------

/// The missing entries of a fit: a dense 0/1 mask (column-major n x m, dense X) or a held-out
/// set (sparse X; on dense X it becomes the mask), as the options give them.
struct Missing {
  std::vector<std::uint8_t> mask;
  HeldOut held;
};

template <class T>
SsnmfResult<T> run_ssnmf(const Context& ctx, const PreparedData<T>& X, index_t k, const SsnmfOptions& o,
                         const Missing& missing) {
  std::unique_ptr<Labels<T>> lab;
  if (o.supervision) lab = upload_labels<T>(ctx, kSsnmf, *o.supervision);
  const auto miss = missing_terms<T>(ctx, X, missing.mask, missing.held);
  SsnmfState<T> st = ssnmf_on_backend<T>(ctx, X, k, lab.get(), miss.get(), o);
  SsnmfResult<T> r;
  r.A = st.A.download();
  r.S = st.S.download();
  if (lab) r.B = st.B.download();
  r.objective = std::move(st.objective);
  r.iterations = st.iterations;
  return r;
}

/// The rank against X's N rows and m columns (all processes').
void check_ssnmf_rank(index_t n, index_t m, index_t k) {
  if (k < 1 || k > std::min(n, m))
    bad(kSsnmf, "rank k = " + std::to_string(k) + " must lie in [1, min(N, m)] = [1, " +
                    std::to_string(std::min(n, m)) + "] for X (" + shape_string(n, m) + ")");
}

/// This process's labels and mask against its m columns.
void check_ssnmf_block(index_t n, index_t m, bool sparse, const SsnmfOptions& o) {
  if (o.supervision) check_supervision(kSsnmf, *o.supervision, m);
  check_missing(kSsnmf, o.data_mask, o.held_out, n, m, sparse);
}

template <class T>
MultilayerResult<T> run_hierarchical(const Context& ctx, const PreparedData<T>& X,
                                     const HierarchicalNmfOptions& o, const Missing& missing) {
  std::unique_ptr<Labels<T>> lab;
  if (o.supervision) lab = upload_labels<T>(ctx, kHier, *o.supervision);
  const auto miss = missing_terms<T>(ctx, X, missing.mask, missing.held);
  Layers<T> f = forward_layers<T>(ctx, X, o.ranks, 0, lab.get(), miss.get(), o.nmf, o.ssnmf, o.normalize, o.seed);
  return download(std::move(f));
}

/// This process's labels and held-out set against its m columns.
void check_hierarchical_block(index_t n, index_t m, bool sparse, const HierarchicalNmfOptions& o) {
  if (o.supervision) check_supervision(kHier, *o.supervision, m);
  check_missing(kHier, {}, o.held_out, n, m, sparse);
}

/// The ranks and options against X's N rows and m columns (all processes').
void check_hierarchical(index_t n, index_t m, const HierarchicalNmfOptions& o) {
  const std::vector<index_t> cols(o.ranks.size(), m);
  check_ranks(kHier, o.ranks, n, cols);
  check_nmf_options(kHier, o.nmf, n, m, o.ranks[0]);
  check_ssnmf_options(kHier, o.ssnmf);
}

/// Labels of the last layer's groups (pool^(L-1) consecutive columns), checked to agree.
Supervision group_supervision(const Supervision& s, index_t window, index_t groups) {
  if (window <= 1) return s;
  Supervision g = s;
  g.labels.assign(static_cast<std::size_t>(groups), 0);
  if (!s.known.empty()) g.known.assign(static_cast<std::size_t>(groups), 0);
  const index_t m = static_cast<index_t>(s.labels.size());
  for (index_t q = 0; q < groups; ++q) {
    const index_t j0 = q * window, j1 = std::min(m, j0 + window);
    const std::size_t u0 = static_cast<std::size_t>(j0);
    for (index_t j = j0 + 1; j < j1; ++j) {
      const std::size_t u = static_cast<std::size_t>(j);
      if (s.labels[u] != s.labels[u0] || (!s.known.empty() && s.known[u] != s.known[u0]))
        bad(kDeep, "pooled group " + std::to_string(q) + " (columns " + std::to_string(j0) + ".." +
                       std::to_string(j1 - 1) + " of X) mixes labels or known flags (column " +
                       std::to_string(j0) + ": label " + std::to_string(s.labels[u0]) + ", column " +
                       std::to_string(j) + ": label " + std::to_string(s.labels[u]) +
                       "); each group must share one label");
    }
    g.labels[static_cast<std::size_t>(q)] = s.labels[u0];
    if (!s.known.empty()) g.known[static_cast<std::size_t>(q)] = s.known[u0];
  }
  return g;
}

index_t ipow(index_t a, std::size_t e) {
  index_t r = 1;
  for (std::size_t q = 0; q < e; ++q) r *= a;
  return r;
}

/// The ranks and options against X's N rows and m columns (all processes').
void check_deep(index_t n, index_t m, const DeepNmfOptions& o) {
  if (o.pool < 0) bad(kDeep, "pool must be >= 0 (0 or 1: no pooling), got " + std::to_string(o.pool));
  const auto cols = layer_columns(m, std::max<std::size_t>(o.ranks.size(), 1), o.pool);
  check_ranks(kDeep, o.ranks, n, cols);
  check_nmf_options(kDeep, o.forward, n, m, o.ranks[0]);
  check_ssnmf_options(kDeep, o.ssnmf);
  if (o.max_iter < 0) bad(kDeep, "max_iter must be >= 0, got " + std::to_string(o.max_iter));
  check_finite_nonneg(kDeep, "rel_tol", o.rel_tol);
  if (!(o.mu_eps > 0) || !std::isfinite(o.mu_eps)) bad(kDeep, "mu_eps must be finite and > 0");
}

/// This process's mask and labels against its m columns (with pooling, its groups' labels).
void check_deep_block(index_t n, index_t m, bool sparse, const DeepNmfOptions& o) {
  check_missing(kDeep, o.data_mask, o.held_out, n, m, sparse);
  if (!o.supervision) return;
  check_supervision(kDeep, *o.supervision, m);
  if (o.pool > 1 && !o.ranks.empty()) {
    const auto cols = layer_columns(m, o.ranks.size(), o.pool);
    group_supervision(*o.supervision, ipow(o.pool, o.ranks.size() - 1), cols.back());
  }
}

/// With pooling over several processes, the pooled groups (pool^(L-1) consecutive columns)
/// must not straddle two processes: every nonempty block starts at a multiple of the window.
template <class T>
void check_deep_split(const Context& ctx, const PreparedData<T>& X, const DeepNmfOptions& o) {
  if (!distributed(ctx) || o.pool <= 1) return;
  const index_t window = ipow(o.pool, o.ranks.size() - 1);
  const bool off = X.cols() > 0 && X.first_col % window != 0;
  if (allreduce_max(ctx, std::int64_t(off)) != 0)
    bad(kDeep, "with pool = " + std::to_string(o.pool) + " and " + std::to_string(o.ranks.size()) +
                   " layers every process's block of columns must start at a multiple of " +
                   std::to_string(window) + " (a pooled group may not span two processes)");
}

template <class T>
MultilayerResult<T> run_deep(const Context& ctx, const PreparedData<T>& X, const DeepNmfOptions& o,
                             const Missing& missing) {
  const index_t m = X.cols(), pool = o.pool > 1 ? o.pool : 0;
  const auto cols = layer_columns(m, o.ranks.size(), pool);
  std::unique_ptr<Labels<T>> lab;
  if (o.supervision) {
    const Supervision s = group_supervision(*o.supervision, pool ? ipow(pool, o.ranks.size() - 1) : 1, cols.back());
    lab = upload_labels<T>(ctx, kDeep, s);
  }
  const auto miss = missing_terms<T>(ctx, X, missing.mask, missing.held);
  Layers<T> f = forward_layers<T>(ctx, X, o.ranks, pool, lab.get(), miss.get(), o.forward, o.ssnmf, o.normalize,
                                  o.seed);
  std::vector<double> hist;
  if (o.max_iter > 0) hist = deep_backward<T>(ctx, X, f, pool, lab.get(), miss.get(), o);
  const int iters = static_cast<int>(hist.size());
  MultilayerResult<T> r = download(std::move(f));
  r.objective = std::move(hist);
  r.iterations = iters;
  return r;
}

/// Dense X as fitted: a held-out set turned into the mask, and with a mask a copy of X whose
/// masked entries are 0, so that nothing (the NMF start included) reads them.
template <class T>
MatrixView<const T> observed(MatrixView<const T> X, Missing& miss, Matrix<T>& copy) {
  if (!miss.held.none()) {
    miss.mask = miss.held.to_mask();
    miss.held = HeldOut{};
  }
  if (miss.mask.empty()) return X;
  copy = Matrix<T>(X.rows, X.cols);
  for (index_t j = 0; j < X.cols; ++j)
    for (index_t i = 0; i < X.rows; ++i)
      copy(i, j) = miss.mask[static_cast<std::size_t>(i + j * X.rows)] ? X(i, j) : T(0);
  return copy.view();
}

/// X in the context's memory after @p block_checks (this process's labels and missing entries)
/// and the check of X's observed values ran on every process at once: one failing makes all
/// throw (the others PeerError), so that none waits in a reduction (docs/mpi.md). Dense X with
/// missing entries is fitted as @p copy (observed()); @p miss may turn into a mask there.
template <class T>
std::unique_ptr<PreparedData<T>> checked_data(const Context& ctx, const char* who, MatrixView<const T> X,
                                              Missing& miss, Matrix<T>& copy,
                                              const std::function<void()>& block_checks) {
  MatrixView<const T> Xo = X;
  all_or_none(ctx, [&] {
    block_checks();
    Xo = observed(X, miss, copy);
    check_values(who, "X", Xo, true, ctx.threads());
  });
  return prepare(ctx, Xo);
}

/// As above for sparse X, fitted without the held-out entries (@p dropped).
template <class T>
std::unique_ptr<PreparedData<T>> checked_data(const Context& ctx, const char* who, const CscMatrix<T>& X,
                                              const Missing& miss, CscMatrix<T>& dropped,
                                              const std::function<void()>& block_checks) {
  const CscMatrix<T>* Xo = &X;
  all_or_none(ctx, [&] {
    block_checks();
    if (!miss.held.none()) Xo = &(dropped = drop_held_out(X, miss.held));
    check_values(who, "X", Xo->view(), true, ctx.threads());
  });
  return prepare(ctx, *Xo);
}

}  // namespace
}  // namespace detail

template <class T>
SsnmfResult<T> ssnmf(const Context& ctx, MatrixView<const T> X, index_t k, const SsnmfOptions& opts) {
  detail::check_ssnmf_options(detail::kSsnmf, opts);
  detail::Missing miss{opts.data_mask, opts.held_out};
  Matrix<T> copy;
  auto d = detail::checked_data<T>(ctx, detail::kSsnmf, X, miss, copy,
                                   [&] { detail::check_ssnmf_block(X.rows, X.cols, false, opts); });
  detail::check_ssnmf_rank(X.rows, d->total_cols, k);
  return detail::run_ssnmf<T>(ctx, *d, k, opts, miss);
}

template <class T>
SsnmfResult<T> ssnmf(const Context& ctx, const CscMatrix<T>& X, index_t k, const SsnmfOptions& opts) {
  detail::check_ssnmf_options(detail::kSsnmf, opts);
  const detail::Missing miss{{}, opts.held_out};
  CscMatrix<T> dropped;
  auto d = detail::checked_data<T>(ctx, detail::kSsnmf, X, miss, dropped,
                                   [&] { detail::check_ssnmf_block(X.rows(), X.cols(), true, opts); });
  detail::check_ssnmf_rank(X.rows(), d->total_cols, k);
  return detail::run_ssnmf<T>(ctx, *d, k, opts, miss);
}

template <class T>
MultilayerResult<T> hierarchical_nmf(const Context& ctx, MatrixView<const T> X,
                                     const HierarchicalNmfOptions& opts) {
  detail::Missing miss{{}, opts.held_out};
  Matrix<T> copy;
  auto d = detail::checked_data<T>(ctx, detail::kHier, X, miss, copy,
                                   [&] { detail::check_hierarchical_block(X.rows, X.cols, false, opts); });
  detail::check_hierarchical(X.rows, d->total_cols, opts);
  return detail::run_hierarchical<T>(ctx, *d, opts, miss);
}

template <class T>
MultilayerResult<T> hierarchical_nmf(const Context& ctx, const CscMatrix<T>& X,
                                     const HierarchicalNmfOptions& opts) {
  const detail::Missing miss{{}, opts.held_out};
  CscMatrix<T> dropped;
  auto d = detail::checked_data<T>(ctx, detail::kHier, X, miss, dropped,
                                   [&] { detail::check_hierarchical_block(X.rows(), X.cols(), true, opts); });
  detail::check_hierarchical(X.rows(), d->total_cols, opts);
  return detail::run_hierarchical<T>(ctx, *d, opts, miss);
}

template <class T>
MultilayerResult<T> deep_nmf(const Context& ctx, MatrixView<const T> X, const DeepNmfOptions& opts) {
  detail::Missing miss{opts.data_mask, opts.held_out};
  Matrix<T> copy;
  auto d = detail::checked_data<T>(ctx, detail::kDeep, X, miss, copy,
                                   [&] { detail::check_deep_block(X.rows, X.cols, false, opts); });
  detail::check_deep(X.rows, d->total_cols, opts);
  detail::check_deep_split(ctx, *d, opts);
  return detail::run_deep<T>(ctx, *d, opts, miss);
}

template <class T>
MultilayerResult<T> deep_nmf(const Context& ctx, const CscMatrix<T>& X, const DeepNmfOptions& opts) {
  const detail::Missing miss{{}, opts.held_out};
  CscMatrix<T> dropped;
  auto d = detail::checked_data<T>(ctx, detail::kDeep, X, miss, dropped,
                                   [&] { detail::check_deep_block(X.rows(), X.cols(), true, opts); });
  detail::check_deep(X.rows(), d->total_cols, opts);
  detail::check_deep_split(ctx, *d, opts);
  return detail::run_deep<T>(ctx, *d, opts, miss);
}

template <class T>
Matrix<T> unpool_columns(const Matrix<T>& S, index_t window, index_t m) {
  if (window <= 1) {
    if (S.cols() != m)
      throw DimensionMismatch("unpool_columns: S has " + std::to_string(S.cols()) + " columns, expected m = " +
                              std::to_string(m) + " for window " + std::to_string(window));
    return S;
  }
  if (m < 0 || S.cols() != (m + window - 1) / window)
    throw DimensionMismatch("unpool_columns: S has " + std::to_string(S.cols()) + " columns, but " +
                            std::to_string(m) + " columns pooled by " + std::to_string(window) +
                            " give " + std::to_string((m + window - 1) / window));
  Matrix<T> out(S.rows(), m);
  for (index_t j = 0; j < m; ++j)
    for (index_t i = 0; i < S.rows(); ++i) out(i, j) = S(i, j / window);
  return out;
}

template SsnmfResult<float> ssnmf<float>(const Context&, MatrixView<const float>, index_t, const SsnmfOptions&);
template SsnmfResult<double> ssnmf<double>(const Context&, MatrixView<const double>, index_t, const SsnmfOptions&);
template SsnmfResult<float> ssnmf<float>(const Context&, const CscMatrix<float>&, index_t, const SsnmfOptions&);
template SsnmfResult<double> ssnmf<double>(const Context&, const CscMatrix<double>&, index_t, const SsnmfOptions&);
template MultilayerResult<float> hierarchical_nmf<float>(const Context&, MatrixView<const float>,
                                                         const HierarchicalNmfOptions&);
template MultilayerResult<double> hierarchical_nmf<double>(const Context&, MatrixView<const double>,
                                                           const HierarchicalNmfOptions&);
template MultilayerResult<float> hierarchical_nmf<float>(const Context&, const CscMatrix<float>&,
                                                         const HierarchicalNmfOptions&);
template MultilayerResult<double> hierarchical_nmf<double>(const Context&, const CscMatrix<double>&,
                                                           const HierarchicalNmfOptions&);
template MultilayerResult<float> deep_nmf<float>(const Context&, MatrixView<const float>, const DeepNmfOptions&);
template MultilayerResult<double> deep_nmf<double>(const Context&, MatrixView<const double>, const DeepNmfOptions&);
template MultilayerResult<float> deep_nmf<float>(const Context&, const CscMatrix<float>&, const DeepNmfOptions&);
template MultilayerResult<double> deep_nmf<double>(const Context&, const CscMatrix<double>&, const DeepNmfOptions&);
template Matrix<float> unpool_columns<float>(const Matrix<float>&, index_t, index_t);
template Matrix<double> unpool_columns<double>(const Matrix<double>&, index_t, index_t);

}  // namespace nnmf
