// `nnmf experiment table1|table2`: the Neural NMF paper's comparisons rerun through the method
// registry of `nnmf fit` (same Context, data types, settings and factors as the CLI), with the
// paper's figures beside the measured ones. Results are Markdown files (and SVG heat maps)
// that start with the command, the date, the machine and the timings.
#include "cli/experiment.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <numeric>
#include <sstream>
#include <thread>

#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool file_exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

struct Args {
  std::string which, data = "../shared/data", out, methods, ranks;
  int trials = 0;  ///< 0 = the table's default (25 for table 1, 10 for table 2)
  bool full = false;
  int neural_epochs = 0;    ///< Neural NMF (library defaults) epoch cap; 0 = default
  int paper_epochs = 300;   ///< Neural NMF with the paper's 20 Newsgroups settings
  double paper_lambda = 1;  ///< ... its supervision weight
  int deep_iter = 0;        ///< Deep NMF backward iterations; 0 = default
};

/// splitmix64: the same masks on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x5DEECE66Dull) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t s_;
};

/// Mean and sample standard deviation.
struct Stat {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  double mean() const { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }
  double sd() const {
    if (v.size() < 2) return 0;
    const double mu = mean();
    double s = 0;
    for (double x : v) s += (x - mu) * (x - mu);
    return std::sqrt(s / double(v.size() - 1));
  }
};

std::string fmt(double x, int prec = 3) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, x);
  return buf;
}
std::string pm(const Stat& s, int prec = 3) { return fmt(s.mean(), prec) + " ± " + fmt(s.sd(), prec); }
std::string secs(const Stat& s) {
  const double m = s.mean();
  return m < 1 ? fmt(1e3 * m, 0) + " ms" : fmt(m, m < 10 ? 2 : 1) + " s";
}

// ---- methods -------------------------------------------------------------------------------------

/// A method of the tables: a registry method with its settings.
struct Spec {
  std::string key, label, registry;
  std::map<std::string, std::string> settings;
  bool paper_neural = false;
};

Spec spec_of(const std::string& key) {
  if (key == "hnmf") return {key, "Hier. NMF", "hnmf", {}, false};
  if (key == "hnmf-random")
    return {key, "Hier. NMF (random init)", "hnmf", {{"nndsvd", "0"}, {"ssnmf_init_random", "1"}}, false};
  if (key == "deep") return {key, "Deep NMF", "deep", {}, false};
  if (key == "deep-random")
    return {key, "Deep NMF (random init)", "deep", {{"nndsvd", "0"}, {"ssnmf_init_random", "1"}}, false};
  if (key == "neural") return {key, "Neural NMF", "neural", {}, false};
  if (key == "neural-paper") return {key, "Neural NMF (paper's settings)", "neural", {}, true};
  throw InvalidArgument("--methods: unknown method '" + key +
                        "' (available: hnmf, hnmf-random, deep, deep-random, neural, neural-paper)");
}

std::vector<Spec> parse_methods(const std::string& list, const std::string& dflt) {
  std::vector<Spec> out;
  std::stringstream ss(list.empty() ? dflt : list);
  std::string t;
  while (std::getline(ss, t, ',')) out.push_back(spec_of(t));
  if (out.empty()) throw InvalidArgument("--methods: no method given");
  return out;
}

/// Neural NMF options of a spec: the library defaults, or the paper's 20 Newsgroups settings
/// (energy loss, mean scaling, gradient descent lr 1e10 decayed by 0.995 every 5 epochs).
FitOptions neural_options(const Spec& sp, const Args& a) {
  FitOptions o;
  if (sp.paper_neural) {
    o.reconstruction_weight = 0;
    o.energy_weight = 1;
    o.scaling = Scaling::mean;
    o.optimizer = Optimizer::gd;
    o.learning_rate = 1e10;
    o.lr_decay = 0.995;
    o.decay_every = 5;
    o.epochs = a.paper_epochs;
    o.patience = 0;  // the paper runs a fixed number of epochs
  } else if (a.neural_epochs > 0) {
    o.epochs = a.neural_epochs;
  }
  return o;
}

struct Run {
  FitOutcome<double> out;
  double seconds = 0;
};

