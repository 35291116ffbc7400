// Where the nnmf tool writes: never over something that is not its own (devices, FIFOs,
// symbolic links, foreign folders), and an output folder that holds exactly one run, whole,
// whenever the tool is killed (SIGKILL at each phase of a fit, and at random moments) or
// interrupted (SIGINT, SIGTERM clean up at once).
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "test_cli_util.hpp"

namespace nnmf::test {
namespace {

using Files = std::map<std::string, std::string>;

/// The run's files of a folder (hidden files left out), with their bytes; report.json holds
/// wall times, so only its ranks are kept.
Files run_files(const std::string& dir) {
  Files f;
  std::istringstream names(listing(dir));
  for (std::string n; std::getline(names, n);) {
    if (n.empty() || n[0] == '.') continue;
    std::string bytes = slurp(dir + "/" + n);
    if (n == "report.json") bytes = bytes.substr(bytes.find("\"ranks\""), 40);
    f[n] = bytes;
  }
  return f;
}

/// Hidden nnmf entries (staging or old-run folders) beside @p target.
std::string litter(const std::string& parent) {
  std::string out;
  std::istringstream names(listing(parent));
  for (std::string n; std::getline(names, n);)
    if (n.rfind(".nnmf-", 0) == 0) out += n + " ";
  return out;
}

/// Starts `nnmf ARGS...` with NNMF_TEST_STOP_AT=@p stop (and the fallback swap if asked).
pid_t spawn(const std::vector<std::string>& args, const std::string& stop, bool no_exchange) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (!stop.empty()) setenv("NNMF_TEST_STOP_AT", stop.c_str(), 1);
  if (no_exchange) setenv("NNMF_TEST_NO_EXCHANGE", "1", 1);
  freopen("/dev/null", "w", stdout);
  freopen("/dev/null", "w", stderr);
  std::vector<char*> argv;
  const std::string exe = cli_path();
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(exe.c_str(), argv.data());
  _exit(127);
}

/// Waits until the child stops itself at its stop point; false if it ended instead.
bool wait_stopped(pid_t pid) {
  int st = 0;
  return waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st);
}

int reap(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return st;
}

class CliOutput : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    target_ = p("runs/out");
    ASSERT_EQ(mkdir(p("runs").c_str(), 0777), 0);
  }
  std::vector<std::string> fit_args(const std::string& ranks, const std::string& seed, const std::string& out) const {
    return {"fit", syn_ + "X.mtx", "--ranks", ranks, "--seed", seed, "--epochs", "20", "-q", "-o", out};
  }
  std::string fit_line(const std::string& ranks, const std::string& seed, const std::string& out) const {
    std::string s;
    for (const auto& a : fit_args(ranks, seed, out)) s += a + " ";
    return s;
  }
  /// An earlier run (3 layers) in the target, and the files of the new run (2 layers) made
  /// elsewhere, to compare with.
  void prepare() {
    ASSERT_EQ(run(fit_line("9,4,2", "1", target_)).status, 0);
    old_ = run_files(target_);
    ASSERT_EQ(run(fit_line("9,4", "2", p("reference"))).status, 0);
    new_ = run_files(p("reference"));
    ASSERT_TRUE(old_.count("A2.mtx"));
    ASSERT_FALSE(new_.count("A2.mtx"));
  }
  std::string target_;
  Files old_, new_;
};

TEST_F(CliOutput, RefitReplacesTheWholeFolder) {
  prepare();
  ASSERT_EQ(run(fit_line("9,4", "2", target_)).status, 0);
  EXPECT_EQ(run_files(target_), new_);  // no A2.mtx / S2.mtx of the earlier run
  EXPECT_EQ(litter(p("runs")), "");
}

TEST_F(CliOutput, SameSeedWritesTheSameModelBytes) {
  ASSERT_EQ(run(fit_line("9,4", "3", p("a"))).status, 0);
  ASSERT_EQ(run(fit_line("9,4", "3", p("b"))).status, 0);
  const std::string a = slurp(p("a/model.nnmf")), b = slurp(p("b/model.nnmf"));
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "model.nnmf differs between two runs with the same seed";
  EXPECT_NE(slurp(p("a/report.json")).find("\"fit_s\""), std::string::npos);  // timings stay in the report
}

