#include "nnmf/matrix.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "core/checked.hpp"
#include "nnmf/error.hpp"

namespace nnmf {

std::string shape_string(index_t rows, index_t cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

namespace {
void check_sizes(const char* who, index_t rows, index_t cols) {
  if (rows < 0 || cols < 0)
    throw InvalidArgument(std::string(who) + ": negative size " + shape_string(rows, cols));
}

/// rows * cols entries of @p bytes each, checked: the count indexes the storage.
std::size_t checked_count(const char* who, index_t rows, index_t cols, std::size_t bytes) {
  check_sizes(who, rows, cols);
  index_t n = 0;
  if (detail::checked_mul3(rows, cols, static_cast<index_t>(bytes)) < 0 || !detail::checked_mul(rows, cols, n))
    throw InvalidArgument(std::string(who) + ": a " + shape_string(rows, cols) +
                          " matrix has more entries than memory can address");
  return static_cast<std::size_t>(n);
}
}  // namespace

template <class T>
Matrix<T>::Matrix(index_t rows, index_t cols, T value) : rows_(rows), cols_(cols) {
  const std::size_t n = checked_count("Matrix", rows, cols, sizeof(T));
  // Filling the storage touches every page: past the memory available that is an OOM kill,
  // not an exception, so large requests are checked against the budget first.
  const double bytes = double(n) * sizeof(T);
  if (bytes > double(std::size_t{1} << 30) && bytes > double(detail::memory_budget()))
    throw OutOfMemory("Matrix: a " + shape_string(rows, cols) + " matrix needs " +
                      detail::byte_string(bytes) + ", more than the memory budget of " +
                      detail::byte_string(double(detail::memory_budget())) + " (" +
                      detail::memory_budget_source() + ")");
  try {
    data_.assign(n, value);
  } catch (const std::bad_alloc&) {
    throw OutOfMemory("Matrix: cannot allocate a " + shape_string(rows, cols) + " matrix (" +
                      detail::byte_string(double(n) * sizeof(T)) + ")");
  }
}

template <class T>
Matrix<T>::Matrix(index_t rows, index_t cols, std::vector<T> data)
    : rows_(rows), cols_(cols), data_(std::move(data)) {
  if (data_.size() != checked_count("Matrix", rows, cols, sizeof(T)))
    throw DimensionMismatch("Matrix: " + std::to_string(data_.size()) +
                            " values given for a " + shape_string(rows, cols) + " matrix");
}

template <class T>
Matrix<T> Matrix<T>::copy_of(MatrixView<const T> v) {
  Matrix<T> m(v.rows, v.cols);
  for (index_t j = 0; j < v.cols; ++j)
    std::copy(v.data + j * v.ld, v.data + j * v.ld + v.rows, m.data() + j * v.rows);
  return m;
}

template <class T>
CscMatrix<T>::CscMatrix(index_t rows, index_t cols, std::vector<index_t> colptr,
                        std::vector<index_t> rowind, std::vector<T> values)
    : rows_(rows),
      cols_(cols),
      colptr_(std::move(colptr)),
      rowind_(std::move(rowind)),
      values_(std::move(values)) {
  check_sizes("CscMatrix", rows, cols);
  const std::string who = "CscMatrix (" + shape_string(rows, cols) + ")";
  if (static_cast<index_t>(colptr_.size()) != cols + 1)
    throw InvalidArgument(who + ": colptr has " + std::to_string(colptr_.size()) +
                          " entries, expected cols + 1 = " + std::to_string(cols + 1));
  if (rowind_.size() != values_.size())
    throw InvalidArgument(who + ": rowind has " + std::to_string(rowind_.size()) +
                          " entries but values has " + std::to_string(values_.size()));
  if (colptr_[0] != 0 || colptr_[static_cast<std::size_t>(cols)] != nnz())
    throw InvalidArgument(who + ": colptr must start at 0 and end at nnz = " +
                          std::to_string(nnz()));
  for (index_t j = 0; j < cols; ++j)
    if (colptr_[static_cast<std::size_t>(j + 1)] < colptr_[static_cast<std::size_t>(j)])
      throw InvalidArgument(who + ": colptr decreases at column " + std::to_string(j));
  for (index_t j = 0; j < cols; ++j) {
    const index_t b = colptr_[static_cast<std::size_t>(j)];
    const index_t e = colptr_[static_cast<std::size_t>(j + 1)];
    for (index_t p = b; p < e; ++p) {
      const index_t i = rowind_[static_cast<std::size_t>(p)];
      if (i < 0 || i >= rows)
        throw InvalidArgument(who + ": row index " + std::to_string(i) + " of column " +
                              std::to_string(j) + " is outside [0, " + std::to_string(rows) +
                              ")");
      if (p > b && i <= rowind_[static_cast<std::size_t>(p - 1)])
        throw InvalidArgument(who + ": row indices of column " + std::to_string(j) +
                              " are not strictly increasing (duplicate or unsorted entry at "
                              "row " + std::to_string(i) + ")");
    }
  }
}

template <class T>
CscMatrix<T> CscMatrix<T>::from_triplets(index_t rows, index_t cols, const std::vector<index_t>& I,
                                         const std::vector<index_t>& J, const std::vector<T>& V) {
  check_sizes("CscMatrix::from_triplets", rows, cols);
  if (I.size() != J.size() || I.size() != V.size())
    throw DimensionMismatch("CscMatrix::from_triplets: " + std::to_string(I.size()) +
                            " row indices, " + std::to_string(J.size()) +
                            " column indices and " + std::to_string(V.size()) + " values");
  checked_count("CscMatrix::from_triplets", cols, 2, sizeof(index_t));  // cols + 1 pointers
  const std::size_t nnz = V.size();
  std::vector<index_t> colptr(static_cast<std::size_t>(cols + 1), 0);
  for (std::size_t p = 0; p < nnz; ++p) {
    if (I[p] < 0 || I[p] >= rows || J[p] < 0 || J[p] >= cols)
      throw InvalidArgument("CscMatrix::from_triplets: entry (" + std::to_string(I[p]) + ", " +
                            std::to_string(J[p]) + ") is outside the " +
                            shape_string(rows, cols) + " matrix");
    ++colptr[static_cast<std::size_t>(J[p] + 1)];
  }
  std::partial_sum(colptr.begin(), colptr.end(), colptr.begin());
  std::vector<index_t> next(colptr.begin(), colptr.end() - 1);
  std::vector<index_t> order(nnz);
  for (std::size_t p = 0; p < nnz; ++p)
    order[static_cast<std::size_t>(next[static_cast<std::size_t>(J[p])]++)] =
        static_cast<index_t>(p);
  std::vector<index_t> rowind(nnz);
  std::vector<T> values(nnz);
  for (index_t j = 0; j < cols; ++j) {
    auto b = order.begin() + colptr[static_cast<std::size_t>(j)];
    auto e = order.begin() + colptr[static_cast<std::size_t>(j + 1)];
    std::stable_sort(b, e, [&](index_t a, index_t c) {
      return I[static_cast<std::size_t>(a)] < I[static_cast<std::size_t>(c)];
    });
    for (auto it = b; it != e; ++it) {
      const std::size_t q = static_cast<std::size_t>(it - order.begin());
      rowind[q] = I[static_cast<std::size_t>(*it)];
      values[q] = V[static_cast<std::size_t>(*it)];
      if (it != b && rowind[q] == rowind[q - 1])
        throw InvalidArgument("CscMatrix::from_triplets: duplicate entry (" +
                              std::to_string(rowind[q]) + ", " + std::to_string(j) + ")");
    }
  }
  return CscMatrix(rows, cols, std::move(colptr), std::move(rowind), std::move(values));
}

template <class T>
CscMatrix<T> CscMatrix<T>::from_dense(MatrixView<const T> d) {
  std::vector<index_t> colptr(static_cast<std::size_t>(d.cols + 1), 0), rowind;
  std::vector<T> values;
  for (index_t j = 0; j < d.cols; ++j) {
    for (index_t i = 0; i < d.rows; ++i) {
      if (d(i, j) != T(0)) {
        rowind.push_back(i);
        values.push_back(d(i, j));
      }
    }
    colptr[static_cast<std::size_t>(j + 1)] = static_cast<index_t>(values.size());
  }
  return CscMatrix(d.rows, d.cols, std::move(colptr), std::move(rowind), std::move(values));
}

template <class T>
CscMatrix<T> CscMatrix<T>::select_columns(const std::vector<index_t>& cols) const {
  std::vector<index_t> colptr(cols.size() + 1, 0), rowind;
  std::vector<T> values;
  for (std::size_t q = 0; q < cols.size(); ++q) {
    const index_t j = cols[q];
    if (j < 0 || j >= cols_)
      throw InvalidArgument("select_columns: column " + std::to_string(j) +
                            " is outside [0, " + std::to_string(cols_) + ")");
    for (index_t p = colptr_[static_cast<std::size_t>(j)]; p < colptr_[static_cast<std::size_t>(j + 1)]; ++p) {
      rowind.push_back(rowind_[static_cast<std::size_t>(p)]);
      values.push_back(values_[static_cast<std::size_t>(p)]);
    }
    colptr[q + 1] = static_cast<index_t>(values.size());
  }
  return CscMatrix(rows_, static_cast<index_t>(cols.size()), std::move(colptr), std::move(rowind),
                   std::move(values));
}

template <class T>
Matrix<T> CscMatrix<T>::to_dense() const {
  Matrix<T> d(rows_, cols_);
  for (index_t j = 0; j < cols_; ++j)
    for (index_t p = colptr_[static_cast<std::size_t>(j)]; p < colptr_[static_cast<std::size_t>(j + 1)]; ++p)
      d(rowind_[static_cast<std::size_t>(p)], j) = values_[static_cast<std::size_t>(p)];
  return d;
}

SupportMask::SupportMask(index_t k, index_t cols)
    : k_(k), cols_(cols), wpc_((k + 63) / 64) {
  check_sizes("SupportMask", k, cols);
  words_.assign(static_cast<std::size_t>(wpc_ * cols), 0);
}

index_t SupportMask::count(index_t j) const {
  index_t c = 0;
  for (index_t q = 0; q < wpc_; ++q)
    c += __builtin_popcountll(words_[static_cast<std::size_t>(j * wpc_ + q)]);
  return c;
}

index_t SupportMask::count() const {
  index_t c = 0;
  for (std::uint64_t w : words_) c += __builtin_popcountll(w);
  return c;
}

template <class T>
SupportMask SupportMask::from_positive(MatrixView<const T> S) {
  SupportMask m(S.rows, S.cols);
  for (index_t j = 0; j < S.cols; ++j)
    for (index_t i = 0; i < S.rows; ++i)
      if (S(i, j) > T(0)) m.set(i, j);
  return m;
}

template <class T>
double squared_norm(MatrixView<const T> A) {
  double s = 0;
  for (index_t j = 0; j < A.cols; ++j)
    for (index_t i = 0; i < A.rows; ++i) s += static_cast<double>(A(i, j)) * A(i, j);
  return s;
}

template <class T>
double squared_norm(const CscMatrix<T>& A) {
  double s = 0;
  for (T v : A.values()) s += static_cast<double>(v) * v;
  return s;
}

template class Matrix<float>;
template class Matrix<double>;
template class CscMatrix<float>;
template class CscMatrix<double>;
template SupportMask SupportMask::from_positive<float>(MatrixView<const float>);
template SupportMask SupportMask::from_positive<double>(MatrixView<const double>);
template double squared_norm<float>(MatrixView<const float>);
template double squared_norm<double>(MatrixView<const double>);
template double squared_norm<float>(const CscMatrix<float>&);
template double squared_norm<double>(const CscMatrix<double>&);

}  // namespace nnmf
