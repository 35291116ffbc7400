// `nnmf select-rank X --ranks 2,4,...`: the error of each candidate rank on held-out entries
// (bi-cross-validation, include/nnmf/select_rank.hpp), a table, and with -o a report and a plot.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/chart_svg.hpp"
#include "cli/cli.hpp"
#include "cli/columns.hpp"
#include "cli/numbers.hpp"
#include "cli/output.hpp"

namespace nnmf::cli {
namespace {

using json = nlohmann::json;

struct SelectArgs {
  std::string X, ranks, out, columns;
  double holdout = 0.25;
  int replicates = 3, iterations = 200;
  std::uint64_t seed = 0;
  bool anls = false;
};

double spread(const std::vector<double>& v, double mean) {
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return v.size() > 1 ? std::sqrt(s / static_cast<double>(v.size() - 1)) : 0.0;
}

void print_table(const RankSelection& r, int replicates) {
  std::printf("rank  train error  held-out error (mean ± sd over %d)\n", replicates);
  for (const auto& s : r.scores)
    std::printf("%4ld  %11.5f  %.5f ± %.5f%s\n", static_cast<long>(s.rank), s.mean_train, s.mean_test,
                spread(s.test_error, s.mean_test), s.rank == r.best ? "   <- smallest" : "");
  std::printf("best rank: %ld (smallest held-out error); %ld is the smallest rank within one standard error "
              "of it\n", static_cast<long>(r.best), static_cast<long>(r.one_se));
}

std::string chart(const RankSelection& r, const std::string& data) {
  std::vector<double> x;
  ChartSeries test{"held-out error", "#d62728", {}, {}, {}}, train{"training error", "#1f77b4", {}, {}, {}};
  for (const auto& s : r.scores) {
    x.push_back(static_cast<double>(s.rank));
    test.y.push_back(s.mean_test);
    test.low.push_back(*std::min_element(s.test_error.begin(), s.test_error.end()));
    test.high.push_back(*std::max_element(s.test_error.begin(), s.test_error.end()));
    train.y.push_back(s.mean_train);
  }
  ChartStyle st;
  st.title = "Rank by bi-cross-validation: " + data.substr(data.find_last_of('/') + 1);
  st.x_label = "rank k (band: range of the held-out error over the replicates)";
  st.y_label = "relative error";
  if (r.one_se == r.best) {
    st.marks.push_back({static_cast<double>(r.best), "best, 1 SE: k = " + std::to_string(r.best)});
  } else {
    st.marks.push_back({static_cast<double>(r.best), "smallest: k = " + std::to_string(r.best)});
    st.marks.push_back({static_cast<double>(r.one_se), "1 SE: k = " + std::to_string(r.one_se)});
  }
  return line_chart_svg(x, {test, train}, st);
}

json report(const SelectArgs& a, const RankSelectionOptions& o, const RankSelection& r) {
  json scores = json::array();
  for (const auto& s : r.scores)
    scores.push_back({{"rank", s.rank}, {"test_error", s.test_error}, {"train_error", s.train_error},
                      {"mean_test_error", s.mean_test}, {"mean_train_error", s.mean_train}});
  return {{"nnmf_version", NNMF_VERSION_STRING}, {"command", "select-rank"}, {"data", a.X},
          {"holdout", o.holdout}, {"replicates", o.replicates}, {"seed", o.seed},
          {"nmf", {{"algorithm", to_string(o.nmf.algorithm)}, {"max_iter", o.nmf.max_iter}, {"rel_tol", o.nmf.rel_tol}}},
          {"scores", scores}, {"best_rank", r.best}, {"one_se_rank", r.one_se}};
}

template <class T>
int run_select(const Common& c, const SelectArgs& a) {
  RankSelectionOptions o;
  o.ranks = parse_ranks(a.ranks, "--ranks");
  std::sort(o.ranks.begin(), o.ranks.end());
  o.ranks.erase(std::unique(o.ranks.begin(), o.ranks.end()), o.ranks.end());
  o.holdout = a.holdout;
  o.replicates = a.replicates;
  o.seed = a.seed;
  o.nmf.seed = a.seed;  // one seed for the splits and the NMF starts (as the Python select_rank)
  o.nmf.algorithm = a.anls ? NmfAlgorithm::anls : NmfAlgorithm::hals;
  o.nmf.max_iter = a.iterations;
  Progress progress(c.quiet, "select-rank");
  o.on_step = [&](int r, int q) {
    progress.phase("replicate " + std::to_string(r) + ", rank " + std::to_string(o.ranks[static_cast<std::size_t>(q - 1)]),
                   (r - 1) * static_cast<int>(o.ranks.size()) + q, o.replicates * static_cast<int>(o.ranks.size()));
  };
  io::AnyMatrix<T> X = io::read_mtx<T>(a.X);
  select_columns(X, read_columns(a.columns, X.cols()));
  std::optional<OutputDir> dir;
  if (!a.out.empty()) dir.emplace(a.out, "-o", "select-rank");
  const Context ctx = c.context();
  const RankSelection r = X.sparse ? select_rank<T>(ctx, X.csc, o) : select_rank<T>(ctx, X.dense.view(), o);
  progress.done("best rank " + std::to_string(r.best) + " (one-standard-error rank " + std::to_string(r.one_se) + ")");
  print_table(r, o.replicates);
  if (dir) {
    io::write_file_atomic(dir->stage("report.json"), report(a, o, r).dump(2) + "\n");
    io::write_file_atomic(dir->stage("select-rank.svg"), chart(r, a.X));
    dir->commit();
  }
  return 0;
}

}  // namespace

Command add_select_rank_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<SelectArgs>();
  CLI::App* cmd = app.add_subcommand("select-rank", "error of candidate ranks on held-out entries (bi-cross-validation)");
  cmd->add_option("X", a->X, "data X (N x m)")->required();
  cmd->add_option("--ranks", a->ranks, "candidate ranks, e.g. 2,4,6,8 (any order)")->required();
  add_real(cmd, "--holdout", a->holdout, "share of the rows and of the columns held out per replicate", 0.01, 0.9);
  add_int(cmd, "--replicates", a->replicates, "random splits, averaged", 1);
  add_int(cmd, "--iterations", a->iterations, "NMF iterations on the kept block (HALS)", 1);
  cmd->add_flag("--anls", a->anls, "NMF by alternating NNLS instead of HALS");
  add_seed(cmd, "--seed", a->seed, "seed of the splits (0 .. 2^64-1)");
  add_columns_option(cmd, a->columns);
  cmd->add_option("-o,--output", a->out, "folder for report.json and select-rank.svg (replaced as a whole)");
  const Common* cp = &c;
  return {cmd, [a, cp] { return dispatch(*cp, [&](auto t) { return run_select<decltype(t)>(*cp, *a); }); }};
}

}  // namespace nnmf::cli
