// `nnmf topics MODEL [X]`: what a fit found. Each layer's topics with their top terms, the
// terms most distinctive for them (LDAvis relevance), the class each supervised topic speaks
// for; the hierarchy as a tree; with the corpus X, the NPMI coherence of each topic, the
// documents that carry it most and a per-document CSV; JSON and SVG pictures on request.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

#include "cli/cli.hpp"
#include "cli/columns.hpp"
#include "cli/numbers.hpp"
#include "cli/output.hpp"
#include "cli/topic_svg.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

using json = nlohmann::json;

struct TopicsArgs {
  std::string model, X, vocab, class_names, texts, documents, svg, out, columns, layer = "all";
  int top = 10, top_docs = 3, doc_topics = 3;
  double threshold = 0.1, lambda = 0.6;
};

/// What is shown of one layer.
struct LayerTopics {
  index_t layer = 0;
  std::vector<std::vector<index_t>> top, distinctive, documents;  ///< per topic
  std::vector<double> npmi;                                        ///< per topic, when X is given
  std::vector<std::vector<TopicLink>> children;                    ///< layer >= 1
  std::vector<TopicClass> classes;                                 ///< the last layer of a supervised model
};

/// Everything the outputs draw on.
struct Shown {
  std::vector<LayerTopics> layers;       ///< every layer of the model
  std::vector<std::string> vocab, class_names, texts;
  std::vector<index_t> cols;             ///< --columns (empty: all)
  index_t documents = 0;                 ///< columns of X used (0 without X)
  std::vector<Matrix<double>> shares;    ///< per layer, S(l) column-normalised (with X)
  std::vector<std::vector<double>> mass; ///< per layer, each topic's total weight in S(l) (with X)
};

std::string term(const Shown& s, index_t i) {
  return s.vocab.empty() ? std::to_string(i) : s.vocab[static_cast<std::size_t>(i)];
}

std::string terms(const Shown& s, const std::vector<index_t>& idx, std::size_t count) {
  std::string out;
  for (std::size_t q = 0; q < std::min(count, idx.size()); ++q) out += (q ? " " : "") + term(s, idx[q]);
  return out;
}

std::string topic_name(index_t l, index_t t) { return std::to_string(l) + "." + std::to_string(t); }

std::string class_name(const Shown& s, int c) {
  if (c < 0) return "(no class)";
  return s.class_names.empty() ? "class " + std::to_string(c) : s.class_names[static_cast<std::size_t>(c)];
}

