// Checked size arithmetic and the memory budget of readers. Every product of sizes that comes
// from a file (rows x cols, x sizeof(T), packed triangles, entry counts) goes through these
// before it reaches an allocation or an index, so a crafted header cannot wrap around.
#pragma once

#include <cstdint>
#include <string>

#include "nnmf/matrix.hpp"

namespace nnmf::detail {

/// a * b into @p out; false when an operand is negative or the product overflows index_t.
inline bool checked_mul(index_t a, index_t b, index_t& out) {
  if (a < 0 || b < 0) return false;
  return !__builtin_mul_overflow(a, b, &out);
}

/// a + b into @p out; false when an operand is negative or the sum overflows index_t.
inline bool checked_add(index_t a, index_t b, index_t& out) {
  if (a < 0 || b < 0) return false;
  return !__builtin_add_overflow(a, b, &out);
}

/// a * b * c, or -1 when it overflows (operands nonnegative).
inline index_t checked_mul3(index_t a, index_t b, index_t c) {
  index_t ab = 0, abc = 0;
  if (!checked_mul(a, b, ab) || !checked_mul(ab, c, abc)) return -1;
  return abc;
}

/// Bytes one object read from a file may take: the environment variable NNMF_MEMORY_LIMIT
/// (bytes, or with a K/M/G/T suffix) when set, else the memory available now (MemAvailable,
/// or the physical memory where that is unknown).
std::uint64_t memory_budget();

/// Where memory_budget() comes from, for error messages.
std::string memory_budget_source();

/// "24.0 GB".
std::string byte_string(double bytes);

}  // namespace nnmf::detail
