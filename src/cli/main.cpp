// nnmf: the command-line tool. Every error is one line on stderr and a non-zero exit; outputs
// are written all or none (see OutputSet).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <sys/stat.h>

#include "cli/cli.hpp"
#include "cli/experiment.hpp"
#include "nnmf/error.hpp"

using namespace nnmf;
using namespace nnmf::cli;
using json = nlohmann::json;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string t;
  while (std::getline(ss, t, sep)) out.push_back(t);
  return out;
}

void add_common(CLI::App& app, Common& c) {
  app.add_option("--device", c.device, "cpu or cuda")->capture_default_str();
  app.add_option("--threads", c.threads, "host threads (0 = all cores)")->capture_default_str();
  app.add_option("--precision", c.precision, "double or float")->capture_default_str();
  app.add_flag("-q,--quiet", c.quiet, "no progress or summary on stderr");
}

template <class T>
json data_info(const std::string& path, const io::AnyMatrix<T>& d) {
  json j{{"path", path}, {"rows", d.rows()}, {"cols", d.cols()}, {"sparse", d.sparse}};
  if (d.sparse) j["nnz"] = d.csc.nnz();
  return j;
}

/// Label sets for --eval-labels: one file for every layer or one per layer.
std::vector<std::vector<int>> read_label_sets(const std::string& spec, index_t m, std::size_t layers) {
  std::vector<std::vector<int>> out;
  if (spec.empty()) return out;
  const auto files = split(spec, ',');
  if (files.size() != 1 && files.size() != layers)
    throw InvalidArgument("--eval-labels: " + std::to_string(files.size()) + " files for " +
                          std::to_string(layers) + " layers (give 1, or one per layer)");
  for (const auto& f : files) out.push_back(io::read_labels(f, m));
  return out;
}

// ---- nnls ----------------------------------------------------------------------------------

struct NnlsArgs {
  std::string A, X, out, support;
  double tol = 0;
  int max_iter = 0;
  bool allow_unconverged = false;
};

template <class T>
int run_nnls(const Common& c, const NnlsArgs& a) {
  const Context ctx = c.context();
  const auto t0 = std::chrono::steady_clock::now();
  const Matrix<T> A = io::read_dense<T>(a.A);
  const io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  NnlsOptions o;
  o.tol = a.tol;
  o.max_iter = a.max_iter;
  const NnlsResult<T> r = X.sparse ? nnls<T>(ctx, A.view(), X.csc, o) : nnls<T>(ctx, A.view(), X.dense.view(), o);
  if (r.iteration_limit_columns > 0 && !a.allow_unconverged)
    throw Error(std::to_string(r.iteration_limit_columns) + " of " + std::to_string(r.S.cols()) +
                " columns reached the iteration limit; raise --max-iter, or pass --allow-unconverged "
                "to write S anyway");
  // Single files are written atomically by the writers themselves.
  io::write_mtx<T>(a.out, r.S.view(), "S = argmin_{S >= 0} ||X - A S||_F (nnmf nnls)");
  if (!a.support.empty()) {
    std::vector<index_t> I, J;
    std::vector<T> V;
    for (index_t j = 0; j < r.S.cols(); ++j)
      for (index_t i = 0; i < r.S.rows(); ++i)
        if (r.support.test(i, j)) {
          I.push_back(i);
          J.push_back(j);
          V.push_back(T(1));
        }
    io::write_mtx<T>(a.support, CscMatrix<T>::from_triplets(r.S.rows(), r.S.cols(), I, J, V),
                     "passive sets of the NNLS solution (1 = in the support)");
  }
  if (!c.quiet)
    std::fprintf(stderr, "nnls: %ld columns, k = %ld, %.3g active-set steps per column, %.3f s (%s)\n",
                 static_cast<long>(r.S.cols()), static_cast<long>(r.S.rows()),
                 r.S.cols() ? double(r.iterations) / double(r.S.cols()) : 0.0, seconds_since(t0),
                 ctx.describe().c_str());
  if (r.iteration_limit_columns > 0)
    std::fprintf(stderr, "nnls: warning: %ld columns reached the iteration limit (written anyway)\n",
                 static_cast<long>(r.iteration_limit_columns));
  return 0;
}

