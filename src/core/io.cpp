// Matrix Market, label and mask files. See include/nnmf/io.hpp for the contract.
#include "nnmf/io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "nnmf/error.hpp"

namespace nnmf::io {
namespace {

[[noreturn]] void fail(const std::string& path, index_t line, const std::string& msg) {
  if (line > 0) throw IoError(path + ":" + std::to_string(line) + ": " + msg);
  throw IoError(path + ": " + msg);
}

/// Whole file, gunzipped when it is gzip data (zlib reads plain files as they are).
std::string slurp(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail(path, 0, std::string("cannot open: ") + std::strerror(errno));
  std::string out;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const int got = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (got < 0) {
      int err = 0;
      const std::string msg = gzerror(f, &err);
      gzclose(f);
      fail(path, 0, "read error (corrupt or truncated gzip data?): " + msg);
    }
    if (got == 0) break;
    out.append(buf.data(), static_cast<std::size_t>(got));
  }
  // gzread reports a truncated gzip stream only through gzerror.
  int err = Z_OK;
  gzerror(f, &err);
  gzclose(f);
  if (err != Z_OK && err != Z_STREAM_END) fail(path, 0, "corrupt or truncated gzip data");
  return out;
}

/// Line-by-line cursor over a text buffer that counts lines for error messages.
class Lines {
 public:
  Lines(const std::string& path, const std::string& text) : path_(path), s_(text) {}
  /// Next line (without its end); false at end of input.
  bool next(std::string_view& line) {
    if (pos_ >= s_.size()) return false;
    const std::size_t e = s_.find('\n', pos_);
    const std::size_t end = e == std::string::npos ? s_.size() : e;
    line = std::string_view(s_).substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos_ = e == std::string::npos ? s_.size() : e + 1;
    ++lineno_;
    return true;
  }
  index_t lineno() const { return lineno_; }
  const std::string& path() const { return path_; }

