// `nnmf fit X --ranks ... -o DIR`: fits a method and writes its factors, model and report as
// one output folder (see output.hpp).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/columns.hpp"
#include "cli/mpi_run.hpp"
#include "cli/mpi_share.hpp"
#include "cli/numbers.hpp"
#include "cli/output.hpp"
#include "core/comm.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct FitArgs {
  std::string X, out, ranks, labels, known, eval_labels, method = "neural", loss = "reconstruction";
  std::string scaling = "sum", supervision = "l2", classifier = "closed", optimizer = "line-search";
  std::string init = "nmf", init_dir, mask, columns, class_names, holdout, holdout_out;
  std::optional<double> holdout_fraction;
  std::uint64_t seed = 0;
  std::optional<int> epochs;
  std::optional<double> energy_weight, recon_weight;
  double lambda = 1, lr = 0, lr_decay = 1, rel_tol = FitOptions{}.rel_tol;
  double validation = FitOptions{}.validation_fraction;
  int validation_patience = FitOptions{}.validation_patience;
  int decay_every = 1, patience = FitOptions{}.patience, init_iterations = 300, init_restarts = 4, classes = 0;
  std::vector<std::string> set;
  bool no_warm_start = false, npy = false, s_per_process = false, x_per_process = false;
};

/// The whole data (all processes' blocks) of the run.
template <class T>
json data_info(const Context& ctx, const std::string& path, const io::AnyMatrix<T>& d) {
  const std::int64_t cols = detail::allreduce_sum(ctx, std::int64_t(d.cols()));
  const std::int64_t nnz = detail::allreduce_sum(ctx, std::int64_t(d.sparse ? d.csc.nnz() : 0));
  json j{{"path", path}, {"rows", d.rows()}, {"cols", cols}, {"sparse", d.sparse}};
  if (d.sparse) j["nnz"] = nnz;
  return j;
}

// ---- the request, from the options alone (usage errors before any file is read) --------------

const Method& find_method(const std::string& name) {
  const auto it = methods().find(name);
  if (it != methods().end()) return it->second;
  std::string names;
  for (const auto& kv : methods()) names += (names.empty() ? "" : ", ") + kv.first;
  throw UsageError("--method " + name + ": unknown method (available: " + names + ")");
}

