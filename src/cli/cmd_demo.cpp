// `nnmf demo`: the Neural NMF column of the paper's Table 1 on the bundled synthetic data.
#include <chrono>
#include <cstdio>

#include "cli/cli.hpp"
#include "cli/numbers.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct DemoArgs {
  std::string data;
  int seeds = 5;
  int epochs = 0;
};

struct DemoData {
  Matrix<double> X;
  std::vector<std::vector<int>> y;  ///< labels of ranks 9, 4, 2
  std::vector<std::uint8_t> known;  ///< 40% of the labels
};

DemoData read_demo_data(const std::string& data) {
  const std::string dir = (data.empty() ? bundled_data_dir() : data) + "/synthetic-hierarchy";
  DemoData d;
  d.X = io::read_dense<double>(dir + "/X.mtx");
  for (const char* f : {"/labels9.txt", "/labels4.txt", "/labels2.txt"}) d.y.push_back(io::read_labels(dir + f, d.X.cols()));
  d.known = io::read_mask(dir + "/known40.txt", d.X.cols());
  return d;
}

/// One row of the table: mean relative error, accuracy and seconds per fit over the seeds.
struct Row {
  double err = 0, acc = 0, secs = 0;
};

Row demo_row(const Context& ctx, const DemoData& d, int depth, bool supervised, const DemoArgs& a) {
  Row row;
  const auto& labels = d.y[static_cast<std::size_t>(depth - 1)];
  for (int seed = 0; seed < a.seeds; ++seed) {
    FitOptions o;
    o.ranks = {9, 4, 2};
    o.ranks.resize(static_cast<std::size_t>(depth));
    o.seed = static_cast<std::uint64_t>(seed);
    if (a.epochs > 0) o.epochs = a.epochs;
    if (supervised) {
      Supervision s;
      s.labels = labels;
      s.known = d.known;
      o.supervision = s;
    }
    const auto t = Clock::now();
    const auto model = NeuralNmf<double>::fit(ctx, d.X.view(), o);
    row.secs += since(t);
    const auto rep = model.evaluate(ctx, d.X.view(), {labels}, supervised ? d.known : std::vector<std::uint8_t>{});
    row.err += rep.back().rel_error;
    row.acc += *rep.back().accuracy;
  }
  row.err /= a.seeds;
  row.acc /= a.seeds;
  row.secs /= a.seeds;
  return row;
}

int run_demo(const Common& c, const DemoArgs& a) {
  const Context ctx = c.context();
  const DemoData d = read_demo_data(a.data);
  // Paper, Table 1, Neural NMF column (relative error / accuracy).
  const double paper[2][3][2] = {{{0.029, 1}, {0.310, 0.995}, {0.492, 1}}, {{0.042, 1}, {0.305, 1}, {0.496, 0.990}}};
  std::printf("Neural NMF on the synthetic hierarchy (%ld x %ld), ranks 9,4,2; mean over %d seeds (%s)\n",
              static_cast<long>(d.X.rows()), static_cast<long>(d.X.cols()), a.seeds, ctx.describe().c_str());
  std::printf("%-11s %-6s  %-19s  %-19s  %s\n", "supervision", "layers", "rel. error (paper)", "accuracy (paper)",
              "time/fit");
  const auto t0 = Clock::now();
  for (int sup = 0; sup < 2; ++sup)
    for (int depth = 1; depth <= 3; ++depth) {
      const Row r = demo_row(ctx, d, depth, sup != 0, a);
      std::printf("%-11s %-6d  %.3f (%.3f)       %.3f (%.3f)        %.0f ms\n", sup ? "40%" : "none", depth, r.err,
                  paper[sup][depth - 1][0], r.acc, paper[sup][depth - 1][1], 1e3 * r.secs);
    }
  std::printf("total %.2f s. Accuracy: B = (Z o Y) S^+ on the known columns, argmax(B S_L) on all;\n"
              "layer L of an L-layer run is scored against the labels of its rank (9, 4, 2).\n",
              since(t0));
  return 0;
}

}  // namespace

Command add_demo_command(CLI::App& app, const Common& c) {
  auto a = std::make_shared<DemoArgs>();
  CLI::App* cmd = app.add_subcommand("demo", "the paper's Table 1 Neural NMF column on the bundled synthetic data");
  cmd->add_option("--data", a->data, "data folder holding synthetic-hierarchy/ (default: the bundled data)");
  add_int(cmd, "--seeds", a->seeds, "seeds to average", 1);
  add_int(cmd, "--epochs", a->epochs, "epoch cap (0 = default)", 0);
  const Common* cp = &c;
  return {cmd, [a, cp] { return run_demo(*cp, *a); }};
}

}  // namespace nnmf::cli
