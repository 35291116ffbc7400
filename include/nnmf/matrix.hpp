// Host matrix types: dense column-major matrices and views, sparse CSC matrices, and the
// per-column support masks produced by the NNLS solver.
//
// Columns are samples (documents) and rows are features (terms), as in the Matrix Market
// files nnmf reads. Text data is sparse and is kept in CscMatrix; nnmf never densifies it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace nnmf {

/// Index type for sizes, offsets and sparse indices (64-bit: nnz may exceed 2^31).
using index_t = std::int64_t;

/// Non-owning view of a dense column-major matrix; element (i, j) is data[i + j * ld].
/// T may be const-qualified.
template <class T>
struct MatrixView {
  T* data = nullptr;
  index_t rows = 0;
  index_t cols = 0;
  index_t ld = 0;  ///< leading dimension, >= max(1, rows)

  T& operator()(index_t i, index_t j) const { return data[i + j * ld]; }
  bool empty() const { return rows == 0 || cols == 0; }
  /// Columns [first, first + count) of this view.
  MatrixView col_range(index_t first, index_t count) const {
    return {data + first * ld, rows, count, ld};
  }
  template <class U = T, class = std::enable_if_t<!std::is_const<U>::value>>
  operator MatrixView<const U>() const {
    return {data, rows, cols, ld};
  }
};

/// Dense column-major matrix owning its host memory.
template <class T>
class Matrix {
 public:
  using value_type = T;
  Matrix() = default;
  /// rows x cols, every entry @p value. Throws InvalidArgument on negative sizes.
  Matrix(index_t rows, index_t cols, T value = T(0));
  /// rows x cols from column-major @p data; throws DimensionMismatch unless
  /// data.size() == rows * cols.
  Matrix(index_t rows, index_t cols, std::vector<T> data);
  /// Deep copy of a view.
  static Matrix copy_of(MatrixView<const T> v);

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t size() const { return rows_ * cols_; }
  index_t ld() const { return rows_ > 0 ? rows_ : 1; }
  bool empty() const { return size() == 0; }
  T* data() { return data_.data(); }
  const T* data() const { return data_.data(); }
  T& operator()(index_t i, index_t j) { return data_[static_cast<std::size_t>(i + j * rows_)]; }
  const T& operator()(index_t i, index_t j) const {
    return data_[static_cast<std::size_t>(i + j * rows_)];
  }
  MatrixView<T> view() { return {data(), rows_, cols_, ld()}; }
  MatrixView<const T> view() const { return {data(), rows_, cols_, ld()}; }
  operator MatrixView<const T>() const { return view(); }
  const std::vector<T>& storage() const { return data_; }
  std::vector<T>& storage() { return data_; }

 private:
  index_t rows_ = 0;
  index_t cols_ = 0;
  std::vector<T> data_;
};

/// Non-owning view of a CSC matrix: the row indices of column j are
/// rowind[colptr[j] .. colptr[j+1]), strictly increasing, with their values alongside.
template <class T>
struct CscView {
  index_t rows = 0;
  index_t cols = 0;
  const index_t* colptr = nullptr;  ///< cols + 1 entries, colptr[0] == 0
  const index_t* rowind = nullptr;  ///< nnz entries
  const T* values = nullptr;        ///< nnz entries
  index_t nnz() const { return cols > 0 ? colptr[cols] : 0; }
};

/// Sparse matrix in compressed sparse column form, owning its host memory.
template <class T>
class CscMatrix {
 public:
  using value_type = T;
  CscMatrix() = default;
  /// Takes ownership of the arrays after checking the structure: colptr has cols + 1
  /// nondecreasing entries starting at 0 and ending at nnz, row indices lie in [0, rows) and
  /// increase strictly within each column. Throws InvalidArgument otherwise.
  CscMatrix(index_t rows, index_t cols, std::vector<index_t> colptr,
            std::vector<index_t> rowind, std::vector<T> values);
  /// From coordinate triplets (0-based, any order). Duplicate (i, j) pairs are rejected.
  static CscMatrix from_triplets(index_t rows, index_t cols, const std::vector<index_t>& i,
                                 const std::vector<index_t>& j, const std::vector<T>& v);
  /// Keeps the nonzero entries of a dense matrix.
  static CscMatrix from_dense(MatrixView<const T> dense);

  index_t rows() const { return rows_; }
  index_t cols() const { return cols_; }
  index_t nnz() const { return static_cast<index_t>(values_.size()); }
  const std::vector<index_t>& colptr() const { return colptr_; }
  const std::vector<index_t>& rowind() const { return rowind_; }
  const std::vector<T>& values() const { return values_; }
  CscView<T> view() const {
    return {rows_, cols_, colptr_.data(), rowind_.data(), values_.data()};
  }
  operator CscView<T>() const { return view(); }
  /// The columns listed in @p cols, in that order (indices checked).
  CscMatrix select_columns(const std::vector<index_t>& cols) const;
  /// Dense copy: only for small matrices (tests, inspection).
  Matrix<T> to_dense() const;

 private:
  index_t rows_ = 0;
  index_t cols_ = 0;
  std::vector<index_t> colptr_{0};
  std::vector<index_t> rowind_;
  std::vector<T> values_;
};

/// Per-column support sets of an NNLS solution, one bit per (row, column): bit i of column j
/// is set when S(i, j) belongs to the passive set T_j (then S(i, j) > 0; off T_j, S(i, j) == 0).
/// Stored as ceil(k / 64) 64-bit words per column, column after column.
class SupportMask {
 public:
  SupportMask() = default;
  SupportMask(index_t k, index_t cols);

  index_t k() const { return k_; }
  index_t cols() const { return cols_; }
  index_t words_per_col() const { return wpc_; }
  bool test(index_t i, index_t j) const {
    return (words_[static_cast<std::size_t>(j * wpc_ + (i >> 6))] >> (i & 63)) & 1u;
  }
  void set(index_t i, index_t j, bool on = true) {
    std::uint64_t& w = words_[static_cast<std::size_t>(j * wpc_ + (i >> 6))];
    const std::uint64_t bit = std::uint64_t{1} << (i & 63);
    w = on ? (w | bit) : (w & ~bit);
  }
  /// |T_j|.
  index_t count(index_t j) const;
  /// Total number of set bits.
  index_t count() const;
  std::uint64_t* data() { return words_.data(); }
  const std::uint64_t* data() const { return words_.data(); }
  /// Support of the strictly positive entries of S (k = S.rows).
  template <class T>
  static SupportMask from_positive(MatrixView<const T> S);
  bool operator==(const SupportMask& o) const {
    return k_ == o.k_ && cols_ == o.cols_ && words_ == o.words_;
  }
  bool operator!=(const SupportMask& o) const { return !(*this == o); }

 private:
  index_t k_ = 0;
  index_t cols_ = 0;
  index_t wpc_ = 0;
  std::vector<std::uint64_t> words_;
};

/// Frobenius norm squared of a dense or sparse matrix (host, serial, for small checks).
template <class T>
double squared_norm(MatrixView<const T> A);
template <class T>
double squared_norm(const CscMatrix<T>& A);

/// "87 x 90" — used in error messages.
std::string shape_string(index_t rows, index_t cols);

}  // namespace nnmf
