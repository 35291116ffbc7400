// The commands that apply a fitted model to data: `transform`, `eval` and `predict`
// (`topics` is in cmd_topics.cpp).
#include <algorithm>
#include <cstdio>
#include <limits>
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

struct ModelArgs {
  std::string model, X, out, labels, fit_mask, score_mask, columns;
  bool npy = false, refit = false, s_per_process = false, x_per_process = false;
};

/// The model and its data X, the --columns kept (@p cols receives them).
template <class T>
io::AnyMatrix<T> read_data(const ModelArgs& a, std::vector<index_t>& cols, index_t& m_file) {
  mpi::check_share({a.X, a.columns, a.x_per_process, 1});
  io::AnyMatrix<T> X = io::read_mtx<T>(a.x_per_process ? mpi::process_path(a.X, 0) : a.X);
  m_file = X.cols();
  cols = read_columns(a.columns, m_file);
  select_columns(X, cols);
  return X;
}

template <class T>
std::vector<Matrix<T>> forward(const Context& ctx, const NeuralNmf<T>& model, const io::AnyMatrix<T>& X) {
  return X.sparse ? model.transform(ctx, X.csc) : model.transform(ctx, X.dense.view());
}

// ---- transform ---------------------------------------------------------------------------------

/// Under mpirun (docs/mpi.md) each process reads the model and its share of the columns of X
/// (a block of the file's or of the --columns selection, or its own file with
/// --x-per-process); process 0 gathers and writes every S (or each process writes its block,
/// --s-per-process).
template <class T>
int run_transform_blocks(const Common& c, const ModelArgs& a, const Context& ctx) {
  const bool writer = ctx.process() == 0;
  NeuralNmf<T> model;
  std::optional<OutputDir> dir;
  mpi::Share<T> share = mpi::read_share<T>(ctx, {a.X, a.columns, a.x_per_process, 1});
  detail::all_or_none(ctx, [&] {
    model = NeuralNmf<T>::load(a.model);
    if (writer) dir.emplace(a.out, "-o", "transform");
  });
  auto S = forward(ctx, model, share.X);
  const bool s_blocks = a.s_per_process;
  if (s_blocks)
    mpi::write_s_blocks(ctx, writer ? dir->stage("") : "", S, share.block, share.total, a.X + " under " + a.model);
  else
    for (auto& s : S) s = detail::gather_columns(ctx, s, 0);
  detail::all_or_none(ctx, [&] {
    if (!writer) return;
    for (std::size_t l = 0; l < S.size() && !s_blocks; ++l) {
      const std::string name = "S" + std::to_string(l);
      io::write_mtx<T>(dir->stage(name + ".mtx"), S[l].view(), "coefficients " + name + " of " + a.X + " under " + a.model);
      if (a.npy) io::write_npy<T>(dir->stage(name + ".npy"), S[l].view());
    }
    dir->commit();
  });
  if (!c.quiet && writer) std::fprintf(stderr, "transform: %zu layers -> %s\n", S.size(), a.out.c_str());
  return 0;
}

template <class T>
int run_transform(const Common& c, const ModelArgs& a) {
  const Context ctx = mpi::agreed_context([&] { return c.context(); });
  if (ctx.processes() > 1) return run_transform_blocks<T>(c, a, ctx);
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  std::vector<index_t> cols;
  index_t m = 0;
  const io::AnyMatrix<T> X = read_data<T>(a, cols, m);
  OutputDir dir(a.out, "-o", "transform");
  const auto S = forward(ctx, model, X);
  for (std::size_t l = 0; l < S.size(); ++l) {
    const std::string name = "S" + std::to_string(l);
    io::write_mtx<T>(dir.stage(name + ".mtx"), S[l].view(),
                     "coefficients " + name + " of " + a.X + (a.columns.empty() ? "" : " (--columns " + a.columns + ")") +
                         " under " + a.model);
    if (a.npy) io::write_npy<T>(dir.stage(name + ".npy"), S[l].view());
  }
  dir.commit();
  if (!c.quiet) std::fprintf(stderr, "transform: %zu layers -> %s\n", S.size(), a.out.c_str());
  return 0;
}

// ---- eval --------------------------------------------------------------------------------------

/// A mask of --fit-mask / --score-mask; one that selects no column is refused (an accuracy
/// from an empty fit or an empty score means nothing).
std::vector<std::uint8_t> read_nonempty_mask(const std::string& path, const std::string& option, index_t m,
                                             const std::string& purpose) {
  if (path.empty()) return {};
  auto mask = io::read_mask(path, m);
  if (std::none_of(mask.begin(), mask.end(), [](std::uint8_t v) { return v != 0; }))
    throw InvalidArgument(option + " " + path + ": all " + std::to_string(mask.size()) + " entries are 0; " +
                          purpose + " needs at least one column marked 1");
  return mask;
}

