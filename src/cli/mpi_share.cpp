#include "cli/mpi_share.hpp"

#include "cli/cli.hpp"
#include "cli/columns.hpp"
#include "cli/mpi_run.hpp"
#include "core/comm.hpp"

namespace nnmf::cli::mpi {
namespace {

/// The block of the columns of @p cols at @p blk.
std::vector<index_t> slice(const std::vector<index_t>& cols, std::pair<index_t, index_t> blk) {
  return {cols.begin() + blk.first, cols.begin() + blk.first + blk.second};
}

/// One file per process: each reads its own; the rows must agree, the offsets are the sums
/// of the column counts of the processes before.
template <class T>
void read_own_file(const Context& ctx, const ShareRequest& r, Share<T>& s) {
  s.path = process_path(r.X, ctx.process());
  detail::all_or_none(ctx, [&] { s.X = io::read_mtx<T>(s.path); });
  const std::vector<double> shapes = detail::allgather(ctx, {double(s.X.rows()), double(s.X.cols())});
  const index_t rows0 = static_cast<index_t>(shapes[0]);
  detail::all_or_none(ctx, [&] {
    if (s.X.rows() != rows0)
      throw DimensionMismatch("--x-per-process: " + s.path + " (process " + std::to_string(ctx.process()) +
                              ") has " + std::to_string(s.X.rows()) + " rows, but " + process_path(r.X, 0) +
                              " (process 0) has " + std::to_string(rows0));
  });
  index_t first = 0;
  for (int p = 0; p < ctx.processes(); ++p) {
    const index_t c = static_cast<index_t>(shapes[2 * static_cast<std::size_t>(p) + 1]);
    if (p < ctx.process()) first += c;
    s.total += c;
  }
  s.block = {first, s.X.cols()};
  s.file_cols = s.total;
  for (index_t j = 0; j < s.X.cols(); ++j) s.cols.push_back(first + j);
}

/// One file: this process's block of its columns, or of the --columns selection.
template <class T>
void read_block(const Context& ctx, const ShareRequest& r, Share<T>& s) {
  s.path = r.X;
  detail::all_or_none(ctx, [&] {
    s.file_cols = io::read_mtx_info(r.X).cols;
    std::vector<index_t> sel = read_columns(r.columns, s.file_cols);
    if (sel.empty())
      for (index_t j = 0; j < s.file_cols; ++j) sel.push_back(j);
    s.total = static_cast<index_t>(sel.size());
    s.block = block(s.total, r.window);
    s.cols = slice(sel, s.block);
    if (r.columns.empty())
      s.X = io::read_mtx_columns<T>(r.X, s.block.first, s.block.second);
    else
      s.X = io::read_mtx_column_set<T>(r.X, s.cols);
  });
}

}  // namespace

std::string process_path(const std::string& pattern, int p) {
  std::string out;
  const std::string key = "{p}";
  std::size_t at = 0;
  for (std::size_t hit; (hit = pattern.find(key, at)) != std::string::npos; at = hit + key.size())
    out += pattern.substr(at, hit - at) + std::to_string(p);
  return out + pattern.substr(at);
}

void check_share(const ShareRequest& r) {
  if (r.per_process && !r.columns.empty())
    throw UsageError("--columns: not with --x-per-process (select the columns when cutting the files)");
  if (r.per_process && r.X.find("{p}") == std::string::npos)
    throw UsageError("--x-per-process: X (" + r.X + ") must contain {p}, replaced by each process's number");
}

template <class T>
Share<T> read_share(const Context& ctx, const ShareRequest& r) {
  check_share(r);
  Share<T> s;
  if (r.per_process)
    read_own_file(ctx, r, s);
  else
    read_block(ctx, r, s);
  return s;
}

template Share<float> read_share<float>(const Context&, const ShareRequest&);
template Share<double> read_share<double>(const Context&, const ShareRequest&);

}  // namespace nnmf::cli::mpi
