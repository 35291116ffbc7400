// libFuzzer harness: the Matrix Market reader on arbitrary bytes (plain or gzip: the reader
// recognises gzip by its magic, so gzip seeds exercise the inflating path).
#include <cstddef>
#include <cstdint>

#include "fuzz_common.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nnmf::fuzz::limit_memory();
  nnmf::fuzz::MemFile f(data, size);
  try {
    (void)nnmf::io::read_mtx<double>(f.path());
  } catch (const nnmf::Error&) {
  }
  try {
    (void)nnmf::io::read_mtx<float>(f.path());
  } catch (const nnmf::Error&) {
  }
  return 0;
}
