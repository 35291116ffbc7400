// Pieces shared by `nnmf experiment table1` and `table2` (experiment_table1.cpp,
// experiment_table2.cpp): arguments, statistics, the methods of the tables, and the Markdown
// and SVG output, written together once every result is in (so a failed run leaves nothing).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <numeric>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.hpp"

namespace nnmf::cli::exp {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Args {
  std::string which, data, out, methods, ranks;  ///< data: "" = the default (see resolve_data)
  int trials = 0;  ///< 0 = the table's default (25 for table 1, 10 for table 2)
  bool full = false;
  int neural_epochs = 0;    ///< Neural NMF (library defaults) epoch cap; 0 = default
  int paper_epochs = 300;   ///< Neural NMF with the paper's 20 Newsgroups settings
  double paper_lambda = 1;  ///< ... its supervision weight
  int deep_iter = 0;        ///< Deep NMF backward iterations; 0 = default
};

/// splitmix64: the same masks on every platform.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x5DEECE66Dull) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t s_;
};

/// Mean and sample standard deviation.
struct Stat {
  std::vector<double> v;
  void add(double x) { v.push_back(x); }
  double mean() const { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }
  double sd() const {
    if (v.size() < 2) return 0;
    const double mu = mean();
    double s = 0;
    for (double x : v) s += (x - mu) * (x - mu);
    return std::sqrt(s / double(v.size() - 1));
  }
};

std::string fmt(double x, int prec = 3);
std::string pm(const Stat& s, int prec = 3);  ///< "mean ± sd"
std::string secs(const Stat& s);               ///< mean seconds as "12 ms" or "1.23 s"

/// A method of the tables: a registry method with its settings.
struct Spec {
  std::string key, label, registry;
  std::map<std::string, std::string> settings;
  bool paper_neural = false;
};

std::vector<Spec> parse_methods(const std::string& list, const std::string& dflt);
/// Column of a method in the paper's tables: hierarchical NMF, Deep NMF, Neural NMF.
inline int paper_col(const Spec& sp) { return sp.registry == "hnmf" ? 0 : sp.registry == "deep" ? 1 : 2; }

struct Run {
  FitOutcome<double> out;
  double seconds = 0;
};

Run run_method(const Context& ctx, const Spec& sp, const io::AnyMatrix<double>& X, const std::vector<index_t>& ranks,
               const std::optional<Supervision>& sup, std::uint64_t seed, const Args& a);

std::string command_line(int argc, char** argv);
/// The results' preamble: title, command, date, machine, wall time and @p extra lines.
std::string header(const std::string& title, const std::string& command, const Context& ctx, double total_s,
                   const std::string& extra);
/// @p path if it exists, else IoError saying where the data was expected.
std::string need(const std::string& path);
/// "t3: space nasa orbit" labels from the top terms of each topic.
std::vector<std::string> topic_labels(const std::vector<std::vector<std::string>>& top, const std::string& prefix,
                                      std::size_t words);
std::string settings_section(const std::vector<Spec>& specs, const std::map<std::string, json>& settings);

/// Result files by name, written into the results folder together at the end.
using ResultFiles = std::map<std::string, std::string>;
void write_results(const std::string& dir, const ResultFiles& files);

int run_table1(const Common& c, const Args& a, const std::string& command);
int run_table2(const Common& c, const Args& a, const std::string& command);

}  // namespace nnmf::cli::exp
