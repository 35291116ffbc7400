// The commands that use a fitted model: `transform`, `eval` and `topics`.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/mpi_run.hpp"
#include "cli/numbers.hpp"
#include "cli/output.hpp"
#include "core/comm.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

using json = nlohmann::json;

struct ModelArgs {
  std::string model, X, out, labels, fit_mask, score_mask, vocab, layer = "all";
  int top = 10;
  bool s_per_process = false;
};

// ---- transform ---------------------------------------------------------------------------------

/// Under mpirun each process reads the model and its block of the columns of X, and process 0
/// gathers and writes every S.
template <class T>
int run_transform(const Common& c, const ModelArgs& a) {
  const Context ctx = mpi::agreed_context([&] { return c.context(); });
  const bool writer = ctx.process() == 0;
  NeuralNmf<T> model;
  io::AnyMatrix<T> X;
  std::optional<OutputDir> dir;
  std::pair<index_t, index_t> blk;
  index_t total = 0;
  detail::all_or_none(ctx, [&] {
    model = NeuralNmf<T>::load(a.model);
    if (ctx.processes() > 1) {
      total = io::read_mtx_info(a.X).cols;
      blk = mpi::block(total);
      X = io::read_mtx_columns<T>(a.X, blk.first, blk.second);
    } else {
      X = io::read_mtx<T>(a.X);
    }
    if (writer) dir.emplace(a.out, "-o", "transform");
  });
  auto S = X.sparse ? model.transform(ctx, X.csc) : model.transform(ctx, X.dense.view());
  const bool s_blocks = ctx.processes() > 1 && a.s_per_process;
  if (s_blocks)
    mpi::write_s_blocks(ctx, writer ? dir->stage("") : "", S, blk, total, a.X + " under " + a.model);
  else
    for (auto& s : S) s = detail::gather_columns(ctx, s, 0);
  detail::all_or_none(ctx, [&] {
    if (!writer) return;
    for (std::size_t l = 0; l < S.size() && !s_blocks; ++l)
      io::write_mtx<T>(dir->stage("S" + std::to_string(l) + ".mtx"), S[l].view(),
                       "coefficients S" + std::to_string(l) + " of " + a.X + " under " + a.model);
    dir->commit();
  });
  if (!c.quiet && writer) std::fprintf(stderr, "transform: %zu layers -> %s\n", S.size(), a.out.c_str());
  return 0;
}

// ---- eval --------------------------------------------------------------------------------------

std::vector<std::vector<int>> read_label_sets(const std::string& spec, index_t m, std::size_t layers) {
  std::vector<std::vector<int>> out;
  std::vector<std::string> files;
  std::stringstream ss(spec);
  for (std::string f; std::getline(ss, f, ',');) files.push_back(f);
  if (files.size() != 1 && files.size() != layers)
    throw InvalidArgument("--labels: " + std::to_string(files.size()) + " files for " + std::to_string(layers) +
                          " layers (give 1, or one per layer)");
  for (const auto& f : files) out.push_back(io::read_labels(f, m));
  return out;
}

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

template <class T>
int run_eval(const Common& c, const ModelArgs& a) {
  const Context ctx = c.context();
  if (a.labels.empty() && !(a.fit_mask.empty() && a.score_mask.empty()))
    throw UsageError(std::string(a.fit_mask.empty() ? "--score-mask" : "--fit-mask") + " needs --labels");
  if (!a.out.empty()) check_output_file(a.out, "-o");
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  const io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  const auto labels = a.labels.empty() ? std::vector<std::vector<int>>{}
                                       : read_label_sets(a.labels, X.cols(), static_cast<std::size_t>(model.layers()));
  const auto fit = read_nonempty_mask(a.fit_mask, "--fit-mask", X.cols(), "fitting the classifier B");
  const auto score = read_nonempty_mask(a.score_mask, "--score-mask", X.cols(), "scoring");
  const auto rep = X.sparse ? model.evaluate(ctx, X.csc, labels, fit, score)
                            : model.evaluate(ctx, X.dense.view(), labels, fit, score);
  const json layers = print_layers(rep, !labels.empty());
  if (!a.out.empty()) {
    const json report{{"command", "eval"}, {"model", a.model}, {"data", a.X}, {"layers", layers}};
    io::write_file_atomic(a.out, report.dump(2) + "\n");
  }
  return 0;
}

// ---- topics ------------------------------------------------------------------------------------

