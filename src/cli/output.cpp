#include "cli/output.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/io/source.hpp"
#include "nnmf/error.hpp"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

namespace nnmf::cli {
namespace {

const char* const kMarker = ".nnmf-output";

// ---- what is at a path ------------------------------------------------------------------------

std::string kind_of(mode_t m) { return io::detail::file_kind(m); }

/// lstat: false when nothing is there; throws for other failures.
bool lstat_path(const std::string& path, struct stat& st, const std::string& option) {
  if (::lstat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  throw IoError(option + " " + path + ": " + std::strerror(errno));
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw IoError(dir + ": cannot read the folder: " + std::strerror(errno));
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

/// Names an output folder of ours holds (and the writers' temporaries of them).
bool output_name(const std::string& n) {
  static const std::regex re(
      R"(((A|S)[0-9]+\.mtx|S[0-9]+\.p[0-9]+\.mtx|B\.mtx|model\.nnmf|report\.json)(\.tmp-[A-Za-z0-9]{6})?)");
  return std::regex_match(n, re);
}

/// The command whose output a folder of ours holds: from its marker, or for folders of earlier
/// versions (no marker) "fit" when it holds a model or a report.
std::string folder_command(const std::string& dir, bool marker, bool fit_files) {
  if (!marker) return fit_files ? "fit" : "";
  std::ifstream f(dir + "/" + kMarker);
  for (std::string line; std::getline(f, line);)
    if (line.rfind("command ", 0) == 0) return line.substr(8);
  return "";
}

/// Empty, or holding our marker or only our output names, and nothing but regular files
/// (plus staging folders the tool's earlier versions left inside), written by @p command (a
/// transform never replaces a fitted model). Returns "" when it is ours, else what is foreign.
std::string foreign_content(const std::string& dir, const std::string& command) {
  bool marker = false, fit_files = false;
  std::string foreign_name;
  for (const auto& n : entries(dir)) {
    struct stat st {};
    if (::lstat((dir + "/" + n).c_str(), &st) != 0) continue;
    const bool legacy_staging = S_ISDIR(st.st_mode) && n.rfind(".nnmf-staging-", 0) == 0;
    fit_files = fit_files || n == "model.nnmf" || n == "report.json";
    if (n == kMarker && S_ISREG(st.st_mode)) {
      marker = true;
    } else if (!S_ISREG(st.st_mode) && !legacy_staging) {
      return "'" + n + "' (" + kind_of(st.st_mode) + ")";
    } else if (S_ISREG(st.st_mode) && !output_name(n) && foreign_name.empty()) {
      foreign_name = "'" + n + "'";
    }
  }
  if (!marker && !foreign_name.empty()) return foreign_name;
  const std::string owner = folder_command(dir, marker, fit_files);
  if (!owner.empty() && owner != command) return "the output of `nnmf " + owner + "`";
  return "";
}

// ---- owners of staging folders ------------------------------------------------------------------

std::string host_name() {
  char h[256] = {0};
  if (::gethostname(h, sizeof h - 1) != 0) return "unknown";
  return h;
}

/// Start time of a process (clock ticks since boot, /proc/PID/stat field 22); 0 if unknown.
unsigned long long start_time(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(s.substr(close + 1));
  std::string field;
  for (int q = 3; q <= 22 && rest >> field; ++q)
    if (q == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

std::string marker_text(const std::string& base, const std::string& command) {
  const long pid = static_cast<long>(::getpid());
  return "nnmf output folder\ncommand " + command + "\ntarget " + base + "\nowner " + host_name() + " " + std::to_string(pid) + " " +
         std::to_string(start_time(pid)) + "\n";
}

/// True when the folder's marker names an owner process on this host that no longer runs. A
/// staging folder killed before its marker was written is judged by the pid in its name.
bool owner_gone(const std::string& dir, long name_pid) {
  std::ifstream f(dir + "/" + kMarker);
  if (!f) return name_pid > 0 && ::kill(static_cast<pid_t>(name_pid), 0) != 0 && errno == ESRCH;
  std::string line, host;
  long pid = 0;
  unsigned long long start = 0;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::string key;
    if (ls >> key && key == "owner" && ls >> host >> pid >> start) {
      if (host != host_name() || pid <= 0) return false;
      if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
      const unsigned long long now = start_time(pid);
      return start != 0 && now != 0 && now != start;  // the pid was reused by another process
    }
  }
  return false;
}

/// Exclusive lock on the parent folder while litter is cleared and folders are swapped, so two
/// runs into the same place never take each other's folders for litter. Best effort: where
/// the file system has no flock the lock is skipped.
class ParentLock {
 public:
  explicit ParentLock(const std::string& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~ParentLock() {
    if (fd_ >= 0) {
      ::fsync(fd_);  // the renames are durable once we return
      ::close(fd_);
    }
  }

 private:
  int fd_;
};

// ---- signals -----------------------------------------------------------------------------------

// One staging folder at a time. The handler removes it with async-signal-safe calls only, and
// defers to the main path while a commit or a cleanup is in progress.
enum State : int { kIdle, kStaging, kCommitting, kCleaning };
std::atomic<int> g_state{kIdle};
volatile sig_atomic_t g_pending = 0;
volatile sig_atomic_t g_soft_armed = 0, g_soft_hit = 0;
char g_staging[PATH_MAX];

struct Dirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[1];
};

/// Removes a folder of plain files: raw system calls only, usable in a signal handler.
void remove_flat_dir_raw(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    alignas(8) char buf[4096];
    for (bool removed = true; removed;) {  // entries removed while listing may hide others: rescan
      removed = false;
      ::lseek(fd, 0, SEEK_SET);
      long n;
      while ((n = ::syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long off = 0; off < n;) {
          const auto* d = reinterpret_cast<const Dirent64*>(buf + off);
          const char* nm = d->d_name;
          const bool dot = nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0'));
          if (!dot && ::unlinkat(fd, nm, 0) == 0) removed = true;
          off += d->d_reclen;
        }
    }
    ::close(fd);
  }
  ::rmdir(path);
}

[[noreturn]] void die_by(int sig) {
  ::signal(sig, SIG_DFL);
  sigset_t set;  // inside the handler the signal is blocked: unblock it so that it takes effect
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

void on_signal(int sig) {
  if (sig == SIGINT && g_soft_armed && !g_soft_hit) {
    g_soft_hit = 1;
    static const char msg[] =
        "\nnnmf: interrupted: training stops after this epoch and the model is written "
        "(Ctrl-C again aborts)\n";
    (void)!::write(2, msg, sizeof msg - 1);
    return;
  }
  int expected = kStaging;
  if (g_state.compare_exchange_strong(expected, kCleaning)) {
    remove_flat_dir_raw(g_staging);
    die_by(sig);
  }
  if (expected == kCommitting || expected == kCleaning) {
    g_pending = sig;  // the main path finishes, then dies by this signal
    return;
  }
  die_by(sig);
}

void install_handlers() {
  static bool done = false;
  if (done) return;
  done = true;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    ::sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. started with nohup: keep ignoring it
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace

void arm_soft_interrupt(bool on) {
  install_handlers();
  g_soft_armed = on ? 1 : 0;
}

bool interrupt_requested() { return g_soft_hit != 0; }

namespace {

/// Back to idle; a signal that arrived meanwhile now takes effect.
void settle() {
  g_state = kIdle;
  if (g_pending) die_by(g_pending);
}

bool rename_exchange(const std::string& a, const std::string& b) {
  if (std::getenv("NNMF_TEST_NO_EXCHANGE")) {  // test hook: take the fallback path
    errno = EINVAL;
    return false;
  }
  return ::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
}

void write_marker(const std::string& dir, const std::string& base, const std::string& command) {
  const std::string path = dir + "/" + kMarker, text = marker_text(base, command);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  const bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) ::close(fd);
  if (!ok) throw IoError(path + ": cannot write: " + std::strerror(errno));
}

/// Whether @p n is a staging or old-run folder of the target @p base; @p pid from its name.
bool is_litter_name(const std::string& n, const std::string& base, bool& old_run, long& pid) {
  static const std::regex staging(R"(([0-9]+)-[A-Za-z0-9]{6})"), old(R"([0-9]+)");
  const std::string s = ".nnmf-staging-" + base + "-", o = ".nnmf-old-" + base + "-";
  std::smatch m;
  old_run = n.rfind(o, 0) == 0 && std::regex_match(n.substr(o.size()), old);
  if (old_run) return true;
  const std::string rest = n.rfind(s, 0) == 0 ? n.substr(s.size()) : std::string();
  if (!std::regex_match(rest, m, staging)) return false;
  pid = std::strtol(m[1].str().c_str(), nullptr, 10);
  return true;
}

}  // namespace

void test_stop_point(const std::string& point) {
  const char* at = std::getenv("NNMF_TEST_STOP_AT");
  if (at && point == at) ::raise(SIGSTOP);
}

void check_output_file(const std::string& path, const std::string& option) {
  if (path.empty()) throw IoError(option + ": the output path is empty");
  struct stat st {};
  if (lstat_path(path, st, option) && !S_ISREG(st.st_mode))
    throw IoError(option + " " + path + ": exists and is " + kind_of(st.st_mode) +
                  "; refusing to replace it (give a new path or a regular file)");
}

// ---- OutputDir ---------------------------------------------------------------------------------

OutputDir::OutputDir(std::string dir, std::string option, std::string command)
    : dir_(std::move(dir)), option_(std::move(option)), command_(std::move(command)) {
  check_target();
  clear_stale_litter();
  make_staging();
  test_stop_point("staging-created");
}

void OutputDir::check_target() {
  while (dir_.size() > 1 && dir_.back() == '/') dir_.pop_back();
  const auto slash = dir_.rfind('/');
  parent_ = slash == std::string::npos ? "." : slash == 0 ? "/" : dir_.substr(0, slash);
  base_ = slash == std::string::npos ? dir_ : dir_.substr(slash + 1);
  if (dir_.empty() || base_.empty() || base_ == "." || base_ == "..")
    throw IoError(option_ + " '" + dir_ + "': name the output folder itself (not '.', '..' or '/')");
  struct stat st {};
  if (!lstat_path(dir_, st, option_)) {
    if (::stat(parent_.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw IoError(option_ + " " + dir_ + ": cannot create the output folder: " + parent_ + " is not a folder");
    return;
  }
  if (!S_ISDIR(st.st_mode))
    throw IoError(option_ + " " + dir_ + ": exists and is " + kind_of(st.st_mode) +
                  "; refusing to replace it (give a new folder or an nnmf output folder)");
  const std::string foreign = foreign_content(dir_, command_);
  if (!foreign.empty())
    throw IoError(option_ + " " + dir_ + ": exists and is not an nnmf output folder (it holds " + foreign +
                  "); refusing to replace it (give a new or empty folder)");
}

void OutputDir::make_staging() {
  std::string tmpl = parent_ + "/.nnmf-staging-" + base_.substr(0, 100) + "-" + std::to_string(::getpid()) + "-XXXXXX";
  if (tmpl.size() >= sizeof g_staging) throw IoError(option_ + " " + dir_ + ": path too long");
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    throw IoError(option_ + " " + dir_ + ": cannot create a staging folder in " + parent_ + ": " + std::strerror(errno));
  staging_ = buf.data();
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::chmod(staging_.c_str(), 0777 & ~mask);  // mkdtemp's 0700 is for the temporary only
  std::snprintf(g_staging, sizeof g_staging, "%s", staging_.c_str());
  install_handlers();
  g_state = kStaging;
  try {
    write_marker(staging_, base_, command_);
  } catch (...) {
    std::error_code ec;
    g_state = kCleaning;
    std::filesystem::remove_all(staging_, ec);
    settle();
    throw;
  }
}

OutputDir::~OutputDir() {
  if (committed_) return;
  int expected = kStaging;
  if (!g_state.compare_exchange_strong(expected, kCleaning))
    for (;;) ::pause();  // a signal handler is removing the staging folder and ends the process
  std::error_code ec;
  std::filesystem::remove_all(staging_, ec);
  settle();
}

std::string OutputDir::stage(const std::string& name) {
  test_stop_point("stage:" + name);
  return staging_ + "/" + name;
}

void OutputDir::clear_stale_litter() const {
  const ParentLock lock(parent_);
  for (const auto& n : entries(parent_)) {
    bool old_run = false;
    long pid = 0;
    if (!is_litter_name(n, base_.substr(0, 100), old_run, pid)) continue;
    const std::string path = parent_ + "/" + n;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    std::error_code ec;
    if (old_run) {
      // Left by a fallback swap killed between its renames (under this lock, so its owner is
      // gone): the old run goes back in place unless a newer one is there.
      struct stat t {};
      if (::lstat(dir_.c_str(), &t) != 0 && errno == ENOENT && ::rename(path.c_str(), dir_.c_str()) == 0) continue;
      std::filesystem::remove_all(path, ec);
    } else if (owner_gone(path, pid)) {
      std::filesystem::remove_all(path, ec);
    }
  }
}

void OutputDir::commit() {
  test_stop_point("before-commit");
  int expected = kStaging;
  if (!g_state.compare_exchange_strong(expected, kCommitting))
    for (;;) ::pause();  // a signal handler is removing the staging folder and ends the process
  try {
    swap_into_place();
  } catch (...) {
    g_state = kStaging;  // the destructor removes what is left of the staging folder
    throw;
  }
  committed_ = true;
  settle();
}

void OutputDir::swap_into_place() {
  const ParentLock lock(parent_);
  struct stat st {};
  if (!lstat_path(dir_, st, option_)) {
    if (::rename(staging_.c_str(), dir_.c_str()) != 0)
      throw IoError(option_ + " " + dir_ + ": cannot move the results into place: " + std::strerror(errno));
    return;
  }
  // Checked again: the folder may have changed while the command ran.
  const std::string foreign = S_ISDIR(st.st_mode) ? foreign_content(dir_, command_) : kind_of(st.st_mode);
  if (!foreign.empty())
    throw IoError(option_ + " " + dir_ + ": changed while the command ran and is no longer an nnmf output "
                  "folder (" + foreign + "); nothing was replaced");
  // The old run must be provably ours once it sits under a staging name (a kill may leave it).
  write_marker(dir_, base_, command_);
  std::error_code ec;
  if (rename_exchange(staging_, dir_)) {
    test_stop_point("swapped");
    std::filesystem::remove_all(staging_, ec);  // now the old run
    return;
  }
  if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
    throw IoError(option_ + " " + dir_ + ": cannot swap the results into place: " + std::strerror(errno));
  const std::string old = parent_ + "/.nnmf-old-" + base_.substr(0, 100) + "-" + std::to_string(::getpid());
  if (::rename(dir_.c_str(), old.c_str()) != 0)
    throw IoError(option_ + " " + dir_ + ": cannot move the old results aside: " + std::strerror(errno));
  test_stop_point("old-moved");
  if (::rename(staging_.c_str(), dir_.c_str()) != 0) {
    const int err = errno;
    ::rename(old.c_str(), dir_.c_str());
    throw IoError(option_ + " " + dir_ + ": cannot move the results into place: " + std::strerror(err));
  }
  std::filesystem::remove_all(old, ec);
}

// ---- shared results folders ---------------------------------------------------------------------

void check_results_dir(const std::string& dir, const std::string& option) {
  if (dir.empty()) throw IoError(option + ": the output folder is empty");
  struct stat st {};
  if (lstat_path(dir, st, option)) {
    if (!S_ISDIR(st.st_mode))
      throw IoError(option + " " + dir + ": exists and is " + kind_of(st.st_mode) + "; refusing to write into it");
    return;
  }
  const auto slash = dir.find_last_not_of('/') == std::string::npos ? std::string::npos
                                                                    : dir.rfind('/', dir.find_last_not_of('/'));
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw IoError(option + " " + dir + ": cannot create the output folder: " + parent + " is not a folder");
}

void make_results_dir(const std::string& dir, const std::string& option) {
  check_results_dir(dir, option);
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
    throw IoError(option + " " + dir + ": cannot create the output folder: " + std::strerror(errno));
  check_results_dir(dir, option);
}

}  // namespace nnmf::cli
