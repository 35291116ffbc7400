// nnmf: the command-line tool. Every error is one line on stderr; the exit status says what
// kind (kExitUsage or kExitFailure, see cli.hpp); output folders are replaced as a whole
// (output.hpp).
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/cli.hpp"
#include "cli/experiment.hpp"
#include "cli/mpi_run.hpp"

using namespace nnmf;
using namespace nnmf::cli;

namespace {

const char* const kExitHelp =
    "Exit status: 0 success; 1 the command failed while running (unreadable or invalid data, sizes that do not "
    "fit, files, memory, device); 2 the command line is wrong (unknown command or option, missing or malformed "
    "value, a choice outside its list); 130 `fit` of Neural NMF stopped by Ctrl-C after an epoch, with its "
    "outputs written and the model marked interrupted (a second Ctrl-C aborts and writes nothing). Errors "
    "are one line on stderr.";

/// Prints the error (with several processes: with the process, and for an error every process
/// hits the same way, such as a wrong command line, from process 0 only) and ends MPI.
int error(const std::string& what, int code, bool same_everywhere = false) {
  if (same_everywhere && mpi::process() != 0) return mpi::end_after_error(code, true);
  const std::string who = mpi::active() ? "[process " + std::to_string(mpi::process()) + " of " +
                                              std::to_string(mpi::processes()) + "] "
                                        : "";
  std::fprintf(stderr, "nnmf: error: %s%s%s\n", who.c_str(), what.c_str(), code == kExitUsage ? " (see --help)" : "");
  return mpi::end_after_error(code, same_everywhere);
}

/// Under mpirun only `fit` (Neural NMF) and `transform` split the columns over the processes.
void check_multi_process(const CLI::App& app) {
  if (!mpi::active()) return;
  for (const CLI::App* sub : app.get_subcommands())
    if (sub->get_name() != "fit" && sub->get_name() != "transform")
      throw UsageError("`nnmf " + sub->get_name() + "` runs on one process; under mpirun (" +
                       std::to_string(mpi::processes()) + " processes) only `fit` and `transform` do");
}

Command add_methods_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("methods", "list the methods of `nnmf fit --method`");
  return {cmd, [] {
            for (const auto& kv : methods()) std::printf("%-8s %s\n", kv.first.c_str(), kv.second.description.c_str());
            return 0;
          }};
}

/// OpenMP threads wait for work by spinning (libgomp's default), which on a machine shared
/// with other busy processes costs more than the parallel regions gain (a 20news-sample epoch
/// 14-21x slower with 2 threads than 1, issue 14). The policy is read once, when the OpenMP
/// runtime loads, so the tool sets OMP_WAIT_POLICY=passive and restarts itself once, unless
/// the user chose a policy. If the restart fails it runs on as it is.
void prefer_passive_waiting(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  // The resolved path, not /proc/self/exe itself, so that ps, top and pkill still see "nnmf".
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return;
  self[n] = '\0';
  if (::setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  ::execv(self, argv);
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_waiting(argv);
  mpi::start(&argc, &argv);
  register_neural(methods());
  register_baselines(methods());
  CLI::App app{"nnmf: hierarchical topic modeling with Neural NMF (nnmf " NNMF_VERSION_STRING ")"};
  app.require_subcommand(1);
  app.set_version_flag("--version", NNMF_VERSION_STRING);
  app.footer(kExitHelp);
  Common common;
  add_common(app, common);
  app.fallthrough();
  const std::vector<Command> commands = {
      add_nnls_command(app, common),      add_fit_command(app, common),  add_transform_command(app, common),
      add_eval_command(app, common),      add_predict_command(app, common), add_topics_command(app, common),
      add_select_rank_command(app, common), add_demo_command(app, common),
      add_methods_command(app),           add_experiment_command(app, common, argc, argv)};
  for (const auto& c : commands) c.app->fallthrough();
  try {
    app.parse(argc, argv);
    check_multi_process(app);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help, --version
      const int rc = mpi::process() == 0 ? app.exit(e) : 0;
      mpi::finish();
      return rc;
    }
    return error(e.what(), kExitUsage, true);
  } catch (const UsageError& e) {
    return error(e.what(), kExitUsage, true);
  }
  int rc = kExitOk;
  try {
    for (const auto& c : commands)
      if (*c.app) {
        rc = c.run();
        break;
      }
  } catch (const UsageError& e) {
    return error(e.what(), kExitUsage, true);  // from the command line: the same on every process
  } catch (const PeerError& e) {
    // The failing process prints its own error; the others only end.
    if (!mpi::active()) return error(e.what(), kExitFailure);
    return mpi::end_after_error(kExitFailure);
  } catch (const std::exception& e) {
    return error(e.what(), kExitFailure);
  }
  mpi::finish();
  return rc;
}
