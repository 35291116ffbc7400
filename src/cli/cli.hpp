// Pieces shared by the commands of the nnmf tool.
#pragma once

#include <cstdint>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace nnmf::cli {

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

/// Files of one command, written all or none: each goes to a staging directory beside its
/// destination and is renamed into place only when every file has been written.
class OutputSet {
 public:
  explicit OutputSet(std::string dir);
  ~OutputSet();
  /// Path to write @p name to (inside the staging directory).
  std::string stage(const std::string& name);
  /// Renames every staged file into the destination directory.
  void commit();

 private:
  std::string dir_, staging_;
  std::vector<std::string> names_;
  bool committed_ = false;
};

/// Progress on stderr: one line updated in place on a terminal, nothing otherwise.
class Progress {
 public:
  Progress(bool quiet, std::string what);
  void update(int step, int total, double loss);
  void done(const std::string& summary);

 private:
  bool on_, tty_;
  std::string what_;
  double last_draw_ = -1;  ///< seconds since an arbitrary epoch; redraws at most 10 per second
};

/// Comma-separated integers ("9,4,2"); throws InvalidArgument naming @p option.
std::vector<index_t> parse_ranks(const std::string& text, const std::string& option);

}  // namespace nnmf::cli
