// The nnmf tool's options and exit codes: every number parsed strictly with a named message,
// usage errors exit 2 and everything else 1, ranks checked against the data, sizes checked
// before anything is printed, and the experiments' default data.
#include <nlohmann/json.hpp>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

class CliOptions : public CliTest {
 protected:
  /// A small fitted model (3 layers) in p("model").
  std::string model() {
    if (!exists(p("model/model.nnmf"))) {
      const CliRun r = run("fit " + syn_ + "X.mtx --ranks 9,4,2 --epochs 10 -q -o " + p("model"));
      EXPECT_EQ(r.status, 0) << r.output;
    }
    return p("model/model.nnmf");
  }
};

struct Case {
  std::string args, expect;
};

void expect_error(const Case& c, int status, const std::string& prefix = "") {
  const CliRun r = run(c.args, prefix);
  EXPECT_EQ(r.status, status) << c.args << "\n" << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << c.args << "\n" << r.output;
  EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
}

TEST_F(CliOptions, EveryNumberIsParsedStrictly) {
  const std::string fit = "fit " + syn_ + "X.mtx -q -o " + p("o") + " ";
  const std::string topics = "topics " + model() + " ";
  const std::vector<Case> cases = {
      {topics + "--layer abc", "--layer: expected a nonnegative integer, got 'abc'"},
      {topics + "--layer -1", "--layer: expected a nonnegative integer, got '-1'"},
      {topics + "--layer 1x", "--layer: expected a nonnegative integer, got '1x'"},
      {topics + "--layer 1e3", "--layer: expected a nonnegative integer, got '1e3'"},
      {topics + "--layer 9223372036854775807", "--layer: expected a nonnegative integer up to 2147483647, got "
                                               "'9223372036854775807'"},
      {topics + "--top 0", "--top: expected a positive integer, got '0'"},
      {fit + "--ranks 9 --recon-weight nan", "--recon-weight: expected a finite number >= 0, got 'nan'"},
      {fit + "--ranks 9 --recon-weight -1", "--recon-weight: expected a finite number >= 0, got '-1'"},
      {fit + "--ranks 9 --energy-weight NaN", "--energy-weight: expected a finite number >= 0, got 'NaN'"},
      {fit + "--ranks 9 --energy-weight -1", "--energy-weight: expected a finite number >= 0, got '-1'"},
      {fit + "--ranks 9 --lambda inf", "--lambda: expected a finite number >= 0, got 'inf'"},
      {fit + "--ranks 9 --epochs -2", "--epochs: expected a nonnegative integer, got '-2'"},
      {fit + "--ranks 9 --seed -1", "--seed: expected a nonnegative integer, got '-1'"},
      {fit + "--ranks 9 --seed 18446744073709551616", "--seed: expected a nonnegative integer up to 2^64 - 1, got "
                                                      "'18446744073709551616'"},
      {fit + "--ranks 9 --classes -1", "--classes: expected a nonnegative integer, got '-1'"},
      {fit + "--ranks 9,4,", "--ranks: empty item in '9,4,'"},
      {fit + "--ranks 9,,4", "--ranks: empty item in '9,,4'"},
      {fit + "--ranks 9,0", "--ranks: expected a positive integer, got '0'"},
      {fit + "--ranks 9 --patience 2.5", "--patience: expected a nonnegative integer, got '2.5'"},
      {fit + "--ranks 9 --lr 0x10", "--lr: expected a finite number >= 0, got '0x10'"},
      {fit + "--ranks 9 --set rel_tol=abc --method nmf", "--set rel_tol: expected a finite number, got 'abc'"},
      {"--threads '' methods", "--threads: expected a nonnegative integer, got ''"},
      {"--threads 100000 methods", "--threads: expected a nonnegative integer up to"},
      {"nnls a b -o c --max-iter 1.5", "--max-iter: expected a nonnegative integer, got '1.5'"},
      {"demo --seeds 0", "--seeds: expected a positive integer, got '0'"},
      {"experiment table1 -o x --trials -3", "--trials: expected a nonnegative integer, got '-3'"},
      {"experiment table1 -o x --paper-lambda x", "--paper-lambda: expected a finite number >= 0, got 'x'"},
  };
  for (const auto& c : cases) expect_error(c, 2);
  EXPECT_FALSE(exists(p("o")));
}

