// Shared by the libFuzzer harnesses: the input bytes become a file (in memory, through
// memfd_create) whose path the reader opens exactly as the tool opens a user's file.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace nnmf::fuzz {

class MemFile {
 public:
  MemFile(const std::uint8_t* data, std::size_t size) {
    fd_ = ::memfd_create("nnmf-fuzz", MFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    std::size_t off = 0;
    while (off < size) {
      const ssize_t w = ::write(fd_, data + off, size - off);
      if (w <= 0) std::abort();
      off += static_cast<std::size_t>(w);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// A modest memory budget, so that a header declaring gigabytes is rejected as it would be
/// on a small machine (and libFuzzer's RSS limit is never the one to stop it).
inline void limit_memory() { ::setenv("NNMF_MEMORY_LIMIT", "256M", 1); }

}  // namespace nnmf::fuzz