Run run_method(const Context& ctx, const Spec& sp, const io::AnyMatrix<double>& X,
               const std::vector<index_t>& ranks, const std::optional<Supervision>& sup,
               std::uint64_t seed, const Args& a) {
  FitRequest<double> req;
  req.ctx = &ctx;
  req.X = &X;
  req.ranks = ranks;
  req.supervision = sup;
  if (sup && sp.paper_neural) req.supervision->lambda = a.paper_lambda;
  req.seed = seed;
  req.settings = sp.settings;
  req.neural = neural_options(sp, a);
  if (sp.registry == "deep" && a.deep_iter > 0) req.iterations = a.deep_iter;
  const auto t0 = Clock::now();
  Run r;
  r.out = methods().at(sp.registry).fit_double(req);
  r.seconds = since(t0);
  return r;
}

// ---- output helpers ------------------------------------------------------------------------------

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string t = argv[i];
    if (t.find_first_of(" \t'\"") != std::string::npos) t = "'" + t + "'";
    s += (i ? " " : "") + t;
  }
  return s;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string machine(const Context& ctx) {
  std::string cpu = "unknown CPU";
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  long mem_kb = 0;
  std::ifstream mf("/proc/meminfo");
  for (std::string line; std::getline(mf, line);)
    if (line.rfind("MemTotal:", 0) == 0) mem_kb = std::stol(line.substr(9));
  struct utsname u {};
  uname(&u);
  const int gpus = Context::cuda_device_count();
  std::ostringstream os;
  os << ctx.describe() << "; " << cpu << ", " << std::thread::hardware_concurrency() << " logical cores, "
     << fmt(mem_kb / 1048576.0, 0) << " GiB RAM, " << u.sysname << " " << u.release << "; CUDA "
     << (Context::cuda_compiled() ? "compiled" : "not compiled") << ", " << gpus << " device"
     << (gpus == 1 ? "" : "s") << (gpus == 0 ? " (no GPU)" : "");
  return os.str();
}

std::string header(const std::string& title, const std::string& command, const Context& ctx,
                   double total_s, const std::string& extra) {
  std::ostringstream os;
  os << "# " << title << "\n\n"
     << "- Command (from the repository root): `" << command << "`\n"
     << "- Date: " << utc_now() << "\n"
     << "- Machine: " << machine(ctx) << "\n"
     << "- Total wall time: " << fmt(total_s, 1) << " s\n"
     << extra
     << "- Where and why these figures differ from the paper's: `experiments/results/README.md` "
        "of the nnmf repository\n\n";
  return os.str();
}

void write_text(const std::string& path, const std::string& text) { io::write_file_atomic(path, text); }

void ensure_dir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw IoError(dir + ": exists and is not a directory");
    return;
  }
  if (mkdir(dir.c_str(), 0777) != 0) throw IoError(dir + ": cannot create the output directory");
}

std::string need(const std::string& path) {
  if (!file_exists(path))
    throw IoError(path + ": not found (point --data at the shared data folder, e.g. ../shared/data)");
  return path;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '&') o += "&amp;";
    else if (ch == '<') o += "&lt;";
    else if (ch == '>') o += "&gt;";
    else if (ch == '"') o += "&quot;";
    else o += ch;
  }
  return o;
}

