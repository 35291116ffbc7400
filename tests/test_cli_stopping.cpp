// The CLI side of issue 14: why training stopped in report.json, the window defaults, and
// `--method nmf` (HALS by default, ANLS on request) with per-iteration times in its history.
#include <nlohmann/json.hpp>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

using CliStopping = CliTest;

nlohmann::json report(const std::string& dir) {
  return nlohmann::json::parse(slurp(dir + "/report.json"));
}

TEST_F(CliStopping, ReportSaysWhyTrainingStopped) {
  const std::string cap = dir_ + "/cap", conv = dir_ + "/conv";
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4 --epochs 3 --patience 0 -q -o " + cap).status, 0);
  EXPECT_EQ(report(cap)["stop_reason"], "epoch_cap");
  EXPECT_EQ(report(cap)["history"].size(), 3u);
  // The library's window rule by default: converged long before 200 epochs on this data.
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9,4 -q -o " + conv).status, 0);
  const auto r = report(conv);
  EXPECT_EQ(r["stop_reason"], "converged");
  EXPECT_LT(r["history"].size(), 200u);
  EXPECT_EQ(r["settings"]["patience"], FitOptions{}.patience);
  EXPECT_EQ(r["settings"]["rel_tol"], FitOptions{}.rel_tol);
}

TEST_F(CliStopping, NmfIsHalsByDefaultAndAnlsOnRequestWithIterationTimes) {
  const std::string h = dir_ + "/hals", a = dir_ + "/anls";
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9 --method nmf --epochs 20 --set rel_tol=0 -q -o " + h).status, 0);
  ASSERT_EQ(run("fit " + syn_ + "X.mtx --ranks 9 --method nmf --epochs 20 --set rel_tol=0 --set anls=1 -q -o " + a)
                .status,
            0);
  const auto rh = report(h), ra = report(a);
  EXPECT_EQ(rh["settings"]["algorithm"], "hals");
  EXPECT_EQ(ra["settings"]["algorithm"], "anls");
  ASSERT_EQ(rh["history"].size(), 20u);
  double t = 0;
  for (const auto& e : rh["history"]) {
    EXPECT_GE(e["seconds"].get<double>(), 0.0);
    t += e["seconds"].get<double>();
  }
  EXPECT_GT(t, 0.0);  // the start and 20 iterations take some time
}

}  // namespace
}  // namespace nnmf::test
