// Held-out entries of X (missing data, masked cross-validation) as a sparse set H: the entries
// where the 0/1 mask W of FitOptions::data_mask would be 0, stored as a CSC pattern with X's
// shape, so that a mask on sparse X (text: ~10^9 entries) never becomes n x m.
//
// Training never reads a held-out value: the entries of H are dropped from X (the forward pass
// q(A0, X) sees them as 0, i.e. absent) and left out of the loss terms in X (reconstruction
// and the layer-0 energy term). H may list zero entries of X as well as nonzero ones.
#pragma once

#include <cstdint>
#include <vector>

#include "nnmf/matrix.hpp"

namespace nnmf {

/// The held-out set H of an N x m matrix X: for column j, the rows
/// row_idx[col_ptr[j] .. col_ptr[j+1]-1], strictly increasing. Default-constructed (no
/// col_ptr) = nothing held out.
struct HeldOut {
  index_t rows = 0;
  index_t cols = 0;
  std::vector<index_t> col_ptr;  ///< cols + 1 entries, col_ptr[0] = 0, nondecreasing
  std::vector<index_t> row_idx;  ///< col_ptr[cols] entries in [0, rows)

  /// True when no set was given (then nothing is held out).
  bool none() const { return col_ptr.empty(); }
  /// |H|.
  index_t size() const { return static_cast<index_t>(row_idx.size()); }
  /// From 0-based (row, column) pairs in any order; duplicates are merged.
  static HeldOut from_entries(index_t rows, index_t cols, const std::vector<index_t>& i,
                              const std::vector<index_t>& j);
  /// The pattern of a sparse matrix (its stored entries, whatever their values).
  template <class T>
  static HeldOut from_pattern(const CscMatrix<T>& M);
  /// The entries where the 0/1 mask @p W (rows x cols, column-major) is 0.
  static HeldOut from_mask(index_t rows, index_t cols, const std::vector<std::uint8_t>& W);
  /// The 0/1 mask W (1 = observed) of rows x cols entries: only for dense X.
  std::vector<std::uint8_t> to_mask() const;
};

/// Throws DimensionMismatch (shape differs from rows x cols, col_ptr of the wrong length) or
/// InvalidArgument (col_ptr not starting at 0, decreasing or not ending at the entry count; a
/// row out of range, unsorted or repeated within its column), naming @p who, the argument
/// "held_out" and the values and position at fault.
void check_held_out(const char* who, const HeldOut& H, index_t rows, index_t cols);

/// A seeded held-out set for masked cross-validation: round(fraction x nnz) of the stored
/// (nonzero) entries of X and as many of its zero entries (fewer if X has fewer zeros), so
/// that the held-out error scores both. The same set for the same X, fraction and seed, on
/// every platform. fraction in [0, 1).
template <class T>
HeldOut random_held_out(const CscMatrix<T>& X, double fraction, std::uint64_t seed);
template <class T>
HeldOut random_held_out(MatrixView<const T> X, double fraction, std::uint64_t seed);

/// X with the entries of H dropped (the data a fit with held_out trains on).
template <class T>
CscMatrix<T> drop_held_out(const CscMatrix<T>& X, const HeldOut& H);
/// A copy of X with the entries of H set to 0.
template <class T>
Matrix<T> drop_held_out(MatrixView<const T> X, const HeldOut& H);

/// The values of X at the entries of H, in H's order (zeros for entries X does not store).
template <class T>
std::vector<T> values_at(const CscMatrix<T>& X, const HeldOut& H);
template <class T>
std::vector<T> values_at(MatrixView<const T> X, const HeldOut& H);

}  // namespace nnmf