/// Heat map of A(1) (k0 x k1) with each column scaled to sum 1: the share of each layer-0
/// topic in each layer-1 topic.
std::string heatmap_svg(const Matrix<double>& A1, const std::vector<std::string>& rows,
                        const std::vector<std::string>& cols, const std::string& title) {
  const index_t k0 = A1.rows(), k1 = A1.cols();
  Matrix<double> H(k0, k1);
  double vmax = 0;
  for (index_t j = 0; j < k1; ++j) {
    double s = 0;
    for (index_t i = 0; i < k0; ++i) s += A1(i, j);
    for (index_t i = 0; i < k0; ++i) {
      H(i, j) = s > 0 ? A1(i, j) / s : 0;
      vmax = std::max(vmax, H(i, j));
    }
  }
  const int cw = 62, ch = 26, left = 300, top = 170, right = 20, bottom = 40;
  const int W = left + cw * static_cast<int>(k1) + right, Ht = top + ch * static_cast<int>(k0) + bottom;
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << Ht
     << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">" << xml_escape(title) << "</text>\n"
     << "<text x=\"10\" y=\"38\" fill=\"#444\">rows: layer-0 topics; columns: layer-1 topics; "
        "cell: column-normalised A(1) (share of the row topic in the column topic)</text>\n";
  for (index_t j = 0; j < k1; ++j) {
    const int x = left + cw * static_cast<int>(j) + cw / 2;
    os << "<text transform=\"translate(" << x << "," << top - 6 << ") rotate(-40)\">"
       << xml_escape(cols[static_cast<std::size_t>(j)]) << "</text>\n";
  }
  for (index_t i = 0; i < k0; ++i) {
    const int y = top + ch * static_cast<int>(i);
    os << "<text x=\"" << left - 6 << "\" y=\"" << y + ch / 2 + 4 << "\" text-anchor=\"end\">"
       << xml_escape(rows[static_cast<std::size_t>(i)]) << "</text>\n";
    for (index_t j = 0; j < k1; ++j) {
      const double t = vmax > 0 ? H(i, j) / vmax : 0;
      // white -> dark blue
      const int r = static_cast<int>(255 - t * (255 - 8)), g = static_cast<int>(255 - t * (255 - 48)),
                b = static_cast<int>(255 - t * (255 - 107));
      const int x = left + cw * static_cast<int>(j);
      os << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cw << "\" height=\"" << ch
         << "\" fill=\"rgb(" << r << "," << g << "," << b << ")\" stroke=\"#ddd\"/>"
         << "<text x=\"" << x + cw / 2 << "\" y=\"" << y + ch / 2 + 4 << "\" text-anchor=\"middle\" fill=\""
         << (t > 0.55 ? "white" : "black") << "\">" << fmt(H(i, j), 2) << "</text>\n";
    }
  }
  os << "</svg>\n";
  return os.str();
}

/// "t3: space nasa orbit" labels from the top terms of each topic of layer l.
std::vector<std::string> topic_labels(const std::vector<std::vector<std::string>>& top, const std::string& prefix,
                                      std::size_t words) {
  std::vector<std::string> out;
  for (std::size_t t = 0; t < top.size(); ++t) {
    std::string s = prefix + std::to_string(t) + ":";
    for (std::size_t w = 0; w < std::min(words, top[t].size()); ++w) s += " " + top[t][w];
    out.push_back(s);
  }
  return out;
}

std::string settings_section(const std::vector<Spec>& specs, const std::map<std::string, json>& settings) {
  std::ostringstream os;
  os << "## Resolved settings of each method (first trial)\n\n";
  for (const auto& sp : specs) {
    for (const auto& kv : settings)
      if (kv.first.rfind(sp.key + "|", 0) == 0)
        os << "- " << sp.label << ", " << kv.first.substr(sp.key.size() + 1) << ": `" << kv.second.dump()
           << "`\n";
  }
  return os.str() + "\n";
}

// ---- Table 1 -------------------------------------------------------------------------------------

