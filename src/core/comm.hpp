// Reductions across the processes of a context (MPI, docs/mpi.md). Every one is a no-op for a
// context of one process, so a one-process run does exactly the arithmetic of a build without
// MPI (bit-identical results by construction). With several processes each is one
// MPI_Allreduce of the per-process partial sums: Open MPI's choice of algorithm, and so the
// order of the additions, is fixed for a given process count and message size, so that a run
// is deterministic for a given process count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/backend_memory.hpp"
#include "nnmf/context.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// True when operations on @p ctx span several processes.
inline bool distributed(const Context& ctx) { return ctx.processes() > 1; }

/// Element-wise sums over the processes, in place, of host arrays.
void allreduce_sum(const Context& ctx, double* data, std::size_t n);
void allreduce_sum(const Context& ctx, float* data, std::size_t n);
void allreduce_sum(const Context& ctx, std::int64_t* data, std::size_t n);
/// Element-wise maximum over the processes, in place.
void allreduce_max(const Context& ctx, std::int64_t* data, std::size_t n);
inline double allreduce_sum(const Context& ctx, double v) {
  allreduce_sum(ctx, &v, 1);
  return v;
}
inline std::int64_t allreduce_sum(const Context& ctx, std::int64_t v) {
  allreduce_sum(ctx, &v, 1);
  return v;
}
inline std::int64_t allreduce_max(const Context& ctx, std::int64_t v) {
  allreduce_max(ctx, &v, 1);
  return v;
}
/// Sum of @p v over the processes of lower rank (0 on rank 0): a block's first global column.
std::int64_t exclusive_prefix_sum(const Context& ctx, std::int64_t v);
/// Rank @p root's string on every process.
std::string broadcast(const Context& ctx, std::string s, int root);

/// Sums the matrices (in the context's memory) element-wise over the processes with one
/// reduction: packed into one host buffer, all-reduced, unpacked. Empty views are skipped.
template <class T>
void allreduce_sum(const Context& ctx, const std::vector<MatrixView<T>>& parts) {
  if (!distributed(ctx)) return;
  std::size_t total = 0;
  for (const auto& p : parts) total += static_cast<std::size_t>(p.rows * p.cols);
  std::vector<T> buf(total);
  std::size_t off = 0;
  for (const auto& p : parts) {
    const std::size_t n = static_cast<std::size_t>(p.rows * p.cols);
    if (n) copy_bytes(ctx, buf.data() + off, p.data, n * sizeof(T), CopyKind::backend_to_host);
    off += n;
  }
  allreduce_sum(ctx, buf.data(), total);
  off = 0;
  for (const auto& p : parts) {
    const std::size_t n = static_cast<std::size_t>(p.rows * p.cols);
    if (n) copy_bytes(ctx, p.data, buf.data() + off, n * sizeof(T), CopyKind::host_to_backend);
    off += n;
  }
}
template <class T>
void allreduce_sum(const Context& ctx, MatrixView<T> M) {
  allreduce_sum<T>(ctx, std::vector<MatrixView<T>>{M});
}

/// Runs @p fn on every process; when it throws on any, every process throws: the first
/// failing process (lowest rank) its own exception, the others PeerError naming that process
/// and its message. So checks of per-process data (one block's labels, one file) never leave
/// the others waiting in a reduction.
void all_or_none(const Context& ctx, const std::function<void()>& fn);
/// True once an all_or_none call has failed (every process knows the failure: a program may
/// then end normally instead of aborting the others).
bool failure_agreed() noexcept;

/// Every process's @p v, in rank order, on every process.
std::vector<double> allgather(const Context& ctx, const std::vector<double>& v);

/// The column blocks of a matrix (rows x the process's columns, in host memory) gathered on
/// process @p root in rank order (rows x all columns there; an empty matrix elsewhere).
template <class T>
Matrix<T> gather_columns(const Context& ctx, const Matrix<T>& block, int root);

}  // namespace nnmf::detail