TEST_F(CliOptions, UsageErrorsExitTwoAndRuntimeErrorsOne) {
  const std::string X = syn_ + "X.mtx";
  const std::vector<Case> usage = {
      {"", "A subcommand is required"},
      {"frobnicate", "subcommand"},
      {"fit " + X + " --ranks 9 -o " + p("o") + " --bogus", "--bogus"},
      {"fit " + X + " -o " + p("o"), "--ranks is required"},
      {"fit " + X + " --ranks 9 -o " + p("o") + " --loss nope", "--loss"},
      {"fit " + X + " --ranks 9 -o " + p("o") + " --method nope", "unknown method"},
      {"fit " + X + " --ranks 9 -o " + p("o") + " --known " + syn_ + "known40.txt", "--known needs --labels"},
      {"topics " + p("m.nnmf") + " --layer", "--layer"},
      {"--device tpu methods", "tpu"},
  };
  for (const auto& c : usage) expect_error(c, 2);
  const std::vector<Case> runtime = {
      {"fit " + p("missing.mtx") + " --ranks 3 -o " + p("o"), "missing.mtx"},
      {"eval " + p("missing.nnmf") + " " + X, "missing.nnmf"},
      {"fit " + X + " --ranks 100 -o " + p("o"), "k0 = 100"},
  };
  for (const auto& c : runtime) expect_error(c, 1);
  const CliRun help = run("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("Exit status: 0 success; 1 "), std::string::npos) << help.output;
}

TEST_F(CliOptions, RanksTheDataCannotSupportAreRefused) {
  const std::string news = data_dir() + "/20news-subsample/X.mtx";  // 37693 x 200
  // Bounded: before the check, this fit ran for over 10 minutes.
  expect_error({"fit " + news + " --ranks 500,6 -q -o " + p("o"), "k0 = 500 exceeds min(N, m) = 200"}, 1, "timeout 60 ");
  expect_error({"fit " + syn_ + "X.mtx --ranks 88 -q -o " + p("o"), "k0 = 88 exceeds min(N, m) = 87"}, 1);
  expect_error({"fit " + syn_ + "X.mtx --ranks 4,9 -q -o " + p("o"), "k1 = 9 exceeds k0 = 4"}, 1);
  EXPECT_FALSE(exists(p("o")));
  // Unusual but meaningful: a warning, and the fit runs.
  const CliRun same = run("fit " + syn_ + "X.mtx --ranks 9,9 --epochs 2 -q -o " + p("w1"));
  EXPECT_EQ(same.status, 0) << same.output;
  EXPECT_NE(same.output.find("warning: --ranks: k1 = k0 = 9"), std::string::npos) << same.output;
  const CliRun big = run("fit " + syn_ + "X.mtx --ranks 50 --epochs 2 --init random -q -o " + p("w2"));
  EXPECT_EQ(big.status, 0) << big.output;
  EXPECT_NE(big.output.find("warning: --ranks: k0 = 50 is more than half"), std::string::npos) << big.output;
  EXPECT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4 --epochs 2 -q -o " + p("w3")).output, "");
}

TEST_F(CliOptions, TopicsChecksTheVocabularyBeforePrinting) {
  const std::string m = model();
  for (int n : {10, 200}) {
    std::string vocab;
    for (int i = 0; i < n; ++i) vocab += "w" + std::to_string(i) + "\n";
    write("vocab.txt", vocab);
    const CliRun r = run("topics " + m + " --vocab " + p("vocab.txt"));
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << r.output;  // no keywords printed first
    EXPECT_NE(r.output.find("has " + std::to_string(n) + " terms but the model has 87 features"), std::string::npos)
        << r.output;
  }
}

TEST_F(CliOptions, EvalRefusesAnEmptyFitMask) {
  const std::string m = model();
  std::string zeros;
  for (int i = 0; i < 90; ++i) zeros += "0\n";
  write("zeros.txt", zeros);
  const std::string base = "eval " + m + " " + syn_ + "X.mtx --labels " + syn_ + "labels2.txt ";
  expect_error({base + "--fit-mask " + p("zeros.txt"), "--fit-mask " + p("zeros.txt") + ": all 90 entries are 0"}, 1);
  expect_error({base + "--score-mask " + p("zeros.txt"), "--score-mask"}, 1);
  expect_error({"eval " + m + " " + syn_ + "X.mtx --fit-mask " + syn_ + "known40.txt", "--fit-mask needs --labels"}, 2);
  const CliRun ok = run(base + "--fit-mask " + syn_ + "known40.txt");
  EXPECT_EQ(ok.status, 0) << ok.output;
}

TEST_F(CliOptions, ExperimentsDefaultToTheBundledData) {
  // Run from a folder with no ../shared/data beside it.
  const std::string in_tmp = "cd " + dir_ + " && ";
  const CliRun t1 = run("experiment table1 --trials 1 --methods neural --neural-epochs 5 -q -o " + p("t1"), in_tmp);
  EXPECT_EQ(t1.status, 0) << t1.output;
  EXPECT_NE(slurp(p("t1/table1.md")).find("synthetic-hierarchy/X.mtx"), std::string::npos);
  // Table 2 needs the 20 Newsgroups matrix, which is not bundled: a clear error, no folder.
  const CliRun t2 = run("experiment table2 --trials 1 -q -o " + p("t2"), in_tmp);
  EXPECT_EQ(t2.status, 1);
  EXPECT_EQ(count_lines(t2.output), 1) << t2.output;
  EXPECT_NE(t2.output.find("expected 20news/X_tfidf.mtx.gz"), std::string::npos) << t2.output;
  EXPECT_NE(t2.output.find("--data"), std::string::npos) << t2.output;
  EXPECT_FALSE(exists(p("t2")));
}

}  // namespace
}  // namespace nnmf::test