std::map<std::string, std::string> parse_settings(const std::vector<std::string>& set) {
  std::map<std::string, std::string> out;
  for (const auto& kv : set) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--set " + kv + ": expected key=value");
    out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

void set_loss(FitOptions& o, const FitArgs& a) {
  o.reconstruction_weight = a.loss == "energy" ? 0 : 1;
  o.energy_weight = a.loss == "reconstruction" ? 0 : 1;
  if (a.recon_weight) o.reconstruction_weight = *a.recon_weight;
  if (a.energy_weight) o.energy_weight = *a.energy_weight;
}

/// Neural NMF options from the flags (the choices were checked by the parser).
FitOptions neural_options(const FitArgs& a) {
  FitOptions o;
  set_loss(o, a);
  o.scaling = a.scaling == "mean" ? Scaling::mean : Scaling::sum;
  o.optimizer = a.optimizer == "gd" ? Optimizer::gd : a.optimizer == "adam" ? Optimizer::adam : Optimizer::line_search;
  o.learning_rate = a.lr;
  o.lr_decay = a.lr_decay;
  o.decay_every = a.decay_every;
  o.rel_tol = a.rel_tol;
  o.patience = a.patience;
  o.validation_fraction = a.validation;
  o.validation_patience = a.validation_patience;
  o.warm_start = !a.no_warm_start;
  o.init_iterations = a.init_iterations;
  o.init_restarts = a.init_restarts;
  o.init = a.init == "random" ? Init::random : a.init == "dir" ? Init::given : Init::nmf;
  if (a.init == "dir" && a.init_dir.empty())
    throw UsageError("--init dir needs --init-dir DIR (with A0.mtx, A1.mtx, ...)");
  if (!a.known.empty() && a.labels.empty()) throw UsageError("--known needs --labels");
  return o;
}

// ---- inputs ------------------------------------------------------------------------------------

/// Labels and known mask of the file's @p m columns, kept at @p cols (--columns). The class
/// count is the file's, so that a selection missing a class keeps every row of B.
std::optional<Supervision> read_supervision(const FitArgs& a, index_t m, const std::vector<index_t>& cols) {
  if (a.labels.empty()) return std::nullopt;
  Supervision s;
  const std::vector<int> all = io::read_labels(a.labels, m, a.classes);
  s.num_classes = a.classes > 0 ? a.classes : 1 + *std::max_element(all.begin(), all.end());
  s.labels = select_entries(all, cols);
  if (!a.known.empty()) s.known = select_entries(io::read_mask(a.known, m), cols);
  s.lambda = a.lambda;
  s.loss = a.supervision == "l2" ? SupervisionLoss::l2 : SupervisionLoss::cross_entropy;
  s.classifier = a.classifier == "closed" ? ClassifierMode::closed_form : ClassifierMode::trained;
  if (s.loss == SupervisionLoss::cross_entropy) s.classifier = ClassifierMode::trained;  // no closed form
  return s;
}

/// --mask W for the file's @p m columns of X, kept at @p cols (--columns); under mpirun
/// (@p multi) only this process's columns @p cols of the mask file are read.
template <class T>
void read_mask(FitOptions& o, const FitArgs& a, const io::AnyMatrix<T>& X, index_t m,
               const std::vector<index_t>& cols, bool multi = false) {
  if (a.mask.empty()) return;
  if (X.sparse) throw InvalidArgument("--mask needs dense X: " + a.X + " is sparse");
  io::AnyMatrix<double> W;
  if (multi) {
    const io::MtxInfo info = io::read_mtx_info(a.mask);
    if (info.rows != X.rows() || info.cols != m)
      throw DimensionMismatch("--mask " + a.mask + " is " + shape_string(info.rows, info.cols) + " but X is " +
                              shape_string(X.rows(), m));
    W = io::read_mtx_column_set<double>(a.mask, cols);
    if (W.sparse) W.dense = W.csc.to_dense();
  } else {
    W.dense = io::read_dense<double>(a.mask);
  }
  if (W.dense.rows() != X.rows() || (!multi && W.dense.cols() != m))
    throw DimensionMismatch("--mask " + a.mask + " is " + shape_string(W.dense.rows(), W.dense.cols()) + " but X is " +
                            shape_string(X.rows(), m));
  if (!multi) select_columns(W, cols);
  for (double v : W.dense.storage()) {
    if (v != 0 && v != 1) throw InvalidArgument("--mask " + a.mask + ": entries must be 0 or 1");
    o.data_mask.push_back(v != 0);
  }
}

/// The option that names the held-out set (--holdout or --holdout-fraction); empty for none.
std::string holdout_option(const FitArgs& a) {
  if (!a.holdout.empty() && a.holdout_fraction)
    throw UsageError("--holdout and --holdout-fraction: give one (a file of held-out entries, or a share to draw)");
  if (!a.holdout.empty()) return "--holdout";
  if (a.holdout_fraction) return "--holdout-fraction";
  if (!a.holdout_out.empty()) throw UsageError("--holdout-out needs --holdout-fraction (or --holdout)");
  return {};
}

/// --holdout H.mtx: a coordinate Matrix Market file of X's shape whose listed entries are held
/// out (values ignored; a pattern file will do), kept at @p cols (--columns).
HeldOut read_holdout_file(const FitArgs& a, index_t n, index_t m, const std::vector<index_t>& cols) {
  io::AnyMatrix<double> H = io::read_mtx<double>(a.holdout);
  if (!H.sparse)
    throw InvalidArgument("--holdout " + a.holdout + ": an array file; list the held-out entries in a coordinate "
                          "Matrix Market file (for a dense 0/1 mask W use --mask)");
  if (H.rows() != n || H.cols() != m)
    throw DimensionMismatch("--holdout " + a.holdout + " is " + shape_string(H.rows(), H.cols()) + " but X is " +
                            shape_string(n, m));
  select_columns(H, cols);
  return HeldOut::from_pattern(H.csc);
}

/// The held-out set of --holdout / --holdout-fraction (every method, one process), written to
/// --holdout-out when asked.
template <class T>
void read_holdout(FitOptions& o, const FitArgs& a, const io::AnyMatrix<T>& X, index_t m,
                  const std::vector<index_t>& cols) {
  const std::string opt = holdout_option(a);
  if (opt.empty()) return;
  if (!a.mask.empty()) throw UsageError(opt + " and --mask: give one");
  if (opt == "--holdout") {
    o.held_out = read_holdout_file(a, X.rows(), m, cols);
  } else {
    if (!(*a.holdout_fraction > 0 && *a.holdout_fraction < 1))
      throw UsageError("--holdout-fraction must lie in (0, 1), got " + std::to_string(*a.holdout_fraction));
    o.held_out = X.sparse ? random_held_out<T>(X.csc, *a.holdout_fraction, a.seed)
                          : random_held_out<T>(X.dense.view(), *a.holdout_fraction, a.seed);
  }
  if (o.held_out.size() == 0) throw InvalidArgument(opt + ": no entry is held out (X has too few entries)");
}

/// Writes H (values 1) for reuse with --holdout.
void write_holdout(const std::string& path, const HeldOut& H) {
  std::vector<double> ones(H.row_idx.size(), 1.0);
  io::write_mtx<double>(path, CscMatrix<double>(H.rows, H.cols, H.col_ptr, H.row_idx, ones),
                        "held-out entries (nnmf fit --holdout-out); use with --holdout");
}

/// Ranks the data cannot support are refused; merely unusual ones draw a warning. A layer's
/// topics are columns of A0 (N x k0) that combine to the m columns of X: more topics than rows
/// or columns, min(N, m), cannot all be meaningful (X has rank <= min(N, m)).
void check_ranks_against_data(const std::vector<index_t>& k, index_t N, index_t m) {
  const index_t limit = std::min(N, m);
  if (k[0] > limit)
    throw InvalidArgument("--ranks: k0 = " + std::to_string(k[0]) + " exceeds min(N, m) = " + std::to_string(limit) +
                          " of X (" + shape_string(N, m) + "); a layer cannot have more topics than X has " +
                          (m < N ? "columns" : "rows"));
  for (std::size_t l = 1; l < k.size(); ++l)
    if (k[l] > k[l - 1])
      throw InvalidArgument("--ranks: k" + std::to_string(l) + " = " + std::to_string(k[l]) + " exceeds k" +
                            std::to_string(l - 1) + " = " + std::to_string(k[l - 1]) +
                            "; ranks must satisfy min(N, m) >= k0 >= k1 >= ...");
  if (2 * k[0] > limit)
    warn("--ranks: k0 = " + std::to_string(k[0]) + " is more than half of min(N, m) = " + std::to_string(limit) +
         "; the topics will be weakly determined");
  for (std::size_t l = 1; l < k.size(); ++l)
    if (k[l] == k[l - 1])
      warn("--ranks: k" + std::to_string(l) + " = k" + std::to_string(l - 1) + " = " + std::to_string(k[l]) + ": layer " +
           std::to_string(l) + " can only rescale and reorder the topics of layer " + std::to_string(l - 1));
}

// ---- outputs -----------------------------------------------------------------------------------

/// NPMI of each topic's top kCoherenceTerms features on X (nnmf/topics.hpp): "npmi" (the
/// layer's mean) and "npmi_topics".
constexpr index_t kCoherenceTerms = 10;

template <class T>
void add_coherence(json& j, const io::AnyMatrix<T>& X, const NeuralNmf<T>& model, index_t l) {
  const auto top = model.top_features(l, kCoherenceTerms);
  const auto npmi = X.sparse ? npmi_coherence<T>(X.csc, top) : npmi_coherence<T>(X.dense.view(), top);
  double mean = 0;
  for (double v : npmi) mean += v / static_cast<double>(npmi.size());
  j["npmi"] = mean;
  j["npmi_topics"] = npmi;
}

/// With a held-out set H: "rel_error" of each layer is the training error on the observed
/// entries (observed_errors: the fit never saw H, whose entries count in held_out_error) and
/// "held_out_error" = ||P_H(X - Xhat_l)|| / ||P_H(X)|| (held_out_errors), predicted from the
/// forward pass of X without H: Neural NMF's S is that pass already (@p s_is_forward_pass);
/// a baseline's factors are scored through it, as the Python estimators do.
template <class T>
void add_held_out_errors(json& layers, const Context& ctx, const io::AnyMatrix<T>& X, const FitOutcome<T>& out,
                         const HeldOut& H, bool s_is_forward_pass) {
  if (H.none()) return;
  const auto o = X.sparse ? observed_errors<T>(ctx, X.csc, out.A, out.S, H)
                          : observed_errors<T>(ctx, X.dense.view(), out.A, out.S, H);
  std::vector<double> e;
  if (s_is_forward_pass)
    e = X.sparse ? held_out_errors<T>(ctx, X.csc, out.A, out.S, H)
                 : held_out_errors<T>(ctx, X.dense.view(), out.A, out.S, H);
  else
    e = X.sparse ? held_out_errors<T>(ctx, *out.model, X.csc, H)
                 : held_out_errors<T>(ctx, *out.model, X.dense.view(), H);
  for (std::size_t l = 0; l < e.size(); ++l) {
    layers[l]["rel_error"] = o[l];
    layers[l]["held_out_error"] = e[l];
  }
}

template <class T>
json layer_reports(const Context& ctx, const io::AnyMatrix<T>& X, const FitOutcome<T>& out,
                   const std::vector<std::vector<int>>& labels, const std::vector<std::uint8_t>& known) {
  const auto err = X.sparse ? relative_errors<T>(ctx, X.csc, out.A, out.S)
                            : relative_errors<T>(ctx, X.dense.view(), out.A, out.S);
  std::vector<std::uint8_t> unknown;
  for (auto v : known) unknown.push_back(v ? 0 : 1);
  const bool any_unknown = detail::allreduce_max(
      ctx, std::int64_t(std::any_of(unknown.begin(), unknown.end(), [](auto v) { return v != 0; }))) != 0;
  json layers = json::array();
  for (std::size_t l = 0; l < out.A.size(); ++l) {
    json j{{"layer", l}, {"rank", out.A[l].cols()}, {"rel_error", err[l]}};
    // NPMI counts co-occurrences over all documents: not split over processes (docs/mpi.md).
    if (ctx.processes() == 1) add_coherence(j, X, *out.model, static_cast<index_t>(l));
    if (!labels.empty()) {
      const auto& y = labels.size() == 1 ? labels[0] : labels[l];
      j["accuracy"] = label_accuracy<T>(ctx, out.S[l].view(), y, known);
      if (any_unknown) j["accuracy_unlabeled"] = label_accuracy<T>(ctx, out.S[l].view(), y, known, unknown);
    }
    layers.push_back(j);
  }
  return layers;
}

json history_json(const std::vector<EpochRecord>& history, double& epoch_seconds) {
  json hist = json::array();
  epoch_seconds = 0;
  for (const auto& h : history) {
    hist.push_back({{"epoch", h.epoch}, {"loss", h.loss}, {"reconstruction", h.reconstruction},
                    {"energy", h.energy}, {"supervision", h.supervision}, {"step", h.step},
                    {"seconds", h.seconds}, {"nnls_iterations", h.nnls_iterations}});
    if (h.validation_accuracy >= 0) hist.back()["validation_accuracy"] = h.validation_accuracy;
    epoch_seconds += h.seconds;
  }
  return hist;
}

struct Timings {
  Clock::time_point start;
  double load_s = 0, fit_s = 0, eval_s = 0;
  double comm_before_training_s = -1;  ///< communication seconds when the epochs began
  double comm_after_fit_s = 0;         ///< ... and when the fit ended
};

/// Every process's times (load, fit, eval, communication inside them) and bytes reduced,
/// gathered on all (a collective call).
json process_timings(const Context& ctx, const Timings& t) {
  const CommunicationStats cs = ctx.communication();
  const double training =
      t.comm_before_training_s >= 0 ? t.comm_after_fit_s - t.comm_before_training_s : 0.0;
  const std::vector<double> all = detail::allgather(
      ctx, {t.load_s, t.fit_s, t.eval_s, cs.seconds, double(cs.bytes), double(cs.calls), training});
  json per = json::array();
  for (int r = 0; r < ctx.processes(); ++r) {
    const double* v = all.data() + 7 * r;
    per.push_back({{"process", r}, {"load_s", v[0]}, {"fit_s", v[1]}, {"eval_s", v[2]},
                   {"communication_s", v[3]}, {"communication_bytes", v[4]}, {"communication_calls", v[5]},
                   {"training_communication_s", v[6]}});  // the epochs' part (after the initialization)
  }
  return per;
}

template <class T>
json fit_report(const Common& c, const FitArgs& a, const Context& ctx, const json& data,
                const std::vector<index_t>& ranks, const FitOutcome<T>& out, const json& layers, const Timings& t,
                const json& per_process, index_t held_entries) {
  json report{{"nnmf_version", NNMF_VERSION_STRING}, {"command", "fit"}, {"method", a.method}, {"seed", a.seed},
              {"device", ctx.describe()}, {"precision", c.precision}, {"processes", ctx.processes()},
              {"data", data}, {"ranks", ranks}, {"settings", out.settings}};
  if (!a.labels.empty()) report["labels"] = a.labels;
  if (!a.known.empty()) report["known"] = a.known;
  if (!a.eval_labels.empty()) report["eval_labels"] = a.eval_labels;
  if (!a.columns.empty()) report["columns"] = a.columns;
  if (!a.holdout.empty() || a.holdout_fraction) {
    json h{{"entries", held_entries}};
    if (!a.holdout.empty()) h["path"] = a.holdout;
    if (a.holdout_fraction) h["fraction"] = *a.holdout_fraction;
    if (!a.holdout_out.empty()) h["written_to"] = a.holdout_out;
    report["held_out"] = h;
  }
  report["layers"] = layers;
  if (out.model) report["stop_reason"] = to_string(out.model->stop_reason());
  double epoch_s = 0;
  report["history"] = history_json(out.history, epoch_s);
  const double n = static_cast<double>(out.history.size());
  // Wall times live here only: the model file of a run is the same bytes on every rerun.
  // Process 0's times; with several processes each one's, communication apart (the time inside
  // the reductions, waiting for the others included).
  double comm_s = 0;
  for (const auto& p : per_process) comm_s = std::max(comm_s, p["communication_s"].get<double>());
  report["timings"] = {{"load_s", t.load_s}, {"fit_s", t.fit_s}, {"eval_s", t.eval_s}, {"total_s", since(t.start)},
                       {"epochs", out.history.size()}, {"mean_epoch_ms", n > 0 ? 1e3 * epoch_s / n : 0.0},
                       {"communication_s", comm_s}, {"processes", per_process}};
  return report;
}

/// A matrix as NAME.mtx and, with --npy, NAME.npy too.
template <class T>
void write_matrix(OutputDir& dir, const std::string& name, const Matrix<T>& M, const std::string& comment, bool npy) {
  io::write_mtx<T>(dir.stage(name + ".mtx"), M.view(), comment);
  if (npy) io::write_npy<T>(dir.stage(name + ".npy"), M.view());
}

template <class T>
void write_factors(OutputDir& dir, const FitOutcome<T>& out, const FitArgs& a, bool with_S = true) {
  for (std::size_t l = 0; l < out.A.size(); ++l) {
    const std::string k = std::to_string(l);
    write_matrix(dir, "A" + k, out.A[l], "factor A" + k + " (nnmf fit --method " + a.method + ")", a.npy);
    if (with_S)
      write_matrix(dir, "S" + k, out.S[l], "coefficients S" + k + (a.columns.empty() ? "" : " of the --columns " + a.columns), a.npy);
  }
  if (!out.B.empty()) write_matrix(dir, "B", out.B, "classifier B (classes x last rank)", a.npy);
  out.model->save(dir.stage("model.nnmf"));
}

/// --class-names, checked against the classes of --labels before the fit.
std::vector<std::string> read_class_names(const FitArgs& a, const std::optional<Supervision>& sup) {
  if (a.class_names.empty()) return {};
  if (!sup) throw UsageError("--class-names needs --labels");
  std::vector<std::string> names = io::read_lines(a.class_names);
  if (static_cast<int>(names.size()) != sup->num_classes)
    throw DimensionMismatch("--class-names " + a.class_names + " has " + std::to_string(names.size()) +
                            " names but --labels " + a.labels + " has " + std::to_string(sup->num_classes) + " classes");
  return names;
}

/// Every method's result as a model (topics, transform, eval and predict read it): the
/// baselines' factors and classifier, with the method's name and the class names.
template <class T>
void complete_model(FitOutcome<T>& out, const std::string& method, std::vector<std::string> class_names) {
  if (!out.model) out.model = NeuralNmf<T>::from_factors(out.A, out.B);
  out.model->set_method(method);
  if (!out.model->classifier().empty()) out.model->set_class_names(std::move(class_names));
}

std::string summary(const json& layers, double fit_s, const std::string& out) {
  std::ostringstream sum;
  sum.precision(4);
  for (const auto& l : layers) {
    sum << "k=" << l["rank"].get<long>() << " err " << l["rel_error"].get<double>();
    if (l.contains("held_out_error")) sum << " held-out " << l["held_out_error"].get<double>();
    if (l.contains("accuracy")) sum << " acc " << l["accuracy"].get<double>();
    // Semi-supervised: what the labels it was not given say (the number that matters).
    if (l.contains("accuracy_unlabeled")) sum << " (hidden " << l["accuracy_unlabeled"].get<double>() << ")";
    sum << "; ";
  }
  sum << fit_s << " s -> " << out;
  return sum.str();
}

template <class T>
FitOutcome<T> call(const Method& m, const FitRequest<T>& req) {
  if constexpr (std::is_same<T, float>::value)
    return m.fit_float(req);
  else
    return m.fit_double(req);
}

/// The inputs of a fit: X (under mpirun this process's share of its columns, docs/mpi.md),
/// the column count of the per-column files, the columns kept (--columns, or this process's
/// share; empty = all) and the label sets.
template <class T>
struct FitInputs {
  io::AnyMatrix<T> X;
  index_t m = 0;
  std::vector<index_t> cols;
  std::pair<index_t, index_t> block{0, 0};
  index_t total = 0;  ///< columns of the fit over all processes
  std::vector<std::vector<int>> eval_sets;
  std::vector<std::string> class_names;
};

/// Columns of a Deep NMF pooled group (--set pool, pool^(L-1)): under mpirun no group spans two
/// processes. 1 for the other methods.
index_t column_window(const FitArgs& a, const std::map<std::string, std::string>& settings, std::size_t layers) {
  if (a.method != "deep") return 1;
  const double pool = setting(settings, "pool", 0);
  index_t w = 1;
  for (std::size_t l = 1; l < layers && pool > 1 && pool < 1e6; ++l) w *= static_cast<index_t>(pool);
  return w;
}

/// X, one process: the file (--x-per-process: process 0's) and the --columns kept.
template <class T>
void read_x_alone(const FitArgs& a, FitInputs<T>& in) {
  mpi::check_share({a.X, a.columns, a.x_per_process, 1});
  in.X = io::read_mtx<T>(a.x_per_process ? mpi::process_path(a.X, 0) : a.X);
  in.m = in.X.cols();
  in.cols = read_columns(a.columns, in.m);
  select_columns(in.X, in.cols);
  in.total = in.X.cols();
  in.block = {0, in.total};
}

/// X under mpirun: this process's share (collective; see mpi_share.hpp).
template <class T>
void read_x_share(const Context& ctx, const FitArgs& a, const FitRequest<T>& req, FitInputs<T>& in) {
  const mpi::ShareRequest r{a.X, a.columns, a.x_per_process, column_window(a, req.settings, req.ranks.size())};
  mpi::Share<T> s = mpi::read_share<T>(ctx, r);
  in.X = std::move(s.X);
  in.m = s.file_cols;
  in.cols = std::move(s.cols);
  in.block = s.block;
  in.total = s.total;
}

/// Everything but X: labels, masks, initial factors, checked against X (this process's part).
template <class T>
void read_fit_rest(const FitArgs& a, bool multi, FitRequest<T>& req, FitInputs<T>& in) {
  check_ranks_against_data(req.ranks, in.X.rows(), in.total);
  req.supervision = read_supervision(a, in.m, in.cols);
  if (multi && in.block.second == 0 && req.supervision) {  // no column here (cols empty = all)
    req.supervision->labels.clear();
    req.supervision->known.clear();
  }
  in.class_names = read_class_names(a, req.supervision);
  if (a.init == "dir")
    for (std::size_t l = 0; l < req.ranks.size(); ++l)
      req.neural.initial_factors.push_back(io::read_dense<double>(a.init_dir + "/A" + std::to_string(l) + ".mtx"));
  read_mask(req.neural, a, in.X, in.m, in.cols, multi);
  read_holdout(req.neural, a, in.X, in.m, in.cols);
  in.eval_sets = read_label_sets(a.eval_labels, "--eval-labels", in.m, req.ranks.size(), in.cols);
  if (multi && in.block.second == 0)
    for (auto& y : in.eval_sets) y.clear();
}

/// The request of a fit from the options alone (usage errors before any file is read).
template <class T>
FitRequest<T> fit_request(const Context& ctx, const FitArgs& a) {
  FitRequest<T> req;
  req.ctx = &ctx;
  req.ranks = parse_ranks(a.ranks, "--ranks");
  req.seed = a.seed;
  req.iterations = a.epochs.value_or(-1);
  req.settings = parse_settings(a.set);
  req.neural = neural_options(a);
  return req;
}

/// Reads X and the rest of the inputs into @p in and @p req, and on process 0 opens the output
/// folder @p dir and writes --holdout-out; the time taken goes to @p t.
template <class T>
void read_fit_inputs(const Context& ctx, const FitArgs& a, FitRequest<T>& req, FitInputs<T>& in,
                     std::optional<OutputDir>& dir, Timings& t) {
  const bool multi = ctx.processes() > 1, writer = ctx.process() == 0;
  const auto t_load = Clock::now();
  // Every process reads its share; a file one of them cannot read stops all of them.
  if (multi) read_x_share(ctx, a, req, in);
  detail::all_or_none(ctx, [&] {
    if (!multi) read_x_alone(a, in);
    read_fit_rest(a, multi, req, in);
    if (writer) dir.emplace(a.out, "-o", "fit");  // before the work: a bad output path fails now
    if (writer && !a.holdout_out.empty()) write_holdout(a.holdout_out, req.neural.held_out);
  });
  req.X = &in.X;
  t.load_s = since(t_load);
}

/// Shows the fit's epochs and phases on @p progress and notes in @p t the communication time
/// when the training epochs begin.
template <class T>
void report_progress(FitRequest<T>& req, Progress& progress, Timings& t, const Context& ctx) {
  req.progress = [&progress](int step, int total, double loss) { progress.update(step, total, loss); };
  req.phase = [&progress, &t, &ctx](const std::string& name, int i, int n) {
    if (name == "training") t.comm_before_training_s = ctx.communication().seconds;
    progress.phase(name, i, n);
  };
}

/// Runs the method (Ctrl-C ends Neural NMF's training softly) and completes its result as a
/// model named by the method, with @p class_names; the fit's time goes to @p t.
template <class T>
FitOutcome<T> fit_method(const Method& method, const FitRequest<T>& req, const FitArgs& a,
                         std::vector<std::string> class_names, Timings& t) {
  const auto t_fit = Clock::now();
  arm_soft_interrupt(a.method == "neural");
  FitOutcome<T> out = call(method, req);
  t.comm_after_fit_s = req.ctx->communication().seconds;
  arm_soft_interrupt(false);
  complete_model(out, a.method, std::move(class_names));
  t.fit_s = since(t_fit);
  return out;
}

/// Whether each process writes its own columns of S (--s-per-process under mpirun).
bool s_in_blocks(const Context& ctx, const FitArgs& a) { return ctx.processes() > 1 && a.s_per_process; }

/// Each layer's report (errors, held-out errors, accuracies on --eval-labels or else --labels);
/// then S is gathered whole on process 0 unless written in blocks. The time goes to @p t.
template <class T>
json evaluate_fit(const Context& ctx, const FitArgs& a, const FitRequest<T>& req, const FitInputs<T>& in,
                  FitOutcome<T>& out, Timings& t) {
  const auto t_eval = Clock::now();
  std::vector<std::vector<int>> labels = in.eval_sets;
  if (labels.empty() && req.supervision) labels = {req.supervision->labels};
  const std::vector<std::uint8_t> known = req.supervision ? req.supervision->known : std::vector<std::uint8_t>{};
  json layers = layer_reports(ctx, in.X, out, labels, known);
  add_held_out_errors(layers, ctx, in.X, out, req.neural.held_out, a.method == "neural");
  if (!s_in_blocks(ctx, a))
    for (auto& S : out.S) S = detail::gather_columns(ctx, S, 0);  // every S whole on process 0
  t.eval_s = since(t_eval);
  return layers;
}

/// Writes S in blocks (every process) or with the factors, the model and report.json into the
/// output folder @p dir, which process 0 then moves into place.
template <class T>
void write_fit_outputs(const Common& c, const FitArgs& a, const Context& ctx, const FitRequest<T>& req,
                       const FitInputs<T>& in, const FitOutcome<T>& out, const json& layers, const Timings& t,
                       std::optional<OutputDir>& dir) {
  const bool writer = ctx.process() == 0, s_blocks = s_in_blocks(ctx, a);
  const json data = data_info(ctx, a.X, in.X);
  const json per_process = process_timings(ctx, t);
  if (s_blocks) mpi::write_s_blocks(ctx, writer ? dir->stage("") : "", out.S, in.block, in.total, a.X);
  detail::all_or_none(ctx, [&] {
    if (!writer) return;
    write_factors(*dir, out, a, !s_blocks);
    io::write_file_atomic(dir->stage("report.json"),
                          fit_report(c, a, ctx, data, req.ranks, out, layers, t, per_process,
                                     req.neural.held_out.size()).dump(2) + "\n");
    dir->commit();
  });
}

/// The exit status: 130 when Ctrl-C ended the fit (on any process under mpirun; process 0 says
/// where the model reached is), else 0.
template <class T>
int fit_exit_status(const Context& ctx, const FitArgs& a, const FitOutcome<T>& out) {
  const bool multi = ctx.processes() > 1;
  const bool interrupted = interrupt_requested() ||
                           (multi && out.model && out.model->stop_reason() == StopReason::interrupted);
  if (!interrupted) return 0;
  if (ctx.process() == 0)
    std::fprintf(stderr, "fit: interrupted by Ctrl-C after %zu epochs; %s holds the model reached "
                         "(stop_reason interrupted)\n", out.history.size(), a.out.c_str());
  return 130;
}

/// `nnmf fit`: reads the inputs, fits, scores each layer and writes the output folder.
template <class T>
int run_fit(const Common& c, const FitArgs& a) {
  Timings t;
  t.start = Clock::now();
  const Context ctx = mpi::agreed_context([&] { return c.context(); });
  const bool multi = ctx.processes() > 1, writer = ctx.process() == 0;
  if (multi && !holdout_option(a).empty())  // every process alike, before any reading
    throw UsageError(holdout_option(a) + ": not under mpirun (run the cross-validation fit on one process)");
  const Method& method = find_method(a.method);
  FitRequest<T> req = fit_request<T>(ctx, a);
  Progress progress(c.quiet || !writer, "fit " + a.method);
  progress.phase("reading " + a.X, 0, 0);
  FitInputs<T> in;
  std::optional<OutputDir> dir;
  read_fit_inputs(ctx, a, req, in, dir, t);
  report_progress(req, progress, t, ctx);
  FitOutcome<T> out = fit_method(method, req, a, std::move(in.class_names), t);
  const json layers = evaluate_fit(ctx, a, req, in, out, t);
  write_fit_outputs(c, a, ctx, req, in, out, layers, t, dir);
  progress.done(summary(layers, t.fit_s, a.out));
  return fit_exit_status(ctx, a, out);
}

void add_choice(CLI::App* cmd, const std::string& name, std::string& target, const std::string& help,
                const std::vector<std::string>& choices) {
  cmd->add_option(name, target, help)->capture_default_str()->check(CLI::IsMember(choices));
}

void add_fit_model_options(CLI::App* cmd, FitArgs& a) {
  add_choice(cmd, "--loss", a.loss, "reconstruction, energy or both", {"reconstruction", "energy", "both"});
  add_optional_real(cmd, "--recon-weight", a.recon_weight, "weight of the reconstruction term (>= 0)", 0);
  add_optional_real(cmd, "--energy-weight", a.energy_weight, "weight of the energy term (>= 0)", 0);
  add_choice(cmd, "--scaling", a.scaling, "sum, or mean (the authors' package: MSE)", {"sum", "mean"});
  add_real(cmd, "--lambda", a.lambda, "weight of the supervision term", 0);
  add_choice(cmd, "--supervision", a.supervision, "l2 or ce (cross-entropy)", {"l2", "ce", "cross-entropy"});
  add_choice(cmd, "--classifier", a.classifier, "closed (B = (Z o Y) S^+) or trained", {"closed", "trained"});
  add_choice(cmd, "--optimizer", a.optimizer, "line-search (no learning rate), gd or adam", {"line-search", "gd", "adam"});
  add_real(cmd, "--lr", a.lr, "learning rate of gd/adam (0 = 1 with --scaling mean)", 0);
  add_real(cmd, "--lr-decay", a.lr_decay, "gd: lr *= this every --decay-every epochs (0 < d <= 1)", 0, 1);
  add_int(cmd, "--decay-every", a.decay_every, "epochs between decays", 1);
  add_real(cmd, "--rel-tol", a.rel_tol, "stop when the loss moved by less than this fraction of itself ...", 0);
  add_int(cmd, "--patience", a.patience, "... over this many epochs (0 = run all epochs)", 0);
  add_real(cmd, "--validation", a.validation,
           "share of the known labels held out to stop training when their accuracy stops improving "
           "(used when >= 100 labels; 0 = off)", 0, 0.9);
  add_int(cmd, "--validation-patience", a.validation_patience, "... epochs without improvement", 1);
  add_choice(cmd, "--init", a.init, "nmf, random or dir", {"nmf", "random", "dir"});
  cmd->add_option("--init-dir", a.init_dir, "directory with A0.mtx, A1.mtx, ... for --init dir");
  add_int(cmd, "--init-iterations", a.init_iterations, "NMF iterations per layer for --init nmf", 0);
  add_int(cmd, "--init-restarts", a.init_restarts, "random NMF starts per layer for --init nmf", 0);
  cmd->add_option("--mask", a.mask, "0/1 missing-data mask W (dense N x m Matrix Market)");
  cmd->add_option("--holdout", a.holdout,
                  "held-out entries H (coordinate Matrix Market of X's shape; values ignored): never trained "
                  "on, scored as held_out_error (every method; nmf then runs masked multiplicative updates)");
  add_optional_real(cmd, "--holdout-fraction", a.holdout_fraction,
                    "hold out this share (0 < F < 1) of X's nonzero entries and as many zero entries (drawn by --seed)", 0);
  cmd->add_option("--holdout-out", a.holdout_out, "write the held-out entries H used (for reuse with --holdout)");
  cmd->add_flag("--no-warm-start", a.no_warm_start, "solve each epoch's NNLS from scratch");
  add_columns_option(cmd, a.columns);
  cmd->add_option("--class-names", a.class_names, "one name per class of --labels, kept in the model");
  cmd->add_flag("--npy", a.npy, "also write A*.npy, S*.npy, B.npy (NumPy)");
}

}  // namespace

