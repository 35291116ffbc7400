// Crafted and hostile files: sizes that overflow, declared data beyond the memory budget,
// compression bombs, trailing garbage, outputs that are not regular files, corrupt models.
// Each case here crashed, over-allocated or was accepted before the readers were hardened.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

class Hostile : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    ::setenv("NNMF_MEMORY_LIMIT", "1G", 1);
  }
  void TearDown() override {
    ::unsetenv("NNMF_MEMORY_LIMIT");
    TempDirTest::TearDown();
  }
  /// @p content gzip-compressed (level 9) into @p name.
  std::string write_gz(const std::string& name, const std::string& content) const {
    gzFile g = gzopen(path(name).c_str(), "wb9");
    EXPECT_NE(g, nullptr);
    for (std::size_t off = 0; off < content.size(); off += 1u << 24) {
      const unsigned n = static_cast<unsigned>(std::min<std::size_t>(content.size() - off, 1u << 24));
      EXPECT_EQ(gzwrite(g, content.data() + off, n), static_cast<int>(n));
    }
    gzclose(g);
    return path(name);
  }
};

/// The IoError message of reading @p file as a matrix, or "" when it was accepted.
std::string mtx_error(const std::string& file) {
  try {
    io::read_mtx<double>(file);
  } catch (const IoError& e) {
    return e.what();
  } catch (const InvalidArgument& e) {
    return std::string("InvalidArgument: ") + e.what();
  }
  return "";
}

TEST_F(Hostile, DenseSizesThatOverflowAreRejectedBeforeAllocating) {
  const char* sizes[] = {"4294967296 4294967296", "2147483648 2147483649", "9223372036854775807 2",
                         "4611686018427387904 4", "3037000500 3037000500", "3000000000 1"};
  for (const char* sz : sizes) {
    const std::string f = write("d.mtx", std::string("%%MatrixMarket matrix array real general\n") + sz + "\n1\n2\n");
    const std::string e = mtx_error(f);
    SCOPED_TRACE(sz);
    EXPECT_NE(e.find("d.mtx"), std::string::npos) << e;
    EXPECT_TRUE(e.find("memory budget") != std::string::npos || e.find("overflows") != std::string::npos) << e;
  }
}

TEST_F(Hostile, SymmetricPackedSizeIsChecked) {
  for (const char* n : {"4294967296", "6074001000", "9223372036854775807"}) {
    const std::string f = write("s.mtx", std::string("%%MatrixMarket matrix array real symmetric\n") + n +
                                             " " + n + "\n1\n");
    const std::string e = mtx_error(f);
    EXPECT_TRUE(e.find("memory budget") != std::string::npos || e.find("overflows") != std::string::npos) << e;
  }
}

TEST_F(Hostile, CoordinateCountsBeyondTheShapeOrTheBudget) {
  // More entries than the matrix holds (the product itself overflows for the second).
  EXPECT_NE(mtx_error(write("a.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 5\n")).find("at most 4"),
            std::string::npos);
  EXPECT_NE(mtx_error(write("b.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 7\n"))
                .find("at most 6"),
            std::string::npos);
  // 1e9 declared entries: beyond a 1 GB budget, rejected on the header.
  EXPECT_NE(mtx_error(write("c.mtx", "%%MatrixMarket matrix coordinate real general\n100000 100000 1000000000\n1 1 1\n"))
                .find("memory budget"),
            std::string::npos);
  // A column count whose pointer array cannot exist.
  EXPECT_NE(mtx_error(write("d.mtx", "%%MatrixMarket matrix coordinate real general\n1 4611686018427387904 0\n"))
                .find("memory budget"),
            std::string::npos);
  // Within the budget but a lie: reported as truncated, not allocated up front.
  ::setenv("NNMF_MEMORY_LIMIT", "100G", 1);
  EXPECT_NE(mtx_error(write("e.mtx", "%%MatrixMarket matrix coordinate real general\n100000 100000 1000000000\n1 1 1\n"))
                .find("truncated"),
            std::string::npos);
}