int run_table1(const Common& c, const Args& a, const std::string& command) {
  const auto t_all = Clock::now();
  const Context ctx = c.context();
  const std::string dir = a.data + "/synthetic-hierarchy/";
  const io::AnyMatrix<double> X = io::read_mtx<double>(need(dir + "X.mtx"));
  const index_t m = X.cols();
  const std::vector<std::vector<int>> y = {io::read_labels(need(dir + "labels9.txt"), m),
                                           io::read_labels(need(dir + "labels4.txt"), m),
                                           io::read_labels(need(dir + "labels2.txt"), m)};
  const auto known40 = io::read_mask(need(dir + "known40.txt"), m);
  std::vector<std::uint8_t> unknown40;
  for (auto v : known40) unknown40.push_back(v ? 0 : 1);
  const int trials = a.trials > 0 ? a.trials : 25;
  const auto specs = parse_methods(a.methods, "hnmf,deep,neural,hnmf-random,deep-random");
  ensure_dir(a.out);
  // Paper, Table 1: [supervision][layers - 1][method: hier, deep, neural] = {error, accuracy}.
  const double paper[3][3][3][2] = {
      {{{0.053, 0.111}, {0.031, 0.111}, {0.029, 1}},
       {{0.399, 0.222}, {0.414, 0.222}, {0.310, 0.995}},
       {{0.860, 0.356}, {0.838, 0.356}, {0.492, 1}}},
      {{{0.049, 0.933}, {0.031, 0.947}, {0.042, 1}},
       {{0.374, 0.926}, {0.394, 0.911}, {0.305, 1}},
       {{0.676, 0.930}, {0.733, 0.930}, {0.496, 0.990}}},
      {{{0.052, 0.960}, {0.042, 0.962}, {0.042, 1}},
       {{0.311, 0.984}, {0.310, 0.984}, {0.307, 1}},
       {{0.495, 1}, {0.494, 1}, {0.498, 1}}}};
  auto paper_col = [](const Spec& sp) { return sp.registry == "hnmf" ? 0 : sp.registry == "deep" ? 1 : 2; };
  const char* sup_name[3] = {"none", "40%", "100%"};
  const std::vector<index_t> all_ranks = {9, 4, 2};

  struct Cell {
    Stat err, acc, acc_unl, secs;
  };
  std::map<std::string, Cell> cells;  // "sup|depth|key"
  std::map<std::string, json> settings;
  std::map<std::string, double> method_time;
  for (int s = 0; s < 3; ++s)
    for (int d = 1; d <= 3; ++d)
      for (const auto& sp : specs) {
        Cell& cell = cells[std::to_string(s) + "|" + std::to_string(d) + "|" + sp.key];
        const std::vector<index_t> ranks(all_ranks.begin(), all_ranks.begin() + d);
        const auto& labels = y[static_cast<std::size_t>(d - 1)];
        std::optional<Supervision> sup;
        if (s > 0) {
          Supervision v;
          v.labels = labels;
          if (s == 1) v.known = known40;
          sup = v;
        }
        for (int t = 0; t < trials; ++t) {
          const Run r = run_method(ctx, sp, X, ranks, sup, static_cast<std::uint64_t>(t), a);
          const auto err = relative_errors<double>(ctx, X.dense.view(), r.out.A, r.out.S);
          cell.err.add(err.back());
          cell.acc.add(label_accuracy<double>(r.out.S.back().view(), labels, s == 1 ? known40 : std::vector<std::uint8_t>{}));
          if (s == 1) cell.acc_unl.add(label_accuracy<double>(r.out.S.back().view(), labels, known40, unknown40));
          cell.secs.add(r.seconds);
          method_time[sp.key] += r.seconds;
          if (t == 0 && s != 0 && d == 3) settings[sp.key + "|supervised, 3 layers"] = r.out.settings;
          if (t == 0 && s == 0 && d == 3) settings[sp.key + "|unsupervised, 3 layers"] = r.out.settings;
        }
        if (!c.quiet)
          std::fprintf(stderr, "table1: %-5s %d layer(s) %-28s err %s acc %s (%s per fit)\n", sup_name[s], d,
                       sp.label.c_str(), pm(cell.err).c_str(), pm(cell.acc).c_str(), secs(cell.secs).c_str());
      }

  std::ostringstream md;
  md << "Relative error ||X - A0..AL SL||_F / ||X||_F of the last layer and its accuracy by the paper's "
        "rule (B = (Z o Y) SL^+ from the known columns, or from all columns without supervision and "
        "with 100%; predicted class argmax(B SL), scored on all 90 columns). Layer L of an L-layer run "
        "is scored against the labels of its rank (9, 4, 2). 40% = `known40.txt`. Mean ± sample "
        "standard deviation over " << trials << " trials (seeds 0.." << trials - 1 << "); the paper "
        "averages 25.\n\n";
  md << "## Table 1\n\n| supervision | layers | method | rel. error | paper | accuracy | paper | time per fit |\n"
        "|---|---|---|---|---|---|---|---|\n";
  for (int s = 0; s < 3; ++s)
    for (int d = 1; d <= 3; ++d)
      for (const auto& sp : specs) {
        const Cell& cell = cells[std::to_string(s) + "|" + std::to_string(d) + "|" + sp.key];
        const auto& p = paper[s][d - 1][paper_col(sp)];
        md << "| " << sup_name[s] << " | " << d << " | " << sp.label << " | " << pm(cell.err) << " | "
           << fmt(p[0]) << " | " << pm(cell.acc) << " | " << fmt(p[1]) << " | " << secs(cell.secs) << " |\n";
      }
  md << "\n## Neural NMF against the paper's Neural NMF column\n\n"
        "Target: mean relative error <= the paper's and mean accuracy >= the paper's in every row.\n\n"
        "| supervision | layers | rel. error (paper) | accuracy (paper) | met |\n|---|---|---|---|---|\n";
  int met = 0, rows = 0;
  for (const auto& sp : specs) {
    if (sp.key != "neural") continue;
    for (int s = 0; s < 3; ++s)
      for (int d = 1; d <= 3; ++d) {
        const Cell& cell = cells[std::to_string(s) + "|" + std::to_string(d) + "|" + sp.key];
        const auto& p = paper[s][d - 1][2];
        const bool ok = cell.err.mean() <= p[0] && cell.acc.mean() >= p[1];
        met += ok;
        ++rows;
        md << "| " << sup_name[s] << " | " << d << " | " << fmt(cell.err.mean()) << " (" << fmt(p[0]) << ") | "
           << fmt(cell.acc.mean()) << " (" << fmt(p[1]) << ") | " << (ok ? "yes" : "**no**") << " |\n";
      }
  }
  md << "\nRows met: " << met << " of " << rows << ".\n\n";
  md << "## Accuracy on the 60% unlabeled columns (40% rows)\n\nSame rule, B from the known 40%, scored "
        "only on the other 60%.\n\n| layers | method | accuracy (unlabeled) |\n|---|---|---|\n";
  for (int d = 1; d <= 3; ++d)
    for (const auto& sp : specs) {
      const Cell& cell = cells["1|" + std::to_string(d) + "|" + sp.key];
      md << "| " << d << " | " << sp.label << " | " << pm(cell.acc_unl) << " |\n";
    }
  md << "\n## Time per method (all rows and trials)\n\n| method | total |\n|---|---|\n";
  for (const auto& sp : specs) md << "| " << sp.label << " | " << fmt(method_time[sp.key], 2) << " s |\n";
  md << "\n" << settings_section(specs, settings);
  const std::string extra = "- Data: `" + dir + "X.mtx` (" + shape_string(X.rows(), X.cols()) +
                            ", dense); trials: " + std::to_string(trials) + "\n";
  write_text(a.out + "/table1.md", header("Table 1: synthetic hierarchy", command, ctx, since(t_all), extra) + md.str());
  if (!c.quiet) std::fprintf(stderr, "table1: wrote %s/table1.md (%.1f s)\n", a.out.c_str(), since(t_all));
  return 0;
}

