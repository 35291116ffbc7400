// Argument checks at the door of every public operation. Each throws one exception whose
// message names the operation, the argument and the sizes or the value and position at fault.
#pragma once

#include <string>

#include "nnmf/error.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// "A (90 x 9)".
std::string describe(const char* name, index_t rows, index_t cols);

/// Throws DimensionMismatch unless the matrix is rows x cols.
void check_shape(const char* who, const char* name, index_t rows, index_t cols, index_t exp_rows,
                 index_t exp_cols);

/// Throws InvalidArgument at the first entry that is NaN or infinite, or (with nonneg) negative.
/// Large matrices are scanned by @p threads OpenMP threads; the entry reported (the first bad
/// one in column order) does not depend on the thread count. With @p col_max (A.cols entries),
/// the same scan also writes the largest |entry| of each column (the scale of the column,
/// which the NNLS solver's power-of-two scaling needs).
template <class T>
void check_values(const char* who, const char* name, MatrixView<const T> A, bool nonneg,
                  int threads = 1, T* col_max = nullptr);
template <class T>
void check_values(const char* who, const char* name, CscView<T> A, bool nonneg, int threads = 1,
                  T* col_max = nullptr);

/// Checks the factor A (n x k) of q(A, X): finite, nonnegative, 1 <= k <= n.
template <class T>
void check_factor(const char* who, MatrixView<const T> A);

}  // namespace nnmf::detail