TEST_F(CliOutput, KilledAtEveryPhaseLeavesTheOldRunOrTheNewOne) {
  prepare();
  const Files saved_old = old_;
  struct Phase {
    std::string stop;
    bool no_exchange, expect_new;
  };
  const std::vector<Phase> phases = {
      {"staging-created", false, false}, {"stage:A0.mtx", false, false},    {"stage:S1.mtx", false, false},
      {"stage:model.nnmf", false, false}, {"stage:report.json", false, false}, {"before-commit", false, false},
      {"swapped", false, true},          {"before-commit", true, false}};
  for (const auto& ph : phases) {
    SCOPED_TRACE(ph.stop + (ph.no_exchange ? " (rename fallback)" : ""));
    const pid_t pid = spawn(fit_args("9,4", "2", target_), ph.stop, ph.no_exchange);
    ASSERT_TRUE(wait_stopped(pid)) << "the fit never reached " << ph.stop;
    kill(pid, SIGKILL);
    reap(pid);
    EXPECT_EQ(run_files(target_), ph.expect_new ? new_ : saved_old);
    // Back to the old run for the next phase (through the tool: a refit with the old settings).
    if (ph.expect_new) {
      ASSERT_EQ(run(fit_line("9,4,2", "1", target_)).status, 0);
    }
    ASSERT_EQ(run_files(target_), saved_old);
  }
  // The next run clears the litter the killed ones left.
  ASSERT_EQ(run(fit_line("9,4", "2", target_)).status, 0);
  EXPECT_EQ(run_files(target_), new_);
  EXPECT_EQ(litter(p("runs")), "");
}

TEST_F(CliOutput, KilledBetweenTheFallbackRenamesTheNextRunRestoresTheOldOne) {
  prepare();
  const pid_t pid = spawn(fit_args("9,4", "2", target_), "old-moved", true);
  ASSERT_TRUE(wait_stopped(pid));
  kill(pid, SIGKILL);
  reap(pid);
  // The one window of the fallback (no RENAME_EXCHANGE): the old run sits whole beside the target.
  EXPECT_FALSE(exists(target_));
  EXPECT_NE(litter(p("runs")).find(".nnmf-old-out-"), std::string::npos);
  // A next run puts it back before anything else, so a failure leaves the old run in place.
  const CliRun bad = run("fit " + syn_ + "X.mtx --ranks 9,4 --method nmf -q -o " + target_);
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_EQ(run_files(target_), old_);
  EXPECT_EQ(litter(p("runs")), "");
}

TEST_F(CliOutput, KilledAtRandomMomentsLeavesTheOldRunOrTheNewOne) {
  prepare();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run(fit_line("9,4", "2", p("timing"))).status, 0);
  const double fit_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> when(0, 1.2 * fit_ms);
  for (int k = 0; k < 8; ++k) {
    const pid_t pid = spawn(fit_args("9,4", "2", target_), "", false);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(when(rng)));
    kill(pid, SIGKILL);
    reap(pid);
    const Files now = run_files(target_);
    EXPECT_TRUE(now == old_ || now == new_) << "kill " << k << ": a mix of two runs";
    if (now == new_) {
      ASSERT_EQ(run(fit_line("9,4,2", "1", target_)).status, 0);
    }
  }
}

TEST_F(CliOutput, InterruptedRunsCleanUpAtOnce) {
  prepare();
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig);
    const pid_t pid = spawn(fit_args("9,4", "2", target_), "stage:S0.mtx", false);
    ASSERT_TRUE(wait_stopped(pid));
    kill(pid, sig);
    kill(pid, SIGCONT);
    const int st = reap(pid);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == sig);
    EXPECT_EQ(run_files(target_), old_);
    EXPECT_EQ(litter(p("runs")), "");  // no staging folder, without waiting for a next run
  }
}