/// The first words of document j's text (--texts), at most @p words of them.
std::string first_words(const Shown& s, index_t doc, std::size_t words) {
  if (s.texts.empty()) return "";
  std::istringstream in(s.texts[static_cast<std::size_t>(doc)]);
  std::string w, out;
  std::size_t n = 0;
  while (in >> w) {
    if (n++ == words) return out + " ...";
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

// ---- inputs ------------------------------------------------------------------------------------

std::optional<index_t> parse_layer(const std::string& spec, index_t layers) {
  if (spec == "all") return std::nullopt;
  const auto l = static_cast<index_t>(parse_integer("--layer", spec, 0, std::numeric_limits<int>::max()));
  if (l >= layers)
    throw InvalidArgument("--layer " + spec + ": the model has layers 0.." + std::to_string(layers - 1));
  return l;
}

/// --vocab, --class-names (else the model's own) and --texts, each checked against its count.
template <class T>
void read_names(Shown& s, const TopicsArgs& a, const NeuralNmf<T>& model, index_t m_file) {
  if (!a.vocab.empty()) s.vocab = io::read_lines(a.vocab);
  if (!s.vocab.empty() && static_cast<index_t>(s.vocab.size()) != model.features())
    throw DimensionMismatch("--vocab " + a.vocab + " has " + std::to_string(s.vocab.size()) +
                            " terms but the model has " + std::to_string(model.features()) + " features (rows of X)");
  s.class_names = a.class_names.empty() ? model.class_names() : io::read_lines(a.class_names);
  if (!a.class_names.empty() && static_cast<index_t>(s.class_names.size()) != model.classifier().rows())
    throw DimensionMismatch("--class-names " + a.class_names + " has " + std::to_string(s.class_names.size()) +
                            " names but the model's classifier has " + std::to_string(model.classifier().rows()) +
                            " classes");
  if (!a.texts.empty()) s.texts = io::read_lines(a.texts);
  if (!a.texts.empty() && static_cast<index_t>(s.texts.size()) != m_file)
    throw DimensionMismatch("--texts " + a.texts + " has " + std::to_string(s.texts.size()) + " lines but X has " +
                            std::to_string(m_file) + " documents (columns)");
}

void check_needs_x(const TopicsArgs& a) {
  for (const auto& [flag, value] : {std::pair<const char*, std::string>{"--documents", a.documents},
                                    {"--texts", a.texts}, {"--columns", a.columns}})
    if (!value.empty() && a.X.empty()) throw UsageError(std::string(flag) + " needs the corpus X (nnmf topics MODEL X)");
}

// ---- analysis ----------------------------------------------------------------------------------

template <class T>
LayerTopics analyse_layer(const NeuralNmf<T>& model, index_t l, const TopicsArgs& a,
                          const std::vector<double>& term_weight) {
  LayerTopics lt;
  lt.layer = l;
  lt.top = model.top_features(l, a.top);
  lt.distinctive = relevant_features(model, l, a.top, a.lambda, term_weight);
  if (l >= 1) lt.children = topic_children(model, l, a.threshold);
  if (l == model.layers() - 1) lt.classes = topic_classes(model);
  return lt;
}

/// With the corpus: coherence of the top terms and the documents carrying each topic most.
template <class T>
void analyse_corpus(LayerTopics& lt, const io::AnyMatrix<T>& X, const Matrix<T>& S, const TopicsArgs& a) {
  lt.npmi = X.sparse ? npmi_coherence<T>(X.csc, lt.top) : npmi_coherence<T>(X.dense.view(), lt.top);
  lt.documents = top_documents<T>(S.view(), a.top_docs);
}

double mean_of(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m += x / static_cast<double>(v.size());
  return m;
}

// ---- text --------------------------------------------------------------------------------------

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void print_documents(const Shown& s, const LayerTopics& lt, std::size_t t) {
  if (lt.documents.empty() || lt.documents[t].empty()) return;
  std::printf("        documents:");
  for (index_t j : lt.documents[t]) {
    const index_t doc = original_column(s.cols, j);
    const double share = s.shares[static_cast<std::size_t>(lt.layer)](static_cast<index_t>(t), j);
    if (s.texts.empty())
      std::printf(" %ld (%.2f)", static_cast<long>(doc), share);
    else
      std::printf("\n          %ld (%.2f) %s", static_cast<long>(doc), share, first_words(s, doc, 12).c_str());
  }
  std::printf("\n");
}

void print_layer(const Shown& s, const LayerTopics& lt) {
  std::printf("layer %ld (%zu topics%s", static_cast<long>(lt.layer), lt.top.size(),
              lt.classes.empty() ? "" : ", supervised");
  if (!lt.npmi.empty()) std::printf("; mean NPMI %.3f", mean_of(lt.npmi));
  std::printf(")\n");
  for (std::size_t t = 0; t < lt.top.size(); ++t) {
    std::printf("  %-5s", topic_name(lt.layer, static_cast<index_t>(t)).c_str());
    if (!lt.classes.empty())
      std::printf(" [%s %.0f%%]", class_name(s, lt.classes[t].cls).c_str(), 100 * lt.classes[t].share);
    if (!lt.npmi.empty()) std::printf(" NPMI %6.3f ", lt.npmi[t]);
    std::printf(" %s\n        distinctive: %s\n", terms(s, lt.top[t], lt.top[t].size()).c_str(),
                terms(s, lt.distinctive[t], lt.distinctive[t].size()).c_str());
    print_documents(s, lt, t);
  }
}

/// Topic t of layer l with the topics under it, recursively (box-drawing tree).
void print_subtree(const Shown& s, index_t l, index_t t, const std::string& indent) {
  if (l == 0) return;
  const auto& kids = s.layers[static_cast<std::size_t>(l)].children[static_cast<std::size_t>(t)];
  for (std::size_t q = 0; q < kids.size(); ++q) {
    const bool last = q + 1 == kids.size();
    const auto& below = s.layers[static_cast<std::size_t>(l - 1)];
    std::printf("%s%s %3.0f%%  %-5s %s\n", indent.c_str(), last ? "└─" : "├─", 100 * kids[q].share,
                topic_name(l - 1, kids[q].topic).c_str(), terms(s, below.top[static_cast<std::size_t>(kids[q].topic)], 5).c_str());
    print_subtree(s, l - 1, kids[q].topic, indent + (last ? "   " : "│  "));
  }
}

/// Topics of layer l - 1 under no topic of layer l at the threshold.
std::vector<index_t> orphans(const LayerTopics& upper, std::size_t k_below) {
  std::vector<std::uint8_t> seen(k_below, 0);
  for (const auto& kids : upper.children)
    for (const auto& c : kids) seen[static_cast<std::size_t>(c.topic)] = 1;
  std::vector<index_t> out;
  for (std::size_t i = 0; i < k_below; ++i)
    if (!seen[i]) out.push_back(static_cast<index_t>(i));
  return out;
}

void print_hierarchy(const Shown& s, double threshold) {
  const index_t L = static_cast<index_t>(s.layers.size()) - 1;
  if (L < 1) return;
  std::printf("\nhierarchy: each topic over the topics of the layer below that make up at least %.0f%% of it\n",
              100 * threshold);
  const LayerTopics& last = s.layers.back();
  for (std::size_t t = 0; t < last.top.size(); ++t) {
    std::printf("%-5s", topic_name(L, static_cast<index_t>(t)).c_str());
    if (!last.classes.empty()) std::printf(" [%s]", class_name(s, last.classes[t].cls).c_str());
    std::printf(" %s\n", terms(s, last.top[t], 5).c_str());
    print_subtree(s, L, static_cast<index_t>(t), "");
  }
  for (index_t l = 1; l <= L; ++l) {
    const auto lost = orphans(s.layers[static_cast<std::size_t>(l)], s.layers[static_cast<std::size_t>(l - 1)].top.size());
    if (lost.empty()) continue;
    std::printf("under no topic of layer %ld:", static_cast<long>(l));
    for (index_t i : lost) std::printf(" %s", topic_name(l - 1, i).c_str());
    std::printf("\n");
  }
}

// ---- JSON, CSV ---------------------------------------------------------------------------------

json words(const Shown& s, const std::vector<index_t>& idx) {
  json w = json::array();
  for (index_t i : idx) w.push_back(term(s, i));
  return w;
}

json topic_json(const Shown& s, const LayerTopics& lt, std::size_t t) {
  json j{{"topic", t}, {"terms", words(s, lt.top[t])}, {"distinctive", words(s, lt.distinctive[t])}};
  if (!lt.npmi.empty()) j["npmi"] = lt.npmi[t];
  if (!lt.classes.empty()) {
    j["class"] = lt.classes[t].cls;
    j["class_name"] = class_name(s, lt.classes[t].cls);
    j["class_share"] = lt.classes[t].share;
  }
  if (!lt.children.empty()) {
    j["children"] = json::array();
    for (const auto& c : lt.children[t]) j["children"].push_back({{"topic", c.topic}, {"share", c.share}});
  }
  if (!lt.documents.empty()) {
    j["documents"] = json::array();
    for (index_t d : lt.documents[t])
      j["documents"].push_back({{"document", original_column(s.cols, d)},
                                {"share", s.shares[static_cast<std::size_t>(lt.layer)](static_cast<index_t>(t), d)}});
  }
  return j;
}

template <class T>
json topics_json(const Shown& s, const NeuralNmf<T>& model, const std::vector<index_t>& chosen) {
  json layers = json::array();
  for (index_t l : chosen) {
    const LayerTopics& lt = s.layers[static_cast<std::size_t>(l)];
    json lj{{"layer", l}, {"rank", lt.top.size()}, {"topics", json::array()}};
    for (std::size_t t = 0; t < lt.top.size(); ++t) lj["topics"].push_back(topic_json(s, lt, t));
    if (!lt.npmi.empty()) lj["npmi"] = mean_of(lt.npmi);
    // A(l) as columns: hierarchy[j][i] is the weight of topic i of layer l-1 in topic j.
    if (l >= 1) {
      const Matrix<double> H = column_shares<T>(model.factors()[static_cast<std::size_t>(l)].view());
      json h = json::array();
      for (index_t j = 0; j < H.cols(); ++j)
        h.push_back(std::vector<double>(H.data() + j * H.rows(), H.data() + (j + 1) * H.rows()));
      lj["hierarchy"] = h;
    }
    layers.push_back(lj);
  }
  return {{"method", model.method()}, {"ranks", model.ranks()}, {"documents", s.documents}, {"layers", layers}};
}

/// documents.csv: per document, the top --doc-topics topics of every layer with their shares.
std::string documents_csv(const Shown& s, int per_layer) {
  const std::vector<Matrix<double>>& shares = s.shares;
  std::string out = "document";
  for (std::size_t l = 0; l < shares.size(); ++l)
    for (int r = 1; r <= per_layer; ++r) {
      const std::string p = "layer" + std::to_string(l) + "_";
      out += "," + p + "topic" + std::to_string(r) + "," + p + "share" + std::to_string(r);
    }
  out += "\n";
  const index_t m = shares.empty() ? 0 : shares[0].cols();
  for (index_t j = 0; j < m; ++j) {
    out += std::to_string(original_column(s.cols, j));
    for (const auto& P : shares) {
      std::vector<index_t> idx(static_cast<std::size_t>(P.rows()));
      for (index_t i = 0; i < P.rows(); ++i) idx[static_cast<std::size_t>(i)] = i;
      std::stable_sort(idx.begin(), idx.end(), [&](index_t a, index_t b) { return P(a, j) > P(b, j); });
      for (int r = 0; r < per_layer; ++r) {
        const bool has = r < P.rows() && P(idx[static_cast<std::size_t>(r)], j) > 0;
        out += has ? "," + std::to_string(idx[static_cast<std::size_t>(r)]) + "," +
                         number(P(idx[static_cast<std::size_t>(r)], j))
                   : std::string(",,");
      }
    }
    out += "\n";
  }
  return out;
}

// ---- SVG ---------------------------------------------------------------------------------------

template <class T>
Matrix<double> to_double(const Matrix<T>& M) {
  return Matrix<double>(M.rows(), M.cols(), std::vector<double>(M.storage().begin(), M.storage().end()));
}

/// "1.3: space nasa orbit" (the top @p words_each terms).
std::vector<std::string> topic_labels(const Shown& s, const LayerTopics& lt, std::size_t words_each) {
  std::vector<std::string> out;
  for (std::size_t t = 0; t < lt.top.size(); ++t)
    out.push_back(topic_name(lt.layer, static_cast<index_t>(t)) + ": " + terms(s, lt.top[t], words_each));
  return out;
}

template <class T>
std::vector<HierarchyLayer> hierarchy_layers(const Shown& s, const NeuralNmf<T>& model) {
  std::vector<HierarchyLayer> h;
  for (const LayerTopics& lt : s.layers) {
    HierarchyLayer hl;
    hl.labels = topic_labels(s, lt, 3);
    for (const auto& c : lt.classes) hl.classes.push_back(class_name(s, c.cls));
    if (!s.mass.empty()) hl.mass = s.mass[static_cast<std::size_t>(lt.layer)];
    if (lt.layer >= 1) hl.weights = to_double(model.factors()[static_cast<std::size_t>(lt.layer)]);
    h.push_back(std::move(hl));
  }
  return h;
}

/// hierarchy.svg, A1.svg .. AL.svg and, for a supervised model, B.svg.
template <class T>
void write_svgs(const Shown& s, const NeuralNmf<T>& model, const TopicsArgs& a) {
  OutputDir dir(a.svg, "--svg", "topics");
  const std::vector<HierarchyLayer> h = hierarchy_layers(s, model);
  for (std::size_t l = 1; l < h.size(); ++l) {
    HeatmapStyle st;
    st.title = "A(" + std::to_string(l) + ") of " + a.model;
    st.row_name = "layer-" + std::to_string(l - 1) + " topics";
    st.col_name = "layer-" + std::to_string(l) + " topics";
    io::write_file_atomic(dir.stage("A" + std::to_string(l) + ".svg"), heatmap_svg(h[l].weights, h[l - 1].labels, h[l].labels, st));
  }
  if (!model.classifier().empty()) {
    HeatmapStyle st;
    st.title = "classifier B of " + a.model;
    const auto& b = model.classifier().storage();
    if (std::any_of(b.begin(), b.end(), [](T v) { return v < 0; })) {
      st.scale = HeatmapScale::raw;
      st.caption = "B(i, j): weight of last-layer topic j in the score of class i (negative: against it)";
    }
    st.row_name = "classes";
    st.col_name = "layer-" + std::to_string(h.size() - 1) + " topics";
    std::vector<std::string> classes;
    for (index_t c = 0; c < model.classifier().rows(); ++c) classes.push_back(class_name(s, static_cast<int>(c)));
    io::write_file_atomic(dir.stage("B.svg"), heatmap_svg(to_double(model.classifier()), classes, h.back().labels, st));
  }
  HierarchyStyle hs;
  hs.threshold = a.threshold;
  hs.title = "Topic hierarchy of " + a.model;
  io::write_file_atomic(dir.stage("hierarchy.svg"), hierarchy_svg(h, hs));
  dir.commit();
}

// ---- the command -------------------------------------------------------------------------------

/// With the corpus: S of every layer, per-document shares and topic masses, coherence and
/// top documents.
template <class T>
void use_corpus(Shown& s, const Context& ctx, const NeuralNmf<T>& model, const io::AnyMatrix<T>& X,
                const TopicsArgs& a) {
  const auto S = X.sparse ? model.transform(ctx, X.csc) : model.transform(ctx, X.dense.view());
  for (std::size_t l = 0; l < S.size(); ++l) {
    analyse_corpus(s.layers[l], X, S[l], a);
    s.shares.push_back(column_shares<T>(S[l].view()));
    std::vector<double> mass(static_cast<std::size_t>(S[l].rows()), 0);
    for (index_t j = 0; j < S[l].cols(); ++j)
      for (index_t t = 0; t < S[l].rows(); ++t) mass[static_cast<std::size_t>(t)] += S[l](t, j);
    s.mass.push_back(std::move(mass));
  }
}

template <class T>
void print_heading(const Shown& s, const NeuralNmf<T>& model, const TopicsArgs& a) {
  std::printf("%s: %s, %ld layer%s (ranks", a.model.c_str(),
              model.method().empty() ? "method not recorded" : model.method().c_str(),
              static_cast<long>(model.layers()), model.layers() > 1 ? "s" : "");
  for (index_t k : model.ranks()) std::printf(" %ld", static_cast<long>(k));
  std::printf("), %ld features\n", static_cast<long>(model.features()));
  if (!a.X.empty())
    std::printf("NPMI: coherence of each topic's top %d terms over the %ld documents of %s\n", a.top,
                static_cast<long>(s.documents), a.X.c_str());
  std::printf("\n");
}

template <class T>
int run_topics(const Common& c, const TopicsArgs& a) {
  check_needs_x(a);
  if (!a.out.empty()) check_output_file(a.out, "-o");
  if (!a.documents.empty()) check_output_file(a.documents, "--documents");
  const NeuralNmf<T> model = NeuralNmf<T>::load(a.model);
  const std::optional<index_t> layer = parse_layer(a.layer, model.layers());
  Shown s;
  io::AnyMatrix<T> X;
  index_t m_file = 0;
  if (!a.X.empty()) {
    X = io::read_mtx<T>(a.X);
    m_file = X.cols();
    s.cols = read_columns(a.columns, m_file);
    select_columns(X, s.cols);
    s.documents = X.cols();
  }
  read_names(s, a, model, m_file);
  const std::vector<double> weight = a.X.empty() ? std::vector<double>{}
                                     : X.sparse ? row_sums<T>(X.csc) : row_sums<T>(X.dense.view());
  for (index_t l = 0; l < model.layers(); ++l) s.layers.push_back(analyse_layer(model, l, a, weight));
  if (!a.X.empty()) use_corpus(s, c.context(), model, X, a);
  print_heading(s, model, a);
  std::vector<index_t> chosen;
  for (index_t l = 0; l < model.layers(); ++l)
    if (!layer || *layer == l) {
      chosen.push_back(l);
      print_layer(s, s.layers[static_cast<std::size_t>(l)]);
    }
  if (!layer) print_hierarchy(s, a.threshold);
  if (!a.out.empty()) io::write_file_atomic(a.out, topics_json(s, model, chosen).dump(2) + "\n");
  if (!a.documents.empty()) io::write_file_atomic(a.documents, documents_csv(s, a.doc_topics));
  if (!a.svg.empty()) write_svgs(s, model, a);
  return 0;
}

}  // namespace

Command add_topics_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<TopicsArgs>();
  CLI::App* cmd = app.add_subcommand("topics", "the topics of a fitted model: terms, classes, hierarchy, coherence");
  cmd->add_option("model", a->model, "model.nnmf (any method of `nnmf fit`)")->required();
  cmd->add_option("X", a->X, "the corpus (N x m): NPMI coherence, top documents, --documents");
  cmd->add_option("--vocab", a->vocab, "one term per line, one line per row of X");
  cmd->add_option("--class-names", a->class_names, "one name per class (default: the model's, from fit --class-names)");
  add_int(cmd, "--top", a->top, "terms per topic (also the terms scored by NPMI)", 1);
  add_real(cmd, "--lambda", a->lambda, "relevance weight of the distinctive terms (1: by weight, 0: by lift)", 0, 1);
  add_real(cmd, "--threshold", a->threshold, "hierarchy: smallest share of a topic shown under another", 0, 1);
  cmd->add_option("--layer", a->layer, "layer index (0, 1, ...) or 'all'")->capture_default_str();
  add_int(cmd, "--top-docs", a->top_docs, "documents listed per topic (with X)", 0);
  cmd->add_option("--texts", a->texts, "one document per line (the columns of X): show the first words of top documents");
  cmd->add_option("--documents", a->documents, "write a CSV: each document's top topics per layer, with their shares");
  add_int(cmd, "--doc-topics", a->doc_topics, "topics per layer in --documents", 1);
  add_columns_option(cmd, a->columns);
  cmd->add_option("--svg", a->svg, "folder for SVG pictures: hierarchy.svg, A1.svg, ... (replaced as a whole)");
  cmd->add_option("-o,--output", a->out, "also write JSON");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_topics<decltype(t)>(*cp, *a); }); }};
}

}  // namespace nnmf::cli
