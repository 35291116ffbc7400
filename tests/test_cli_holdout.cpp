// `nnmf fit --holdout-fraction / --holdout / --holdout-out`: masked cross-validation from the
// command line on the bundled 20 Newsgroups sample (sparse) and the synthetic data (dense), for
// Neural NMF and the baselines.
#include <nlohmann/json.hpp>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

class CliHoldout : public CliTest {
 protected:
  std::string news_ = data_dir() + "/20news-subsample/X.mtx";  // 37693 x 200, sparse
  /// A quick fit of @p X into p(@p out) with @p extra options; returns report.json.
  nlohmann::json fit(const std::string& X, const std::string& out, const std::string& extra) {
    const CliRun r = run("fit " + X + " --ranks 8,3 --epochs 4 --init-restarts 1 --init-iterations 10 -q -o " +
                         p(out) + " " + extra);
    EXPECT_EQ(r.status, 0) << r.output;
    std::ifstream f(p(out + "/report.json"));
    return f ? nlohmann::json::parse(f) : nlohmann::json{};
  }
};

std::vector<double> held_out_errors(const nlohmann::json& rep) {
  std::vector<double> e;
  for (const auto& l : rep["layers"]) e.push_back(l.value("held_out_error", -1.0));
  return e;
}

TEST_F(CliHoldout, FractionOnSparseTextIsScoredRepeatableAndReusable) {
  const auto a = fit(news_, "a", "--holdout-fraction 0.1 --seed 3 --holdout-out " + p("H.mtx"));
  ASSERT_TRUE(a.contains("layers"));
  const auto e = held_out_errors(a);
  ASSERT_EQ(e.size(), 2u);
  for (double v : e) {
    EXPECT_GT(v, 0);
    EXPECT_LT(v, 2);
  }
  EXPECT_GT(a["held_out"]["entries"].get<long>(), 1000);
  EXPECT_EQ(a["held_out"]["fraction"].get<double>(), 0.1);
  const auto b = fit(news_, "b", "--holdout-fraction 0.1 --seed 3");
  EXPECT_EQ(held_out_errors(b), e);
  EXPECT_EQ(slurp(p("a/A0.mtx")), slurp(p("b/A0.mtx")));
  const auto c = fit(news_, "c", "--holdout " + p("H.mtx") + " --seed 3");  // the seed also seeds the init
  EXPECT_EQ(held_out_errors(c), e);
  EXPECT_EQ(slurp(p("a/A0.mtx")), slurp(p("c/A0.mtx")));
  EXPECT_EQ(c["held_out"]["entries"], a["held_out"]["entries"]);
  // Another seed draws another set.
  EXPECT_NE(held_out_errors(fit(news_, "d", "--holdout-fraction 0.1 --seed 4")), e);
}

TEST_F(CliHoldout, FractionOnDenseDataAndTheSummaryLine) {
  const CliRun r = run("fit " + syn_ + "X.mtx --ranks 9,4 --epochs 3 --holdout-fraction 0.2 -o " + p("o"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("held-out "), std::string::npos) << r.output;
  std::ifstream f(p("o/report.json"));
  const auto rep = nlohmann::json::parse(f);
  for (double v : held_out_errors(rep)) EXPECT_GT(v, 0);
}

/// The baselines on the 20 News sample with --holdout-fraction: every layer scored, the same
/// set and errors again for the same seed, and the written set gives the same fit.
TEST_F(CliHoldout, BaselinesOnSparseTextAreScoredAndRepeatable) {
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"ssnmf", "--ranks 8"}, {"nmf", "--ranks 8"}, {"deep", "--ranks 8,3"}, {"hnmf", "--ranks 8,3"}};
  for (const auto& [method, ranks] : methods) {
    const std::string common = "fit " + news_ + " " + ranks + " --method " + method + " --epochs 30 --seed 5 -o ";
    const CliRun r = run(common + p(method + "1") + " --holdout-fraction 0.1 --holdout-out " + p(method + ".mtx"));
    ASSERT_EQ(r.status, 0) << method << "\n" << r.output;
    EXPECT_NE(r.output.find("held-out "), std::string::npos) << method << "\n" << r.output;
    std::ifstream f(p(method + "1/report.json"));
    const auto a = nlohmann::json::parse(f);
    const auto e = held_out_errors(a);
    ASSERT_EQ(e.size(), ranks == "--ranks 8" ? 1u : 2u) << method;
    for (double v : e) {
      EXPECT_GT(v, 0) << method;
      EXPECT_LT(v, 2) << method;
    }
    EXPECT_GT(a["held_out"]["entries"].get<long>(), 1000) << method;
    ASSERT_EQ(run(common + p(method + "2") + " --holdout-fraction 0.1 -q").status, 0) << method;
    ASSERT_EQ(run(common + p(method + "3") + " --holdout " + p(method + ".mtx") + " -q").status, 0) << method;
    for (const std::string& again : {method + "2", method + "3"}) {
      std::ifstream g(p(again + "/report.json"));
      EXPECT_EQ(held_out_errors(nlohmann::json::parse(g)), e) << again;
      EXPECT_EQ(slurp(p(method + "1/A0.mtx")), slurp(p(again + "/A0.mtx"))) << again;
    }
  }
}

/// With a held-out set, rel_error is the training error on the observed entries: a masked fit
/// leaves S free on the held-out entries, so counting them gave 1.05 here (SSNMF, rank 16).
TEST_F(CliHoldout, RelativeErrorOfAHeldOutFitCountsTheObservedEntries) {
  const CliRun r = run("fit " + news_ + " --ranks 16 --method ssnmf --holdout-fraction 0.1 --seed 1 -q -o " + p("o"));
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream f(p("o/report.json"));
  const auto rep = nlohmann::json::parse(f);
  const double e = rep["layers"][0]["rel_error"].get<double>();
  EXPECT_GT(e, 0.5);
  EXPECT_LT(e, 1.0);
}

TEST_F(CliHoldout, MisuseIsAUsageError) {
  const std::string fit = "fit " + syn_ + "X.mtx --ranks 9,4 -q -o " + p("o") + " ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--holdout-fraction 0.1 --holdout " + p("H.mtx"), "--holdout and --holdout-fraction: give one"},
      {"--holdout-out " + p("H.mtx"), "--holdout-out needs --holdout-fraction"},
      {"--holdout-fraction 0", "--holdout-fraction must lie in (0, 1)"},
  };
  for (const auto& [args, expect] : cases) {
    const CliRun r = run(fit + args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << args << "\n" << r.output;
  }
  const CliRun anls = run("fit " + syn_ + "X.mtx --ranks 9 -q -o " + p("o") + " --method nmf --set anls=1 --holdout-fraction 0.1");
  EXPECT_EQ(anls.status, 2) << anls.output;
  EXPECT_NE(anls.output.find("--method nmf with --holdout/--holdout-fraction fits by masked multiplicative updates; "
                             "--set anls=1 does not apply"), std::string::npos) << anls.output;
  write("bad.mtx", "%%MatrixMarket matrix coordinate pattern general\n3 3 1\n1 1\n");
  const CliRun r = run(fit + "--holdout " + p("bad.mtx"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("is 3 x 3 but X is"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace nnmf::test
