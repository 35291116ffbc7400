// Which columns of X each process of an mpirun holds (docs/mpi.md): an even block of the
// file's columns, an even block of a --columns selection, or one file per process
// (--x-per-process). Labels, known and mask files stay global: indexed by the file's columns
// (per-process files: process 0's columns first, then process 1's, ...).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace nnmf::cli::mpi {

struct ShareRequest {
  std::string X;            ///< the file, or with per_process its pattern
  std::string columns;      ///< --columns FILE (empty: every column)
  bool per_process = false; ///< --x-per-process: X names one file per process
  index_t window = 1;       ///< blocks start at multiples of this (Deep NMF's pooled groups)
};

/// This process's columns of X.
template <class T>
struct Share {
  io::AnyMatrix<T> X;
  std::string path;                     ///< the file this process read
  index_t file_cols = 0;                ///< columns the global per-column files describe
  index_t total = 0;                    ///< columns of the fit over all processes
  std::pair<index_t, index_t> block;    ///< first, count of this process's among the total
  std::vector<index_t> cols;            ///< the global (file) column of each of its columns
};

/// The path of process @p p's file: every "{p}" in @p pattern replaced by p.
std::string process_path(const std::string& pattern, int p);

/// Throws UsageError for a request that cannot be met: --x-per-process without {p} in X, or
/// with --columns.
void check_share(const ShareRequest& r);

/// Reads this process's share of X (collective: a file one process cannot read, or one whose
/// row count differs from process 0's, stops every process with an error naming the file and
/// the process). @p ctx spans the processes (one process: the whole selection).
template <class T>
Share<T> read_share(const Context& ctx, const ShareRequest& r);

}  // namespace nnmf::cli::mpi