TEST_F(CliOutput, FailedCommandsLeaveNoFolder) {
  // The method refuses two ranks only once the run has started (after the staging folder).
  const CliRun r = run("fit " + syn_ + "X.mtx --ranks 9,4 --method nmf -q -o " + p("runs/new"));
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(listing(p("runs")), "");
  const CliRun t = run("experiment table2 --trials 1 -q --data " + p("nowhere") + " -o " + p("runs/tables"));
  EXPECT_EQ(t.status, 1) << t.output;
  EXPECT_EQ(listing(p("runs")), "");
}

TEST_F(CliOutput, StaleLitterIsRemovedAndLiveStagingKept) {
  const std::string runs = p("runs/");
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  pid_t dead = 999999;  // a pid that runs nothing
  while (kill(dead, 0) == 0 || errno != ESRCH) --dead;
  auto staging = [&](const std::string& name, pid_t owner) {
    ASSERT_EQ(mkdir((runs + name).c_str(), 0700), 0);
    std::ofstream(runs + name + "/.nnmf-output") << "nnmf output folder\ntarget out\nowner " << host << " " << owner
                                                  << " 0\n";
    std::ofstream(runs + name + "/A0.mtx") << "partial";
  };
  staging(".nnmf-staging-out-" + std::to_string(dead) + "-abcdef", dead);
  staging(".nnmf-staging-out-" + std::to_string(getpid()) + "-ghijkl", getpid());  // alive: ours
  ASSERT_EQ(mkdir((runs + ".nnmf-staging-other-1-abcdef").c_str(), 0700), 0);  // another target's
  ASSERT_EQ(run(fit_line("9,4", "2", target_)).status, 0);
  EXPECT_EQ(litter(p("runs")), ".nnmf-staging-other-1-abcdef .nnmf-staging-out-" + std::to_string(getpid()) + "-ghijkl ");
}

TEST_F(CliOutput, RefusesPathsThatAreNotOurs) {
  ASSERT_EQ(mkdir(p("elsewhere").c_str(), 0777), 0);
  write("elsewhere/keep.txt", "precious\n");
  ASSERT_EQ(symlink(p("elsewhere").c_str(), p("link").c_str()), 0);
  ASSERT_EQ(symlink(p("elsewhere/keep.txt").c_str(), p("filelink").c_str()), 0);
  ASSERT_EQ(mkfifo(p("fifo").c_str(), 0644), 0);
  ASSERT_EQ(run(fit_line("9,4", "1", p("model"))).status, 0);
  const std::string model = p("model/model.nnmf"), X = syn_ + "X.mtx", A = p("model/A0.mtx");
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {fit_line("9", "1", p("link")), "is a symbolic link"},
      {fit_line("9", "1", p("fifo")), "is a FIFO"},
      {fit_line("9", "1", p("elsewhere")), "not an nnmf output folder (it holds 'keep.txt')"},
      {"transform " + model + " " + X + " -o " + p("link"), "is a symbolic link"},
      {"transform " + model + " " + X + " -o " + p("model"), "holds the output of `nnmf fit`"},
      {"nnls " + A + " " + X + " -o " + p("filelink"), "is a symbolic link"},
      {"nnls " + A + " " + X + " -o " + p("fifo"), "is a FIFO"},
      {"nnls " + A + " " + X + " -o " + p("s.mtx") + " --support " + p("filelink"), "--support"},
      {"eval " + model + " " + X + " -o " + p("fifo"), "is a FIFO"},
      {"topics " + model + " -o " + p("filelink"), "is a symbolic link"},
      {"experiment table1 --trials 1 --methods neural -q -o " + p("filelink"), "is a symbolic link"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.args << "\n" << r.output;
  }
  struct stat st {};
  EXPECT_TRUE(lstat(p("link").c_str(), &st) == 0 && S_ISLNK(st.st_mode));
  EXPECT_TRUE(lstat(p("filelink").c_str(), &st) == 0 && S_ISLNK(st.st_mode));
  EXPECT_TRUE(lstat(p("fifo").c_str(), &st) == 0 && S_ISFIFO(st.st_mode));
  EXPECT_EQ(listing(p("elsewhere")), "keep.txt\n");
  EXPECT_EQ(slurp(p("elsewhere/keep.txt")), "precious\n");
  EXPECT_FALSE(exists(p("s.mtx")));
  EXPECT_TRUE(exists(model));
}

}  // namespace
}  // namespace nnmf::test
