// libFuzzer harness: the model reader on arbitrary bytes. The checksum would stop almost every
// mutation at the door, so the harness fixes the CRC of inputs that start with the magic,
// letting the fuzzer reach the checks behind it (sizes, counts, metadata).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "nnmf/error.hpp"
#include "nnmf/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nnmf::fuzz::limit_memory();
  std::vector<std::uint8_t> d(data, data + size);
  if (size >= 28 && std::memcmp(data, "NNMFMODL", 8) == 0) {
    const auto crc = static_cast<std::uint32_t>(crc32(0L, d.data(), static_cast<uInt>(size - 4)));
    std::memcpy(d.data() + size - 4, &crc, 4);
  }
  nnmf::fuzz::MemFile f(d.data(), d.size());
  try {
    (void)nnmf::NeuralNmf<double>::load(f.path());
  } catch (const nnmf::Error&) {
  }
  try {
    (void)nnmf::NeuralNmf<float>::load(f.path());
  } catch (const nnmf::Error&) {
  }
  return 0;
}
