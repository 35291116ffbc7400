// Label, mask, index and plain-line files: streamed line by line, bounded by what they
// declare (the expected count) and by the memory budget, never by what a file claims.
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/checked.hpp"
#include "core/io/source.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"

namespace nnmf::io {
namespace {

using detail::LineReader;

constexpr std::size_t kMaxTrailingBlank = std::size_t{1} << 20;

std::string shown(std::string_view t) {
  std::string r(t.substr(0, 40));
  for (char& c : r)
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  return "'" + r + (t.size() > 40 ? "...'" : "'");
}

/// Calls @p take(trimmed line) for every line of a one-item-per-line file. Blank lines may only
/// end the file. Stops with an error as soon as there are more items than @p expected (>= 0).
template <class F>
void for_each_item(const std::string& path, const char* what, index_t expected, F take) {
  LineReader in(path);
  std::string_view l;
  index_t count = 0, blank_run_line = 0;
  std::size_t blank_bytes = 0;
  while (in.next(l)) {
    const std::string_view t = detail::trim(l);
    if (t.empty()) {
      if (blank_run_line == 0) blank_run_line = in.lineno();
      blank_bytes += l.size() + 1;
      if (blank_bytes > kMaxTrailingBlank) in.fail("more than 1 MiB of blank lines");
      continue;
    }
    if (blank_run_line > 0)
      detail::fail(path, blank_run_line, std::string("blank line in the middle of the ") + what);
    if (expected >= 0 && count == expected)
      throw InvalidArgument(path + ":" + std::to_string(in.lineno()) + ": more " + what +
                            " than the " + std::to_string(expected) +
                            " columns of the data; one per column is required");
    take(t, in);
    ++count;
  }
  if (count == 0) detail::fail(path, 0, std::string(what) + " file is empty");
  if (expected >= 0 && count != expected)
    throw InvalidArgument(path + ": " + std::to_string(count) + " " + what + " but the data has " +
                          std::to_string(expected) + " columns; one per column is required");
}

bool parse_index(std::string_view t, index_t& v) {
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

/// Grows @p v by one, refusing to pass the memory budget (a gzip of "0\n" lines inflates
/// a thousandfold).
template <class V>
void check_room(const LineReader& in, const V& v) {
  if (v.size() == v.capacity() &&
      (v.size() + 1) * 2 * sizeof(typename V::value_type) > nnmf::detail::memory_budget())
    in.fail("the file holds more lines than fit in the memory budget (" +
            nnmf::detail::memory_budget_source() + ")");
}

}  // namespace

std::vector<int> read_labels(const std::string& path, index_t expected_count, int num_classes) {
  std::vector<int> labels;
  index_t max_label = -1, max_line = 0;
  for_each_item(path, "labels", expected_count, [&](std::string_view t, const LineReader& in) {
    index_t v = 0;
    if (!parse_index(t, v) || v < 0 || v > 1000000000)
      in.fail("expected a 0-based class label (nonnegative integer), got " + shown(t));
    if (num_classes > 0 && v >= num_classes)
      throw InvalidArgument(path + ":" + std::to_string(in.lineno()) + ": label " +
                            std::to_string(v) + " is out of range: there are " +
                            std::to_string(num_classes) + " classes (labels 0.." +
                            std::to_string(num_classes - 1) + ")");
    if (v > max_label) {
      max_label = v;
      max_line = in.lineno();
    }
    check_room(in, labels);
    labels.push_back(static_cast<int>(v));
  });
  // The class count (max label + 1) sizes a classes x columns matrix: a class per column at most.
  if (num_classes <= 0 && max_label >= static_cast<index_t>(labels.size()))
    throw InvalidArgument(path + ":" + std::to_string(max_line) + ": label " +
                          std::to_string(max_label) + " implies " + std::to_string(max_label + 1) +
                          " classes, more than the " + std::to_string(labels.size()) +
                          " labelled columns (labels are 0-based class indices)");
  return labels;
}

std::vector<std::uint8_t> read_mask(const std::string& path, index_t expected_count) {
  std::vector<std::uint8_t> mask;
  for_each_item(path, "mask entries", expected_count, [&](std::string_view t, const LineReader& in) {
    if (t != "0" && t != "1") in.fail("expected 0 or 1 (1 = label known), got " + shown(t));
    check_room(in, mask);
    mask.push_back(t == "1" ? 1 : 0);
  });
  return mask;
}

std::vector<index_t> read_indices(const std::string& path, index_t bound) {
  std::vector<index_t> idx;
  for_each_item(path, "indices", -1, [&](std::string_view t, const LineReader& in) {
    index_t v = 0;
    if (!parse_index(t, v) || v < 0) in.fail("expected a 0-based index, got " + shown(t));
    if (bound >= 0 && v >= bound)
      throw InvalidArgument(path + ":" + std::to_string(in.lineno()) + ": index " +
                            std::to_string(v) + " is out of range [0, " + std::to_string(bound) + ")");
    check_room(in, idx);
    idx.push_back(v);
  });
  return idx;
}

std::vector<std::string> read_lines(const std::string& path) {
  LineReader in(path);
  std::vector<std::string> out;
  std::string_view l;
  std::uint64_t bytes = 0;
  const std::uint64_t budget = nnmf::detail::memory_budget();
  while (in.next(l)) {
    bytes += l.size() + sizeof(std::string);
    if (bytes > budget / 2)
      in.fail("the file's lines do not fit in the memory budget (" +
              nnmf::detail::memory_budget_source() + ")");
    out.emplace_back(l);
  }
  while (!out.empty() && detail::blank(out.back())) out.pop_back();
  return out;
}

}  // namespace nnmf::io
