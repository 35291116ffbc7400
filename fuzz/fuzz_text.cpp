// libFuzzer harness: the label, mask, index and plain-line readers, called as the tool calls
// them (with and without an expected count).
#include <cstddef>
#include <cstdint>

#include "fuzz_common.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nnmf::fuzz::limit_memory();
  nnmf::fuzz::MemFile f(data, size);
  const auto quiet = [](auto&& fn) {
    try {
      fn();
    } catch (const nnmf::Error&) {
    }
  };
  quiet([&] { (void)nnmf::io::read_labels(f.path()); });
  quiet([&] { (void)nnmf::io::read_labels(f.path(), 90, 9); });
  quiet([&] { (void)nnmf::io::read_mask(f.path()); });
  quiet([&] { (void)nnmf::io::read_mask(f.path(), 90); });
  quiet([&] { (void)nnmf::io::read_indices(f.path(), 200); });
  quiet([&] { (void)nnmf::io::read_lines(f.path()); });
  return 0;
}
