// libFuzzer harness: the Matrix Market reader behind gzip. The input is compressed before it
// is read, so the fuzzer explores the parser through the inflating path (corrupt streams
// are covered by fuzz_mtx, whose seeds include gzip files).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "nnmf/error.hpp"
#include "nnmf/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nnmf::fuzz::limit_memory();
  // Split point: the first byte chooses where a second gzip member starts.
  const std::size_t cut = size > 0 ? (data[0] * size) / 256 : 0;
  std::vector<std::uint8_t> gz;
  for (int part = 0; part < 2; ++part) {
    const std::uint8_t* p = data + (part == 0 ? 0 : cut);
    const std::size_t n = part == 0 ? cut : size - cut;
    if (part == 1 && n == 0) break;
    z_stream z{};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    std::vector<std::uint8_t> out(deflateBound(&z, n) + 32);
    z.next_in = const_cast<Bytef*>(p);
    z.avail_in = static_cast<uInt>(n);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    gz.insert(gz.end(), out.begin(), out.end());
  }
  nnmf::fuzz::MemFile f(gz.data(), gz.size());
  try {
    (void)nnmf::io::read_mtx<double>(f.path());
  } catch (const nnmf::Error&) {
  }
  return 0;
}