TEST_F(Hostile, GzipOfSpacesOrNulBytesStopsEarly) {
  const std::string e1 = mtx_error(write_gz("spaces.gz", std::string(std::size_t{64} << 20, ' ')));
  EXPECT_NE(e1.find("longer than"), std::string::npos) << e1;
  const std::string e2 = mtx_error(write_gz("nul.gz", std::string(std::size_t{64} << 20, '\0')));
  EXPECT_NE(e2.find("longer than"), std::string::npos) << e2;
  // Blank lines after a valid header: a run of them is bounded too.
  std::string blanks = "%%MatrixMarket matrix coordinate real general\n";
  for (int q = 0; q < (20 << 20) / 4; ++q) blanks += "   \n";
  const std::string e3 = mtx_error(write_gz("blank.gz", blanks));
  EXPECT_NE(e3.find("blank or comment lines"), std::string::npos) << e3;
}

TEST_F(Hostile, TrailingGarbageAfterGzipIsRejectedButMembersAreRead) {
  const std::string body = "%%MatrixMarket matrix array real general\n2 1\n1\n2\n";
  const std::string f = write_gz("x.mtx.gz", body);
  std::ofstream(f, std::ios::binary | std::ios::app) << "garbage";
  EXPECT_NE(mtx_error(f).find("trailing data"), std::string::npos);
  // Two gzip members (as `cat a.gz b.gz` makes) are one stream of text.
  write_gz("p1.gz", "%%MatrixMarket matrix array real general\n2 1\n");
  write_gz("p2.gz", "1\n2\n");
  std::system(("cat " + path("p1.gz") + " " + path("p2.gz") + " > " + path("both.gz")).c_str());
  const auto M = io::read_dense<double>(path("both.gz"));
  EXPECT_EQ(M.rows(), 2);
  EXPECT_EQ(M(1, 0), 2.0);
  // Truncated gzip.
  std::string whole;
  {
    std::ifstream in(f, std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  write("cut.gz", whole.substr(0, whole.size() / 2));
  EXPECT_NE(mtx_error(path("cut.gz")).find("gzip"), std::string::npos);
}

TEST_F(Hostile, FractionalValuesInAnIntegerFileAreRejected) {
  EXPECT_NE(mtx_error(write("i.mtx", "%%MatrixMarket matrix array integer general\n2 1\n1\n2.5\n")).find("integer"),
            std::string::npos);
  EXPECT_NE(mtx_error(write("j.mtx", "%%MatrixMarket matrix coordinate integer general\n2 2 1\n1 1 1e3\n"))
                .find("integer"),
            std::string::npos);
  EXPECT_EQ(mtx_error(write("k.mtx", "%%MatrixMarket matrix array integer general\n2 1\n1\n-2\n")), "");
}

TEST_F(Hostile, LabelsBoundTheClassCountByTheColumns) {
  const std::string f = write("y.txt", "0\n1000000000\n1\n");
  try {
    io::read_labels(f, 3);
    FAIL() << "accepted a label of 1e9 among 3 columns";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("classes"), std::string::npos) << e.what();
  }
  // More labels than columns: stops at the first surplus line.
  EXPECT_THROW(io::read_labels(write("z.txt", "0\n1\n0\n1\n"), 2), InvalidArgument);
  EXPECT_THROW(io::read_mask(write("m.txt", "0\n1\n0\n"), 2), InvalidArgument);
  // Blank lines only at the end.
  EXPECT_THROW(io::read_labels(write("b.txt", "0\n\n1\n"), 2), IoError);
  EXPECT_EQ(io::read_labels(write("c.txt", "0\n1\n\n\n"), 2).size(), 2u);
}

TEST_F(Hostile, OutputsThatAreNotRegularFilesAreRefused) {
  const auto A = random_matrix<double>(2, 2, 1);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  EXPECT_THROW(io::write_mtx<double>(path("fifo"), A.view()), IoError);
  struct stat st {};
  ASSERT_EQ(::lstat(path("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  ASSERT_EQ(::symlink("/dev/full", path("link").c_str()), 0);
  EXPECT_THROW(io::write_mtx<double>(path("link"), A.view()), IoError);
  ASSERT_EQ(::lstat(path("link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  // A socket in the folder stands for a device node: a regression here must not be able to
  // replace a real device (this suite runs as root in CI).
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock = path("sock");
  ASSERT_LT(sock.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_THROW(io::write_labels(sock, {1, 2}), IoError);
  ::close(fd);
  ASSERT_EQ(::lstat(sock.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
}

TEST_F(Hostile, MatricesTooLargeToAddressAreTypedErrors) {
  EXPECT_THROW(Matrix<double>(index_t{1} << 40, index_t{1} << 40), InvalidArgument);
  EXPECT_THROW(Matrix<double>(INT64_MAX, 2), InvalidArgument);
  EXPECT_THROW(Matrix<double>(index_t{1} << 40, 1 << 10), OutOfMemory);
}

// ---- model files --------------------------------------------------------------------------

/// Bytes of a model file with header fields and payload of our choosing and a valid CRC, so
/// that the checks behind the checksum are reached.
std::string model_bytes(const std::string& payload, std::uint32_t value_size = 8) {
  std::string out("NNMFMODL", 8);
  auto put = [&](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(std::uint32_t{1});
  put(value_size);
  put(std::uint64_t{payload.size()});
  out += payload;
  put(static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(out.size()))));
  return out;
}

template <class V>
void put_raw(std::string& s, V v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::string load_error(const std::string& file) {
  try {
    NeuralNmf<double>::load(file);
  } catch (const IoError& e) {
    return e.what();
  }
  return "";
}

TEST_F(Hostile, ModelDeclaredSizesAreCheckedAgainstTheFile) {
  // One layer 2 x 1 and a classifier of 0 x 2^40 (it used to load).
  std::string p;
  put_raw(p, std::uint32_t{1});
  put_raw(p, std::uint64_t{2});
  put_raw(p, std::uint64_t{1});
  put_raw(p, 1.0);
  put_raw(p, 2.0);
  put_raw(p, std::uint64_t{0});
  put_raw(p, std::uint64_t{1} << 40);
  const std::string js = R"({"history":[]})";
  put_raw(p, std::uint64_t{js.size()});
  p += js;
  EXPECT_NE(load_error(write("b.nnmf", model_bytes(p))).find("classifier"), std::string::npos);
  // A matrix whose rows x cols x 8 wraps around 2^64.
  std::string q;
  put_raw(q, std::uint32_t{1});
  put_raw(q, std::uint64_t{1} << 31);
  put_raw(q, std::uint64_t{1} << 31);
  EXPECT_NE(load_error(write("w.nnmf", model_bytes(q))).find("does not fit"), std::string::npos);
  // An epoch of 1e300 in the metadata (a double into an int was undefined behaviour).
  std::string r = p.substr(0, 4 + 16 + 16);
  put_raw(r, std::uint64_t{0});
  put_raw(r, std::uint64_t{0});
  const std::string bad = R"({"history":[{"epoch":1e300,"loss":1,"reconstruction":1,"energy":0,"supervision":0,"step":1,"nnls_iterations":1,"line_search_trials":1}]})";
  put_raw(r, std::uint64_t{bad.size()});
  r += bad;
  EXPECT_NE(load_error(write("e.nnmf", model_bytes(r))).find("epoch"), std::string::npos);
  // Not a regular file.
  EXPECT_NE(load_error("/dev/zero").find("regular file"), std::string::npos);
}

TEST_F(Hostile, ModelTruncatedOrFlippedAtEveryOffsetIsRejected) {
  const auto m = NeuralNmf<double>::from_factors({random_matrix<double>(6, 3, 1), random_matrix<double>(3, 2, 2)});
  m.save(path("m.nnmf"));
  std::string whole;
  {
    std::ifstream in(path("m.nnmf"), std::ios::binary);
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t n = 0; n < whole.size(); ++n)
    ASSERT_NE(load_error(write("t.nnmf", whole.substr(0, n))), "") << "truncated at " << n;
  for (std::size_t at = 0; at < whole.size(); ++at)
    for (int bit : {0, 7}) {
      std::string f = whole;
      f[at] = static_cast<char>(f[at] ^ (1 << bit));
      ASSERT_NE(load_error(write("f.nnmf", f)), "") << "bit " << bit << " flipped at " << at;
    }
}

}  // namespace
}  // namespace nnmf::test
