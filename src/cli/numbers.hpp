// Strict parsing of the tool's numeric options: the whole text must be one number in range, or
// the command fails with a UsageError naming the option and the text ("--layer: expected a
// nonnegative integer, got 'abc'"). Every numeric option goes through these helpers.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "nnmf/matrix.hpp"

namespace nnmf::cli {

/// An integer in [lo, hi]: optional sign only when lo < 0, decimal digits only (no spaces,
/// exponents, fractions or suffixes). Throws UsageError naming @p option.
std::int64_t parse_integer(const std::string& option, const std::string& text, std::int64_t lo,
                           std::int64_t hi = std::numeric_limits<std::int64_t>::max());

/// A seed: a decimal integer in [0, 2^64 - 1] (no sign).
std::uint64_t parse_unsigned64(const std::string& option, const std::string& text);

/// A finite real number >= lo (and <= hi); strtod syntax without leading space, hex, inf, nan.
double parse_real(const std::string& option, const std::string& text, double lo,
                  double hi = std::numeric_limits<double>::max());

/// Comma-separated positive integers ("9,4,2"); every item must be present ("9,4," fails).
std::vector<index_t> parse_ranks(const std::string& text, const std::string& option);

/// The largest --threads the tool accepts: max(1024, 4 x hardware threads).
int max_threads();

// CLI11 adapters: the option takes its text and the helpers above convert it when parsed.
CLI::Option* add_int(CLI::App* app, const std::string& names, int& target, const std::string& help,
                     std::int64_t lo, std::int64_t hi = std::numeric_limits<int>::max());
CLI::Option* add_optional_int(CLI::App* app, const std::string& names, std::optional<int>& target,
                              const std::string& help, std::int64_t lo);
CLI::Option* add_seed(CLI::App* app, const std::string& names, std::uint64_t& target, const std::string& help);
CLI::Option* add_real(CLI::App* app, const std::string& names, double& target, const std::string& help,
                      double lo, double hi = std::numeric_limits<double>::max());
CLI::Option* add_optional_real(CLI::App* app, const std::string& names, std::optional<double>& target,
                               const std::string& help, double lo);

}  // namespace nnmf::cli
