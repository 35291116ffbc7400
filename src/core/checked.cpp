#include "core/checked.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace nnmf::detail {
namespace {

/// NNMF_MEMORY_LIMIT parsed, or 0 when unset or malformed.
std::uint64_t env_limit() {
  const char* s = std::getenv("NNMF_MEMORY_LIMIT");
  if (!s || !*s) return 0;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || !(v > 0)) return 0;
  double mult = 1;
  switch (std::toupper(static_cast<unsigned char>(*end))) {
    case 'K': mult = 1024.0; break;
    case 'M': mult = 1024.0 * 1024; break;
    case 'G': mult = 1024.0 * 1024 * 1024; break;
    case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
    default: break;
  }
  const double b = v * mult;
  return b >= 1.8e19 ? UINT64_MAX : static_cast<std::uint64_t>(b);
}

std::uint64_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                               : UINT64_MAX;
}

}  // namespace

std::uint64_t memory_budget() {
  const std::uint64_t e = env_limit();
  return e > 0 ? e : mem_available();
}

std::string memory_budget_source() {
  return env_limit() > 0 ? "NNMF_MEMORY_LIMIT" : "the memory available; set NNMF_MEMORY_LIMIT to change";
}

std::string byte_string(double bytes) {
  const char* unit[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
  int u = 0;
  while (bytes >= 1000 && u < 6) {
    bytes /= 1000;
    ++u;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, unit[u]);
  return buf;
}

}  // namespace nnmf::detail
