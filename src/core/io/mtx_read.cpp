// Matrix Market reading: strict, streaming, every declared size checked before use.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/checked.hpp"
#include "core/io/source.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"

namespace nnmf::io {
namespace {

using detail::LineReader;

/// Blank and comment lines one after the other: past this many bytes the file is rejected
/// (a compressed file of blank lines would otherwise take minutes to say nothing).
constexpr std::size_t kMaxSkipped = std::size_t{16} << 20;

/// Splits on whitespace.
std::vector<std::string_view> tokens(std::string_view l) {
  std::vector<std::string_view> t;
  std::size_t i = 0;
  while (i < l.size()) {
    while (i < l.size() && std::isspace(static_cast<unsigned char>(l[i]))) ++i;
    const std::size_t b = i;
    while (i < l.size() && !std::isspace(static_cast<unsigned char>(l[i]))) ++i;
    if (i > b) t.push_back(l.substr(b, i - b));
  }
  return t;
}

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return std::tolower(c); });
  return r;
}

bool parse_int(std::string_view t, index_t& v) {
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

bool parse_real(std::string_view t, double& v) {
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

std::string quoted(std::string_view s, std::size_t n = 80) {
  std::string r(s.substr(0, n));
  for (char& c : r)
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  return "'" + r + (s.size() > n ? "...'" : "'");
}

/// Next line that is neither a comment nor blank; false at the end.
bool next_data(LineReader& in, std::string_view& l) {
  std::size_t skipped = 0;
  while (in.next(l)) {
    if ((l.empty() || l[0] != '%') && !detail::blank(l)) return true;
    skipped += l.size() + 1;
    if (skipped > kMaxSkipped)
      in.fail("more than " + std::to_string(kMaxSkipped >> 20) +
              " MiB of blank or comment lines in a row");
  }
  return false;
}

void parse_banner(LineReader& in, MtxInfo& info) {
  std::string_view l;
  if (!in.next(l)) detail::fail(in.path(), 0, "file is empty (expected a Matrix Market header)");
  const auto h = tokens(l);
  if (h.size() != 5 || lower(h[0]) != "%%matrixmarket" || lower(h[1]) != "matrix")
    in.fail("not a Matrix Market header: expected '%%MatrixMarket matrix <array|coordinate> "
            "<real|integer|pattern> <general|symmetric>', got " + quoted(l));
  const std::string fmt = lower(h[2]), field = lower(h[3]), sym = lower(h[4]);
  if (fmt != "array" && fmt != "coordinate")
    in.fail("unknown format " + quoted(h[2]) + " (expected array or coordinate)");
  info.coordinate = fmt == "coordinate";
  if (field != "real" && field != "integer" && field != "pattern" && field != "double")
    in.fail("unsupported field " + quoted(h[3]) + " (supported: real, integer, pattern)");
  if (field == "pattern" && !info.coordinate) in.fail("'pattern' requires coordinate format");
  info.field = field == "double" ? "real" : field;
  if (sym != "general" && sym != "symmetric")
    in.fail("unsupported symmetry " + quoted(h[4]) + " (supported: general, symmetric)");
  info.symmetry = sym;
}

/// Entries a header allows: rows x cols, or the lower triangle n (n + 1) / 2 when symmetric;
/// -1 when that overflows.
index_t max_entries(const MtxInfo& info) {
  if (info.symmetry != "symmetric") {
    index_t rc = 0;
    return nnmf::detail::checked_mul(info.rows, info.cols, rc) ? rc : -1;
  }
  index_t n1 = 0, tri = 0;
  if (!nnmf::detail::checked_add(info.rows, 1, n1)) return -1;
  // n (n + 1) / 2 without overflow: halve the even factor first.
  const index_t a = info.rows % 2 == 0 ? info.rows / 2 : info.rows;
  const index_t b = info.rows % 2 == 0 ? n1 : n1 / 2;
  return nnmf::detail::checked_mul(a, b, tri) ? tri : -1;
}

MtxInfo parse_header(LineReader& in) {
  MtxInfo info;
  parse_banner(in, info);
  std::string_view l;
  if (!next_data(in, l)) in.fail("truncated: no size line after the header");
  const auto sz = tokens(l);
  const std::size_t want = info.coordinate ? 3 : 2;
  index_t v[3] = {0, 0, 0};
  bool ok = sz.size() == want;
  for (std::size_t q = 0; ok && q < want; ++q) ok = parse_int(sz[q], v[q]) && v[q] >= 0;
  if (!ok)
    in.fail("malformed size line " + quoted(l) + ": expected " +
            (info.coordinate ? "'rows cols entries'" : "'rows cols'") +
            " as nonnegative integers below 2^63");
  info.rows = v[0];
  info.cols = v[1];
  if (info.symmetry == "symmetric" && info.rows != info.cols)
    in.fail("symmetric matrix must be square, got " + shape_string(v[0], v[1]));
  const index_t cap = max_entries(info);
  if (info.coordinate) {
    info.entries = v[2];
    if (cap >= 0 && info.entries > cap)
      in.fail(std::to_string(info.entries) + " entries declared for a " +
              shape_string(info.rows, info.cols) + (info.symmetry == "symmetric" ? " symmetric" : "") +
              " matrix, which holds at most " + std::to_string(cap));
  } else {
    if (cap < 0)
      in.fail("a dense " + shape_string(info.rows, info.cols) +
              " matrix has more entries than can be indexed (rows x cols overflows 64 bits)");
    info.entries = cap;
  }
  return info;
}

/// Rejects a file whose declared data cannot fit in the memory budget, before allocating.
template <class T>
void check_budget(const LineReader& in, const MtxInfo& info) {
  const bool sym = info.symmetry == "symmetric";
  // Dense: the values, plus the expanded square when symmetric. Coordinate: the triplets
  // (twice when symmetric) and the CSC arrays built from them, and the column pointers.
  index_t per = 0, count = info.entries;
  if (info.coordinate)
    per = static_cast<index_t>((sizeof(T) + 2 * sizeof(index_t)) * (sym ? 2 : 1) +
                               (sizeof(T) + sizeof(index_t)) * (sym ? 2 : 1));
  else
    per = static_cast<index_t>(sizeof(T) * (sym ? 3 : 1));
  index_t bytes = nnmf::detail::checked_mul3(count, per, 1);
  const index_t colptr = nnmf::detail::checked_mul3(info.coordinate ? info.cols : 0, sizeof(index_t), 1);
  if (bytes < 0 || colptr < 0 || !nnmf::detail::checked_add(bytes, colptr, bytes)) bytes = -1;
  const std::uint64_t budget = nnmf::detail::memory_budget();
  if (bytes < 0 || static_cast<std::uint64_t>(bytes) > budget)
    detail::fail(in.path(), 0,
                 "declares a " + shape_string(info.rows, info.cols) + " matrix with " +
                     std::to_string(info.entries) + " stored entries, which needs " +
                     (bytes < 0 ? std::string("more than 2^63 bytes")
                                : nnmf::detail::byte_string(double(bytes))) +
                     ", more than the memory budget of " +
                     nnmf::detail::byte_string(double(budget)) + " (" +
                     nnmf::detail::memory_budget_source() + ")");
}

/// One value token of a line, checked against the field and the precision in use.
template <class T>
T value_of(const LineReader& in, std::string_view tok, bool integer) {
  double v = 0;
  if (integer) {
    index_t iv = 0;
    if (!parse_int(tok, iv)) in.fail("malformed integer value " + quoted(tok, 40) + " in an 'integer' file");
    v = static_cast<double>(iv);
  } else {
    if (!parse_real(tok, v)) in.fail("malformed value " + quoted(tok, 40));
    if (!std::isfinite(v)) in.fail("non-finite value " + quoted(tok, 40));
  }
  if (std::abs(v) > static_cast<double>(std::numeric_limits<T>::max()))
    in.fail("value " + std::string(tok.substr(0, 40)) + " overflows the precision in use");
  return static_cast<T>(v);
}

/// Starting capacity: what was declared, but never more than what a few MB of input can fill;
/// the vectors grow with the data actually read.
std::size_t start_capacity(index_t declared) {
  return static_cast<std::size_t>(std::min<index_t>(declared, index_t{1} << 16));
}

/// The columns of the file kept, and where: every column when count < 0; else [first,
/// first + count), or with a set the columns of `set` (file column, position in the result),
/// sorted by file column.
struct ColumnRange {
  index_t first = 0, count = -1;
  std::vector<std::pair<index_t, index_t>> set;
  bool is_set = false;
  bool all() const { return count < 0; }
  /// Position of file column j in the result, or -1 when it is not kept.
  index_t position(index_t j) const {
    if (all()) return j;
    if (!is_set) return j >= first && j < first + count ? j - first : -1;
    const auto it = std::lower_bound(set.begin(), set.end(), std::make_pair(j, index_t{-1}));
    return it != set.end() && it->first == j ? it->second : -1;
  }
  bool has(index_t j) const { return position(j) >= 0; }
};

/// The range of a column set: @p cols, checked against the file's @p m columns.
ColumnRange column_set(const std::string& path, const std::vector<index_t>& cols, index_t m) {
  ColumnRange r;
  r.is_set = true;
  r.count = static_cast<index_t>(cols.size());
  for (std::size_t q = 0; q < cols.size(); ++q) {
    if (cols[q] < 0 || cols[q] >= m)
      throw InvalidArgument(path + ": column " + std::to_string(cols[q]) + " requested of a matrix of " +
                            std::to_string(m) + " columns");
    r.set.emplace_back(cols[q], static_cast<index_t>(q));
  }
  std::sort(r.set.begin(), r.set.end());
  for (std::size_t q = 1; q < r.set.size(); ++q)
    if (r.set[q].first == r.set[q - 1].first)
      throw InvalidArgument(path + ": column " + std::to_string(r.set[q].first) + " requested twice");
  return r;
}

/// Columns of a column-major matrix in the order of the file (the kept ones, ascending) moved
/// to their positions in the result.
template <class T>
Matrix<T> place_columns(Matrix<T> in_file_order, const ColumnRange& range) {
  if (!range.is_set) return in_file_order;
  Matrix<T> out(in_file_order.rows(), range.count);
  const index_t n = in_file_order.rows();
  for (std::size_t q = 0; q < range.set.size(); ++q)
    std::copy_n(in_file_order.data() + static_cast<index_t>(q) * n, n, out.data() + range.set[q].second * n);
  return out;
}

/// Values of an array file, keeping only the range's columns (symmetric files: all of them,
/// cut afterwards).
template <class T>
Matrix<T> parse_array(LineReader& in, const MtxInfo& info, ColumnRange range = {}) {
  const bool sym = info.symmetry == "symmetric";
  if (!range.all() && !sym) {
    // Column-major: value q belongs to column q / rows; the others are checked and dropped.
    const bool integer = info.field == "integer";
    std::vector<T> vals;
    vals.reserve(start_capacity(info.rows * range.count));
    index_t q = 0;
    std::string_view l;
    while (q < info.entries) {
      if (!next_data(in, l))
        in.fail("truncated: expected " + std::to_string(info.entries) + " values, found " +
                std::to_string(q));
      for (std::string_view tok : tokens(l)) {
        if (q == info.entries) in.fail("more values than the " + std::to_string(info.entries) + " declared");
        const T v = value_of<T>(in, tok, integer);
        if (range.has(q / info.rows)) vals.push_back(v);
        ++q;
      }
    }
    if (next_data(in, l)) in.fail("more values than the " + std::to_string(info.entries) + " declared");
    return place_columns(Matrix<T>(info.rows, range.count, std::move(vals)), range);
  }
  const bool integer = info.field == "integer";
  std::vector<T> vals;
  vals.reserve(start_capacity(info.entries));
  std::string_view l;
  while (static_cast<index_t>(vals.size()) < info.entries) {
    if (!next_data(in, l))
      in.fail("truncated: expected " + std::to_string(info.entries) + " values, found " +
              std::to_string(vals.size()));
    for (std::string_view tok : tokens(l)) {
      if (static_cast<index_t>(vals.size()) == info.entries)
        in.fail("more values than the " + std::to_string(info.entries) + " declared");
      vals.push_back(value_of<T>(in, tok, integer));
    }
  }
  if (next_data(in, l))
    in.fail("more values than the " + std::to_string(info.entries) + " declared");
  if (!sym) return Matrix<T>(info.rows, info.cols, std::move(vals));
  // Symmetric files store the lower triangle column by column.
  Matrix<T> out(info.rows, info.cols);
  std::size_t q = 0;
  for (index_t j = 0; j < info.cols; ++j)
    for (index_t i = j; i < info.rows; ++i, ++q) {
      out(i, j) = vals[q];
      out(j, i) = vals[q];
    }
  return out;
}

template <class T>
CscMatrix<T> parse_coordinate(LineReader& in, const MtxInfo& info, ColumnRange range = {}) {
  const bool sym = info.symmetry == "symmetric";
  const bool pattern = info.field == "pattern", integer = info.field == "integer";
  std::vector<index_t> I, J;
  std::vector<T> V;
  const std::size_t cap = start_capacity(info.entries);
  I.reserve(cap);
  J.reserve(cap);
  V.reserve(cap);
  const std::size_t want = pattern ? 2 : 3;
  std::string_view l;
  for (index_t e = 0; e < info.entries; ++e) {
    if (!next_data(in, l))
      in.fail("truncated: expected " + std::to_string(info.entries) + " entries, found " +
              std::to_string(e));
    const auto t = tokens(l);
    index_t i = 0, j = 0;
    if (t.size() != want || !parse_int(t[0], i) || !parse_int(t[1], j))
      in.fail("malformed entry " + quoted(l) + ": expected '" +
              (pattern ? "row col" : "row col value") + "' with 1-based indices");
    if (i < 1 || i > info.rows || j < 1 || j > info.cols)
      in.fail("entry (" + std::to_string(i) + ", " + std::to_string(j) + ") is outside the " +
              shape_string(info.rows, info.cols) + " matrix (indices are 1-based)");
    if (sym && i < j) in.fail("symmetric file has an entry above the diagonal");
    const index_t pj = range.position(j - 1), pi = sym && i != j ? range.position(i - 1) : -1;
    if (pj < 0 && pi < 0) continue;  // another block's column: its value is its reader's
    const T v = pattern ? T(1) : value_of<T>(in, t[2], integer);
    if (pj >= 0) {
      I.push_back(i - 1);
      J.push_back(pj);
      V.push_back(v);
    }
    if (pi >= 0) {
      I.push_back(j - 1);
      J.push_back(pi);
      V.push_back(v);
    }
  }
  if (next_data(in, l))
    in.fail("more entries than the " + std::to_string(info.entries) + " declared");
  try {
    return CscMatrix<T>::from_triplets(info.rows, range.all() ? info.cols : range.count, I, J, V);
  } catch (const InvalidArgument& e) {
    detail::fail(in.path(), 0, e.what());
  }
}

template <class T>
AnyMatrix<T> parse(const std::string& path, ColumnRange range = {}, const std::vector<index_t>* set = nullptr) {
  LineReader in(path);
  const MtxInfo info = parse_header(in);
  if (set) range = column_set(path, *set, info.cols);
  if (!range.all() && !range.is_set &&
      (range.first < 0 || range.count < 0 || range.first > info.cols || range.count > info.cols - range.first))
    throw InvalidArgument(path + ": columns " + std::to_string(range.first) + " .. " +
                          std::to_string(range.first + range.count - 1) + " requested of a " +
                          shape_string(info.rows, info.cols) + " matrix");
  MtxInfo share = info;  // the budget holds this block's share (columns of equal weight)
  if (!range.all() && info.cols > 0 && info.symmetry != "symmetric")
    share.entries = static_cast<index_t>(double(info.entries) * double(range.count) / double(info.cols)) + 1;
  check_budget<T>(in, share);
  AnyMatrix<T> out;
  out.sparse = info.coordinate;
  if (info.coordinate) {
    out.csc = parse_coordinate<T>(in, info, range);
  } else {
    out.dense = parse_array<T>(in, info, range);
    if (!range.all() && info.symmetry == "symmetric") {
      Matrix<T> cut(info.rows, range.count);
      for (index_t j = 0; j < info.cols; ++j)
        if (range.has(j))
          for (index_t i = 0; i < info.rows; ++i) cut(i, range.position(j)) = out.dense(i, j);
      out.dense = std::move(cut);
    }
  }
  return out;
}

}  // namespace

MtxInfo read_mtx_info(const std::string& path) {
  LineReader in(path);
  return parse_header(in);
}

template <class T>
AnyMatrix<T> read_mtx(const std::string& path) {
  return parse<T>(path);
}

template <class T>
AnyMatrix<T> read_mtx_columns(const std::string& path, index_t first, index_t count) {
  if (count < 0) throw InvalidArgument(path + ": column count " + std::to_string(count) + " < 0");
  ColumnRange range;
  range.first = first;
  range.count = count;
  return parse<T>(path, range);
}

template <class T>
AnyMatrix<T> read_mtx_column_set(const std::string& path, const std::vector<index_t>& cols) {
  return parse<T>(path, {}, &cols);
}

template <class T>
Matrix<T> read_dense(const std::string& path) {
  AnyMatrix<T> m = read_mtx<T>(path);
  if (!m.sparse) return std::move(m.dense);
  index_t n = 0;
  if (!nnmf::detail::checked_mul(m.csc.rows(), m.csc.cols(), n) ||
      static_cast<std::uint64_t>(n) > nnmf::detail::memory_budget() / sizeof(T))
    detail::fail(path, 0, "a dense copy of this sparse " + shape_string(m.csc.rows(), m.csc.cols()) +
                              " matrix does not fit in the memory budget");
  return m.csc.to_dense();
}

template <class T>
CscMatrix<T> read_sparse(const std::string& path) {
  AnyMatrix<T> m = read_mtx<T>(path);
  return m.sparse ? std::move(m.csc) : CscMatrix<T>::from_dense(m.dense.view());
}

template AnyMatrix<float> read_mtx<float>(const std::string&);
template AnyMatrix<double> read_mtx<double>(const std::string&);
template AnyMatrix<float> read_mtx_columns<float>(const std::string&, index_t, index_t);
template AnyMatrix<double> read_mtx_columns<double>(const std::string&, index_t, index_t);
template AnyMatrix<float> read_mtx_column_set<float>(const std::string&, const std::vector<index_t>&);
template AnyMatrix<double> read_mtx_column_set<double>(const std::string&, const std::vector<index_t>&);
template Matrix<float> read_dense<float>(const std::string&);
template Matrix<double> read_dense<double>(const std::string&);
template CscMatrix<float> read_sparse<float>(const std::string&);
template CscMatrix<double> read_sparse<double>(const std::string&);

}  // namespace nnmf::io
