#include "cli/cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "nnmf/error.hpp"

namespace nnmf::cli {

Context Common::context() const {
  if (threads < 0) throw InvalidArgument("--threads must be >= 0 (0 = all cores), got " + std::to_string(threads));
  if (precision != "double" && precision != "float")
    throw InvalidArgument("--precision must be 'double' or 'float', got '" + precision + "'");
  const Backend b = parse_backend(device);
  if (b == Backend::cuda) {
    if (!Context::cuda_compiled())
      throw NotCompiled("--device cuda: this nnmf was built without CUDA");
    if (Context::cuda_device_count() == 0)
      throw BackendError("--device cuda: no CUDA device is available on this machine");
    return Context::cuda(0, threads);
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
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || errno != 0 || !std::isfinite(v))
    throw InvalidArgument("--set " + key + "=" + it->second + ": not a finite number");
  return v;
}

void check_settings(const std::map<std::string, std::string>& s, const std::vector<std::string>& known,
                    const std::string& method) {
  for (const auto& kv : s) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == kv.first;
    if (!ok) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw InvalidArgument("--set " + kv.first + ": method '" + method + "' has no such setting" +
                            (list.empty() ? std::string(" (it takes none)") : " (it takes: " + list + ")"));
    }
  }
}

OutputSet::OutputSet(std::string dir) : dir_(std::move(dir)) {
  if (dir_.empty()) throw InvalidArgument("-o: output directory is empty");
  struct stat st {};
  if (stat(dir_.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw IoError(dir_ + ": exists and is not a directory");
  } else if (mkdir(dir_.c_str(), 0777) != 0) {
    throw IoError(dir_ + ": cannot create the output directory: " + std::strerror(errno));
  }
  std::string tmpl = dir_ + "/.nnmf-staging-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data()))
    throw IoError(dir_ + ": cannot create a staging directory: " + std::strerror(errno));
  staging_ = buf.data();
}

OutputSet::~OutputSet() {
  // Whatever was not committed is removed: no partial set of outputs is left behind.
  for (const auto& n : names_) ::unlink((staging_ + "/" + n).c_str());
  ::rmdir(staging_.c_str());
}

std::string OutputSet::stage(const std::string& name) {
  names_.push_back(name);
  return staging_ + "/" + name;
}

void OutputSet::commit() {
  for (const auto& n : names_) {
    const std::string from = staging_ + "/" + n, to = dir_ + "/" + n;
    if (std::rename(from.c_str(), to.c_str()) != 0)
      throw IoError(to + ": cannot move the result into place: " + std::strerror(errno));
  }
  names_.clear();
  committed_ = true;
}

Progress::Progress(bool quiet, std::string what) : on_(!quiet), tty_(isatty(STDERR_FILENO) != 0), what_(std::move(what)) {}

void Progress::update(int step, int total, double loss) {
  if (!on_ || !tty_) return;
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (step != total && now - last_draw_ < 0.1) return;
  last_draw_ = now;
  std::fprintf(stderr, "\r%s: epoch %d/%d  loss %.6g   ", what_.c_str(), step, total, loss);
  std::fflush(stderr);
}

void Progress::done(const std::string& summary) {
  if (!on_) return;
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s: %s\n", what_.c_str(), summary.c_str());
}

std::vector<index_t> parse_ranks(const std::string& text, const std::string& option) {
  std::vector<index_t> r;
  std::stringstream ss(text);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    if (tok.empty() || *end != '\0' || errno != 0 || v < 1)
      throw InvalidArgument(option + " " + text + ": '" + tok + "' is not a positive integer");
    r.push_back(static_cast<index_t>(v));
  }
  if (r.empty()) throw InvalidArgument(option + ": no rank given");
  return r;
}

}  // namespace nnmf::cli
