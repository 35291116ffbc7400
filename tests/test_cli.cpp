// The nnmf command-line tool as scripts call it: outputs, report contents, one-line errors with
// a non-zero exit, and no partial outputs.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

using Cli = CliTest;

TEST_F(Cli, NnlsMatchesTheLibrary) {
  auto A = random_matrix<double>(87, 9, 1);
  io::write_mtx<double>(p("A.mtx"), A.view());
  const CliRun r = run("nnls " + p("A.mtx") + " " + syn_ + "X.mtx -o " + p("S.mtx") + " --support " + p("T.mtx"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto S = io::read_dense<double>(p("S.mtx"));
  const auto X = io::read_dense<double>(syn_ + "X.mtx");
  const auto ref = nnls<double>(Context::host(1), A.view(), X.view());
  ASSERT_EQ(S.rows(), 9);
  for (index_t q = 0; q < S.size(); ++q) EXPECT_NEAR(S.data()[q], ref.S.data()[q], 1e-12);
  const auto T = io::read_sparse<double>(p("T.mtx"));
  EXPECT_EQ(T.nnz(), ref.support.count());
}

TEST_F(Cli, FitWritesFactorsModelAndReport) {
  const std::string labels = syn_ + "labels9.txt," + syn_ + "labels4.txt," + syn_ + "labels2.txt";
  const CliRun r = run("fit " + syn_ + "X.mtx --ranks 9,4,2 --eval-labels " + labels + " --seed 1 --epochs 60 -q -o " + p("out"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "");  // --quiet
  for (const char* f : {"A0.mtx", "A1.mtx", "A2.mtx", "S0.mtx", "S1.mtx", "S2.mtx", "model.nnmf", "report.json"})
    EXPECT_TRUE(exists(p("out/") + f)) << f;
  std::ifstream f(p("out/report.json"));
  const auto rep = nlohmann::json::parse(f);
  ASSERT_EQ(rep["layers"].size(), 3u);
  EXPECT_EQ(rep["layers"][0]["rank"], 9);
  EXPECT_EQ(rep["layers"][2]["rank"], 2);
  EXPECT_LE(rep["layers"][2]["rel_error"].get<double>(), 0.5);
  EXPECT_GE(rep["layers"][2]["accuracy"].get<double>(), 0.95);
  EXPECT_EQ(rep["seed"], 1);
  EXPECT_EQ(rep["method"], "neural");
  EXPECT_TRUE(rep["timings"].contains("fit_s"));
  EXPECT_TRUE(rep["settings"].contains("optimizer"));
  // A second fit with the same seed writes the same factors.
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4,2 --seed 1 --epochs 60 -q -o " + p("out2")).status, 0);
  EXPECT_EQ(io::read_dense<double>(p("out/A1.mtx")).storage(), io::read_dense<double>(p("out2/A1.mtx")).storage());
}

TEST_F(Cli, SemiSupervisedFitAndModelCommands) {
  const CliRun r = run("fit " + syn_ + "X.mtx --ranks 9,4,2 --labels " + syn_ + "labels2.txt --known " + syn_ +
                    "known40.txt --epochs 60 -q -o " + p("out"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(exists(p("out/B.mtx")));
  std::ifstream f(p("out/report.json"));
  const auto rep = nlohmann::json::parse(f);
  EXPECT_GE(rep["layers"][2]["accuracy"].get<double>(), 0.98);
  EXPECT_TRUE(rep["layers"][2].contains("accuracy_unlabeled"));

  const CliRun t = run("transform " + p("out/model.nnmf") + " " + syn_ + "X.mtx -q -o " + p("tr"));
  ASSERT_EQ(t.status, 0) << t.output;
  EXPECT_EQ(io::read_dense<double>(p("tr/S2.mtx")).storage(), io::read_dense<double>(p("out/S2.mtx")).storage());

  const CliRun e = run("eval " + p("out/model.nnmf") + " " + syn_ + "X.mtx --labels " + syn_ + "labels2.txt -o " + p("ev.json"));
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("rel_error"), std::string::npos);
  EXPECT_TRUE(exists(p("ev.json")));

  std::string vocab;
  for (int i = 0; i < 87; ++i) vocab += "w" + std::to_string(i) + "\n";
  write("vocab.txt", vocab);
  const CliRun tp = run("topics " + p("out/model.nnmf") + " --vocab " + p("vocab.txt") + " --top 3 -o " + p("topics.json"));
  ASSERT_EQ(tp.status, 0) << tp.output;
  EXPECT_NE(tp.output.find("layer 2 (2 topics, supervised)"), std::string::npos) << tp.output;
  std::ifstream tf(p("topics.json"));
  const auto topics = nlohmann::json::parse(tf);
  EXPECT_EQ(topics["layers"][0]["topics"].size(), 9u);
  EXPECT_EQ(topics["layers"][1]["hierarchy"].size(), 4u);
}

TEST_F(Cli, InitFromADirectoryOfFactors) {
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4 --epochs 20 -q -o " + p("first")).status, 0);
  const CliRun r = run("fit " + syn_ + "X.mtx --ranks 9,4 --init dir --init-dir " + p("first") +
                       " --epochs 0 -q -o " + p("second"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* f : {"A0.mtx", "A1.mtx"})
    EXPECT_EQ(io::read_dense<double>(p("first/") + f).storage(), io::read_dense<double>(p("second/") + f).storage());
  const CliRun bad = run("fit " + syn_ + "X.mtx --ranks 9,3 --init dir --init-dir " + p("first") + " -q -o " + p("third"));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("A1"), std::string::npos) << bad.output;
}

TEST_F(Cli, ErrorsAreOneLineWithNonZeroExitAndLeaveNoOutputs) {
  struct Case {
    std::string args, expect;
  };
  write("bad.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\nx\n4\n");
  write("short_labels.txt", "0\n1\n");
  std::string big;
  for (int i = 0; i < 90; ++i) big += (i == 5 ? "12\n" : "0\n");
  write("range_labels.txt", big);
  const std::vector<Case> cases = {
      {"fit " + p("missing.mtx") + " --ranks 3 -o " + p("o1"), "missing.mtx"},
      {"fit " + syn_ + "X.mtx --ranks 9,x -o " + p("o2"), "--ranks"},
      {"fit " + syn_ + "X.mtx --ranks 100 -o " + p("o3"), "k0 = 100"},
      {"fit " + p("bad.mtx") + " --ranks 1 -o " + p("o4"), "bad.mtx:5"},
      {"fit " + syn_ + "X.mtx --ranks 9 --labels " + p("short_labels.txt") + " -o " + p("o5"), "2 labels"},
      {"fit " + syn_ + "X.mtx --ranks 9,4 --labels " + p("range_labels.txt") + " --classes 4 --known " + syn_ +
           "known40.txt --epochs 5 -o " + p("o6"),
       "label 12"},
      {"fit " + syn_ + "X.mtx --ranks 9 --method nope -o " + p("o7"), "unknown method"},
      {"fit " + syn_ + "X.mtx --ranks 9 --device tpu -o " + p("o8"), "tpu"},
      {"nnls " + syn_ + "X.mtx " + syn_ + "X.mtx -o " + p("s.mtx"), "rank k = 90"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_EQ(count_lines(r.output), 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
  // Nothing was written for any failed command: no output folder, no staging folder.
  for (const char* d : {"o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"}) EXPECT_FALSE(exists(p(d))) << d;
  EXPECT_FALSE(exists(p("s.mtx")));
  EXPECT_EQ(listing(dir_), "bad.mtx\nrange_labels.txt\nshort_labels.txt\n");
}

TEST_F(Cli, HelpForEveryCommand) {
  for (const char* cmd : {"", "nnls", "fit", "transform", "eval", "topics", "demo", "methods"}) {
    const CliRun r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << cmd << r.output;
  }
  const CliRun m = run("methods");
  EXPECT_NE(m.output.find("neural"), std::string::npos);
}

}  // namespace
}  // namespace nnmf::test