// ---- Table 2 -------------------------------------------------------------------------------------

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

int run_table2(const Common& c, const Args& a, const std::string& command) {
  const auto t_all = Clock::now();
  const Context ctx = c.context();
  const std::string dir = a.data + "/20news/";
  const auto t_load = Clock::now();
  const CscMatrix<double> Xall = io::read_sparse<double>(need(dir + "X_tfidf.mtx.gz"));
  const auto super_all = io::read_labels(need(dir + "super_labels.txt"), Xall.cols());
  const auto group_all = io::read_labels(need(dir + "group_labels.txt"), Xall.cols());
  const auto vocab = io::read_lines(need(dir + "vocab.txt"));
  const auto super_names = io::read_lines(need(dir + "super_names.txt"));
  std::vector<index_t> idx;
  index_t empty = 0;
  if (a.full) {
    for (index_t j = 0; j < Xall.cols(); ++j) {
      if (Xall.colptr()[static_cast<std::size_t>(j + 1)] > Xall.colptr()[static_cast<std::size_t>(j)])
        idx.push_back(j);
      else
        ++empty;
    }
  } else {
    idx = io::read_indices(need(dir + "paper10_docs.txt"), Xall.cols());
  }
  io::AnyMatrix<double> X;
  X.sparse = true;
  X.csc = Xall.select_columns(idx);
  const double load_s = since(t_load);
  std::vector<int> labels, groups;
  for (index_t j : idx) {
    labels.push_back(super_all[static_cast<std::size_t>(j)]);
    groups.push_back(group_all[static_cast<std::size_t>(j)]);
  }
  const std::vector<index_t> ranks = !a.ranks.empty() ? parse_ranks(a.ranks, "--ranks")
                                     : a.full        ? std::vector<index_t>{20, 6}
                                                     : std::vector<index_t>{10, 6};
  const std::size_t L = ranks.size();
  const int trials = a.trials > 0 ? a.trials : 10;
  const auto specs = parse_methods(a.methods, "hnmf,deep,neural,neural-paper");
  ensure_dir(a.out);
  const std::string stem = a.full ? "table2_full" : "table2_paper10";
  // Paper, Table 2: [supervision][layer][hier, deep, neural] (paper10 subset, ranks 10, 6).
  const double paper[2][2][3] = {{{0.593, 0.638, 0.604}, {0.507, 0.444, 0.532}},
                                 {{0.593, 0.642, 0.690}, {0.546, 0.536, 0.654}}};
  auto paper_col = [](const Spec& sp) { return sp.registry == "hnmf" ? 0 : sp.registry == "deep" ? 1 : 2; };
  const char* sup_name[2] = {"none", "75%"};

  struct Cell {
    std::vector<Stat> acc, err;
    Stat acc_group0, secs;
  };
  std::map<std::string, Cell> cells;  // "sup|key"
  std::map<std::string, json> settings;
  std::ostringstream topics, figures;
  std::map<std::string, double> method_time;
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs) {
      Cell& cell = cells[std::to_string(s) + "|" + sp.key];
      cell.acc.resize(L);
      cell.err.resize(L);
      for (int t = 0; t < trials; ++t) {
        const auto known = stratified_mask(labels, 0.75, static_cast<std::uint64_t>(t));
        std::vector<std::uint8_t> unknown;
        for (auto v : known) unknown.push_back(v ? 0 : 1);
        std::optional<Supervision> sup;
        if (s == 1) {
          Supervision v;
          v.labels = labels;
          v.known = known;
          sup = v;
        }
        const Run r = run_method(ctx, sp, X, ranks, sup, static_cast<std::uint64_t>(t), a);
        const auto err = relative_errors<double>(ctx, X.csc, r.out.A, r.out.S);
        for (std::size_t l = 0; l < L; ++l) {
          cell.acc[l].add(label_accuracy<double>(r.out.S[l].view(), labels, known, unknown));
          cell.err[l].add(err[l]);
        }
        cell.acc_group0.add(label_accuracy<double>(r.out.S[0].view(), groups, known, unknown));
        cell.secs.add(r.seconds);
        method_time[sp.key] += r.seconds;
        if (t == 0) {
          settings[sp.key + "|" + (s ? "semi-supervised" : "unsupervised")] = r.out.settings;
          const NeuralNmf<double> model = NeuralNmf<double>::from_factors(r.out.A);
          std::vector<std::vector<std::vector<std::string>>> top;
          for (std::size_t l = 0; l < L; ++l) top.push_back(model.top_terms(static_cast<index_t>(l), 10, vocab));
          topics << "## " << sp.label << ", " << (s ? "semi-supervised (75% labels)" : "unsupervised")
                 << ", trial 0\n\n";
          for (std::size_t l = 0; l < L; ++l) {
            topics << "Layer " << l << " (rank " << ranks[l] << "):\n\n| topic | top 10 terms |\n|---|---|\n";
            for (std::size_t q = 0; q < top[l].size(); ++q) {
              topics << "| " << q << " |";
              for (const auto& w : top[l][q]) topics << " " << w;
              topics << " |\n";
            }
            topics << "\n";
          }
          if (L >= 2) {
            const std::string svg = stem + "_A1_" + sp.key + (s ? "_semi" : "_unsup") + ".svg";
            write_text(a.out + "/" + svg,
                       heatmap_svg(r.out.A[1], topic_labels(top[0], "t", 4), topic_labels(top[1], "T", 3),
                                   sp.label + ", " + (s ? "75% labels" : "unsupervised") + ": A(1), trial 0"));
            figures << "- " << sp.label << ", " << sup_name[s] << ": [" << svg << "](" << svg << ")\n";
          }
        }
        if (!c.quiet)
          std::fprintf(stderr, "table2: %-4s %-30s trial %d: acc", sup_name[s], sp.label.c_str(), t);
        if (!c.quiet) {
          for (std::size_t l = 0; l < L; ++l) std::fprintf(stderr, " %.3f", cell.acc[l].v.back());
          std::fprintf(stderr, " (%.2f s)\n", r.seconds);
        }
      }
    }

  std::ostringstream md;
  md << "Accuracy of each layer by the paper's rule on the held-out documents: a stratified, seeded "
        "75% of the documents of each super-topic (`seed = trial`) are the known columns; "
        "B = (Z o Y) S^+ is fitted on them and argmax(B S) is scored on the other 25%. Both layers "
        "are scored against the 6 super-topics (" ;
  for (std::size_t q = 0; q < super_names.size(); ++q) md << (q ? ", " : "") << super_names[q];
  md << "). Unsupervised rows use the same split for scoring only; semi-supervised rows also give "
        "the 75% labels to the method (last layer). Mean ± sample standard deviation over "
     << trials << " trials; the paper averages 10.\n\n";
  md << "## Table 2" << (a.full ? " on the full matrix" : "") << "\n\n| supervision | method |";
  for (std::size_t l = 0; l < L; ++l) md << " layer " << l << " (rank " << ranks[l] << ") |" << (a.full ? "" : " paper |");
  md << " time per fit |\n|---|---|";
  for (std::size_t l = 0; l < L; ++l) md << (a.full ? "---|" : "---|---|");
  md << "---|\n";
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs) {
      const Cell& cell = cells[std::to_string(s) + "|" + sp.key];
      md << "| " << sup_name[s] << " | " << sp.label << " |";
      for (std::size_t l = 0; l < L; ++l) {
        md << " " << pm(cell.acc[l]) << " |";
        if (!a.full) md << " " << (l < 2 && L == 2 ? fmt(paper[s][l][paper_col(sp)]) : "-") << " |";
      }
      md << " " << secs(cell.secs) << " |\n";
    }
  if (a.full)
    md << "\nThe paper has no figures for the full matrix; its Table 2 (1000-document subset, ranks 10, 6) "
          "is in `table2_paper10.md`.\n";
  md << "\n## Layer 0 against the " << (a.full ? "20 newsgroups" : "10 newsgroups of the subset")
     << " (same rule and split)\n\n| supervision | method | layer 0 accuracy |\n|---|---|---|\n";
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs)
      md << "| " << sup_name[s] << " | " << sp.label << " | " << pm(cells[std::to_string(s) + "|" + sp.key].acc_group0)
         << " |\n";
  md << "\n## Relative error of each layer (||X - A0..Al Sl|| / ||X||)\n\n| supervision | method |";
  for (std::size_t l = 0; l < L; ++l) md << " layer " << l << " |";
  md << "\n|---|---|";
  for (std::size_t l = 0; l < L; ++l) md << "---|";
  md << "\n";
  for (int s = 0; s < 2; ++s)
    for (const auto& sp : specs) {
      const Cell& cell = cells[std::to_string(s) + "|" + sp.key];
      md << "| " << sup_name[s] << " | " << sp.label << " |";
      for (std::size_t l = 0; l < L; ++l) md << " " << pm(cell.err[l]) << " |";
      md << "\n";
    }
  if (!a.full) {
    md << "\n## Neural NMF against the paper's semi-supervised Neural NMF figures\n\n"
          "Target: mean accuracy >= 0.690 (layer 0) and >= 0.654 (layer 1) with 75% labels.\n\n"
          "| method | layer 0 (paper 0.690) | layer 1 (paper 0.654) | met |\n|---|---|---|---|\n";
    for (const auto& sp : specs) {
      if (sp.registry != "neural" || L != 2) continue;
      const Cell& cell = cells["1|" + sp.key];
      const bool ok = cell.acc[0].mean() >= 0.690 && cell.acc[1].mean() >= 0.654;
      md << "| " << sp.label << " | " << fmt(cell.acc[0].mean()) << " | " << fmt(cell.acc[1].mean()) << " | "
         << (ok ? "yes" : "**no**") << " |\n";
    }
  }
  md << "\n## Time per method (all rows and trials)\n\n| method | total | per fit |\n|---|---|---|\n";
  for (const auto& sp : specs) {
    Stat all;
    for (int s = 0; s < 2; ++s)
      for (double v : cells[std::to_string(s) + "|" + sp.key].secs.v) all.add(v);
    md << "| " << sp.label << " | " << fmt(method_time[sp.key], 1) << " s | " << fmt(all.mean(), 2) << " ± "
       << fmt(all.sd(), 2) << " s |\n";
  }
  md << "\n## Heat maps of A(1) (trial 0; paper Figs. 4-5)\n\n" << figures.str()
     << "\nKeyword tables (top 10 terms of every topic at each layer, trial 0; paper Tables 3-6): ["
     << stem << "_topics.md](" << stem << "_topics.md)\n\n";
  md << settings_section(specs, settings);
  std::ostringstream extra;
  extra << "- Data: `" << dir << "X_tfidf.mtx.gz`, " << X.csc.rows() << " terms x " << X.csc.cols()
        << " documents, " << X.csc.nnz() << " nonzeros ("
        << (a.full ? "all documents except the " + std::to_string(empty) + " empty ones"
                   : "the columns listed in `paper10_docs.txt`")
        << "); loaded in " << fmt(load_s, 1) << " s\n"
        << "- Ranks: ";
  for (std::size_t l = 0; l < L; ++l) extra << (l ? ", " : "") << ranks[l];
  extra << "; trials: " << trials << "\n";
  const std::string title = std::string("Table 2: 20 Newsgroups") + (a.full ? ", full matrix" : ", the paper's 1000-document subset");
  write_text(a.out + "/" + stem + ".md", header(title, command, ctx, since(t_all), extra.str()) + md.str());
  write_text(a.out + "/" + stem + "_topics.md",
             header(title + ": keyword tables", command, ctx, since(t_all), extra.str()) + topics.str());
  if (!c.quiet) std::fprintf(stderr, "table2: wrote %s/%s.md (%.1f s)\n", a.out.c_str(), stem.c_str(), since(t_all));
  return 0;
}

}  // namespace

