// `nnmf experiment table2`: the paper's Table 2 on 20 Newsgroups (its 1000-document subset,
// or with --full the whole matrix), every method unsupervised and with 75% of the labels, with
// the keyword tables and the A(1) heat maps of trial 0.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/experiment_util.hpp"
#include "cli/numbers.hpp"
#include "cli/output.hpp"
#include "cli/topic_svg.hpp"

namespace nnmf::cli::exp {
namespace {

// Paper, Table 2: [supervision][layer][hier, deep, neural] (paper10 subset, ranks 10, 6).
const double kPaper[2][2][3] = {{{0.593, 0.638, 0.604}, {0.507, 0.444, 0.532}},
                                {{0.593, 0.642, 0.690}, {0.546, 0.536, 0.654}}};
const char* const kSupName[2] = {"none", "75%"};

/// A seeded mask with round(frac * n_c) known columns in each class c.
std::vector<std::uint8_t> stratified_mask(const std::vector<int>& labels, double frac, std::uint64_t seed) {
  Rng rng(seed);
  std::map<int, std::vector<std::size_t>> by_class;
  for (std::size_t j = 0; j < labels.size(); ++j) by_class[labels[j]].push_back(j);
  std::vector<std::uint8_t> mask(labels.size(), 0);
  for (auto& kv : by_class) {
    auto& idx = kv.second;
    for (std::size_t q = idx.size(); q > 1; --q) std::swap(idx[q - 1], idx[rng.below(q)]);  // Fisher-Yates
    const std::size_t keep = static_cast<std::size_t>(std::llround(frac * double(idx.size())));
    for (std::size_t q = 0; q < keep; ++q) mask[idx[q]] = 1;
  }
  return mask;
}

struct Data {
  std::string dir;
  io::AnyMatrix<double> X;
  std::vector<int> labels, groups;  ///< super-topic and newsgroup of each selected document
  std::vector<std::string> vocab, super_names;
  index_t empty = 0;  ///< --full: empty documents left out
  double load_s = 0;
};

/// The documents of the table: the paper's subset, or every nonempty one with --full.
std::vector<index_t> documents(const CscMatrix<double>& Xall, const std::string& dir, bool full, index_t& empty) {
  if (!full) return io::read_indices(need(dir + "paper10_docs.txt"), Xall.cols());
  std::vector<index_t> idx;
  for (index_t j = 0; j < Xall.cols(); ++j) {
    if (Xall.colptr()[static_cast<std::size_t>(j + 1)] > Xall.colptr()[static_cast<std::size_t>(j)])
      idx.push_back(j);
    else
      ++empty;
  }
  return idx;
}

Data load(const std::string& data_dir, bool full) {
  const auto t0 = Clock::now();
  Data d;
  d.dir = data_dir + "/20news/";
  const CscMatrix<double> Xall = io::read_sparse<double>(need(d.dir + "X_tfidf.mtx.gz"));
  const auto super_all = io::read_labels(need(d.dir + "super_labels.txt"), Xall.cols());
  const auto group_all = io::read_labels(need(d.dir + "group_labels.txt"), Xall.cols());
  d.vocab = io::read_lines(need(d.dir + "vocab.txt"));
  d.super_names = io::read_lines(need(d.dir + "super_names.txt"));
  const auto idx = documents(Xall, d.dir, full, d.empty);
  d.X.sparse = true;
  d.X.csc = Xall.select_columns(idx);
  for (index_t j : idx) {
    d.labels.push_back(super_all[static_cast<std::size_t>(j)]);
    d.groups.push_back(group_all[static_cast<std::size_t>(j)]);
  }
  d.load_s = since(t0);
  return d;
}

struct Cell {
  std::vector<Stat> acc, err;
  Stat acc_group0, secs;
};

struct Results {
  std::vector<index_t> ranks;
  std::string stem;  ///< table2_paper10 or table2_full
  std::map<std::string, Cell> cells;  ///< "sup|key"
  std::map<std::string, json> settings;
  std::map<std::string, double> method_time;
  std::ostringstream topics, figures;
  ResultFiles files;  ///< heat maps
  const Cell& at(int s, const std::string& key) const { return cells.at(std::to_string(s) + "|" + key); }
};

/// Keyword tables and the heat map of trial 0 of one method.
void trial0_outputs(const Spec& sp, int s, const Run& r, const Data& d, Results& res) {
  res.settings[sp.key + "|" + (s ? "semi-supervised" : "unsupervised")] = r.out.settings;
  const std::size_t L = res.ranks.size();
  const NeuralNmf<double> model = NeuralNmf<double>::from_factors(r.out.A);
  std::vector<std::vector<std::vector<std::string>>> top;
  for (std::size_t l = 0; l < L; ++l) top.push_back(model.top_terms(static_cast<index_t>(l), 10, d.vocab));
  res.topics << "## " << sp.label << ", " << (s ? "semi-supervised (75% labels)" : "unsupervised") << ", trial 0\n\n";
  for (std::size_t l = 0; l < L; ++l) {
    res.topics << "Layer " << l << " (rank " << res.ranks[l] << "):\n\n| topic | top 10 terms |\n|---|---|\n";
    for (std::size_t q = 0; q < top[l].size(); ++q) {
      res.topics << "| " << q << " |";
      for (const auto& w : top[l][q]) res.topics << " " << w;
      res.topics << " |\n";
    }
    res.topics << "\n";
  }
  if (L < 2) return;
  const std::string svg = res.stem + "_A1_" + sp.key + (s ? "_semi" : "_unsup") + ".svg";
  HeatmapStyle style;
  style.title = sp.label + ", " + (s ? "75% labels" : "unsupervised") + ": A(1), trial 0";
  style.caption = "rows: layer-0 topics; columns: layer-1 topics; cell: column-normalised A(1) "
                  "(share of the row topic in the column topic)";
  res.files[svg] = heatmap_svg(r.out.A[1], topic_labels(top[0], "t", 4), topic_labels(top[1], "T", 3), style);
  res.figures << "- " << sp.label << ", " << kSupName[s] << ": [" << svg << "](" << svg << ")\n";
}

void run_trial(const Context& ctx, const Spec& sp, int s, int t, const Data& d, const Args& a, bool quiet,
               Results& res) {
  Cell& cell = res.cells[std::to_string(s) + "|" + sp.key];
  const std::size_t L = res.ranks.size();
  cell.acc.resize(L);
  cell.err.resize(L);
  const auto known = stratified_mask(d.labels, 0.75, static_cast<std::uint64_t>(t));
  std::vector<std::uint8_t> unknown;
  for (auto v : known) unknown.push_back(v ? 0 : 1);
  std::optional<Supervision> sup;
  if (s == 1) {
    sup = Supervision{};
    sup->labels = d.labels;
    sup->known = known;
  }
  const Run r = run_method(ctx, sp, d.X, res.ranks, sup, static_cast<std::uint64_t>(t), a);
  const auto err = relative_errors<double>(ctx, d.X.csc, r.out.A, r.out.S);
  for (std::size_t l = 0; l < L; ++l) {
    cell.acc[l].add(label_accuracy<double>(r.out.S[l].view(), d.labels, known, unknown));
    cell.err[l].add(err[l]);
  }
  cell.acc_group0.add(label_accuracy<double>(r.out.S[0].view(), d.groups, known, unknown));
  cell.secs.add(r.seconds);
  res.method_time[sp.key] += r.seconds;
  if (t == 0) trial0_outputs(sp, s, r, d, res);
  if (quiet) return;
  std::fprintf(stderr, "table2: %-4s %-30s trial %d: acc", kSupName[s], sp.label.c_str(), t);
  for (std::size_t l = 0; l < L; ++l) std::fprintf(stderr, " %.3f", cell.acc[l].v.back());
  std::fprintf(stderr, " (%.2f s)\n", r.seconds);
}

std::string intro(const Data& d, int trials) {
  std::ostringstream md;
  md << "Accuracy of each layer by the paper's rule on the held-out documents: a stratified, seeded "
        "75% of the documents of each super-topic (`seed = trial`) are the known columns; "
        "B = (Z o Y) S^+ is fitted on them and argmax(B S) is scored on the other 25%. Both layers "
        "are scored against the 6 super-topics (";
  for (std::size_t q = 0; q < d.super_names.size(); ++q) md << (q ? ", " : "") << d.super_names[q];
  md << "). Unsupervised rows use the same split for scoring only; semi-supervised rows also give "
        "the 75% labels to the method (last layer). Mean ± sample standard deviation over "
     << trials << " trials; the paper averages 10.\n\n";
  return md.str();
}

std::string accuracy_table(const Results& res, const std::vector<Spec>& specs, bool full) {
  const std::size_t L = res.ranks.size();
  std::ostringstream md;
  md << "## Table 2" << (full ? " on the full matrix" : "") << "\n\n| supervision | method |";
  for (std::size_t l = 0; l < L; ++l) md << " layer " << l << " (rank " << res.ranks[l] << ") |" << (full ? "" : " paper |");
  md << " time per fit |\n|---|---|";
  for (std::size_t l = 0; l < L; ++l) md << (full ? "---|" : "---|---|");
  md << "---|\n";
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs) {
      const Cell& cell = res.at(s, sp.key);
      md << "| " << kSupName[s] << " | " << sp.label << " |";
      for (std::size_t l = 0; l < L; ++l) {
        md << " " << pm(cell.acc[l]) << " |";
        if (!full) md << " " << (l < 2 && L == 2 ? fmt(kPaper[s][l][paper_col(sp)]) : "-") << " |";
      }
      md << " " << secs(cell.secs) << " |\n";
    }
  if (full)
    md << "\nThe paper has no figures for the full matrix; its Table 2 (1000-document subset, ranks 10, 6) "
          "is in `table2_paper10.md`.\n";
  return md.str();
}

std::string group_and_error_tables(const Results& res, const std::vector<Spec>& specs, bool full) {
  const std::size_t L = res.ranks.size();
  std::ostringstream md;
  md << "\n## Layer 0 against the " << (full ? "20 newsgroups" : "10 newsgroups of the subset")
     << " (same rule and split)\n\n| supervision | method | layer 0 accuracy |\n|---|---|---|\n";
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs)
      md << "| " << kSupName[s] << " | " << sp.label << " | " << pm(res.at(s, sp.key).acc_group0) << " |\n";
  md << "\n## Relative error of each layer (||X - A0..Al Sl|| / ||X||)\n\n| supervision | method |";
  for (std::size_t l = 0; l < L; ++l) md << " layer " << l << " |";
  md << "\n|---|---|";
  for (std::size_t l = 0; l < L; ++l) md << "---|";
  md << "\n";
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs) {
      md << "| " << kSupName[s] << " | " << sp.label << " |";
      for (std::size_t l = 0; l < L; ++l) md << " " << pm(res.at(s, sp.key).err[l]) << " |";
      md << "\n";
    }
  return md.str();
}

