// Data-parallel nnmf over MPI: a Context whose operations span the column blocks of several
// processes. Include only in programs built with MPI (this header includes <mpi.h>); the rest
// of the API never does. See docs/mpi.md.
#pragma once

#include <mpi.h>

#include "nnmf/config.hpp"
#include "nnmf/context.hpp"

namespace nnmf {

/// @p ctx over a duplicate of @p comm (MPI must be initialized, and stay so while the context
/// or a copy of it lives). Every process of @p comm then calls the same operations in the same
/// order with its own block of columns of X; NeuralNmf::fit, transform and evaluate, nmf,
/// ssnmf, hierarchical_nmf, deep_nmf and relative_errors reduce their column sums with MPI_Allreduce (fixed order for a given
/// process count, so runs are deterministic; with one process the result is bit-identical to
/// a plain context). Throws NotCompiled when nnmf was built without MPI (NNMF_WITH_MPI 0).
inline Context with_mpi(const Context& ctx, MPI_Comm comm) {
  return ctx.with_communicator_handle(&comm, sizeof(MPI_Comm));
}

}  // namespace nnmf
