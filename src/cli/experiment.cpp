// `nnmf experiment table1|table2`: the Neural NMF paper's comparisons rerun through the method
// registry of `nnmf fit` (same Context, data types, settings and factors as the CLI), with the
// paper's figures beside the measured ones. Results are Markdown files (and SVG heat maps)
// that start with the command, the date, the machine and the timings. The tables themselves
// are in experiment_table1.cpp and experiment_table2.cpp.
#include "cli/experiment.hpp"

#include <sys/stat.h>

#include "cli/experiment_util.hpp"
#include "cli/numbers.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

bool has(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

/// The data folder when --data is not given: table1 runs on the bundled data; table2 needs the
/// 20 Newsgroups matrix, which is not bundled (the bundled 20news-subsample has 200 documents,
/// not the paper's 1000-document subset), so it looks in the shared data folder.
std::string default_data(const std::string& table) {
  const std::string bundled = bundled_data_dir();
  if (table == "table1") return bundled;
  for (const std::string& d : {bundled, std::string("../shared/data")})
    if (has(d + "/20news/X_tfidf.mtx.gz")) return d;
  throw IoError("experiment table2 needs the 20 Newsgroups matrix, which is not bundled (data/20news-subsample "
                "has 200 documents, not the paper's 1000-document subset): expected 20news/X_tfidf.mtx.gz, "
                "paper10_docs.txt, super_labels.txt, group_labels.txt, vocab.txt and super_names.txt under "
                "--data DIR; looked in " + bundled + " and ../shared/data");
}

int run(const Common& c, exp::Args a, const std::string& command) {
  if (a.which == "table1" && (a.full || !a.ranks.empty()))
    throw UsageError(std::string(a.full ? "--full" : "--ranks") + " applies to table2 only");
  if (a.data.empty()) a.data = default_data(a.which);
  return a.which == "table1" ? exp::run_table1(c, a, command) : exp::run_table2(c, a, command);
}

}  // namespace

Command add_experiment_command(CLI::App& app, const Common& common, int argc, char** argv) {
  auto args = std::make_shared<exp::Args>();
  CLI::App* e = app.add_subcommand("experiment", "rerun the paper's Table 1 (synthetic) or Table 2 (20 Newsgroups)");
  e->add_option("table", args->which, "table1 or table2")->required()->check(CLI::IsMember({"table1", "table2"}));
  e->add_option("-o,--output", args->out, "folder for the results (Markdown, SVG), created at the end")->required();
  e->add_option("--data", args->data,
                "data folder with synthetic-hierarchy/ and 20news/ (default: table1 the bundled data; table2 "
                "../shared/data)");
  add_int(e, "--trials", args->trials, "trials per row (0 = 25 for table1, 10 for table2)", 0);
  e->add_flag("--full", args->full, "table2 on the full 20 Newsgroups matrix (ranks 20,6 unless --ranks)");
  e->add_option("--ranks", args->ranks, "table2: ranks (default 10,6; 20,6 with --full)");
  e->add_option("--methods", args->methods,
                "comma-separated: hnmf, hnmf-random, deep, deep-random, neural, neural-paper "
                "(default table1: hnmf,deep,neural,hnmf-random,deep-random; table2: hnmf,deep,neural,neural-paper)");
  add_int(e, "--neural-epochs", args->neural_epochs, "epoch cap of Neural NMF with the library defaults (0 = 200)", 0);
  add_int(e, "--paper-epochs", args->paper_epochs, "epochs of Neural NMF with the paper's settings", 0);
  add_real(e, "--paper-lambda", args->paper_lambda, "supervision weight of Neural NMF with the paper's settings", 0);
  add_int(e, "--deep-iter", args->deep_iter, "Deep NMF backward iterations (0 = 300)", 0);
  const std::string command = exp::command_line(argc, argv);
  const Common* cp = &common;
  return {e, [args, cp, command] { return run(*cp, *args, command); }};
}

}  // namespace nnmf::cli
