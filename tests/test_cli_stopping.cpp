// The CLI side of issue 14: why training stopped in report.json, the window defaults, and
// `--method nmf` (HALS by default, ANLS on request) with per-iteration times in its history.
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

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


/// True once a staging folder of a running fit exists in @p dir (its output is being built).
bool staging_exists(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name).rfind(".nnmf-staging-", 0) == 0) found = true;
  ::closedir(d);
  return found;
}

TEST_F(CliStopping, FirstCtrlCEndsTrainingAndWritesAnInterruptedModel) {
  const std::string out = dir_ + "/int";
  // Epochs that would run for hours (no convergence test): only the interrupt ends them.
  const std::string cmd = "exec " + cli_path() + " fit " + syn_ +
                          "X.mtx --ranks 9,4 --epochs 100000000 --patience 0 -q -o " + out + " 2>/dev/null";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  while (!staging_exists(dir_) && elapsed() < 60) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // into the epochs
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int st = 0;
  while (::waitpid(pid, &st, WNOHANG) == 0 && elapsed() < 120) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (elapsed() >= 120) ::kill(pid, SIGKILL);
  ASSERT_TRUE(WIFEXITED(st)) << "the fit did not end by itself after Ctrl-C";
  EXPECT_EQ(WEXITSTATUS(st), 130);
  const auto r = report(out);
  EXPECT_EQ(r["stop_reason"], "interrupted");
  EXPECT_GE(r["history"].size(), 1u);
  EXPECT_EQ(NeuralNmf<double>::load(out + "/model.nnmf").stop_reason(), StopReason::interrupted);
  EXPECT_FALSE(staging_exists(dir_));
}

}  // namespace
}  // namespace nnmf::test
