#include "core/validate.hpp"

#include <cmath>
#include <limits>
#include <sstream>

namespace nnmf::detail {

std::string describe(const char* name, index_t rows, index_t cols) {
  return std::string(name) + " (" + shape_string(rows, cols) + ")";
}

void check_shape(const char* who, const char* name, index_t rows, index_t cols, index_t exp_rows,
                 index_t exp_cols) {
  if (rows != exp_rows || cols != exp_cols)
    throw DimensionMismatch(std::string(who) + ": " + name + " is " + shape_string(rows, cols) +
                            ", expected " + shape_string(exp_rows, exp_cols));
}

namespace {

template <class T>
bool bad_value(T v, bool nonneg) {
  // One comparison chain that is false for NaN: finite and (if asked) nonnegative.
  const T lo = nonneg ? T(0) : -std::numeric_limits<T>::max();
  return !(v >= lo && v <= std::numeric_limits<T>::max());
}

template <class T>
[[noreturn]] void report(const char* who, const char* name, index_t rows, index_t cols, index_t i,
                         index_t j, T v) {
  std::ostringstream os;
  os.precision(17);
  os << who << ": " << describe(name, rows, cols) << " has ";
  if (std::isnan(v))
    os << "a NaN";
  else if (std::isinf(v))
    os << "an infinite entry (" << v << ")";
  else
    os << "a negative entry (" << v << ")";
  os << " at row " << i << ", column " << j << " (0-based); entries must be finite";
  if (!std::isnan(v) && !std::isinf(v)) os << " and nonnegative";
  throw InvalidArgument(os.str());
}

/// First bad column index in [0, cols), or cols; columns are scanned in parallel and the
/// smallest bad column is reported, so the message does not depend on scheduling.
template <class Pred>
index_t first_bad_column(index_t cols, index_t work, int threads, Pred column_is_bad) {
  index_t first = cols;
  const int nt = work > (1 << 20) && threads > 1 ? threads : 1;
#pragma omp parallel for num_threads(nt) if (nt > 1) reduction(min : first) schedule(static)
  for (index_t j = 0; j < cols; ++j)
    if (j < first && column_is_bad(j)) first = j;
  return first;
}

}  // namespace

template <class T>
void check_values(const char* who, const char* name, MatrixView<const T> A, bool nonneg,
                  int threads) {
  const index_t j = first_bad_column(A.cols, A.rows * A.cols, threads, [&](index_t c) {
    bool bad = false;
    const T* col = A.data + c * A.ld;
    for (index_t i = 0; i < A.rows; ++i) bad |= bad_value(col[i], nonneg);
    return bad;
  });
  if (j == A.cols) return;
  for (index_t i = 0; i < A.rows; ++i)
    if (bad_value(A(i, j), nonneg)) report(who, name, A.rows, A.cols, i, j, A(i, j));
}

template <class T>
void check_values(const char* who, const char* name, CscView<T> A, bool nonneg, int threads) {
  const index_t j = first_bad_column(A.cols, A.nnz(), threads, [&](index_t c) {
    bool bad = false;
    for (index_t p = A.colptr[c]; p < A.colptr[c + 1]; ++p) bad |= bad_value(A.values[p], nonneg);
    return bad;
  });
  if (j == A.cols) return;
  for (index_t p = A.colptr[j]; p < A.colptr[j + 1]; ++p)
    if (bad_value(A.values[p], nonneg))
      report(who, name, A.rows, A.cols, A.rowind[p], j, A.values[p]);
}

template <class T>
void check_factor(const char* who, MatrixView<const T> A) {
  if (A.cols < 1)
    throw InvalidArgument(std::string(who) + ": " + describe("A", A.rows, A.cols) +
                          " must have at least one column (rank k >= 1)");
  if (A.cols > A.rows)
    throw InvalidArgument(std::string(who) + ": rank k = " + std::to_string(A.cols) +
                          " exceeds the number of rows n = " + std::to_string(A.rows) + " of " +
                          describe("A", A.rows, A.cols) + "; k <= n is required");
  check_values(who, "A", A, true);
}

template void check_values<float>(const char*, const char*, MatrixView<const float>, bool, int);
template void check_values<double>(const char*, const char*, MatrixView<const double>, bool, int);
template void check_values<float>(const char*, const char*, CscView<float>, bool, int);
template void check_values<double>(const char*, const char*, CscView<double>, bool, int);
template void check_factor<float>(const char*, MatrixView<const float>);
template void check_factor<double>(const char*, MatrixView<const double>);

}  // namespace nnmf::detail