json print_layers(const std::vector<LayerReport>& rep, bool with_labels) {
  json layers = json::array();
  std::printf("layer  rank  rel_error%s\n", with_labels ? "  accuracy" : "");
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
  return layers;
}

/// The share of the columns in @p mask (empty = all) whose predicted class is their label.
double share_correct(const std::vector<int>& predicted, const std::vector<int>& y,
                     const std::vector<std::uint8_t>& mask = {}) {
  double hits = 0, n = 0;
  for (std::size_t j = 0; j < y.size(); ++j)
    if (mask.empty() || mask[j]) {
      hits += predicted[j] == y[j];
      n += 1;
    }
  return hits / n;
}

/// eval of the model as it is: one forward pass gives every layer's error and, through the
/// model's own classifier, the last layer's accuracy on the --score-mask columns (the other
/// layers have no classifier of their own).
template <class T>
std::vector<LayerReport> reports_as_is(const Context& ctx, const NeuralNmf<T>& model, const io::AnyMatrix<T>& X,
                                       const std::vector<std::vector<int>>& labels,
                                       const std::vector<std::uint8_t>& score) {
  const std::vector<int>& y = labels.size() == 1 ? labels[0] : labels.back();
  const int classes = 1 + *std::max_element(y.begin(), y.end());
  if (classes > model.classifier().rows())
    throw InvalidArgument("--labels: the last layer's labels have " + std::to_string(classes) +
                          " classes but the model's classifier " + std::to_string(model.classifier().rows()) +
                          " (labels of another level?); --refit scores them with a classifier fit to them");
  const auto S = forward(ctx, model, X);
  const auto rel = X.sparse ? relative_errors<T>(ctx, X.csc, model.factors(), S)
                            : relative_errors<T>(ctx, X.dense.view(), model.factors(), S);
  std::vector<LayerReport> rep;
  for (std::size_t l = 0; l < S.size(); ++l) rep.push_back({model.factors()[l].cols(), rel[l], std::nullopt});
  rep.back().accuracy = share_correct(model.classify(S.back().view()), y, score);
  return rep;
}

/// What eval's accuracies mean, printed above them.
std::string classifier_note(bool refit, bool model_has_b, const std::string& fit_mask) {
  if (!refit) return "classifier: the model's own B, last layer (no refit; --refit scores every layer)";
  return std::string("classifier: refit per layer by the paper's rule, B = (Z o Y) S^+ from ") +
         (fit_mask.empty() ? "all columns" : "the --fit-mask columns") +
         (model_has_b ? "" : " (the model has no classifier of its own)");
}

template <class T>
int run_eval(const Common& c, const ModelArgs& a) {
  const Context ctx = c.context();
  if (a.labels.empty() && !(a.fit_mask.empty() && a.score_mask.empty() && !a.refit))
    throw UsageError(std::string(!a.fit_mask.empty() ? "--fit-mask" : !a.score_mask.empty() ? "--score-mask" : "--refit") +
                     " needs --labels");
  if (!a.out.empty()) check_output_file(a.out, "-o");
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  std::vector<index_t> cols;
  index_t m = 0;
  const io::AnyMatrix<T> X = read_data<T>(a, cols, m);
  const auto labels = read_label_sets(a.labels, "--labels", m, static_cast<std::size_t>(model.layers()), cols);
  const bool refit = a.refit || !a.fit_mask.empty() || model.classifier().empty();
  const auto fit = select_entries(read_nonempty_mask(a.fit_mask, "--fit-mask", m, "fitting the classifier B"), cols);
  const auto score = select_entries(read_nonempty_mask(a.score_mask, "--score-mask", m, "scoring"), cols);
  const bool as_is = !labels.empty() && !refit;
  const auto rep = as_is ? reports_as_is(ctx, model, X, labels, score)
                   : X.sparse ? model.evaluate(ctx, X.csc, labels, fit, score)
                              : model.evaluate(ctx, X.dense.view(), labels, fit, score);
  if (!labels.empty()) std::printf("%s\n", classifier_note(refit, !model.classifier().empty(), a.fit_mask).c_str());
  const json layers = print_layers(rep, !labels.empty());
  if (!a.out.empty()) {
    json report{{"command", "eval"}, {"model", a.model}, {"data", a.X}, {"layers", layers}};
    if (!labels.empty()) report["classifier"] = refit ? "refit" : "model";
    if (!a.columns.empty()) report["columns"] = a.columns;
    io::write_file_atomic(a.out, report.dump(2) + "\n");
  }
  return 0;
}

