#include "cli/columns.hpp"

#include <algorithm>
#include <sstream>

#include "nnmf/error.hpp"

namespace nnmf::cli {

std::vector<index_t> read_columns(const std::string& path, index_t m) {
  if (path.empty()) return {};
  std::vector<index_t> v = io::read_indices(path, m);
  const bool mask = static_cast<index_t>(v.size()) == m &&
                    std::all_of(v.begin(), v.end(), [](index_t x) { return x == 0 || x == 1; });
  std::vector<index_t> cols;
  if (mask) {
    for (index_t j = 0; j < m; ++j)
      if (v[static_cast<std::size_t>(j)] != 0) cols.push_back(j);
  } else {
    std::vector<std::uint8_t> seen(static_cast<std::size_t>(m), 0);
    for (std::size_t q = 0; q < v.size(); ++q) {
      if (seen[static_cast<std::size_t>(v[q])])
        throw InvalidArgument("--columns " + path + ":" + std::to_string(q + 1) + ": column " + std::to_string(v[q]) +
                              " is listed twice");
      seen[static_cast<std::size_t>(v[q])] = 1;
    }
    cols = std::move(v);
  }
  if (cols.empty())
    throw InvalidArgument("--columns " + path + ": selects no column of the " + std::to_string(m) +
                          " (give 0-based indices, or a 0/1 mask of " + std::to_string(m) + " lines with a 1)");
  return cols;
}

void add_columns_option(CLI::App* cmd, std::string& target) {
  cmd->add_option("--columns", target,
                  "only these documents: 0-based column indices (one per line), or a 0/1 mask (one line per column)");
}

std::vector<std::vector<int>> read_label_sets(const std::string& spec, const std::string& option, index_t m,
                                              std::size_t layers, const std::vector<index_t>& cols) {
  std::vector<std::vector<int>> out;
  if (spec.empty()) return out;
  std::vector<std::string> files;
  std::stringstream ss(spec);
  for (std::string f; std::getline(ss, f, ',');) files.push_back(f);
  if (files.size() != 1 && files.size() != layers)
    throw InvalidArgument(option + ": " + std::to_string(files.size()) + " files for " + std::to_string(layers) +
                          " layers (give 1, or one per layer)");
  for (const auto& f : files) out.push_back(select_entries(io::read_labels(f, m), cols));
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

template <class T>
void select_columns(io::AnyMatrix<T>& X, const std::vector<index_t>& cols) {
  if (cols.empty()) return;
  if (X.sparse) {
    X.csc = X.csc.select_columns(cols);
    return;
  }
  Matrix<T> D(X.dense.rows(), static_cast<index_t>(cols.size()));
  for (std::size_t q = 0; q < cols.size(); ++q)
    std::copy_n(X.dense.data() + cols[q] * X.dense.rows(), X.dense.rows(),
                D.data() + static_cast<index_t>(q) * X.dense.rows());
  X.dense = std::move(D);
}

template void select_columns<float>(io::AnyMatrix<float>&, const std::vector<index_t>&);
template void select_columns<double>(io::AnyMatrix<double>&, const std::vector<index_t>&);

}  // namespace nnmf::cli