// ---- fit -------------------------------------------------------------------------------------

struct FitArgs {
  std::string X, out, ranks, labels, known, eval_labels, method = "neural", loss = "reconstruction";
  std::string scaling = "sum", supervision = "l2", classifier = "closed", optimizer = "line-search";
  std::string init = "nmf", init_dir, mask;
  std::uint64_t seed = 0;
  int epochs = -1;
  double energy_weight = -1, recon_weight = -1, lambda = 1, lr = 0, lr_decay = 1, rel_tol = 1e-7;
  int decay_every = 1, patience = 5, init_iterations = 300, init_restarts = 4, classes = 0;
  std::vector<std::string> set;
  bool no_warm_start = false;
};

template <class T>
json layer_reports(const Context& ctx, const io::AnyMatrix<T>& X, const FitOutcome<T>& out,
                   const std::vector<std::vector<int>>& labels, const std::vector<std::uint8_t>& known) {
  const auto err = X.sparse ? relative_errors<T>(ctx, X.csc, out.A, out.S)
                            : relative_errors<T>(ctx, X.dense.view(), out.A, out.S);
  std::vector<std::uint8_t> unknown;
  if (!known.empty())
    for (auto v : known) unknown.push_back(v ? 0 : 1);
  const bool any_unknown = std::any_of(unknown.begin(), unknown.end(), [](auto v) { return v != 0; });
  json layers = json::array();
  for (std::size_t l = 0; l < out.A.size(); ++l) {
    json j{{"layer", l}, {"rank", out.A[l].cols()}, {"rel_error", err[l]}};
    if (!labels.empty()) {
      const auto& y = labels.size() == 1 ? labels[0] : labels[l];
      j["accuracy"] = label_accuracy<T>(out.S[l].view(), y, known);
      if (any_unknown) j["accuracy_unlabeled"] = label_accuracy<T>(out.S[l].view(), y, known, unknown);
    }
    layers.push_back(j);
  }
  return layers;
}

