// The tool under mpirun (docs/mpi.md): MPI is started when the launcher's environment says
// the process is one of several; `fit` and `transform` then read their block of columns of X,
// reduce through the library's multi-process context and write from process 0. A plain run
// (no launcher) never starts MPI and is exactly the one-process tool.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace nnmf::cli::mpi {

/// Starts MPI when launched by mpirun/mpiexec (Open MPI's or a PMI launcher's environment
/// with more than one process); otherwise does nothing.
void start(int* argc, char*** argv);
/// Ends MPI if started (after a normal end or an error every process knows of).
void finish();
/// True when MPI was started: this process is one of processes() > 1.
bool active();
int process();
int processes();
/// This process's index among those of the run on its node (the launcher's local rank; 0
/// without a launcher).
int node_process();
/// @p ctx over all the processes when active, else @p ctx.
Context wrap(const Context& ctx);
/// wrap(make()), where make() failing on any process (no such device on one node) makes every
/// process throw (the others PeerError), as the library's collective checks do.
Context agreed_context(const std::function<Context()>& make);
/// This process's block of the m columns: [first, first + count), the even split
/// first = floor(r m / P); with @p window > 1, the even split of the groups of window columns
/// (every block starts at a multiple of window: Deep NMF's pooled groups stay whole).
std::pair<index_t, index_t> block(index_t m, index_t window = 1);
/// After an error: ends MPI normally when every process knows of it (the library's collective
/// checks), else aborts every process (a process that failed alone must not leave the others
/// waiting in a reduction); @p same_everywhere says every process hit the error the same way.
/// Returns @p code when it returns.
int end_after_error(int code, bool same_everywhere = false);

/// Writes this process's block of every S(l) as S<l>.p<r>.mtx into the staging folder of @p dir
/// (made by process 0; the folder must be on a file system every process sees), each file's
/// comment naming its columns. Collective: a process that cannot write stops all.
template <class T>
void write_s_blocks(const Context& ctx, const std::string& staging, const std::vector<Matrix<T>>& S,
                    std::pair<index_t, index_t> block, index_t total_cols, const std::string& what);

}  // namespace nnmf::cli::mpi
