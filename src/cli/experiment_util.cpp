// See experiment_util.hpp.
#include "cli/experiment_util.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/output.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli::exp {
namespace {

Spec spec_of(const std::string& key) {
  if (key == "hnmf") return {key, "Hier. NMF", "hnmf", {}, false};
  if (key == "hnmf-random")
    return {key, "Hier. NMF (random init)", "hnmf", {{"nndsvd", "0"}, {"ssnmf_init_random", "1"}}, false};
  if (key == "deep") return {key, "Deep NMF", "deep", {}, false};
  if (key == "deep-random")
    return {key, "Deep NMF (random init)", "deep", {{"nndsvd", "0"}, {"ssnmf_init_random", "1"}}, false};
  if (key == "neural") return {key, "Neural NMF", "neural", {}, false};
  if (key == "neural-paper") return {key, "Neural NMF (paper's settings)", "neural", {}, true};
  throw UsageError("--methods: unknown method '" + key +
                        "' (available: hnmf, hnmf-random, deep, deep-random, neural, neural-paper)");
}

/// Neural NMF options of a spec: the library defaults, or the paper's 20 Newsgroups settings
/// (energy loss, mean scaling, gradient descent lr 1e10 decayed by 0.995 every 5 epochs).
FitOptions neural_options(const Spec& sp, const Args& a) {
  FitOptions o;
  if (sp.paper_neural) {
    o.reconstruction_weight = 0;
    o.energy_weight = 1;
    o.scaling = Scaling::mean;
    o.optimizer = Optimizer::gd;
    o.learning_rate = 1e10;
    o.lr_decay = 0.995;
    o.decay_every = 5;
    o.epochs = a.paper_epochs;
    o.patience = 0;  // the paper runs a fixed number of epochs
  } else if (a.neural_epochs > 0) {
    o.epochs = a.neural_epochs;
  }
  return o;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string machine(const Context& ctx) {
  std::string cpu = "unknown CPU";
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  long mem_kb = 0;
  std::ifstream mf("/proc/meminfo");
  for (std::string line; std::getline(mf, line);)
    if (line.rfind("MemTotal:", 0) == 0) mem_kb = std::stol(line.substr(9));
  struct utsname u {};
  uname(&u);
  const int gpus = Context::cuda_device_count();
  std::ostringstream os;
  os << ctx.describe() << "; " << cpu << ", " << std::thread::hardware_concurrency() << " logical cores, "
     << fmt(mem_kb / 1048576.0, 0) << " GiB RAM, " << u.sysname << " " << u.release << "; CUDA "
     << (Context::cuda_compiled() ? "compiled" : "not compiled") << ", " << gpus << " device"
     << (gpus == 1 ? "" : "s") << (gpus == 0 ? " (no GPU)" : "");
  return os.str();
}

}  // namespace

std::string fmt(double x, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, x);
  return buf;
}
std::string pm(const Stat& s, int prec) { return fmt(s.mean(), prec) + " ± " + fmt(s.sd(), prec); }
std::string secs(const Stat& s) {
  const double m = s.mean();
  return m < 1 ? fmt(1e3 * m, 0) + " ms" : fmt(m, m < 10 ? 2 : 1) + " s";
}

std::vector<Spec> parse_methods(const std::string& list, const std::string& dflt) {
  std::vector<Spec> out;
  std::stringstream ss(list.empty() ? dflt : list);
  std::string t;
  while (std::getline(ss, t, ',')) out.push_back(spec_of(t));
  if (out.empty()) throw UsageError("--methods: no method given");
  return out;
}

Run run_method(const Context& ctx, const Spec& sp, const io::AnyMatrix<double>& X,
               const std::vector<index_t>& ranks, const std::optional<Supervision>& sup,
               std::uint64_t seed, const Args& a) {
  FitRequest<double> req;
  req.ctx = &ctx;
  req.X = &X;
  req.ranks = ranks;
  req.supervision = sup;
  if (sup && sp.paper_neural) req.supervision->lambda = a.paper_lambda;
  req.seed = seed;
  req.settings = sp.settings;
  req.neural = neural_options(sp, a);
  if (sp.registry == "deep" && a.deep_iter > 0) req.iterations = a.deep_iter;
  const auto t0 = Clock::now();
  Run r;
  r.out = methods().at(sp.registry).fit_double(req);
  r.seconds = since(t0);
  return r;
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    std::string t = argv[i];
    if (t.find_first_of(" \t'\"") != std::string::npos) t = "'" + t + "'";
    s += (i ? " " : "") + t;
  }
  return s;
}

std::string header(const std::string& title, const std::string& command, const Context& ctx,
                   double total_s, const std::string& extra) {
  std::ostringstream os;
  os << "# " << title << "\n\n"
     << "- Command (from the repository root): `" << command << "`\n"
     << "- Date: " << utc_now() << "\n"
     << "- Machine: " << machine(ctx) << "\n"
     << "- Total wall time: " << fmt(total_s, 1) << " s\n"
     << extra
     << "- Where and why these figures differ from the paper's: `experiments/results/README.md` "
        "of the nnmf repository\n\n";
  return os.str();
}

std::string need(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw IoError(path + ": not found (point --data at the folder holding synthetic-hierarchy/ and 20news/, "
                  "e.g. ../shared/data)");
  return path;
}

/// "t3: space nasa orbit" labels from the top terms of each topic of layer l.
std::vector<std::string> topic_labels(const std::vector<std::vector<std::string>>& top, const std::string& prefix,
                                      std::size_t words) {
  std::vector<std::string> out;
  for (std::size_t t = 0; t < top.size(); ++t) {
    std::string s = prefix + std::to_string(t) + ":";
    for (std::size_t w = 0; w < std::min(words, top[t].size()); ++w) s += " " + top[t][w];
    out.push_back(s);
  }
  return out;
}

std::string settings_section(const std::vector<Spec>& specs, const std::map<std::string, json>& settings) {
  std::ostringstream os;
  os << "## Resolved settings of each method (first trial)\n\n";
  for (const auto& sp : specs) {
    for (const auto& kv : settings)
      if (kv.first.rfind(sp.key + "|", 0) == 0)
        os << "- " << sp.label << ", " << kv.first.substr(sp.key.size() + 1) << ": `" << kv.second.dump()
           << "`\n";
  }
  return os.str() + "\n";
}

void write_results(const std::string& dir, const ResultFiles& files) {
  make_results_dir(dir, "-o");
  for (const auto& f : files) {
    const std::string path = dir + "/" + f.first;
    check_output_file(path, "-o");
    io::write_file_atomic(path, f.second);
  }
}

}  // namespace nnmf::cli::exp