template <class T>
int run_fit(const Common& c, const FitArgs& a) {
  const auto t_start = std::chrono::steady_clock::now();
  const Context ctx = c.context();
  const auto mit = methods().find(a.method);
  if (mit == methods().end()) {
    std::string names;
    for (const auto& kv : methods()) names += (names.empty() ? "" : ", ") + kv.first;
    throw InvalidArgument("--method " + a.method + ": unknown method (available: " + names + ")");
  }
  FitRequest<T> req;
  req.ctx = &ctx;
  req.ranks = parse_ranks(a.ranks, "--ranks");
  req.seed = a.seed;
  req.iterations = a.epochs;
  for (const auto& kv : a.set) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw InvalidArgument("--set " + kv + ": expected key=value");
    req.settings[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  const auto t_load = std::chrono::steady_clock::now();
  const io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  req.X = &X;
  const index_t m = X.cols();
  const double load_s = seconds_since(t_load);
  std::vector<std::uint8_t> known;
  if (!a.known.empty() && a.labels.empty()) throw InvalidArgument("--known needs --labels");
  if (!a.labels.empty()) {
    Supervision s;
    s.labels = io::read_labels(a.labels, m, a.classes);
    s.num_classes = a.classes;
    if (!a.known.empty()) s.known = known = io::read_mask(a.known, m);
    s.lambda = a.lambda;
    if (a.supervision == "l2")
      s.loss = SupervisionLoss::l2;
    else if (a.supervision == "ce" || a.supervision == "cross-entropy")
      s.loss = SupervisionLoss::cross_entropy;
    else
      throw InvalidArgument("--supervision must be 'l2' or 'ce', got '" + a.supervision + "'");
    if (a.classifier == "closed")
      s.classifier = ClassifierMode::closed_form;
    else if (a.classifier == "trained")
      s.classifier = ClassifierMode::trained;
    else
      throw InvalidArgument("--classifier must be 'closed' or 'trained', got '" + a.classifier + "'");
    if (s.loss == SupervisionLoss::cross_entropy && a.classifier == "closed")
      s.classifier = ClassifierMode::trained;  // cross-entropy has no closed form
    req.supervision = s;
  }
  // Neural NMF options from the flags.
  FitOptions& o = req.neural;
  if (a.loss == "reconstruction") {
    o.reconstruction_weight = 1;
    o.energy_weight = 0;
  } else if (a.loss == "energy") {
    o.reconstruction_weight = 0;
    o.energy_weight = 1;
  } else if (a.loss == "both") {
    o.reconstruction_weight = 1;
    o.energy_weight = 1;
  } else {
    throw InvalidArgument("--loss must be 'reconstruction', 'energy' or 'both', got '" + a.loss + "'");
  }
  if (a.recon_weight >= 0) o.reconstruction_weight = a.recon_weight;
  if (a.energy_weight >= 0) o.energy_weight = a.energy_weight;
  if (a.scaling == "sum")
    o.scaling = Scaling::sum;
  else if (a.scaling == "mean")
    o.scaling = Scaling::mean;
  else
    throw InvalidArgument("--scaling must be 'sum' or 'mean', got '" + a.scaling + "'");
  if (a.optimizer == "line-search")
    o.optimizer = Optimizer::line_search;
  else if (a.optimizer == "gd")
    o.optimizer = Optimizer::gd;
  else if (a.optimizer == "adam")
    o.optimizer = Optimizer::adam;
  else
    throw InvalidArgument("--optimizer must be 'line-search', 'gd' or 'adam', got '" + a.optimizer + "'");
  o.learning_rate = a.lr;
  o.lr_decay = a.lr_decay;
  o.decay_every = a.decay_every;
  o.rel_tol = a.rel_tol;
  o.patience = a.patience;
  o.warm_start = !a.no_warm_start;
  o.init_iterations = a.init_iterations;
  o.init_restarts = a.init_restarts;
  if (a.init == "nmf") {
    o.init = Init::nmf;
  } else if (a.init == "random") {
    o.init = Init::random;
  } else if (a.init == "dir") {
    if (a.init_dir.empty()) throw InvalidArgument("--init dir needs --init-dir DIR (with A0.mtx, A1.mtx, ...)");
    o.init = Init::given;
    for (std::size_t l = 0; l < req.ranks.size(); ++l)
      o.initial_factors.push_back(io::read_dense<double>(a.init_dir + "/A" + std::to_string(l) + ".mtx"));
  } else {
    throw InvalidArgument("--init must be 'nmf', 'random' or 'dir', got '" + a.init + "'");
  }
  if (!a.mask.empty()) {
    if (X.sparse) throw InvalidArgument("--mask needs dense X: " + a.X + " is sparse");
    const Matrix<double> W = io::read_dense<double>(a.mask);
    if (W.rows() != X.rows() || W.cols() != X.cols())
      throw DimensionMismatch("--mask " + a.mask + " is " + shape_string(W.rows(), W.cols()) +
                              " but X is " + shape_string(X.rows(), X.cols()));
    for (double v : W.storage()) {
      if (v != 0 && v != 1) throw InvalidArgument("--mask " + a.mask + ": entries must be 0 or 1");
      o.data_mask.push_back(v != 0);
    }
  }
  const auto eval_sets = read_label_sets(a.eval_labels, m, req.ranks.size());
  // Output directory first: a bad path fails before the work.
  OutputSet outset(a.out);

  Progress progress(c.quiet, "fit " + a.method);
  req.progress = [&progress](int step, int total, double loss) { progress.update(step, total, loss); };
  const auto t_fit = std::chrono::steady_clock::now();
  FitOutcome<T> out;
  if constexpr (std::is_same<T, float>::value)
    out = mit->second.fit_float(req);
  else
    out = mit->second.fit_double(req);
  const double fit_s = seconds_since(t_fit);

  const auto t_eval = std::chrono::steady_clock::now();
  std::vector<std::vector<int>> labels = eval_sets;
  if (labels.empty() && req.supervision) labels = {req.supervision->labels};
  const json layers = layer_reports(ctx, X, out, labels, known);
  const double eval_s = seconds_since(t_eval);

  for (std::size_t l = 0; l < out.A.size(); ++l) {
    io::write_mtx<T>(outset.stage("A" + std::to_string(l) + ".mtx"), out.A[l].view(),
                     "factor A" + std::to_string(l) + " (nnmf fit --method " + a.method + ")");
    io::write_mtx<T>(outset.stage("S" + std::to_string(l) + ".mtx"), out.S[l].view(),
                     "coefficients S" + std::to_string(l));
  }
  if (!out.B.empty()) io::write_mtx<T>(outset.stage("B.mtx"), out.B.view(), "classifier B (classes x last rank)");
  if (out.model) out.model->save(outset.stage("model.nnmf"));

  json report;
  report["nnmf_version"] = NNMF_VERSION_STRING;
  report["command"] = "fit";
  report["method"] = a.method;
  report["seed"] = a.seed;
  report["device"] = ctx.describe();
  report["precision"] = c.precision;
  report["data"] = data_info(a.X, X);
  report["ranks"] = req.ranks;
  report["settings"] = out.settings;
  if (!a.labels.empty()) {
    report["labels"] = a.labels;
    if (!a.known.empty()) report["known"] = a.known;
  }
  if (!a.eval_labels.empty()) report["eval_labels"] = a.eval_labels;
  report["layers"] = layers;
  json hist = json::array();
  double epoch_time = 0;
  for (const auto& h : out.history) {
    hist.push_back({{"epoch", h.epoch}, {"loss", h.loss}, {"reconstruction", h.reconstruction},
                    {"energy", h.energy}, {"supervision", h.supervision}, {"step", h.step},
                    {"seconds", h.seconds}, {"nnls_iterations", h.nnls_iterations}});
    epoch_time += h.seconds;
  }
  report["history"] = hist;
  report["timings"] = {{"load_s", load_s},
                       {"fit_s", fit_s},
                       {"eval_s", eval_s},
                       {"total_s", seconds_since(t_start)},
                       {"epochs", out.history.size()},
                       {"mean_epoch_ms", out.history.empty() ? 0.0 : 1e3 * epoch_time / out.history.size()}};
  io::write_file_atomic(outset.stage("report.json"), report.dump(2) + "\n");
  outset.commit();

  std::ostringstream sum;
  sum.precision(4);
  for (const auto& l : layers) {
    sum << "k=" << l["rank"].get<long>() << " err " << l["rel_error"].get<double>();
    if (l.contains("accuracy")) sum << " acc " << l["accuracy"].get<double>();
    sum << "; ";
  }
  sum << fit_s << " s -> " << a.out;
  progress.done(sum.str());
  return 0;
}

// ---- transform / eval / topics ---------------------------------------------------------------

struct ModelArgs {
  std::string model, X, out, labels, fit_mask, score_mask, vocab, layer = "all";
  int top = 10;
};

template <class T>
int run_transform(const Common& c, const ModelArgs& a) {
  const Context ctx = c.context();
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  const io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  OutputSet outset(a.out);
  const auto S = X.sparse ? model.transform(ctx, X.csc) : model.transform(ctx, X.dense.view());
  for (std::size_t l = 0; l < S.size(); ++l)
    io::write_mtx<T>(outset.stage("S" + std::to_string(l) + ".mtx"), S[l].view(),
                     "coefficients S" + std::to_string(l) + " of " + a.X + " under " + a.model);
  outset.commit();
  if (!c.quiet) std::fprintf(stderr, "transform: %zu layers -> %s\n", S.size(), a.out.c_str());
  return 0;
}

template <class T>
int run_eval(const Common& c, const ModelArgs& a) {
  const Context ctx = c.context();
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  const io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  const auto labels = read_label_sets(a.labels, X.cols(), static_cast<std::size_t>(model.layers()));
  const auto fit = a.fit_mask.empty() ? std::vector<std::uint8_t>{} : io::read_mask(a.fit_mask, X.cols());
  const auto score = a.score_mask.empty() ? std::vector<std::uint8_t>{} : io::read_mask(a.score_mask, X.cols());
  const auto rep = X.sparse ? model.evaluate(ctx, X.csc, labels, fit, score)
                            : model.evaluate(ctx, X.dense.view(), labels, fit, score);
  json layers = json::array();
  std::printf("layer  rank  rel_error%s\n", labels.empty() ? "" : "  accuracy");
  for (std::size_t l = 0; l < rep.size(); ++l) {
    json j{{"layer", l}, {"rank", rep[l].rank}, {"rel_error", rep[l].rel_error}};
    std::printf("%5zu  %4ld  %9.4f", l, static_cast<long>(rep[l].rank), rep[l].rel_error);
    if (rep[l].accuracy) {
      j["accuracy"] = *rep[l].accuracy;
      std::printf("  %8.4f", *rep[l].accuracy);
    }
    std::printf("\n");
    layers.push_back(j);
  }
  if (!a.out.empty()) {
    json report{{"command", "eval"}, {"model", a.model}, {"data", a.X}, {"layers", layers}};
    io::write_file_atomic(a.out, report.dump(2) + "\n");
  }
  return 0;
}

template <class T>
int run_topics(const Common&, const ModelArgs& a) {
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  std::vector<std::string> vocab;
  if (!a.vocab.empty()) vocab = io::read_lines(a.vocab);
  if (a.top < 1) throw InvalidArgument("--top must be >= 1");
  std::vector<index_t> layers;
  if (a.layer == "all") {
    for (index_t l = 0; l < model.layers(); ++l) layers.push_back(l);
  } else {
    const auto v = parse_ranks(std::to_string(std::stoll(a.layer) + 1), "--layer");
    layers.push_back(v[0] - 1);
  }
  json out = json::array();
  for (index_t l : layers) {
    if (l < 0 || l >= model.layers())
      throw InvalidArgument("--layer " + a.layer + ": the model has layers 0.." + std::to_string(model.layers() - 1));
    const auto top = model.top_features(l, a.top);
    std::printf("layer %ld (rank %ld)\n", static_cast<long>(l), static_cast<long>(top.size()));
    json lj{{"layer", l}, {"topics", json::array()}};
    for (std::size_t t = 0; t < top.size(); ++t) {
      std::printf("  topic %zu:", t);
      json words = json::array();
      for (index_t i : top[t]) {
        const std::string w = vocab.empty() ? std::to_string(i) : vocab.at(static_cast<std::size_t>(i));
        std::printf(" %s", w.c_str());
        words.push_back(w);
      }
      std::printf("\n");
      lj["topics"].push_back(words);
    }
    if (l >= 1) {
      // How the topics of layer l-1 combine: for each topic, its strongest parents' weights.
      const Matrix<T>& H = model.factors()[static_cast<std::size_t>(l)];
      lj["hierarchy"] = json::array();
      for (index_t j = 0; j < H.cols(); ++j) {
        json col = json::array();
        for (index_t i = 0; i < H.rows(); ++i) col.push_back(H(i, j));
        lj["hierarchy"].push_back(col);
      }
    }
    out.push_back(lj);
  }
  if (!vocab.empty() && static_cast<index_t>(vocab.size()) != model.features())
    throw DimensionMismatch("--vocab " + a.vocab + " has " + std::to_string(vocab.size()) +
                            " terms but the model has " + std::to_string(model.features()) + " features");
  if (!a.out.empty()) io::write_file_atomic(a.out, json{{"layers", out}}.dump(2) + "\n");
  return 0;
}

// ---- demo ------------------------------------------------------------------------------------

struct DemoArgs {
  std::string data;
  int seeds = 5;
  int epochs = 0;
};

std::string default_data_dir() {
  for (const std::string& d : {std::string(NNMF_INSTALLED_DATA_DIR), std::string(NNMF_SOURCE_DATA_DIR)})
    if (exists(d + "/synthetic-hierarchy/X.mtx")) return d;
  return NNMF_SOURCE_DATA_DIR;
}

int run_demo(const Common& c, const DemoArgs& a) {
  const Context ctx = c.context();
  const std::string dir = (a.data.empty() ? default_data_dir() : a.data) + "/synthetic-hierarchy";
  if (a.seeds < 1) throw InvalidArgument("--seeds must be >= 1");
  const Matrix<double> X = io::read_dense<double>(dir + "/X.mtx");
  const std::vector<std::vector<int>> y = {io::read_labels(dir + "/labels9.txt", X.cols()),
                                           io::read_labels(dir + "/labels4.txt", X.cols()),
                                           io::read_labels(dir + "/labels2.txt", X.cols())};
  const auto known = io::read_mask(dir + "/known40.txt", X.cols());
  // Paper, Table 1, Neural NMF column (relative error / accuracy).
  const double paper[2][3][2] = {{{0.029, 1}, {0.310, 0.995}, {0.492, 1}}, {{0.042, 1}, {0.305, 1}, {0.496, 0.990}}};
  std::printf("Neural NMF on the synthetic hierarchy (%ld x %ld), ranks 9,4,2; mean over %d seeds (%s)\n",
              static_cast<long>(X.rows()), static_cast<long>(X.cols()), a.seeds, ctx.describe().c_str());
  std::printf("%-11s %-6s  %-19s  %-19s  %s\n", "supervision", "layers", "rel. error (paper)",
              "accuracy (paper)", "time/fit");
  const auto t0 = std::chrono::steady_clock::now();
  for (int sup = 0; sup < 2; ++sup) {
    for (int depth = 1; depth <= 3; ++depth) {
      double err = 0, acc = 0, secs = 0;
      for (int seed = 0; seed < a.seeds; ++seed) {
        FitOptions o;
        o.ranks = {9, 4, 2};
        o.ranks.resize(static_cast<std::size_t>(depth));
        o.seed = static_cast<std::uint64_t>(seed);
        if (a.epochs > 0) o.epochs = a.epochs;
        if (sup) {
          Supervision s;
          s.labels = y[static_cast<std::size_t>(depth - 1)];
          s.known = known;
          o.supervision = s;
        }
        const auto t = std::chrono::steady_clock::now();
        const auto model = NeuralNmf<double>::fit(ctx, X.view(), o);
        secs += seconds_since(t);
        const auto rep = model.evaluate(ctx, X.view(), {y[static_cast<std::size_t>(depth - 1)]},
                                        sup ? known : std::vector<std::uint8_t>{});
        err += rep.back().rel_error;
        acc += *rep.back().accuracy;
      }
      err /= a.seeds;
      acc /= a.seeds;
      std::printf("%-11s %-6d  %.3f (%.3f)       %.3f (%.3f)        %.0f ms\n", sup ? "40%" : "none", depth,
                  err, paper[sup][depth - 1][0], acc, paper[sup][depth - 1][1], 1e3 * secs / a.seeds);
    }
  }
  std::printf("total %.2f s. Accuracy: B = (Z o Y) S^+ on the known columns, argmax(B S_L) on all;\n"
              "layer L of an L-layer run is scored against the labels of its rank (9, 4, 2).\n",
              seconds_since(t0));
  return 0;
}

template <class F>
int dispatch(const Common& c, F&& f) {
  return c.precision == "float" ? f(float{}) : f(double{});
}

}  // namespace

