// Where the tool writes: output files and output folders, never through a symbolic link and
// never over something that is not ours, and an output folder replaced as a whole.
//
// An output folder (`fit -o DIR`, `transform -o DIR`) holds exactly one run's files. The run
// is written into a sibling staging folder `.nnmf-staging-<name>-<pid>-XXXXXX`; when every file
// is there the two folders are swapped by one rename (renameat2 RENAME_EXCHANGE; where the file
// system lacks it, DIR -> `.nnmf-old-<name>-<pid>`, staging -> DIR) and the old run is removed.
// So after a kill at any moment DIR holds the whole old run or the whole new one (in the
// fallback, a kill between its two renames leaves the old run beside DIR, and the next run
// puts it back before anything else). SIGINT, SIGTERM and SIGHUP remove the staging folder.
// Litter of killed runs is removed by the next run into the same DIR when it is provably stale:
// a staging folder whose owner (host, pid, process start time; in its `.nnmf-output` marker)
// no longer runs, or an old-run folder (created and removed under a lock on the parent).
#pragma once

#include <string>
#include <vector>

namespace nnmf::cli {

/// Refuses an output file path that exists and is not a regular file (a directory, device,
/// FIFO, socket or symbolic link): IoError naming @p option, the path and what it is.
void check_output_file(const std::string& path, const std::string& option);

/// The files of one command, written into a staging folder and swapped into place as a whole.
class OutputDir {
 public:
  /// Checks @p dir (absent, or an empty folder, or an output folder of @p command: no
  /// symbolic link, nothing foreign inside), clears stale litter beside it and creates the
  /// staging folder. Throws IoError naming @p option.
  OutputDir(std::string dir, std::string option, std::string command);
  ~OutputDir();
  OutputDir(const OutputDir&) = delete;
  OutputDir& operator=(const OutputDir&) = delete;

  /// Path to write @p name to (inside the staging folder).
  std::string stage(const std::string& name);
  /// Replaces the destination by the staging folder (see the file comment).
  void commit();

 private:
  void check_target();
  void clear_stale_litter() const;
  void make_staging();
  void swap_into_place();
  std::string dir_, option_, command_, parent_, base_, staging_;
  bool committed_ = false;
};

/// A results folder that several commands share (`experiment -o DIR`: table1.md beside the
/// table2 files): checked now (absent, or a real folder; its parent exists), created by
/// make_results_dir only when the results are ready, so a failed command leaves no folder.
void check_results_dir(const std::string& dir, const std::string& option);
void make_results_dir(const std::string& dir, const std::string& option);

/// Ctrl-C during Neural NMF training: while armed, the first SIGINT only asks training to stop
/// after the current epoch (FitOptions::should_stop reads interrupt_requested()), so the
/// factors reached are written as a model marked `interrupted`; a second SIGINT, SIGTERM or
/// SIGHUP aborts as before (staging removed, nothing written).
void arm_soft_interrupt(bool on);
bool interrupt_requested();

/// Test hook: when the environment variable NNMF_TEST_STOP_AT equals @p point, the process
/// stops itself (SIGSTOP) there, so that tests can kill it at a known phase of a command.
void test_stop_point(const std::string& point);

}  // namespace nnmf::cli
