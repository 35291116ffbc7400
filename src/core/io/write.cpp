// Writing: every file goes to a temporary beside its destination and is renamed into place
// when complete; a destination that exists and is not a regular file is refused.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/checked.hpp"
#include "core/io/source.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"

namespace nnmf::io {
namespace {

using detail::fail;

// ---- writing ------------------------------------------------------------------------------

std::string dir_of(const std::string& path) {
  const auto s = path.find_last_of('/');
  return s == std::string::npos ? std::string(".") : (s == 0 ? std::string("/") : path.substr(0, s));
}

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

/// Refuses a destination that exists and is not a regular file: renaming over a device node,
/// a FIFO, a socket or a symlink would replace it (as root, /dev/full) instead of writing to it.
void check_destination(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;  // does not exist yet: fine
  if (S_ISREG(st.st_mode)) return;
  fail(path, 0, "refusing to write: the output path exists and is " + detail::file_kind(st.st_mode) +
                    " (only regular files are replaced)");
}

/// Writes @p content to a temporary in the destination's directory (gzip-compressed when
/// @p gz), syncs it, then renames it over @p path. On failure the temporary is removed.
void write_atomic(const std::string& path, const std::string& content, bool gz) {
  if (path.empty()) throw IoError("output path is empty");
  check_destination(path);
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

}  // namespace

template <class T>
void write_mtx(const std::string& path, MatrixView<const T> A, const std::string& comment) {
  std::string out;
  const index_t n = nnmf::detail::checked_mul3(A.rows, A.cols, 24);
  if (n < 0) throw InvalidArgument("write_mtx: a " + shape_string(A.rows, A.cols) + " matrix is too large to write");
  out.reserve(static_cast<std::size_t>(n) + 128);
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

template <class T>
void write_npy(const std::string& path, MatrixView<const T> A) {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "float or double");
  std::string header = std::string("{'descr': '<f") + (sizeof(T) == 8 ? "8" : "4") +
                       "', 'fortran_order': True, 'shape': (" + std::to_string(A.rows) + ", " +
                       std::to_string(A.cols) + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n', padded with spaces to 64 bytes.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  // The matrix is in memory, so rows x cols x sizeof(T) fits in size_t.
  out.reserve(out.size() + static_cast<std::size_t>(A.rows) * static_cast<std::size_t>(A.cols) * sizeof(T));
  for (index_t j = 0; j < A.cols && A.rows > 0; ++j)
    out.append(reinterpret_cast<const char*>(&A(0, j)), static_cast<std::size_t>(A.rows) * sizeof(T));
  write_atomic(path, out, false);
}

template void write_npy<float>(const std::string&, MatrixView<const float>);
template void write_npy<double>(const std::string&, MatrixView<const double>);
template void write_mtx<float>(const std::string&, MatrixView<const float>, const std::string&);
template void write_mtx<double>(const std::string&, MatrixView<const double>, const std::string&);
template void write_mtx<float>(const std::string&, const CscMatrix<float>&, const std::string&);
template void write_mtx<double>(const std::string&, const CscMatrix<double>&, const std::string&);

}  // namespace nnmf::io
