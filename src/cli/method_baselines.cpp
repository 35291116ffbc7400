// `nnmf fit --method nmf|ssnmf|hnmf|deep`: the baselines of the paper's tables (see
// include/nnmf/baselines.hpp and docs/baselines.md). Each writes the same A*.mtx, S*.mtx,
// report.json as the neural method.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cli/cli.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

using Settings = std::map<std::string, std::string>;

/// The NMF settings shared by nmf, hnmf and deep's forward pass.
NmfOptions nmf_options(const Settings& s, std::uint64_t seed, int iterations) {
  NmfOptions o;
  o.seed = seed;
  if (iterations > 0) o.max_iter = iterations;
  o.rel_tol = setting(s, "rel_tol", o.rel_tol);
  if (setting(s, "algorithm_mu", 0) != 0) o.algorithm = NmfAlgorithm::mu;
  o.init = setting(s, "nndsvd", 1) != 0 ? NmfInit::nndsvd : NmfInit::random;
  return o;
}

int int_setting(const Settings& s, const std::string& key, int dflt) {
  const double v = setting(s, key, dflt);
  if (!(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max()) || v != std::floor(v))
    throw UsageError("--set " + key + "=" + s.at(key) + ": must be an integer");
  return static_cast<int>(v);
}

/// SSNMF settings under a prefix ("" for the ssnmf method, "ssnmf_" inside hnmf and deep).
SsnmfOptions ssnmf_options(const Settings& s, const std::string& prefix, std::uint64_t seed) {
  SsnmfOptions o;
  o.seed = seed;
  o.max_iter = int_setting(s, prefix + (prefix.empty() ? "max_iter" : "iter"), o.max_iter);
  o.rel_tol = setting(s, prefix + "rel_tol", o.rel_tol);
  if (setting(s, prefix + "init_random", 0) != 0) o.init = SsnmfInit::random;
  o.init_iterations = int_setting(s, prefix + "init_iterations", o.init_iterations);
  o.mu_eps = setting(s, prefix + "mu_eps", o.mu_eps);
  return o;
}

nlohmann::json ssnmf_json(const SsnmfOptions& o) {
  return {{"max_iter", o.max_iter}, {"rel_tol", o.rel_tol}, {"init", to_string(o.init)},
          {"init_iterations", o.init_iterations}, {"mu_eps", o.mu_eps}};
}

nlohmann::json supervision_json(const std::optional<Supervision>& s) {
  if (!s) return nullptr;
  return {{"loss", "l2"}, {"classifier", "nonnegative B, multiplicative updates"}, {"lambda", s->lambda}};
}

/// Per-iteration records; @p seconds (when given) holds the wall time from the call to the end
/// of each iteration, so that the first record's time includes the start.
template <class T>
std::vector<EpochRecord> history_of(const std::vector<double>& objective,
                                    const std::vector<double>& seconds = {}) {
  std::vector<EpochRecord> h;
  for (std::size_t q = 0; q < objective.size(); ++q) {
    EpochRecord r;
    r.epoch = static_cast<int>(q + 1);
    r.loss = objective[q];
    if (q < seconds.size()) r.seconds = seconds[q] - (q > 0 ? seconds[q - 1] : 0.0);
    h.push_back(r);
  }
  return h;
}

template <class T>
FitOutcome<T> fit_ssnmf_with(const FitRequest<T>& req, SsnmfOptions o);

/// NMF with held-out entries: masked multiplicative updates (SSNMF without labels), since
/// ANLS and HALS solve for whole columns and rows of X.
template <class T>
FitOutcome<T> fit_nmf_held_out(const FitRequest<T>& req) {
  if (setting(req.settings, "anls", 0) != 0)
    throw UsageError("--method nmf with --holdout/--holdout-fraction fits by masked multiplicative updates; "
                     "--set anls=1 does not apply");
  SsnmfOptions o;
  o.seed = req.seed;
  if (req.iterations > 0) o.max_iter = req.iterations;
  o.rel_tol = setting(req.settings, "rel_tol", o.rel_tol);
  if (setting(req.settings, "nndsvd", 1) == 0) o.init = SsnmfInit::random;
  FitOutcome<T> out = fit_ssnmf_with(req, o);
  out.settings["algorithm"] = "mu (masked: SSNMF without labels)";
  return out;
}