 private:
  const std::string& path_;
  const std::string& s_;
  std::size_t pos_ = 0;
  index_t lineno_ = 0;
};

bool blank(std::string_view l) {
  return std::all_of(l.begin(), l.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

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
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

bool parse_real(std::string_view t, double& v) {
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

MtxInfo parse_header(Lines& in) {
  const std::string& path = in.path();
  std::string_view l;
  if (!in.next(l)) fail(path, 0, "file is empty (expected a Matrix Market header)");
  const auto h = tokens(l);
  if (h.size() != 5 || lower(h[0]) != "%%matrixmarket" || lower(h[1]) != "matrix")
    fail(path, 1,
         "not a Matrix Market header: expected '%%MatrixMarket matrix <array|coordinate> "
         "<real|integer|pattern> <general|symmetric>', got '" + std::string(l.substr(0, 80)) + "'");
  MtxInfo info;
  const std::string fmt = lower(h[2]), field = lower(h[3]), sym = lower(h[4]);
  if (fmt != "array" && fmt != "coordinate")
    fail(path, 1, "unknown format '" + std::string(h[2]) + "' (expected array or coordinate)");
  info.coordinate = fmt == "coordinate";
  if (field != "real" && field != "integer" && field != "pattern" && field != "double")
    fail(path, 1, "unsupported field '" + std::string(h[3]) +
                      "' (supported: real, integer, pattern)");
  if (field == "pattern" && !info.coordinate) fail(path, 1, "'pattern' requires coordinate format");
  info.field = field == "double" ? "real" : field;
  if (sym != "general" && sym != "symmetric")
    fail(path, 1, "unsupported symmetry '" + std::string(h[4]) +
                      "' (supported: general, symmetric)");
  info.symmetry = sym;
  // Comments, then the size line.
  for (;;) {
    if (!in.next(l)) fail(path, in.lineno(), "truncated: no size line after the header");
    if (!l.empty() && l[0] == '%') continue;
    if (blank(l)) continue;
    break;
  }
  const auto sz = tokens(l);
  const std::size_t want = info.coordinate ? 3 : 2;
  index_t v[3] = {0, 0, 0};
  bool ok = sz.size() == want;
  for (std::size_t q = 0; ok && q < want; ++q) ok = parse_int(sz[q], v[q]) && v[q] >= 0;
  if (!ok)
    fail(path, in.lineno(),
         std::string("malformed size line '") + std::string(l.substr(0, 80)) + "': expected " +
             (info.coordinate ? "'rows cols entries'" : "'rows cols'") +
             " as nonnegative integers");
  info.rows = v[0];
  info.cols = v[1];
  if (info.symmetry == "symmetric" && info.rows != info.cols)
    fail(path, in.lineno(), "symmetric matrix must be square, got " + shape_string(v[0], v[1]));
  if (info.coordinate) {
    info.entries = v[2];
    if (info.rows > 0 && info.cols > 0 && info.entries / info.cols > info.rows)
      fail(path, in.lineno(), std::to_string(info.entries) + " entries declared for a " +
                                  shape_string(info.rows, info.cols) + " matrix");
    if ((info.rows == 0 || info.cols == 0) && info.entries > 0)
      fail(path, in.lineno(), "entries declared for an empty matrix");
  } else {
    info.entries = info.symmetry == "symmetric" ? info.rows * (info.rows + 1) / 2
                                                : info.rows * info.cols;
  }
  return info;
}

double checked_value(const Lines& in, std::string_view tok) {
  double v = 0;
  if (!parse_real(tok, v))
    fail(in.path(), in.lineno(), "malformed value '" + std::string(tok.substr(0, 40)) + "'");
  if (!std::isfinite(v))
    fail(in.path(), in.lineno(), "non-finite value '" + std::string(tok.substr(0, 40)) + "'");
  return v;
}

/// Next non-comment, non-blank data line; false at the end.
bool next_data(Lines& in, std::string_view& l) {
  while (in.next(l)) {
    if ((!l.empty() && l[0] == '%') || blank(l)) continue;
    return true;
  }
  return false;
}

template <class T>
void check_representable(const Lines& in, double v) {
  if (std::abs(v) > static_cast<double>(std::numeric_limits<T>::max()))
    fail(in.path(), in.lineno(), "value " + std::to_string(v) + " overflows the precision in use");
}

template <class T>
AnyMatrix<T> parse(const std::string& path, const std::string& text) {
  Lines in(path, text);
  const MtxInfo info = parse_header(in);
  AnyMatrix<T> out;
  std::string_view l;
  const bool sym = info.symmetry == "symmetric";
  if (!info.coordinate) {
    out.sparse = false;
    out.dense = Matrix<T>(info.rows, info.cols);
    index_t got = 0;
    // Column-major; symmetric files store the lower triangle column by column.
    index_t i = 0, j = 0;
    while (got < info.entries) {
      if (!next_data(in, l))
        fail(path, in.lineno(), "truncated: expected " + std::to_string(info.entries) +
                                    " values, found " + std::to_string(got));
      const auto t = tokens(l);
      for (std::string_view tok : t) {
        if (got == info.entries)
          fail(path, in.lineno(), "more values than the " + std::to_string(info.entries) + " declared");
        const double v = checked_value(in, tok);
        check_representable<T>(in, v);
        out.dense(i, j) = static_cast<T>(v);
        if (sym) out.dense(j, i) = static_cast<T>(v);
        ++got;
        if (++i == info.rows) {
          ++j;
          i = sym ? j : 0;
        }
      }
    }
    if (next_data(in, l))
      fail(path, in.lineno(), "more values than the " + std::to_string(info.entries) + " declared");
    return out;
  }
  std::vector<index_t> I, J;
  std::vector<T> V;
  const std::size_t reserve = static_cast<std::size_t>(info.entries) * (sym ? 2 : 1);
  I.reserve(reserve);
  J.reserve(reserve);
  V.reserve(reserve);
  const bool pattern = info.field == "pattern";
  const std::size_t want = pattern ? 2 : 3;
  for (index_t e = 0; e < info.entries; ++e) {
    if (!next_data(in, l))
      fail(path, in.lineno(), "truncated: expected " + std::to_string(info.entries) +
                                  " entries, found " + std::to_string(e));
    const auto t = tokens(l);
    index_t i = 0, j = 0;
    if (t.size() != want || !parse_int(t[0], i) || !parse_int(t[1], j))
      fail(path, in.lineno(), "malformed entry '" + std::string(l.substr(0, 80)) + "': expected '" +
                                  (pattern ? "row col" : "row col value") + "' with 1-based indices");
    if (i < 1 || i > info.rows || j < 1 || j > info.cols)
      fail(path, in.lineno(), "entry (" + std::to_string(i) + ", " + std::to_string(j) +
                                  ") is outside the " + shape_string(info.rows, info.cols) +
                                  " matrix (indices are 1-based)");
    const double v = pattern ? 1.0 : checked_value(in, t[2]);
    check_representable<T>(in, v);
    I.push_back(i - 1);
    J.push_back(j - 1);
    V.push_back(static_cast<T>(v));
    if (sym && i != j) {
      if (i < j)
        fail(path, in.lineno(), "symmetric file has an entry above the diagonal");
      I.push_back(j - 1);
      J.push_back(i - 1);
      V.push_back(static_cast<T>(v));
    }
  }
  if (next_data(in, l))
    fail(path, in.lineno(), "more entries than the " + std::to_string(info.entries) + " declared");
  out.sparse = true;
  try {
    out.csc = CscMatrix<T>::from_triplets(info.rows, info.cols, I, J, V);
  } catch (const InvalidArgument& e) {
    fail(path, 0, e.what());
  }
  return out;
}

// ---- writing ------------------------------------------------------------------------------

std::string dir_of(const std::string& path) {
  const auto s = path.find_last_of('/');
  return s == std::string::npos ? std::string(".") : (s == 0 ? std::string("/") : path.substr(0, s));
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

/// Writes @p content to a temporary in the destination's directory (gzip-compressed when
/// @p gz), syncs it, then renames it over @p path. On failure the temporary is removed.
void write_atomic(const std::string& path, const std::string& content, bool gz) {
  if (path.empty()) throw IoError("output path is empty");
  std::string tmpl = path + ".tmp-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  const int fd = mkstemp(name.data());
  if (fd < 0)
    fail(path, 0, std::string("cannot create a temporary file in ") + dir_of(path) + ": " +
                      std::strerror(errno));
  const std::string tmp(name.data());
  auto cleanup = [&](const std::string& msg) {
    ::unlink(tmp.c_str());
    fail(path, 0, msg);
  };
  if (gz) {
    gzFile g = gzdopen(fd, "wb6");
    if (!g) {
      ::close(fd);
      cleanup("cannot start gzip stream");
    }
    std::size_t off = 0;
    while (off < content.size()) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(content.size() - off, 1u << 30));
      if (gzwrite(g, content.data() + off, chunk) != static_cast<int>(chunk)) {
        gzclose(g);
        cleanup("write failed (disk full?)");
      }
      off += chunk;
    }
    if (gzclose(g) != Z_OK) cleanup("write failed while closing the gzip stream");
    // gzclose closed fd; reopen to fsync.
    const int f2 = ::open(tmp.c_str(), O_RDONLY);
    if (f2 >= 0) {
      ::fsync(f2);
      ::close(f2);
    }
  } else {
    std::size_t off = 0;
    while (off < content.size()) {
      const ssize_t w = ::write(fd, content.data() + off, content.size() - off);
      if (w < 0) {
        if (errno == EINTR) continue;
        const std::string err = std::strerror(errno);
        ::close(fd);
        cleanup("write failed: " + err);
      }
      off += static_cast<std::size_t>(w);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) cleanup(std::string("write failed: ") + std::strerror(errno));
  }
  // mkstemp creates 0600; give the result the usual permissions (umask applies).
  const mode_t um = ::umask(0);
  ::umask(um);
  ::chmod(tmp.c_str(), 0666 & ~um);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    cleanup(std::string("cannot rename the temporary file into place: ") + std::strerror(errno));
}

template <class T>
void append_value(std::string& out, T v) {
  char buf[40];
  const int prec = std::is_same<T, float>::value ? 9 : 17;
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, prec);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, index_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_comment(std::string& out, const std::string& comment) {
  std::size_t b = 0;
  while (b < comment.size()) {
    std::size_t e = comment.find('\n', b);
    if (e == std::string::npos) e = comment.size();
    out += "% ";
    out.append(comment, b, e - b);
    out += '\n';
    b = e + 1;
  }
}

std::vector<std::string_view> content_lines(const std::string& text) {
  std::vector<std::string_view> lines;
  std::size_t b = 0;
  while (b < text.size()) {
    std::size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    std::string_view l = std::string_view(text).substr(b, e - b);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
    b = e + 1;
  }
  while (!lines.empty() && blank(lines.back())) lines.pop_back();
  return lines;
}

std::string_view trim(std::string_view l) {
  while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
  while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
  return l;
}

void check_count(const std::string& path, const char* what, std::size_t got, index_t expected) {
  if (expected >= 0 && static_cast<index_t>(got) != expected)
    throw InvalidArgument(path + ": " + std::to_string(got) + " " + what + " but the data has " +
                          std::to_string(expected) + " columns; one per column is required");
}

}  // namespace

MtxInfo read_mtx_info(const std::string& path) {
  const std::string text = slurp(path);
  Lines in(path, text);
  return parse_header(in);
}

template <class T>
AnyMatrix<T> read_mtx(const std::string& path) {
  return parse<T>(path, slurp(path));
}

template <class T>
Matrix<T> read_dense(const std::string& path) {
  AnyMatrix<T> m = read_mtx<T>(path);
  return m.sparse ? m.csc.to_dense() : std::move(m.dense);
}

template <class T>
CscMatrix<T> read_sparse(const std::string& path) {
  AnyMatrix<T> m = read_mtx<T>(path);
  return m.sparse ? std::move(m.csc) : CscMatrix<T>::from_dense(m.dense.view());
}

template <class T>
void write_mtx(const std::string& path, MatrixView<const T> A, const std::string& comment) {
  std::string out;
  out.reserve(static_cast<std::size_t>(A.rows * A.cols) * 24 + 128);
  out += "%%MatrixMarket matrix array real general\n";
  append_comment(out, comment);
  append_int(out, A.rows);
  out += ' ';
  append_int(out, A.cols);
  out += '\n';
  for (index_t j = 0; j < A.cols; ++j)
    for (index_t i = 0; i < A.rows; ++i) {
      append_value(out, A(i, j));
      out += '\n';
    }
  write_atomic(path, out, ends_with(path, ".gz"));
}

template <class T>
void write_mtx(const std::string& path, const CscMatrix<T>& A, const std::string& comment) {
  std::string out;
  out.reserve(static_cast<std::size_t>(A.nnz()) * 40 + 128);
  out += "%%MatrixMarket matrix coordinate real general\n";
  append_comment(out, comment);
  append_int(out, A.rows());
  out += ' ';
  append_int(out, A.cols());
  out += ' ';
  append_int(out, A.nnz());
  out += '\n';
  for (index_t j = 0; j < A.cols(); ++j)
    for (index_t p = A.colptr()[static_cast<std::size_t>(j)]; p < A.colptr()[static_cast<std::size_t>(j + 1)]; ++p) {
      append_int(out, A.rowind()[static_cast<std::size_t>(p)] + 1);
      out += ' ';
      append_int(out, j + 1);
      out += ' ';
      append_value(out, A.values()[static_cast<std::size_t>(p)]);
      out += '\n';
    }
  write_atomic(path, out, ends_with(path, ".gz"));
}

std::vector<int> read_labels(const std::string& path, index_t expected_count, int num_classes) {
  const std::string text = slurp(path);
  const auto lines = content_lines(text);
  if (lines.empty()) fail(path, 0, "label file is empty");
  std::vector<int> labels;
  labels.reserve(lines.size());
  for (std::size_t q = 0; q < lines.size(); ++q) {
    const std::string_view t = trim(lines[q]);
    index_t v = 0;
    if (!parse_int(t, v) || v < 0 || v > 1000000000)
      fail(path, static_cast<index_t>(q + 1),
           "expected a 0-based class label (nonnegative integer), got '" +
               std::string(t.substr(0, 40)) + "'");
    if (num_classes > 0 && v >= num_classes)
      throw InvalidArgument(path + ":" + std::to_string(q + 1) + ": label " + std::to_string(v) +
                            " is out of range: there are " + std::to_string(num_classes) +
                            " classes (labels 0.." + std::to_string(num_classes - 1) + ")");
    labels.push_back(static_cast<int>(v));
  }
  check_count(path, "labels", labels.size(), expected_count);
  return labels;
}

std::vector<std::uint8_t> read_mask(const std::string& path, index_t expected_count) {
  const std::string text = slurp(path);
  const auto lines = content_lines(text);
  if (lines.empty()) fail(path, 0, "mask file is empty");
  std::vector<std::uint8_t> mask;
  mask.reserve(lines.size());
  for (std::size_t q = 0; q < lines.size(); ++q) {
    const std::string_view t = trim(lines[q]);
    if (t != "0" && t != "1")
      fail(path, static_cast<index_t>(q + 1),
           "expected 0 or 1 (1 = label known), got '" + std::string(t.substr(0, 40)) + "'");
    mask.push_back(t == "1" ? 1 : 0);
  }
  check_count(path, "mask entries", mask.size(), expected_count);
  return mask;
}

std::vector<index_t> read_indices(const std::string& path, index_t bound) {
  const std::string text = slurp(path);
  const auto lines = content_lines(text);
  if (lines.empty()) fail(path, 0, "index file is empty");
  std::vector<index_t> idx;
  idx.reserve(lines.size());
  for (std::size_t q = 0; q < lines.size(); ++q) {
    const std::string_view t = trim(lines[q]);
    index_t v = 0;
    if (!parse_int(t, v) || v < 0)
      fail(path, static_cast<index_t>(q + 1),
           "expected a 0-based index, got '" + std::string(t.substr(0, 40)) + "'");
    if (bound >= 0 && v >= bound)
      throw InvalidArgument(path + ":" + std::to_string(q + 1) + ": index " + std::to_string(v) +
                            " is out of range [0, " + std::to_string(bound) + ")");
    idx.push_back(v);
  }
  return idx;
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::string text = slurp(path);
  std::vector<std::string> out;
  for (std::string_view l : content_lines(text)) out.emplace_back(l);
  return out;
}

void write_labels(const std::string& path, const std::vector<int>& labels) {
  std::string out;
  for (int v : labels) {
    append_int(out, v);
    out += '\n';
  }
  write_atomic(path, out, ends_with(path, ".gz"));
}

void write_file_atomic(const std::string& path, const std::string& content) {
  write_atomic(path, content, false);
}

template AnyMatrix<float> read_mtx<float>(const std::string&);
template AnyMatrix<double> read_mtx<double>(const std::string&);
template Matrix<float> read_dense<float>(const std::string&);
template Matrix<double> read_dense<double>(const std::string&);
template CscMatrix<float> read_sparse<float>(const std::string&);
template CscMatrix<double> read_sparse<double>(const std::string&);
template void write_mtx<float>(const std::string&, MatrixView<const float>, const std::string&);
template void write_mtx<double>(const std::string&, MatrixView<const double>, const std::string&);
template void write_mtx<float>(const std::string&, const CscMatrix<float>&, const std::string&);
template void write_mtx<double>(const std::string&, const CscMatrix<double>&, const std::string&);

}  // namespace nnmf::io
