#include "core/validate.hpp"

#include <cmath>
#include <limits>
#include <sstream>

#include "nnmf/model.hpp"

namespace nnmf::detail {

std::string describe(const char* name, index_t rows, index_t cols) {
  return std::string(name) + " (" + shape_string(rows, cols) + ")";
}

void check_label_counts(const std::string& who, const Supervision& s, index_t m) {
  if (static_cast<index_t>(s.labels.size()) != m)
    throw DimensionMismatch(who + ": " + std::to_string(s.labels.size()) + " labels for " + std::to_string(m) +
                            " columns of X");
  if (!s.known.empty() && static_cast<index_t>(s.known.size()) != m)
    throw DimensionMismatch(who + ": known mask has " + std::to_string(s.known.size()) + " entries for " +
                            std::to_string(m) + " columns of X");
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

/// Largest |v| of n values (0 for none); NaN is ignored (check_values reports it).
template <class T>
T max_abs(const T* v, index_t n) {
  T m = T(0);
  for (index_t i = 0; i < n; ++i) {
    const T a = std::abs(v[i]);
    m = a > m ? a : m;
  }
  return m;
}

}  // namespace

template <class T>
void check_values(const char* who, const char* name, MatrixView<const T> A, bool nonneg,
                  int threads, T* col_max) {
  const index_t j = first_bad_column(A.cols, A.rows * A.cols, threads, [&](index_t c) {
    bool bad = false;
    const T* col = A.data + c * A.ld;
    if (!col_max) {
      for (index_t i = 0; i < A.rows; ++i) bad |= bad_value(col[i], nonneg);
      return bad;
    }
    // Largest |entry| in the same pass, on four independent chains: a max reduction is not
    // vectorised without -ffast-math, and one chain (or a second pass) made the scan 1.5-3x
    // slower; with four it costs nothing measurable (the scan is memory-bound).
    T m0 = T(0), m1 = T(0), m2 = T(0), m3 = T(0);
    index_t i = 0;
    for (; i + 4 <= A.rows; i += 4) {
      const T a = col[i], b = col[i + 1], d = col[i + 2], e = col[i + 3];
      bad |= bad_value(a, nonneg) | bad_value(b, nonneg) | bad_value(d, nonneg) |
             bad_value(e, nonneg);
      const T aa = std::abs(a), ab = std::abs(b), ad = std::abs(d), ae = std::abs(e);
      m0 = aa > m0 ? aa : m0;
      m1 = ab > m1 ? ab : m1;
      m2 = ad > m2 ? ad : m2;
      m3 = ae > m3 ? ae : m3;
    }
    for (; i < A.rows; ++i) {
      bad |= bad_value(col[i], nonneg);
      const T a = std::abs(col[i]);
      m0 = a > m0 ? a : m0;
    }
    col_max[c] = std::max(std::max(m0, m1), std::max(m2, m3));
    return bad;
  });
  if (j == A.cols) return;
  for (index_t i = 0; i < A.rows; ++i)
    if (bad_value(A(i, j), nonneg)) report(who, name, A.rows, A.cols, i, j, A(i, j));
}

template <class T>
void check_values(const char* who, const char* name, CscView<T> A, bool nonneg, int threads,
                  T* col_max) {
  const index_t j = first_bad_column(A.cols, A.nnz(), threads, [&](index_t c) {
    bool bad = false;
    for (index_t p = A.colptr[c]; p < A.colptr[c + 1]; ++p) bad |= bad_value(A.values[p], nonneg);
    if (col_max) col_max[c] = max_abs(A.values + A.colptr[c], A.colptr[c + 1] - A.colptr[c]);
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

template void check_values<float>(const char*, const char*, MatrixView<const float>, bool, int,
                                  float*);
template void check_values<double>(const char*, const char*, MatrixView<const double>, bool, int,
                                   double*);
template void check_values<float>(const char*, const char*, CscView<float>, bool, int, float*);
template void check_values<double>(const char*, const char*, CscView<double>, bool, int, double*);
template void check_factor<float>(const char*, MatrixView<const float>);
template void check_factor<double>(const char*, MatrixView<const double>);

}  // namespace nnmf::detail