/// One layer of NMF (--method nmf).
template <class T>
FitOutcome<T> fit_nmf(const FitRequest<T>& req) {
  check_settings(req.settings, {"algorithm_mu", "anls", "rel_tol", "nndsvd"}, "nmf");
  if (req.supervision)
    throw UsageError("--method nmf is unsupervised; use --method ssnmf for labels");
  if (req.ranks.size() != 1)
    throw UsageError("--method nmf takes one rank; use --method hnmf for " +
                     std::to_string(req.ranks.size()) + " layers");
  if (!req.neural.data_mask.empty()) throw UsageError("--method nmf takes no --mask (use --holdout, or ssnmf)");
  if (!req.neural.held_out.none()) return fit_nmf_held_out(req);
  NmfOptions o = nmf_options(req.settings, req.seed, req.iterations);
  // HALS by default: on large data it reaches every error sooner than ANLS (and than
  // scikit-learn's cd, bench/nmf_vs_sklearn.py); --set anls=1 for exact blocks.
  if (o.algorithm == NmfAlgorithm::anls && setting(req.settings, "anls", 0) == 0) o.algorithm = NmfAlgorithm::hals;
  NmfResult<T> r = req.X->sparse ? nmf<T>(*req.ctx, req.X->csc, req.ranks[0], o)
                                 : nmf<T>(*req.ctx, req.X->dense.view(), req.ranks[0], o);
  if (req.progress) req.progress(r.iterations, o.max_iter, r.objective.back());
  FitOutcome<T> out;
  out.A.push_back(std::move(r.W));
  out.S.push_back(std::move(r.H));
  out.history = history_of<T>(r.objective, r.seconds);
  out.settings = {{"algorithm", to_string(o.algorithm)}, {"init", to_string(o.init)},
                  {"max_iter", o.max_iter}, {"rel_tol", o.rel_tol}, {"iterations", r.iterations}};
  return out;
}

/// Semi-supervised NMF, one layer (--method ssnmf).
template <class T>
FitOutcome<T> fit_ssnmf(const FitRequest<T>& req) {
  check_settings(req.settings, {"max_iter", "rel_tol", "init_random", "init_iterations", "mu_eps"}, "ssnmf");
  if (req.ranks.size() != 1)
    throw UsageError("--method ssnmf takes one rank; use --method hnmf (SSNMF at the last layer) for " +
                     std::to_string(req.ranks.size()) + " layers");
  SsnmfOptions o = ssnmf_options(req.settings, "", req.seed);
  if (req.iterations > 0) o.max_iter = req.iterations;
  return fit_ssnmf_with(req, o);
}

/// SSNMF with @p o and the request's labels, mask and held-out set.
template <class T>
FitOutcome<T> fit_ssnmf_with(const FitRequest<T>& req, SsnmfOptions o) {
  o.supervision = req.supervision;
  o.data_mask = req.neural.data_mask;
  o.held_out = req.neural.held_out;
  SsnmfResult<T> r = req.X->sparse ? ssnmf<T>(*req.ctx, req.X->csc, req.ranks[0], o)
                                   : ssnmf<T>(*req.ctx, req.X->dense.view(), req.ranks[0], o);
  if (req.progress) req.progress(r.iterations, o.max_iter, r.objective.back());
  FitOutcome<T> out;
  out.A.push_back(std::move(r.A));
  out.S.push_back(std::move(r.S));
  out.B = std::move(r.B);
  out.history = history_of<T>(r.objective);
  out.settings = ssnmf_json(o);
  out.settings["iterations"] = r.iterations;
  out.settings["supervision"] = supervision_json(o.supervision);
  out.settings["data_mask"] = !o.data_mask.empty();
  out.settings["held_out"] = !o.held_out.none();
  return out;
}

/// Hierarchical NMF (--method hnmf): NMF of X, then of each layer's S; SSNMF at the last layer
/// with --labels.
template <class T>
FitOutcome<T> fit_hnmf(const FitRequest<T>& req) {
  check_settings(req.settings,
                 {"algorithm_mu", "rel_tol", "nndsvd", "normalize", "ssnmf_iter", "ssnmf_rel_tol",
                  "ssnmf_init_random", "ssnmf_init_iterations", "ssnmf_mu_eps"},
                 "hnmf");
  if (!req.neural.data_mask.empty())
    throw UsageError("--method hnmf takes no --mask (give the entries as --holdout, or use ssnmf or deep)");
  HierarchicalNmfOptions o;
  o.ranks = req.ranks;
  o.seed = req.seed;
  o.nmf = nmf_options(req.settings, req.seed, req.iterations);
  o.ssnmf = ssnmf_options(req.settings, "ssnmf_", req.seed);
  o.normalize = setting(req.settings, "normalize", 1) != 0;
  o.supervision = req.supervision;
  o.held_out = req.neural.held_out;
  MultilayerResult<T> r = req.X->sparse ? hierarchical_nmf<T>(*req.ctx, req.X->csc, o)
                                        : hierarchical_nmf<T>(*req.ctx, req.X->dense.view(), o);
  if (req.progress) req.progress(static_cast<int>(r.A.size()), static_cast<int>(r.A.size()), r.layer_objective.back());
  FitOutcome<T> out;
  out.A = std::move(r.A);
  out.S = std::move(r.S);
  out.B = std::move(r.B);
  out.settings = {{"algorithm", to_string(o.nmf.algorithm)}, {"init", to_string(o.nmf.init)},
                  {"max_iter", o.nmf.max_iter}, {"rel_tol", o.nmf.rel_tol}, {"normalize", o.normalize},
                  {"layer_objective", r.layer_objective}, {"held_out", !o.held_out.none()}};
  // Layer 0 runs SSNMF's masked MU (its settings) with held-out entries, the last layer with labels.
  if (o.supervision || !o.held_out.none()) {
    out.settings["ssnmf"] = ssnmf_json(o.ssnmf);
    if (o.supervision) out.settings["supervision"] = supervision_json(o.supervision);
  }
  return out;
}

