// Argument checks at the door of every public operation. Each throws one exception whose
// message names the operation, the argument and the sizes or the value and position at fault.
#pragma once

#include <string>
#include <vector>

#include "nnmf/error.hpp"
#include "nnmf/matrix.hpp"

namespace nnmf {
struct Supervision;
}  // namespace nnmf

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

/// Throws DimensionMismatch unless the supervision has a label for each of the @p m columns of
/// X and its known mask is empty or as long.
void check_label_counts(const std::string& who, const Supervision& s, index_t m);

/// Checks the factor A (n x k) of q(A, X): finite, nonnegative, 1 <= k <= n.
template <class T>
void check_factor(const char* who, MatrixView<const T> A);

/// Checks the factors A(0..L) and per-layer coefficients S(0..L) of a hierarchy on an
/// rows x cols X: as many of each (>= 1), A(l) k(l-1) x k(l), S(l) k(l) x cols.
template <class T>
inline void check_hierarchy(const char* who, index_t rows, index_t cols, const std::vector<Matrix<T>>& A,
                            const std::vector<Matrix<T>>& S) {
  if (A.empty() || A.size() != S.size())
    throw InvalidArgument(std::string(who) + ": " + std::to_string(A.size()) + " factors and " +
                          std::to_string(S.size()) + " coefficient matrices (need the same, >= 1)");
  index_t above = rows;
  for (std::size_t l = 0; l < A.size(); ++l) {
    const std::string an = "A" + std::to_string(l), sn = "S" + std::to_string(l);
    check_shape(who, an.c_str(), A[l].rows(), A[l].cols(), above, A[l].cols());
    check_shape(who, sn.c_str(), S[l].rows(), S[l].cols(), A[l].cols(), cols);
    above = A[l].cols();
  }
}

}  // namespace nnmf::detail
