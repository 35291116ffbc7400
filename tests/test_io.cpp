// Matrix Market, labels and masks: round trips, gzip, strict rejection of malformed files,
// atomic writes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

namespace nnmf::test {
namespace {

using IoTest = TempDirTest;

TEST_F(IoTest, DenseRoundTripIsExact) {
  auto A = random_matrix<double>(7, 5, 1);
  A(2, 3) = 1e-300;
  A(0, 0) = 123456789.123456789;
  io::write_mtx<double>(path("a.mtx"), A.view(), "factor A0\nsecond line");
  auto B = io::read_dense<double>(path("a.mtx"));
  EXPECT_EQ(B.rows(), 7);
  EXPECT_EQ(B.cols(), 5);
  EXPECT_EQ(A.storage(), B.storage());
  auto info = io::read_mtx_info(path("a.mtx"));
  EXPECT_FALSE(info.coordinate);
  EXPECT_EQ(info.rows, 7);
}

TEST_F(IoTest, SparseRoundTripGzip) {
  auto X = random_sparse<double>(50, 30, 0.1, 2);
  io::write_mtx<double>(path("x.mtx.gz"), X);
  // The file really is gzip.
  std::ifstream f(path("x.mtx.gz"), std::ios::binary);
  unsigned char magic[2] = {0, 0};
  f.read(reinterpret_cast<char*>(magic), 2);
  EXPECT_EQ(magic[0], 0x1f);
  EXPECT_EQ(magic[1], 0x8b);
  auto Y = io::read_sparse<double>(path("x.mtx.gz"));
  EXPECT_EQ(Y.colptr(), X.colptr());
  EXPECT_EQ(Y.rowind(), X.rowind());
  EXPECT_EQ(Y.values(), X.values());
  auto any = io::read_mtx<double>(path("x.mtx.gz"));
  EXPECT_TRUE(any.sparse);
}

TEST_F(IoTest, ReadsTheBundledData) {
  auto X = io::read_mtx<double>(data_dir() + "/synthetic-hierarchy/X.mtx");
  EXPECT_FALSE(X.sparse);
  EXPECT_EQ(X.rows(), 87);
  EXPECT_EQ(X.cols(), 90);
  auto S = io::read_mtx<double>(data_dir() + "/20news-subsample/X.mtx");
  EXPECT_TRUE(S.sparse);
  EXPECT_EQ(S.rows(), 37693);
  EXPECT_EQ(S.cols(), 200);
  EXPECT_EQ(S.csc.nnz(), 8473);
  auto y = io::read_labels(data_dir() + "/synthetic-hierarchy/labels9.txt", 90, 9);
  EXPECT_EQ(y.size(), 90u);
  auto mask = io::read_mask(data_dir() + "/synthetic-hierarchy/known40.txt", 90);
  int known = 0;
  for (auto v : mask) known += v;
  EXPECT_EQ(known, 40);  // knownP.txt marks P of the 90 columns
}

TEST_F(IoTest, SymmetricAndPatternFiles) {
  write("s.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 2\n2 1 5\n3 3 1\n");
  auto S = io::read_dense<double>(path("s.mtx"));
  EXPECT_EQ(S(1, 0), 5);
  EXPECT_EQ(S(0, 1), 5);
  EXPECT_EQ(S(2, 2), 1);
  write("p.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n1 2\n");
  auto P = io::read_dense<double>(path("p.mtx"));
  EXPECT_EQ(P(0, 1), 1);
}

// A process's block of columns (docs/mpi.md): the same entries as the whole file's columns,
// for sparse, dense and symmetric files, empty blocks included; a range outside is refused.
TEST_F(IoTest, ColumnBlocksAreTheWholeFilesColumns) {
  const auto X = random_sparse<double>(40, 23, 0.2, 5);
  io::write_mtx<double>(path("x.mtx.gz"), X);
  const auto D = random_matrix<double>(6, 9, 6);
  io::write_mtx<double>(path("d.mtx"), D.view());
  write("s.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n2 1 5\n3 1 2\n3 3 1\n");
  const auto Sym = io::read_dense<double>(path("s.mtx"));
  for (const auto& [first, count] : std::vector<std::pair<index_t, index_t>>{{0, 23}, {0, 7}, {7, 9}, {16, 7}, {23, 0}, {5, 0}}) {
    std::vector<index_t> cols;
    for (index_t j = first; j < first + count; ++j) cols.push_back(j);
    const auto want = X.select_columns(cols);
    const auto got = io::read_mtx_columns<double>(path("x.mtx.gz"), first, count);
    ASSERT_TRUE(got.sparse);
    EXPECT_EQ(got.csc.rows(), 40);
    EXPECT_EQ(got.csc.colptr(), want.colptr()) << first << "+" << count;
    EXPECT_EQ(got.csc.rowind(), want.rowind());
    EXPECT_EQ(got.csc.values(), want.values());
  }
  for (const auto& [first, count] : std::vector<std::pair<index_t, index_t>>{{0, 9}, {2, 4}, {8, 1}, {9, 0}}) {
    const auto got = io::read_mtx_columns<double>(path("d.mtx"), first, count);
    ASSERT_FALSE(got.sparse);
    ASSERT_EQ(got.dense.cols(), count);
    for (index_t j = 0; j < count; ++j)
      for (index_t i = 0; i < 6; ++i) EXPECT_EQ(got.dense(i, j), D(i, first + j));
  }
  const auto s12 = io::read_mtx_columns<double>(path("s.mtx"), 1, 2);
  const auto S12 = s12.csc.to_dense();
  for (index_t j = 0; j < 2; ++j)
    for (index_t i = 0; i < 3; ++i) EXPECT_EQ(S12(i, j), Sym(i, j + 1));
  for (const auto& [first, count] : std::vector<std::pair<index_t, index_t>>{{-1, 2}, {20, 4}, {24, 0}, {0, -1}})
    EXPECT_THROW(io::read_mtx_columns<double>(path("x.mtx.gz"), first, count), InvalidArgument)
        << first << "+" << count;
}

// An --columns selection's share (docs/mpi.md): the file's columns in the order asked, from
// sparse (gzip), dense and symmetric files, none included; indices outside or repeated are
// refused naming the file; a malformed line is still found in a column not kept.
TEST_F(IoTest, ColumnSetsAreTheWholeFilesColumnsInTheOrderAsked) {
  const auto X = random_sparse<double>(40, 23, 0.2, 7);
  io::write_mtx<double>(path("x.mtx.gz"), X);
  const auto D = random_matrix<double>(6, 9, 8);
  io::write_mtx<double>(path("d.mtx"), D.view());
  write("s.mtx", "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n2 1 5\n3 1 2\n3 3 1\n");
  const auto Sym = io::read_dense<double>(path("s.mtx"));
  for (const std::vector<index_t>& cols :
       std::vector<std::vector<index_t>>{{}, {22, 0, 5}, {3}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}) {
    const auto want = X.select_columns(cols);
    const auto got = io::read_mtx_column_set<double>(path("x.mtx.gz"), cols);
    ASSERT_TRUE(got.sparse);
    EXPECT_EQ(got.csc.rows(), 40);
    EXPECT_EQ(got.csc.colptr(), want.colptr()) << cols.size();
    EXPECT_EQ(got.csc.rowind(), want.rowind());
    EXPECT_EQ(got.csc.values(), want.values());
  }
  const std::vector<index_t> dcols{8, 2, 0};
  const auto got = io::read_mtx_column_set<double>(path("d.mtx"), dcols);
  ASSERT_FALSE(got.sparse);
  ASSERT_EQ(got.dense.cols(), 3);
  for (index_t q = 0; q < 3; ++q)
    for (index_t i = 0; i < 6; ++i) EXPECT_EQ(got.dense(i, q), D(i, dcols[static_cast<std::size_t>(q)]));
  const auto S = io::read_mtx_column_set<double>(path("s.mtx"), {2, 0}).csc.to_dense();
  for (index_t i = 0; i < 3; ++i) {
    EXPECT_EQ(S(i, 0), Sym(i, 2));
    EXPECT_EQ(S(i, 1), Sym(i, 0));
  }
  EXPECT_THROW_MSG(io::read_mtx_column_set<double>(path("x.mtx.gz"), {1, 23}), InvalidArgument, "x.mtx.gz", "23");
  EXPECT_THROW_MSG(io::read_mtx_column_set<double>(path("x.mtx.gz"), {-1}), InvalidArgument, "x.mtx.gz", "-1");
  EXPECT_THROW_MSG(io::read_mtx_column_set<double>(path("x.mtx.gz"), {4, 2, 4}), InvalidArgument, "x.mtx.gz", "4");
  write("bad.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n9 3 2\n");
  EXPECT_THROW(io::read_mtx_column_set<double>(path("bad.mtx"), {0}), IoError);
}

TEST_F(IoTest, MalformedFilesAreRejectedWithFileAndLine) {
  write("empty.mtx", "");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("empty.mtx")), IoError, "empty.mtx", "empty");
  write("hdr.mtx", "%%MatrixMarket tensor array real general\n1 1\n1\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("hdr.mtx")), IoError, "hdr.mtx:1", "header");
  write("cplx.mtx", "%%MatrixMarket matrix array complex general\n1 1\n1 0\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("cplx.mtx")), IoError, "complex");
  write("size.mtx", "%%MatrixMarket matrix coordinate real general\n% c\n3 x 2\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("size.mtx")), IoError, "size.mtx:3", "size line");
  write("trunc.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 3\n1 1 1\n2 2 2\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("trunc.mtx")), IoError, "truncated", "expected 3",
                   "found 2");
  write("extra.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 1 1\n2 2 2\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("extra.mtx")), IoError, "extra.mtx:4", "more entries");
  write("range.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n4 1 1\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("range.mtx")), IoError, "range.mtx:3", "outside");
  write("zero.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n0 1 1\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("zero.mtx")), IoError, "1-based");
  write("dup.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 2\n1 1 1\n1 1 2\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("dup.mtx")), IoError, "duplicate");
  write("nan.mtx", "%%MatrixMarket matrix array real general\n2 1\n1\nnan\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("nan.mtx")), IoError, "nan.mtx:4", "non-finite");
  write("junk.mtx", "%%MatrixMarket matrix array real general\n2 1\n1\n2x\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("junk.mtx")), IoError, "junk.mtx:4", "malformed value");
  write("short.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("short.mtx")), IoError, "truncated", "found 3");
  write("fields.mtx", "%%MatrixMarket matrix coordinate real general\n3 3 1\n1 1\n");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("fields.mtx")), IoError, "malformed entry");
  write("big.mtx", "%%MatrixMarket matrix array real general\n1 1\n1e300\n");
  EXPECT_THROW_MSG(io::read_mtx<float>(path("big.mtx")), IoError, "overflows");
  EXPECT_THROW_MSG(io::read_mtx<double>(path("missing.mtx")), IoError, "missing.mtx", "cannot open");
}

TEST_F(IoTest, TruncatedGzipIsRejected) {
  auto X = random_sparse<double>(200, 200, 0.2, 3);
  io::write_mtx<double>(path("x.mtx.gz"), X);
  std::ifstream f(path("x.mtx.gz"), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string full = ss.str();
  write("cut.mtx.gz", full.substr(0, full.size() / 2));
  EXPECT_THROW(io::read_mtx<double>(path("cut.mtx.gz")), IoError);
}

TEST_F(IoTest, LabelsAndMasksAreValidated) {
  write("y.txt", "0\n2\n1\n\n");
  EXPECT_EQ(io::read_labels(path("y.txt")), (std::vector<int>{0, 2, 1}));
  EXPECT_THROW_MSG(io::read_labels(path("y.txt"), 4), InvalidArgument, "3 labels", "4 columns");
  EXPECT_THROW_MSG(io::read_labels(path("y.txt"), 3, 2), InvalidArgument, "y.txt:2", "label 2",
                   "2 classes");
  write("bad.txt", "0\n-1\n");
  EXPECT_THROW_MSG(io::read_labels(path("bad.txt")), IoError, "bad.txt:2", "-1");
  write("frac.txt", "0\n1.5\n");
  EXPECT_THROW_MSG(io::read_labels(path("frac.txt")), IoError, "frac.txt:2");
  write("empty.txt", "");
  EXPECT_THROW_MSG(io::read_labels(path("empty.txt")), IoError, "empty");
  write("m.txt", "1\n0\n2\n");
  EXPECT_THROW_MSG(io::read_mask(path("m.txt")), IoError, "m.txt:3", "0 or 1");
  write("idx.txt", "3\n9\n");
  EXPECT_THROW_MSG(io::read_indices(path("idx.txt"), 5), InvalidArgument, "idx.txt:2", "9");
}

TEST_F(IoTest, FailedWriteKeepsTheOldFileAndLeavesNoTemporary) {
  auto A = random_matrix<double>(3, 3, 4);
  io::write_mtx<double>(path("keep.mtx"), A.view());
  // A destination whose directory does not exist cannot be written.
  EXPECT_THROW_MSG(io::write_mtx<double>(path("nodir/a.mtx"), A.view()), IoError, "nodir");
  // Writing over a directory fails at the rename; the temporary is removed.
  ASSERT_EQ(mkdir(path("adir").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(path("adir/sub").c_str(), 0755), 0);
  EXPECT_THROW(io::write_mtx<double>(path("adir"), A.view()), IoError);
  auto listing = [&]() {
    std::string out;
    FILE* p = popen(("ls -a " + dir_).c_str(), "r");
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
    return out;
  };
  EXPECT_EQ(listing().find(".tmp-"), std::string::npos) << listing();
  auto B = io::read_dense<double>(path("keep.mtx"));
  EXPECT_EQ(A.storage(), B.storage());
}

}  // namespace
}  // namespace nnmf::test
