// Pieces shared by the commands of the nnmf tool.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace nnmf::cli {

/// Exit codes of the tool (README, "Command line"; `nnmf --help`).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  ///< data, file, resource or backend errors found while running
constexpr int kExitUsage = 2;    ///< the command line itself is wrong

/// The command line is wrong on its face: an unknown or missing option, a malformed number,
/// a choice outside its list, options that contradict each other. Exits with kExitUsage.
class UsageError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// A subcommand and what runs it once the command line has been parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

/// Options every command takes.
struct Common {
  std::string device = "cpu";
  int threads = 0;
  std::string precision = "double";
  bool quiet = false;
  Context context() const;
};

/// A fit request as the command line describes it, for any method.
template <class T>
struct FitRequest {
  const Context* ctx = nullptr;
  const io::AnyMatrix<T>* X = nullptr;
  std::vector<index_t> ranks;
  std::optional<Supervision> supervision;  ///< from --labels / --known
  FitOptions neural;                       ///< Neural NMF options built from the flags
  std::uint64_t seed = 0;
  int iterations = -1;  ///< --epochs (-1 = the method's default; 0 = no training epochs)
  /// Method-specific settings given as --set key=value.
  std::map<std::string, std::string> settings;
  /// Progress callback (epoch or iteration, total, loss); may be empty.
  std::function<void(int, int, double)> progress;
  /// Phase callback (FitOptions::on_phase: name, step i of n); may be empty.
  std::function<void(const std::string&, int, int)> phase;
};

/// What a method returns: factors A(0..L), per-layer coefficients S(0..L) and, when
/// supervised, the classifier of the last layer.
template <class T>
struct FitOutcome {
  std::vector<Matrix<T>> A;
  std::vector<Matrix<T>> S;
  Matrix<T> B;
  std::vector<EpochRecord> history;
  nlohmann::json settings;  ///< the method's resolved settings, for the report
  std::optional<NeuralNmf<T>> model;  ///< when the method's result is a NeuralNmf
};

template <class T>
using FitFn = std::function<FitOutcome<T>(const FitRequest<T>&)>;

struct Method {
  std::string description;
  FitFn<float> fit_float;
  FitFn<double> fit_double;
};

/// Adds --device, --threads, --precision and --quiet.
void add_common(CLI::App& app, Common& c);
/// "nnmf: warning: ..." on stderr (also with --quiet: a warning is about the result).
void warn(const std::string& message);
/// The bundled data folder (synthetic-hierarchy/, 20news-subsample/): installed or in the source tree.
std::string bundled_data_dir();

// The subcommands; each adds itself to the app and returns what runs it.
Command add_nnls_command(CLI::App& app, const Common& c);
Command add_fit_command(CLI::App& app, const Common& c);
Command add_transform_command(CLI::App& app, const Common& c);
Command add_eval_command(CLI::App& app, const Common& c);
Command add_topics_command(CLI::App& app, const Common& c);
Command add_predict_command(CLI::App& app, const Common& c);
Command add_select_rank_command(CLI::App& app, const Common& c);
Command add_demo_command(CLI::App& app, const Common& c);

/// Runs @p f with a float or double tag as --precision says.
template <class F>
int dispatch(const Common& c, F&& f) {
  return c.precision == "float" ? f(float{}) : f(double{});
}

/// Methods of `nnmf fit --method NAME`.
std::map<std::string, Method>& methods();

/// Registers the built-in methods (called once by main).
void register_neural(std::map<std::string, Method>& m);
void register_baselines(std::map<std::string, Method>& m);

/// A setting of --set key=value parsed as a number, or the default when absent; throws
/// InvalidArgument naming the key on a malformed value or an unknown key (see check_settings).
double setting(const std::map<std::string, std::string>& s, const std::string& key, double dflt);
/// Throws InvalidArgument for keys outside @p known.
void check_settings(const std::map<std::string, std::string>& s, const std::vector<std::string>& known,
                    const std::string& method);

/// Progress on stderr: one line updated in place on a terminal, nothing otherwise.
class Progress {
 public:
  Progress(bool quiet, std::string what);
  /// Epoch (or iteration) @p step of at most @p total: loss, time per epoch, the most the rest
  /// can take (the fit may stop sooner, see FitOptions::rel_tol), elapsed time.
  void update(int step, int total, double loss);
  /// A phase before the epochs (reading, initialization step i of n), with the elapsed time.
  void phase(const std::string& name, int i, int n);
  void done(const std::string& summary);

 private:
  bool draw_now(bool force);
  bool on_, tty_;
  std::string what_;
  double start_;           ///< seconds (steady clock) at construction
  double last_draw_ = -1;  ///< seconds since an arbitrary epoch; redraws at most 10 per second
  double epochs_start_ = -1;  ///< when the first epoch began (the "training" phase)
};

}  // namespace nnmf::cli
