// The kernel interface: declared once (kernels.inc), implemented per backend in files of the
// same stem (src/host/kernels.cpp, src/cuda/kernels.cu), dispatched at run time by ops::.
//
// All matrix arguments live in the context's memory (host RAM or device memory). Kernels
// never throw from device code; the CUDA implementations check every library status and turn
// failures into BackendError at their boundary.
#pragma once

#include <cstdint>

#include "core/backend_memory.hpp"
#include "nnmf/context.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

enum class Trans { N, T };

/// Parameters of a batched NNLS solve (see column_solver.hpp).
template <class T>
struct NnlsBatchParams {
  T tol_rel;
  T pivot_eps;
  int max_iter;
};

/// Counters returned by a batched NNLS solve.
struct NnlsBatchStats {
  index_t iterations = 0;       ///< summed over columns
  index_t limited_columns = 0;  ///< columns that hit max_iter
};

namespace host {
#include "core/kernels.inc"
}  // namespace host

namespace cuda {
#include "core/kernels.inc"
}  // namespace cuda

}  // namespace nnmf::detail
