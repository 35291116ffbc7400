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

/// A sparsity pattern H (rows x cols, e.g. held-out entries of X) in the context's memory, by
/// columns and by rows. Values on H are a separate array of nnz entries in column order.
struct PatternView {
  index_t rows = 0, cols = 0, nnz = 0;
  const index_t* col_ptr = nullptr;  ///< cols + 1
  const index_t* row_idx = nullptr;  ///< nnz, strictly increasing within a column
  const index_t* row_ptr = nullptr;  ///< rows + 1: the same entries by rows
  const index_t* col_idx = nullptr;  ///< nnz, increasing within a row
  const index_t* perm = nullptr;     ///< nnz: column-order position of each row-order entry
};

namespace host {
#include "core/kernels.inc"
}  // namespace host

namespace cuda {
#include "core/kernels.inc"
}  // namespace cuda

}  // namespace nnmf::detail