int main(int argc, char** argv) {
  register_neural(methods());
  register_baselines(methods());
  CLI::App app{"nnmf: hierarchical topic modeling with Neural NMF (nnmf " NNMF_VERSION_STRING ")"};
  app.require_subcommand(1);
  app.set_version_flag("--version", NNMF_VERSION_STRING);
  Common common;
  add_common(app, common);
  app.fallthrough();
  // Parse errors are one line too, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("nnmf: error: ") + e.what() + " (see --help)\n";
  });

  NnlsArgs na;
  auto* nnls_cmd = app.add_subcommand("nnls", "S = argmin_{S >= 0} ||X - A S||_F, column by column");
  nnls_cmd->add_option("A", na.A, "factor A (N x k), Matrix Market")->required()->check(CLI::ExistingFile);
  nnls_cmd->add_option("X", na.X, "data X (N x m), Matrix Market, dense or sparse, .gz allowed")
      ->required()->check(CLI::ExistingFile);
  nnls_cmd->add_option("-o,--output", na.out, "S (k x m) output file")->required();
  nnls_cmd->add_option("--support", na.support, "also write the supports as a 0/1 sparse matrix");
  nnls_cmd->add_option("--tol", na.tol, "relative optimality tolerance (0 = default)");
  nnls_cmd->add_option("--max-iter", na.max_iter, "active-set iterations per column (0 = 3k+30)");
  nnls_cmd->add_flag("--allow-unconverged", na.allow_unconverged,
                     "write S even if some columns reached the iteration limit");

  FitArgs fa;
  auto* fit_cmd = app.add_subcommand("fit", "fit a hierarchical model and write its factors and a report");
  fit_cmd->add_option("X", fa.X, "data X (N x m), Matrix Market, dense or sparse, .gz allowed")
      ->required()->check(CLI::ExistingFile);
  fit_cmd->add_option("--ranks", fa.ranks, "ranks k0,k1,... (e.g. 9,4,2)")->required();
  fit_cmd->add_option("-o,--output", fa.out, "output directory (A*.mtx, S*.mtx, report.json, model.nnmf)")->required();
  fit_cmd->add_option("--method", fa.method, "neural (default), nmf or hnmf; see `nnmf methods`")->capture_default_str();
  fit_cmd->add_option("--labels", fa.labels, "class of each column (supervises the last layer)")->check(CLI::ExistingFile);
  fit_cmd->add_option("--classes", fa.classes, "number of classes of --labels (0 = largest label + 1)");
  fit_cmd->add_option("--known", fa.known, "0/1 per column: which labels the model may use")->check(CLI::ExistingFile);
  fit_cmd->add_option("--eval-labels", fa.eval_labels, "labels to score each layer with (one file, or one per layer, comma-separated)");
  fit_cmd->add_option("--seed", fa.seed, "random seed")->capture_default_str();
  fit_cmd->add_option("--epochs", fa.epochs, "epochs (Neural NMF) or iterations (baselines); default: the method's");
  fit_cmd->add_option("--loss", fa.loss, "reconstruction, energy or both")->capture_default_str();
  fit_cmd->add_option("--recon-weight", fa.recon_weight, "weight of the reconstruction term");
  fit_cmd->add_option("--energy-weight", fa.energy_weight, "weight of the energy term");
  fit_cmd->add_option("--scaling", fa.scaling, "sum, or mean (the authors' package: MSE)")->capture_default_str();
  fit_cmd->add_option("--lambda", fa.lambda, "weight of the supervision term")->capture_default_str();
  fit_cmd->add_option("--supervision", fa.supervision, "l2 or ce (cross-entropy)")->capture_default_str();
  fit_cmd->add_option("--classifier", fa.classifier, "closed (B = (Z o Y) S^+) or trained")->capture_default_str();
  fit_cmd->add_option("--optimizer", fa.optimizer, "line-search (no learning rate), gd or adam")->capture_default_str();
  fit_cmd->add_option("--lr", fa.lr, "learning rate of gd/adam (0 = 1 with --scaling mean)");
  fit_cmd->add_option("--lr-decay", fa.lr_decay, "gd: lr *= this every --decay-every epochs")->capture_default_str();
  fit_cmd->add_option("--decay-every", fa.decay_every, "epochs between decays")->capture_default_str();
  fit_cmd->add_option("--rel-tol", fa.rel_tol, "stop when the relative loss decrease stays below this")->capture_default_str();
  fit_cmd->add_option("--patience", fa.patience, "... for this many epochs (0 = run all epochs)")->capture_default_str();
  fit_cmd->add_option("--init", fa.init, "nmf, random or dir")->capture_default_str();
  fit_cmd->add_option("--init-dir", fa.init_dir, "directory with A0.mtx, A1.mtx, ... for --init dir");
  fit_cmd->add_option("--init-iterations", fa.init_iterations, "NMF iterations per layer for --init nmf")->capture_default_str();
  fit_cmd->add_option("--init-restarts", fa.init_restarts, "random NMF starts per layer for --init nmf")->capture_default_str();
  fit_cmd->add_option("--mask", fa.mask, "0/1 missing-data mask W (dense N x m Matrix Market)")->check(CLI::ExistingFile);
  fit_cmd->add_flag("--no-warm-start", fa.no_warm_start, "solve each epoch's NNLS from scratch");
  fit_cmd->add_option("--set", fa.set, "method-specific setting key=value (repeatable)");

  ModelArgs ta;
  auto* tr_cmd = app.add_subcommand("transform", "S of every layer for new data under a fitted model");
  tr_cmd->add_option("model", ta.model, "model.nnmf from `nnmf fit`")->required()->check(CLI::ExistingFile);
  tr_cmd->add_option("X", ta.X, "data X (N x m)")->required()->check(CLI::ExistingFile);
  tr_cmd->add_option("-o,--output", ta.out, "output directory (S0.mtx, S1.mtx, ...)")->required();

  ModelArgs ea;
  auto* ev_cmd = app.add_subcommand("eval", "relative error and accuracy of each layer of a fitted model");
  ev_cmd->add_option("model", ea.model, "model.nnmf")->required()->check(CLI::ExistingFile);
  ev_cmd->add_option("X", ea.X, "data X (N x m)")->required()->check(CLI::ExistingFile);
  ev_cmd->add_option("--labels", ea.labels, "labels (one file, or one per layer, comma-separated)");
  ev_cmd->add_option("--fit-mask", ea.fit_mask, "0/1: columns whose labels fit B (default all)")->check(CLI::ExistingFile);
  ev_cmd->add_option("--score-mask", ea.score_mask, "0/1: columns scored (default all)")->check(CLI::ExistingFile);
  ev_cmd->add_option("-o,--output", ea.out, "also write a JSON report");

  ModelArgs pa;
  auto* tp_cmd = app.add_subcommand("topics", "top features of each topic and the topic hierarchy");
  tp_cmd->add_option("model", pa.model, "model.nnmf")->required()->check(CLI::ExistingFile);
  tp_cmd->add_option("--vocab", pa.vocab, "one term per line, one line per row of X")->check(CLI::ExistingFile);
  tp_cmd->add_option("--top", pa.top, "terms per topic")->capture_default_str();
  tp_cmd->add_option("--layer", pa.layer, "layer index or 'all'")->capture_default_str();
  tp_cmd->add_option("-o,--output", pa.out, "also write JSON");

  DemoArgs da;
  auto* demo_cmd = app.add_subcommand("demo", "the paper's Table 1 Neural NMF column on the bundled synthetic data");
  demo_cmd->add_option("--data", da.data, "data directory holding synthetic-hierarchy/");
  demo_cmd->add_option("--seeds", da.seeds, "seeds to average")->capture_default_str();
  demo_cmd->add_option("--epochs", da.epochs, "epoch cap (0 = default)");

  auto* methods_cmd = app.add_subcommand("methods", "list the methods of `nnmf fit --method`");
  const ExperimentCommand experiment = add_experiment_command(app, common, argc, argv);

  for (auto* sub : {nnls_cmd, fit_cmd, tr_cmd, ev_cmd, tp_cmd, demo_cmd, methods_cmd, experiment.command})
    sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*nnls_cmd) return dispatch(common, [&](auto t) { return run_nnls<decltype(t)>(common, na); });
    if (*fit_cmd) return dispatch(common, [&](auto t) { return run_fit<decltype(t)>(common, fa); });
    if (*tr_cmd) return dispatch(common, [&](auto t) { return run_transform<decltype(t)>(common, ta); });
    if (*ev_cmd) return dispatch(common, [&](auto t) { return run_eval<decltype(t)>(common, ea); });
    if (*tp_cmd) return dispatch(common, [&](auto t) { return run_topics<decltype(t)>(common, pa); });
    if (*demo_cmd) return run_demo(common, da);
    if (*experiment.command) return experiment.run();
    if (*methods_cmd) {
      for (const auto& kv : methods()) std::printf("%-8s %s\n", kv.first.c_str(), kv.second.description.c_str());
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nnmf: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