Command add_fit_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<FitArgs>();
  CLI::App* cmd = app.add_subcommand("fit", "fit a hierarchical model and write its factors and a report");
  cmd->add_option("X", a->X, "data X (N x m), Matrix Market, dense or sparse, .gz allowed")->required();
  cmd->add_option("--ranks", a->ranks, "ranks k0,k1,... (e.g. 9,4,2; min(N, m) >= k0 >= k1 >= ...)")->required();
  cmd->add_option("-o,--output", a->out, "output folder (A*.mtx, S*.mtx, report.json, model.nnmf), replaced as a whole")
      ->required();
  cmd->add_option("--method", a->method, "neural (default), nmf, ssnmf, hnmf or deep; see `nnmf methods`")->capture_default_str();
  cmd->add_option("--labels", a->labels, "class of each column (supervises the last layer)");
  add_int(cmd, "--classes", a->classes, "number of classes of --labels (0 = largest label + 1)", 0);
  cmd->add_option("--known", a->known, "0/1 per column: which labels the model may use");
  cmd->add_option("--eval-labels", a->eval_labels,
                  "labels to score each layer with (one file, or one per layer, comma-separated)");
  add_seed(cmd, "--seed", a->seed, "random seed (0 .. 2^64-1)");
  add_optional_int(cmd, "--epochs", a->epochs, "epochs (Neural NMF) or iterations (baselines); default: the method's", 0);
  add_fit_model_options(cmd, *a);
  cmd->add_option("--set", a->set, "method-specific setting key=value (repeatable)");
  cmd->add_flag("--x-per-process", a->x_per_process,
                "X is a pattern with {p}: under mpirun process p reads its own Matrix Market file (same rows; "
                "columns in process order, p0's first; --labels/--known/--mask/--eval-labels stay one file "
                "over all columns in that order); without mpirun the file of p = 0");
  cmd->add_flag("--s-per-process", a->s_per_process,
                "under mpirun: each process writes its columns of S as S<l>.p<r>.mtx (the output folder on a "
                "file system all see) instead of process 0 gathering S<l>.mtx");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_fit<decltype(t)>(*cp, *a); }); }};
}

}  // namespace nnmf::cli
