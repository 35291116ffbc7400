// Running the nnmf tool from the CLI tests (test_cli*.cpp). The binary is the one built with
// the tests, or $NNMF_CLI when set (e.g. to show that a test fails on an older build).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "test_util.hpp"

namespace nnmf::test {

inline std::string cli_path() {
  const char* env = std::getenv("NNMF_CLI");
  return env && *env ? env : NNMF_CLI_PATH;
}

struct CliRun {
  int status = -1;     ///< exit status, or -1 when killed by a signal
  std::string output;  ///< stdout and stderr together
};

/// Runs `nnmf ARGS` through the shell (ARGS is shell text) with stdout and stderr captured.
inline CliRun run(const std::string& args, const std::string& prefix = "") {
  CliRun r;
  const std::string cmd = prefix + cli_path() + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), p)) r.output += buf.data();
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline bool exists(const std::string& p) {
  struct stat st {};
  return lstat(p.c_str(), &st) == 0;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

/// Names in a folder (without . and ..), one per line, sorted; "" when it does not exist.
inline std::string listing(const std::string& dir) {
  FILE* f = popen(("ls -A " + dir + " 2>/dev/null").c_str(), "r");
  std::array<char, 512> buf{};
  std::string out;
  while (fgets(buf.data(), static_cast<int>(buf.size()), f)) out += buf.data();
  pclose(f);
  return out;
}

/// A temporary folder per test (TempDirTest), and the synthetic hierarchy's folder.
class CliTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    syn_ = data_dir() + "/synthetic-hierarchy/";
  }
  std::string p(const std::string& name) const { return path(name); }
  std::string syn_;
};

}  // namespace nnmf::test
