// libFuzzer harness: the Matrix Market reader on arbitrary bytes (plain or gzip: the reader
// recognises gzip by its magic, so gzip seeds exercise the inflating path), whole and by the
// columns one process of an MPI run reads (a block, and a set in a given order, chosen from
// the input's size so that both in-range and out-of-range choices occur).
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
  const auto c = static_cast<nnmf::index_t>(size % 7), d = static_cast<nnmf::index_t>((size / 7) % 5);
  try {
    (void)nnmf::io::read_mtx_columns<double>(f.path(), c % 3, d);
  } catch (const nnmf::Error&) {
  }
  try {
    (void)nnmf::io::read_mtx_column_set<double>(f.path(), {d, c, 0});
  } catch (const nnmf::Error&) {
  }
  return 0;
}