// ---- predict -----------------------------------------------------------------------------------

/// predictions.csv: document (0-based column of X), class, and its name when the model has them.
std::string predictions_csv(const std::vector<int>& cls, const std::vector<index_t>& cols,
                            const std::vector<std::string>& names) {
  std::string out = names.empty() ? "document,class\n" : "document,class,name\n";
  for (std::size_t j = 0; j < cls.size(); ++j) {
    out += std::to_string(original_column(cols, static_cast<index_t>(j))) + "," + std::to_string(cls[j]);
    if (!names.empty()) out += "," + csv_field(names[static_cast<std::size_t>(cls[j])]);
    out += "\n";
  }
  return out;
}

template <class T>
int run_predict(const Common& c, const ModelArgs& a) {
  const Context ctx = c.context();
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  if (model.classifier().empty())
    throw InvalidArgument(a.model + ": the model has no classifier (it was fit without --labels); predict needs a "
                          "supervised fit (`nnmf eval --labels` scores layers by refitting one)");
  std::vector<index_t> cols;
  index_t m = 0;
  const io::AnyMatrix<T> X = read_data<T>(a, cols, m);
  const auto labels = read_label_sets(a.labels, "--labels", m, 1, cols);
  OutputDir dir(a.out, "-o", "predict");
  const std::vector<int> cls = model.classify(forward(ctx, model, X).back().view());
  io::write_labels(dir.stage("labels.txt"), cls);
  io::write_file_atomic(dir.stage("predictions.csv"), predictions_csv(cls, cols, model.class_names()));
  json report{{"command", "predict"}, {"model", a.model}, {"data", a.X}, {"documents", cls.size()},
              {"layer", model.layers() - 1}};
  if (!a.columns.empty()) report["columns"] = a.columns;
  if (!labels.empty()) {
    const double accuracy = share_correct(cls, labels[0]);
    report["accuracy"] = accuracy;
    std::printf("accuracy %.4f (%zu documents)\n", accuracy, cls.size());
  }
  io::write_file_atomic(dir.stage("report.json"), report.dump(2) + "\n");
  dir.commit();
  if (!c.quiet) std::fprintf(stderr, "predict: %zu documents -> %s\n", cls.size(), a.out.c_str());
  return 0;
}

}  // namespace

Command add_transform_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("transform", "S of every layer for new data under a fitted model");
  cmd->add_option("model", a->model, "model.nnmf from `nnmf fit`")->required();
  cmd->add_option("X", a->X, "data X (N x m)")->required();
  cmd->add_option("-o,--output", a->out, "output folder (S0.mtx, S1.mtx, ...), replaced as a whole")->required();
  add_columns_option(cmd, a->columns);
  cmd->add_flag("--npy", a->npy, "also write S*.npy (NumPy)");
  cmd->add_flag("--x-per-process", a->x_per_process,
                "X is a pattern with {p}: under mpirun process p reads its own file (S in process order); "
                "without mpirun the file of p = 0");
  cmd->add_flag("--s-per-process", a->s_per_process,
                "under mpirun: each process writes its columns as S<l>.p<r>.mtx instead of process 0 gathering S<l>.mtx");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_transform<decltype(t)>(*cp, *a); }); }};
}

Command add_eval_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "relative error and accuracy of each layer of a fitted model");
  cmd->add_option("model", a->model, "model.nnmf")->required();
  cmd->add_option("X", a->X, "data X (N x m)")->required();
  cmd->add_option("--labels", a->labels, "labels (one file, or one per layer, comma-separated)");
  cmd->add_flag("--refit", a->refit, "fit a classifier per layer by the paper's rule (default: the model's own B)");
  cmd->add_option("--fit-mask", a->fit_mask, "0/1: columns whose labels fit B (implies --refit; at least one 1)");
  cmd->add_option("--score-mask", a->score_mask, "0/1: columns scored (default all; at least one 1)");
  add_columns_option(cmd, a->columns);
  cmd->add_option("-o,--output", a->out, "also write a JSON report");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_eval<decltype(t)>(*cp, *a); }); }};
}

Command add_predict_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "class of each document by a supervised model's own classifier");
  cmd->add_option("model", a->model, "model.nnmf of a fit with --labels")->required();
  cmd->add_option("X", a->X, "data X (N x m)")->required();
  cmd->add_option("-o,--output", a->out, "output folder (labels.txt, predictions.csv, report.json)")->required();
  cmd->add_option("--labels", a->labels, "true classes: also report the accuracy");
  add_columns_option(cmd, a->columns);
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_predict<decltype(t)>(*cp, *a); }); }};
}

}  // namespace nnmf::cli
