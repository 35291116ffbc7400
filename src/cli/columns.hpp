// Per-document inputs of the commands. --columns FILE: the documents (columns of X) a command
// works on, so that a train/test split needs no script. The file holds 0-based column indices, one per line, in the order
// wanted (no repeats), or a 0/1 mask: exactly as many lines as X has columns, each 0 or 1.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "nnmf/nnmf.hpp"

namespace nnmf::cli {

/// The columns @p path selects among @p m (empty path: none selected, i.e. all; the result is
/// then empty). Throws InvalidArgument naming the file for an index out of range, a repeated
/// index or a selection of no column.
std::vector<index_t> read_columns(const std::string& path, index_t m);

/// Adds --columns FILE to @p cmd.
void add_columns_option(CLI::App* cmd, std::string& target);

/// Label sets (--labels, --eval-labels): one file for every layer or one per layer,
/// comma-separated, each with one label per column of the file's @p m; kept at @p cols.
/// Empty @p spec: none.
std::vector<std::vector<int>> read_label_sets(const std::string& spec, const std::string& option, index_t m,
                                              std::size_t layers, const std::vector<index_t>& cols);

/// @p s as one CSV field (RFC 4180: quoted when it holds a comma, quote or line break).
std::string csv_field(const std::string& s);

/// The entries of @p v at @p cols (all of v when cols is empty; empty when v is, i.e. an
/// optional per-column input that was not given). @p cols must lie inside v.
template <class V>
std::vector<V> select_entries(const std::vector<V>& v, const std::vector<index_t>& cols) {
  if (cols.empty() || v.empty()) return v;
  std::vector<V> out;
  out.reserve(cols.size());
  for (index_t j : cols) out.push_back(v[static_cast<std::size_t>(j)]);
  return out;
}

/// Keeps the columns @p cols of X, in that order (nothing when cols is empty).
template <class T>
void select_columns(io::AnyMatrix<T>& X, const std::vector<index_t>& cols);

/// The original column index of document j after a selection (j itself without one).
inline index_t original_column(const std::vector<index_t>& cols, index_t j) {
  return cols.empty() ? j : cols[static_cast<std::size_t>(j)];
}

}  // namespace nnmf::cli
