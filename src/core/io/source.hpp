// Streaming input for the text readers: bytes of a plain or gzip file, and the lines of them.
// Nothing reads a whole file into memory: a reader keeps one line (at most max_line bytes) and
// what it has parsed, so a small compressed file cannot make it hold gigabytes of text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nnmf/matrix.hpp"

namespace nnmf::io::detail {

[[noreturn]] void fail(const std::string& path, index_t line, const std::string& msg);

/// The bytes of a file; gzip data (recognised by its magic, whatever the name) is inflated
/// member after member, and anything after the last member that is not another gzip member
/// is an error, as is a truncated or corrupt stream.
class ByteSource {
 public:
  explicit ByteSource(const std::string& path);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;
  /// Up to @p n bytes into @p buf; 0 only at the end of the data.
  std::size_t read(char* buf, std::size_t n);
  bool gzip() const { return gzip_; }

 private:
  std::size_t read_raw(char* buf, std::size_t n);
  std::size_t read_gzip(char* buf, std::size_t n);
  bool refill_input();
  struct Inflater;
  std::string path_;
  int fd_ = -1;
  bool gzip_ = false;
  bool eof_ = false;
  std::unique_ptr<Inflater> z_;
  std::string in_;          // compressed input buffer (gzip) or the sniffed first bytes (plain)
  std::size_t in_pos_ = 0;  // plain: bytes of in_ already returned
};

/// Line cursor over a ByteSource that counts lines for error messages. A line longer than
/// @p max_line bytes is an error, so binary junk or a file without line ends is rejected
/// after at most that many bytes.
class LineReader {
 public:
  explicit LineReader(const std::string& path, std::size_t max_line = std::size_t{1} << 20);
  /// Next line without its end ("\n" or "\r\n"); false at the end of input. The view is
  /// valid until the next call.
  bool next(std::string_view& line);
  index_t lineno() const { return lineno_; }
  const std::string& path() const { return path_; }
  /// Throws IoError naming the file and the current line.
  [[noreturn]] void fail(const std::string& msg) const;

 private:
  bool fill();
  std::string path_;
  ByteSource src_;
  std::size_t max_line_;
  std::string buf_;
  std::size_t pos_ = 0, end_ = 0;
  bool eof_ = false;
  index_t lineno_ = 0;
};

bool blank(std::string_view l);

/// What a stat mode is, for messages: "a directory", "a symbolic link", "a FIFO", ...
std::string file_kind(unsigned mode);
std::string_view trim(std::string_view l);

}  // namespace nnmf::io::detail