ExperimentCommand add_experiment_command(CLI::App& app, const Common& common, int argc, char** argv) {
  auto args = std::make_shared<Args>();
  ExperimentCommand ec;
  ec.command = app.add_subcommand("experiment", "rerun the paper's Table 1 (synthetic) or Table 2 (20 Newsgroups)");
  CLI::App* e = ec.command;
  e->add_option("table", args->which, "table1 or table2")->required()->check(CLI::IsMember({"table1", "table2"}));
  e->add_option("-o,--output", args->out, "directory for the results (Markdown, SVG)")->required();
  e->add_option("--data", args->data, "shared data folder (synthetic-hierarchy/, 20news/)")->capture_default_str();
  e->add_option("--trials", args->trials, "trials per row (0 = 25 for table1, 10 for table2)")->capture_default_str();
  e->add_flag("--full", args->full, "table2 on the full 20 Newsgroups matrix (ranks 20,6 unless --ranks)");
  e->add_option("--ranks", args->ranks, "table2: ranks (default 10,6; 20,6 with --full)");
  e->add_option("--methods", args->methods,
                "comma-separated: hnmf, hnmf-random, deep, deep-random, neural, neural-paper "
                "(default table1: hnmf,deep,neural,hnmf-random,deep-random; table2: hnmf,deep,neural,neural-paper)");
  e->add_option("--neural-epochs", args->neural_epochs, "epoch cap of Neural NMF with the library defaults (0 = 200)");
  e->add_option("--paper-epochs", args->paper_epochs, "epochs of Neural NMF with the paper's settings")->capture_default_str();
  e->add_option("--paper-lambda", args->paper_lambda, "supervision weight of Neural NMF with the paper's settings")
      ->capture_default_str();
  e->add_option("--deep-iter", args->deep_iter, "Deep NMF backward iterations (0 = 300)");
  const std::string command = command_line(argc, argv);
  const Common* cp = &common;
  ec.run = [args, cp, command]() {
    if (args->trials < 0) throw InvalidArgument("--trials must be >= 0");
    if (args->which == "table1") {
      if (args->full) throw InvalidArgument("--full applies to table2 only");
      return run_table1(*cp, *args, command);
    }
    return run_table2(*cp, *args, command);
  };
  return ec;
}

}  // namespace nnmf::cli
