#include "core/io/source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "nnmf/error.hpp"

namespace nnmf::io::detail {

void fail(const std::string& path, index_t line, const std::string& msg) {
  if (line > 0) throw IoError(path + ":" + std::to_string(line) + ": " + msg);
  throw IoError(path + ": " + msg);
}

namespace {
constexpr std::size_t kChunk = std::size_t{1} << 16;
bool gzip_magic(const std::string& b, std::size_t at) {
  return b.size() >= at + 2 && static_cast<unsigned char>(b[at]) == 0x1f &&
         static_cast<unsigned char>(b[at + 1]) == 0x8b;
}
}  // namespace

struct ByteSource::Inflater {
  z_stream z{};
  bool member_done = false;
  Inflater() {
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw IoError("zlib: cannot start a gzip stream");
  }
  ~Inflater() { inflateEnd(&z); }
};

ByteSource::ByteSource(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(path, 0, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    fail(path, 0, "is a directory, not a file");
  }
  // Sniff the magic: up to two bytes (a read may return fewer than asked).
  while (in_.size() < 2 && refill_input()) {
  }
  gzip_ = gzip_magic(in_, 0);
  if (gzip_) z_ = std::make_unique<Inflater>();
}

ByteSource::~ByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

/// Appends up to kChunk bytes of the file to in_; false at the end of the file.
bool ByteSource::refill_input() {
  if (eof_) return false;
  const std::size_t old = in_.size();
  in_.resize(old + kChunk);
  for (;;) {
    const ssize_t got = ::read(fd_, &in_[old], kChunk);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      in_.resize(old);
      fail(path_, 0, std::string("read error: ") + std::strerror(errno));
    }
    in_.resize(old + static_cast<std::size_t>(got));
    if (got == 0) eof_ = true;
    return got > 0;
  }
}

std::size_t ByteSource::read(char* buf, std::size_t n) {
  return gzip_ ? read_gzip(buf, n) : read_raw(buf, n);
}

std::size_t ByteSource::read_raw(char* buf, std::size_t n) {
  if (in_pos_ < in_.size()) {
    const std::size_t k = std::min(n, in_.size() - in_pos_);
    std::memcpy(buf, in_.data() + in_pos_, k);
    in_pos_ += k;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
    return k;
  }
  for (;;) {
    if (eof_) return 0;
    const ssize_t got = ::read(fd_, buf, n);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(path_, 0, std::string("read error: ") + std::strerror(errno));
    if (got == 0) eof_ = true;
    return static_cast<std::size_t>(got);
  }
}

std::size_t ByteSource::read_gzip(char* buf, std::size_t n) {
  z_stream& z = z_->z;
  z.next_out = reinterpret_cast<Bytef*>(buf);
  z.avail_out = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
  while (z.avail_out > 0) {
    if (z_->member_done) {
      // A member ended: what follows must be another member or nothing at all.
      while (in_.size() - in_pos_ < 2 && refill_input()) {
      }
      if (in_pos_ == in_.size()) break;  // clean end of the data
      if (!gzip_magic(in_, in_pos_))
        fail(path_, 0, "trailing data after the gzip stream (" + std::to_string(in_.size() - in_pos_) +
                           "+ bytes that are not gzip data)");
      inflateReset(&z);
      z_->member_done = false;
    }
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
      if (!refill_input()) fail(path_, 0, "truncated gzip data (the stream ends early)");
    }
    z.next_in = reinterpret_cast<Bytef*>(&in_[in_pos_]);
    z.avail_in = static_cast<uInt>(in_.size() - in_pos_);
    const int rc = inflate(&z, Z_NO_FLUSH);
    in_pos_ = in_.size() - z.avail_in;
    if (rc == Z_STREAM_END) {
      z_->member_done = true;
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      fail(path_, 0, std::string("corrupt gzip data: ") + (z.msg ? z.msg : "inflate failed"));
  }
  return static_cast<std::size_t>(reinterpret_cast<char*>(z.next_out) - buf);
}

LineReader::LineReader(const std::string& path, std::size_t max_line)
    : path_(path), src_(path), max_line_(max_line) {}

/// Reads more bytes behind the unread part of buf_; false at the end of the input.
bool LineReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  buf_.resize(end_ + kChunk);
  const std::size_t got = src_.read(&buf_[end_], kChunk);
  end_ += got;
  buf_.resize(end_);
  if (got == 0) eof_ = true;
  return got > 0;
}

bool LineReader::next(std::string_view& line) {
  std::size_t scanned = pos_;
  for (;;) {
    const void* nl = std::memchr(buf_.data() + scanned, '\n', end_ - scanned);
    if (nl) {
      const std::size_t e = static_cast<std::size_t>(static_cast<const char*>(nl) - buf_.data());
      if (e - pos_ > max_line_) break;
      line = std::string_view(buf_.data() + pos_, e - pos_);
      pos_ = e + 1;
      ++lineno_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
    if (end_ - pos_ > max_line_) break;
    const std::size_t unread = end_ - pos_;
    if (!fill()) {
      if (pos_ == end_) return false;
      line = std::string_view(buf_.data() + pos_, end_ - pos_);  // last line, no line end
      pos_ = end_;
      ++lineno_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      return true;
    }
    scanned = pos_ + unread;
  }
  ++lineno_;
  fail("line longer than " + std::to_string(max_line_) +
       " bytes (not a text file of the expected format?)");
}

void LineReader::fail(const std::string& msg) const { detail::fail(path_, lineno_, msg); }

std::string file_kind(unsigned mode) {
  const mode_t m = static_cast<mode_t>(mode);
  if (S_ISDIR(m)) return "a directory";
  if (S_ISLNK(m)) return "a symbolic link";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return S_ISREG(m) ? "a regular file" : "not a regular file";
}

bool blank(std::string_view l) {
  return std::all_of(l.begin(), l.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

std::string_view trim(std::string_view l) {
  while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
  while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
  return l;
}

}  // namespace nnmf::io::detail