/// --layer: "all" (empty) or one layer index.
std::optional<index_t> parse_layer(const std::string& spec) {
  if (spec == "all") return std::nullopt;
  return static_cast<index_t>(parse_integer("--layer", spec, 0, std::numeric_limits<int>::max()));
}

template <class T>
std::vector<index_t> chosen_layers(const NeuralNmf<T>& model, std::optional<index_t> layer) {
  std::vector<index_t> layers;
  if (layer && *layer >= model.layers())
    throw InvalidArgument("--layer " + std::to_string(*layer) + ": the model has layers 0.." +
                          std::to_string(model.layers() - 1));
  if (layer) return {*layer};
  for (index_t l = 0; l < model.layers(); ++l) layers.push_back(l);
  return layers;
}

/// How the topics of layer l-1 combine into those of layer l: the columns of A(l).
template <class T>
json hierarchy(const Matrix<T>& H) {
  json h = json::array();
  for (index_t j = 0; j < H.cols(); ++j) {
    json col = json::array();
    for (index_t i = 0; i < H.rows(); ++i) col.push_back(H(i, j));
    h.push_back(col);
  }
  return h;
}

template <class T>
json print_layer_topics(const NeuralNmf<T>& model, index_t l, int top, const std::vector<std::string>& vocab) {
  const auto best = model.top_features(l, top);
  std::printf("layer %ld (rank %ld)\n", static_cast<long>(l), static_cast<long>(best.size()));
  json lj{{"layer", l}, {"topics", json::array()}};
  for (std::size_t t = 0; t < best.size(); ++t) {
    std::printf("  topic %zu:", t);
    json words = json::array();
    for (index_t i : best[t]) {
      const std::string w = vocab.empty() ? std::to_string(i) : vocab[static_cast<std::size_t>(i)];
      std::printf(" %s", w.c_str());
      words.push_back(w);
    }
    std::printf("\n");
    lj["topics"].push_back(words);
  }
  if (l >= 1) lj["hierarchy"] = hierarchy(model.factors()[static_cast<std::size_t>(l)]);
  return lj;
}

template <class T>
int run_topics(const Common&, const ModelArgs& a) {
  const std::optional<index_t> layer = parse_layer(a.layer);
  if (!a.out.empty()) check_output_file(a.out, "-o");
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  std::vector<std::string> vocab;
  if (!a.vocab.empty()) vocab = io::read_lines(a.vocab);
  // Checked before anything is printed: a vocabulary of another length names wrong terms.
  if (!vocab.empty() && static_cast<index_t>(vocab.size()) != model.features())
    throw DimensionMismatch("--vocab " + a.vocab + " has " + std::to_string(vocab.size()) + " terms but the model has " +
                            std::to_string(model.features()) + " features (rows of X)");
  const auto layers = chosen_layers(model, layer);
  json out = json::array();
  for (index_t l : layers) out.push_back(print_layer_topics(model, l, a.top, vocab));
  if (!a.out.empty()) io::write_file_atomic(a.out, json{{"layers", out}}.dump(2) + "\n");
  return 0;
}

}  // namespace

Command add_transform_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("transform", "S of every layer for new data under a fitted model");
  cmd->add_option("model", a->model, "model.nnmf from `nnmf fit`")->required();
  cmd->add_option("X", a->X, "data X (N x m)")->required();
  cmd->add_option("-o,--output", a->out, "output folder (S0.mtx, S1.mtx, ...), replaced as a whole")->required();
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
  cmd->add_option("--fit-mask", a->fit_mask, "0/1: columns whose labels fit B (default all; at least one 1)");
  cmd->add_option("--score-mask", a->score_mask, "0/1: columns scored (default all; at least one 1)");
  cmd->add_option("-o,--output", a->out, "also write a JSON report");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_eval<decltype(t)>(*cp, *a); }); }};
}

Command add_topics_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("topics", "top features of each topic and the topic hierarchy");
  cmd->add_option("model", a->model, "model.nnmf")->required();
  cmd->add_option("--vocab", a->vocab, "one term per line, one line per row of X");
  add_int(cmd, "--top", a->top, "terms per topic", 1);
  cmd->add_option("--layer", a->layer, "layer index (0, 1, ...) or 'all'")->capture_default_str();
  cmd->add_option("-o,--output", a->out, "also write JSON");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_topics<decltype(t)>(*cp, *a); }); }};
}

}  // namespace nnmf::cli
