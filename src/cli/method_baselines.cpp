// `nnmf fit --method nmf|hnmf`: the baselines of the paper's tables.
#include <algorithm>

#include "cli/cli.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

NmfOptions nmf_options(const std::map<std::string, std::string>& s, std::uint64_t seed, int iterations,
                       const std::string& method) {
  check_settings(s, {"algorithm_mu", "rel_tol", "nndsvd"}, method);
  NmfOptions o;
  o.seed = seed;
  if (iterations > 0) o.max_iter = iterations;
  o.rel_tol = setting(s, "rel_tol", o.rel_tol);
  if (setting(s, "algorithm_mu", 0) != 0) o.algorithm = NmfAlgorithm::mu;
  o.init = setting(s, "nndsvd", 1) != 0 ? NmfInit::nndsvd : NmfInit::random;
  return o;
}

/// Hierarchical NMF: NMF of X with k0, then NMF of S(0) with k1, and so on.
template <class T>
FitOutcome<T> fit_hnmf(const FitRequest<T>& req, const std::string& method) {
  if (req.supervision)
    throw InvalidArgument("--method " + method + " is unsupervised here; --labels is not supported");
  if (method == "nmf" && req.ranks.size() != 1)
    throw InvalidArgument("--method nmf takes one rank; use --method hnmf for " +
                          std::to_string(req.ranks.size()) + " layers");
  FitOutcome<T> out;
  NmfOptions o = nmf_options(req.settings, req.seed, req.iterations, method);
  for (std::size_t l = 0; l < req.ranks.size(); ++l) {
    o.seed = req.seed + 1000003ull * l;
    NmfResult<T> r;
    if (l == 0)
      r = req.X->sparse ? nmf<T>(*req.ctx, req.X->csc, req.ranks[l], o)
                        : nmf<T>(*req.ctx, req.X->dense.view(), req.ranks[l], o);
    else
      r = nmf<T>(*req.ctx, out.S.back().view(), req.ranks[l], o);
    if (req.progress) req.progress(static_cast<int>(l + 1), static_cast<int>(req.ranks.size()), r.objective.back());
    out.A.push_back(std::move(r.W));
    out.S.push_back(std::move(r.H));
  }
  out.settings = {{"algorithm", to_string(o.algorithm)}, {"init", to_string(o.init)},
                  {"max_iter", o.max_iter}, {"rel_tol", o.rel_tol}};
  return out;
}

}  // namespace

void register_baselines(std::map<std::string, Method>& m) {
  m["nmf"] = {"NMF by alternating NNLS (one layer)",
              [](const FitRequest<float>& r) { return fit_hnmf<float>(r, "nmf"); },
              [](const FitRequest<double>& r) { return fit_hnmf<double>(r, "nmf"); }};
  m["hnmf"] = {"hierarchical NMF: NMF of X, then of each layer's S",
               [](const FitRequest<float>& r) { return fit_hnmf<float>(r, "hnmf"); },
               [](const FitRequest<double>& r) { return fit_hnmf<double>(r, "hnmf"); }};
}

}  // namespace nnmf::cli