std::string neural_against_paper(const Results& res, const std::vector<Spec>& specs) {
  std::ostringstream md;
  md << "\n## Neural NMF against the paper's semi-supervised Neural NMF figures\n\n"
        "Target: mean accuracy >= 0.690 (layer 0) and >= 0.654 (layer 1) with 75% labels.\n\n"
        "| method | layer 0 (paper 0.690) | layer 1 (paper 0.654) | met |\n|---|---|---|---|\n";
  for (const auto& sp : specs) {
    if (sp.registry != "neural" || res.ranks.size() != 2) continue;
    const Cell& cell = res.at(1, sp.key);
    const bool ok = cell.acc[0].mean() >= 0.690 && cell.acc[1].mean() >= 0.654;
    md << "| " << sp.label << " | " << fmt(cell.acc[0].mean()) << " | " << fmt(cell.acc[1].mean()) << " | "
       << (ok ? "yes" : "**no**") << " |\n";
  }
  return md.str();
}

std::string times_and_figures(const Results& res, const std::vector<Spec>& specs) {
  std::ostringstream md;
  md << "\n## Time per method (all rows and trials)\n\n| method | total | per fit |\n|---|---|---|\n";
  for (const auto& sp : specs) {
    Stat all;
    for (int s = 0; s < 2; ++s)
      for (double v : res.at(s, sp.key).secs.v) all.add(v);
    md << "| " << sp.label << " | " << fmt(res.method_time.at(sp.key), 1) << " s | " << fmt(all.mean(), 2) << " ± "
       << fmt(all.sd(), 2) << " s |\n";
  }
  md << "\n## Heat maps of A(1) (trial 0; paper Figs. 4-5)\n\n" << res.figures.str()
     << "\nKeyword tables (top 10 terms of every topic at each layer, trial 0; paper Tables 3-6): [" << res.stem
     << "_topics.md](" << res.stem << "_topics.md)\n\n";
  md << settings_section(specs, res.settings);
  return md.str();
}

