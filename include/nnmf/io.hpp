// File input and output: Matrix Market matrices (optionally gzip-compressed), label files
// and mask files in the formats of shared/data/README.md.
//
// Reading is strict: every malformed header, size line or entry, every index out of range,
// duplicate entry, non-finite value (and fractional value in an `integer` file), missing or
// surplus entry throws IoError naming the file and the line. Gzip input is recognised by its
// content, whatever the file name; concatenated gzip members are read as one stream, and
// anything else after the last member, or a truncated stream, is an error.
//
// Reading is bounded, so a small crafted file cannot take the machine: files are streamed
// line by line (a line longer than 1 MiB, or more than 16 MiB of blank and comment lines in
// a row, is an error); every size product of a header is checked for overflow, and a header
// that declares more data than the memory budget holds is rejected before anything is
// allocated. The budget is the memory available, or NNMF_MEMORY_LIMIT (bytes, or with a
// K/M/G/T suffix) when set. Storage grows with the data actually read, never from what a
// header claims. Label and mask files stop at the first line beyond the expected count.
//
// Writing is atomic: data goes to a temporary file in the same directory, which is renamed
// over the destination only once it is complete, so a failed write never leaves a partial
// file nor destroys an earlier good one. A destination ending in ".gz" is gzip-compressed.
// A destination that exists and is not a regular file (a symlink, FIFO, device, socket or
// directory) is refused with IoError rather than replaced.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nnmf/matrix.hpp"

namespace nnmf::io {

/// What a Matrix Market header says.
struct MtxInfo {
  bool coordinate = false;  ///< "coordinate" (sparse) or "array" (dense)
  std::string field;        ///< "real", "integer" or "pattern"
  std::string symmetry;     ///< "general" or "symmetric"
  index_t rows = 0;
  index_t cols = 0;
  index_t entries = 0;  ///< stored entries (coordinate) or rows * cols (array)
};

/// A matrix as read from a file: dense for "array" files, CSC for "coordinate" files.
template <class T>
struct AnyMatrix {
  bool sparse = false;
  Matrix<T> dense;
  CscMatrix<T> csc;
  index_t rows() const { return sparse ? csc.rows() : dense.rows(); }
  index_t cols() const { return sparse ? csc.cols() : dense.cols(); }
};

/// Reads only the header and size line.
MtxInfo read_mtx_info(const std::string& path);

/// Reads a Matrix Market file in its own storage (array -> dense, coordinate -> CSC).
/// Symmetric files are expanded; pattern files get value 1.
template <class T>
AnyMatrix<T> read_mtx(const std::string& path);

/// Columns first .. first + count - 1 of a Matrix Market file (a process's block, docs/mpi.md),
/// in one streaming pass that keeps only their entries: no more than the block is ever held.
/// Every line is checked as read_mtx checks it (the values of other columns of a coordinate
/// file are left to their readers). Throws InvalidArgument when the range is outside the matrix.
template <class T>
AnyMatrix<T> read_mtx_columns(const std::string& path, index_t first, index_t count);

/// The columns @p cols of a Matrix Market file, in that order (column q of the result is the
/// file's column cols[q]), in one streaming pass like read_mtx_columns: an --columns selection's
/// share of one process (docs/mpi.md). Throws InvalidArgument naming the file for an index
/// outside the matrix or a repeated one.
template <class T>
AnyMatrix<T> read_mtx_column_set(const std::string& path, const std::vector<index_t>& cols);

/// Reads a dense matrix; a coordinate file is accepted and expanded (use for factors).
template <class T>
Matrix<T> read_dense(const std::string& path);

/// Reads a sparse matrix; an array file is accepted and its zeros dropped.
template <class T>
CscMatrix<T> read_sparse(const std::string& path);

/// Writes "%%MatrixMarket matrix array real general" (values with 17 significant digits
/// for double, 9 for float). @p comment lines are written after the header, each prefixed "%".
template <class T>
void write_mtx(const std::string& path, MatrixView<const T> A, const std::string& comment = "");

/// Writes "%%MatrixMarket matrix coordinate real general" with 1-based indices.
template <class T>
void write_mtx(const std::string& path, const CscMatrix<T>& A, const std::string& comment = "");

/// Writes a NumPy .npy file (format 1.0: little-endian '<f8' or '<f4', fortran_order True,
/// shape (rows, cols)): the column-major values as they are, readable by numpy.load.
template <class T>
void write_npy(const std::string& path, MatrixView<const T> A);

/// One 0-based integer class per line. Throws IoError for a malformed line and InvalidArgument
/// when the count differs from @p expected_count (if >= 0) or a label is >= @p num_classes
/// (if > 0); without @p num_classes, the class count (max label + 1) may not exceed the
/// number of labels. Blank lines are allowed only at the end.
std::vector<int> read_labels(const std::string& path, index_t expected_count = -1,
                             int num_classes = -1);

/// One 0 or 1 per line (1 = known); same checks as read_labels.
std::vector<std::uint8_t> read_mask(const std::string& path, index_t expected_count = -1);

/// One 0-based index per line (e.g. a document subset). Each must be < @p bound if bound >= 0.
std::vector<index_t> read_indices(const std::string& path, index_t bound = -1);

/// The lines of a text file (vocabulary, class names), without their line ends.
std::vector<std::string> read_lines(const std::string& path);

/// Writes one value per line, atomically.
void write_labels(const std::string& path, const std::vector<int>& labels);

/// Writes @p content to @p path atomically (temporary file, then rename).
void write_file_atomic(const std::string& path, const std::string& content);

}  // namespace nnmf::io
