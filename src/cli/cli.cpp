#include "cli/cli.hpp"
#include "cli/mpi_run.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "cli/numbers.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {

void add_common(CLI::App& app, Common& c) {
  app.add_option("--device", c.device, "cpu or cuda")->capture_default_str()->check(CLI::IsMember({"cpu", "cuda"}));
  add_int(&app, "--threads", c.threads, "host threads (0 = all cores; at most " + std::to_string(max_threads()) + ")",
          0, max_threads());
  app.add_option("--precision", c.precision, "double or float")->capture_default_str()->check(
      CLI::IsMember({"double", "float"}));
  app.add_flag("-q,--quiet", c.quiet, "no progress or summary on stderr");
}

void warn(const std::string& message) {
  if (mpi::process() != 0) return;  // under mpirun every process would say the same
  std::fprintf(stderr, "nnmf: warning: %s\n", message.c_str());
}

std::string bundled_data_dir() {
  struct stat st {};
  for (const std::string& d : {std::string(NNMF_INSTALLED_DATA_DIR), std::string(NNMF_SOURCE_DATA_DIR)})
    if (stat((d + "/synthetic-hierarchy/X.mtx").c_str(), &st) == 0) return d;
  return NNMF_SOURCE_DATA_DIR;
}

Context Common::context() const {
  const Backend b = parse_backend(device);
  if (b == Backend::cuda) {
    if (!Context::cuda_compiled())
      throw NotCompiled("--device cuda: this nnmf was built without CUDA");
    if (Context::cuda_device_count() == 0)
      throw BackendError("--device cuda: no CUDA device is available on this machine");
    // Under mpirun one GPU per process: the process's index on its node, modulo the GPUs.
    return Context::cuda(mpi::node_process() % Context::cuda_device_count(), threads);
  }
  return Context::host(threads);
}

std::map<std::string, Method>& methods() {
  static std::map<std::string, Method> m;
  return m;
}

double setting(const std::map<std::string, std::string>& s, const std::string& key, double dflt) {
  const auto it = s.find(key);
  if (it == s.end()) return dflt;
  return parse_real("--set " + key, it->second, std::numeric_limits<double>::lowest());
}

void check_settings(const std::map<std::string, std::string>& s, const std::vector<std::string>& known,
                    const std::string& method) {
  for (const auto& kv : s) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == kv.first;
    if (!ok) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw UsageError("--set " + kv.first + ": method '" + method + "' has no such setting" +
                            (list.empty() ? std::string(" (it takes none)") : " (it takes: " + list + ")"));
    }
  }
}

namespace {
double clock_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
std::string duration(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, int(s) % 3600 / 60);
  return buf;
}
}  // namespace

Progress::Progress(bool quiet, std::string what)
    : on_(!quiet), tty_(isatty(STDERR_FILENO) != 0), what_(std::move(what)), start_(clock_s()) {}

bool Progress::draw_now(bool force) {
  if (!on_ || !tty_) return false;
  const double now = clock_s();
  if (!force && now - last_draw_ < 0.1) return false;
  last_draw_ = now;
  return true;
}

void Progress::update(int step, int total, double loss) {
  if (epochs_start_ < 0) epochs_start_ = clock_s();  // methods without a "training" phase
  if (!draw_now(step == total)) return;
  const double now = clock_s(), per = step > 0 ? (now - epochs_start_) / step : 0;
  std::fprintf(stderr, "\r\033[K%s: epoch %d/%d  loss %.6g  %.3g s/epoch  at most %s left  %s", what_.c_str(), step,
               total, loss, per, duration(per * (total - step)).c_str(), duration(now - start_).c_str());
  std::fflush(stderr);
}

void Progress::phase(const std::string& name, int i, int n) {
  if (name == "training") epochs_start_ = clock_s();
  if (!draw_now(false)) return;
  std::fprintf(stderr, "\r\033[K%s: %s", what_.c_str(), name.c_str());
  if (n > 0 && i > 0) std::fprintf(stderr, " %d/%d", i, n);
  std::fprintf(stderr, "  %s", duration(clock_s() - start_).c_str());
  std::fflush(stderr);
}

void Progress::done(const std::string& summary) {
  if (!on_) return;
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s: %s\n", what_.c_str(), summary.c_str());
}

}  // namespace nnmf::cli