std::string data_lines(const Data& d, const Results& res, bool full, int trials) {
  std::ostringstream extra;
  extra << "- Data: `" << d.dir << "X_tfidf.mtx.gz`, " << d.X.csc.rows() << " terms x " << d.X.csc.cols()
        << " documents, " << d.X.csc.nnz() << " nonzeros ("
        << (full ? "all documents except the " + std::to_string(d.empty) + " empty ones"
                 : "the columns listed in `paper10_docs.txt`")
        << "); loaded in " << fmt(d.load_s, 1) << " s\n"
        << "- Ranks: ";
  for (std::size_t l = 0; l < res.ranks.size(); ++l) extra << (l ? ", " : "") << res.ranks[l];
  extra << "; trials: " << trials << "\n";
  return extra.str();
}

}  // namespace

int run_table2(const Common& c, const Args& a, const std::string& command) {
  const auto t_all = Clock::now();
  const Context ctx = c.context();
  const auto specs = parse_methods(a.methods, "hnmf,deep,neural,neural-paper");
  Results res;
  res.ranks = !a.ranks.empty() ? parse_ranks(a.ranks, "--ranks")
              : a.full         ? std::vector<index_t>{20, 6}
                               : std::vector<index_t>{10, 6};
  res.stem = a.full ? "table2_full" : "table2_paper10";
  check_results_dir(a.out, "-o");
  const Data d = load(a.data, a.full);
  const int trials = a.trials > 0 ? a.trials : 10;
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs)
      for (int t = 0; t < trials; ++t) run_trial(ctx, sp, s, t, d, a, c.quiet, res);
  std::string md = intro(d, trials) + accuracy_table(res, specs, a.full) + group_and_error_tables(res, specs, a.full);
  if (!a.full) md += neural_against_paper(res, specs);
  md += times_and_figures(res, specs);
  const std::string title =
      std::string("Table 2: 20 Newsgroups") + (a.full ? ", full matrix" : ", the paper's 1000-document subset");
  const std::string extra = data_lines(d, res, a.full, trials);
  res.files[res.stem + ".md"] = header(title, command, ctx, since(t_all), extra) + md;
  res.files[res.stem + "_topics.md"] = header(title + ": keyword tables", command, ctx, since(t_all), extra) + res.topics.str();
  write_results(a.out, res.files);
  if (!c.quiet) std::fprintf(stderr, "table2: wrote %s/%s.md (%.1f s)\n", a.out.c_str(), res.stem.c_str(), since(t_all));
  return 0;
}

}  // namespace nnmf::cli::exp