/// Deep NMF (--method deep): forward multilayer NMF with max pooling, SSNMF last layer, then
/// multiplicative-update backpropagation (--epochs = its iterations).
template <class T>
FitOutcome<T> fit_deep(const FitRequest<T>& req) {
  check_settings(req.settings,
                 {"pool", "rel_tol", "mu_eps", "forward_iter", "forward_rel_tol", "forward_mu", "nndsvd",
                  "normalize", "ssnmf_iter", "ssnmf_rel_tol", "ssnmf_init_random", "ssnmf_init_iterations",
                  "ssnmf_mu_eps"},
                 "deep");
  DeepNmfOptions o;
  o.ranks = req.ranks;
  o.seed = req.seed;
  o.pool = int_setting(req.settings, "pool", 0);
  if (req.iterations > 0) o.max_iter = req.iterations;
  o.rel_tol = setting(req.settings, "rel_tol", o.rel_tol);
  o.mu_eps = setting(req.settings, "mu_eps", o.mu_eps);
  o.forward.seed = req.seed;
  o.forward.max_iter = int_setting(req.settings, "forward_iter", o.forward.max_iter);
  o.forward.rel_tol = setting(req.settings, "forward_rel_tol", o.forward.rel_tol);
  if (setting(req.settings, "forward_mu", 0) != 0) o.forward.algorithm = NmfAlgorithm::mu;
  o.forward.init = setting(req.settings, "nndsvd", 1) != 0 ? NmfInit::nndsvd : NmfInit::random;
  o.ssnmf = ssnmf_options(req.settings, "ssnmf_", req.seed);
  o.normalize = setting(req.settings, "normalize", 1) != 0;
  o.supervision = req.supervision;
  o.data_mask = req.neural.data_mask;
  o.held_out = req.neural.held_out;
  MultilayerResult<T> r = req.X->sparse ? deep_nmf<T>(*req.ctx, req.X->csc, o)
                                        : deep_nmf<T>(*req.ctx, req.X->dense.view(), o);
  if (req.progress && !r.objective.empty()) req.progress(r.iterations, o.max_iter, r.objective.back());
  FitOutcome<T> out;
  const index_t m = req.X->cols();
  index_t window = 1;
  for (std::size_t l = 0; l < r.S.size(); ++l) {
    // One column per column of X: each column gets its pooled group's code.
    out.S.push_back(unpool_columns<T>(r.S[l], window, m));
    if (o.pool > 1) window *= o.pool;
  }
  out.A = std::move(r.A);
  out.B = std::move(r.B);
  out.history = history_of<T>(r.objective);
  out.settings = {{"pool", o.pool},
                  {"max_iter", o.max_iter},
                  {"iterations", r.iterations},
                  {"rel_tol", o.rel_tol},
                  {"forward", {{"algorithm", to_string(o.forward.algorithm)},
                               {"init", to_string(o.forward.init)},
                               {"max_iter", o.forward.max_iter},
                               {"rel_tol", o.forward.rel_tol}}},
                  {"normalize", o.normalize},
                  {"layer_objective", r.layer_objective},
                  {"data_mask", !o.data_mask.empty()},
                  {"held_out", !o.held_out.none()}};
  if (o.supervision) {
    out.settings["ssnmf"] = ssnmf_json(o.ssnmf);
    out.settings["supervision"] = supervision_json(o.supervision);
  }
  return out;
}

}  // namespace

void register_baselines(std::map<std::string, Method>& m) {
  m["nmf"] = {"NMF, one layer: HALS (--set anls=1: alternating NNLS, algorithm_mu=1: multiplicative updates; "
              "masked multiplicative updates with --holdout)",
              fit_nmf<float>, fit_nmf<double>};
  m["ssnmf"] = {"semi-supervised NMF (Lee, Yoo & Choi), one layer, multiplicative updates",
                fit_ssnmf<float>, fit_ssnmf<double>};
  m["hnmf"] = {"hierarchical NMF: NMF of X, then of each layer's S; SSNMF last layer with --labels",
               fit_hnmf<float>, fit_hnmf<double>};
  m["deep"] = {"Deep NMF (Flenner & Hunter): forward NMF with pooling, MU backpropagation",
               fit_deep<float>, fit_deep<double>};
}

}  // namespace nnmf::cli
