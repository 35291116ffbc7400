#include "cli/numbers.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/cli.hpp"

namespace nnmf::cli {
namespace {

std::string integer_kind(std::int64_t lo) {
  if (lo == 0) return "a nonnegative integer";
  if (lo == 1) return "a positive integer";
  if (lo < 0) return "an integer";
  return "an integer >= " + std::to_string(lo);
}

[[noreturn]] void expected(const std::string& option, const std::string& what, const std::string& text) {
  throw UsageError(option + ": expected " + what + ", got '" + text + "'");
}

bool all_digits(const std::string& s, std::size_t from) {
  if (from >= s.size()) return false;
  for (std::size_t q = from; q < s.size(); ++q)
    if (s[q] < '0' || s[q] > '9') return false;
  return true;
}

/// The option's long name ("--output" from "-o,--output") for messages.
std::string display_name(const std::string& names) {
  std::string best, item;
  std::stringstream ss(names);
  while (std::getline(ss, item, ',')) {
    if (best.empty() || item.rfind("--", 0) == 0) best = item;
  }
  return best;
}

std::string real_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::int64_t parse_integer(const std::string& option, const std::string& text, std::int64_t lo, std::int64_t hi) {
  const bool sign = !text.empty() && (text[0] == '-' || text[0] == '+');
  // A '-' is a syntax error, not a range error, when negatives are not allowed ("-1" asked for
  // a nonnegative integer is simply not one).
  if (!all_digits(text, sign ? 1 : 0) || (sign && lo >= 0)) expected(option, integer_kind(lo), text);
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (v < lo && errno != ERANGE) expected(option, integer_kind(lo), text);
  if (errno == ERANGE || v > hi) expected(option, integer_kind(lo) + " up to " + std::to_string(hi), text);
  return v;
}

std::uint64_t parse_unsigned64(const std::string& option, const std::string& text) {
  if (!all_digits(text, 0)) expected(option, "a nonnegative integer", text);
  errno = 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno == ERANGE) expected(option, "a nonnegative integer up to 2^64 - 1", text);
  return v;
}

double parse_real(const std::string& option, const std::string& text, double lo, double hi) {
  const std::string what =
      "a finite number" + (lo > std::numeric_limits<double>::lowest() ? " >= " + real_text(lo) : std::string());
  // strtod alone would also take leading space, hex floats, "inf" and "nan".
  const bool plain = !text.empty() && text.find_first_of("xXiInN \t\n") == std::string::npos;
  errno = 0;
  char* end = nullptr;
  const double v = plain ? std::strtod(text.c_str(), &end) : 0;
  if (!plain || *end != '\0' || !std::isfinite(v) || errno == ERANGE) expected(option, what, text);
  if (v < lo || v > hi)
    expected(option, what + (hi < std::numeric_limits<double>::max() ? " and <= " + real_text(hi) : ""), text);
  return v;
}

std::vector<index_t> parse_ranks(const std::string& text, const std::string& option) {
  if (text.empty()) throw UsageError(option + ": no rank given (e.g. 9,4,2)");
  std::vector<index_t> r;
  std::size_t from = 0;
  while (true) {
    const std::size_t comma = text.find(',', from);
    const std::string item = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    if (item.empty()) throw UsageError(option + ": empty item in '" + text + "' (e.g. 9,4,2)");
    r.push_back(static_cast<index_t>(parse_integer(option, item, 1, std::numeric_limits<int>::max())));
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return r;
}

int max_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::max<unsigned>(1024, 4 * hw));
}

CLI::Option* add_int(CLI::App* app, const std::string& names, int& target, const std::string& help,
                     std::int64_t lo, std::int64_t hi) {
  const std::string name = display_name(names);
  auto* opt = app->add_option_function<std::string>(
      names, [&target, name, lo, hi](const std::string& s) { target = static_cast<int>(parse_integer(name, s, lo, hi)); },
      help);
  return opt->type_name("INT")->default_str(std::to_string(target));
}

CLI::Option* add_optional_int(CLI::App* app, const std::string& names, std::optional<int>& target,
                              const std::string& help, std::int64_t lo) {
  const std::string name = display_name(names);
  return app->add_option_function<std::string>(
      names,
      [&target, name, lo](const std::string& s) {
        target = static_cast<int>(parse_integer(name, s, lo, std::numeric_limits<int>::max()));
      },
      help)->type_name("INT");
}

CLI::Option* add_seed(CLI::App* app, const std::string& names, std::uint64_t& target, const std::string& help) {
  const std::string name = display_name(names);
  auto* opt = app->add_option_function<std::string>(
      names, [&target, name](const std::string& s) { target = parse_unsigned64(name, s); }, help);
  return opt->type_name("UINT")->default_str(std::to_string(target));
}

CLI::Option* add_real(CLI::App* app, const std::string& names, double& target, const std::string& help,
                      double lo, double hi) {
  const std::string name = display_name(names);
  auto* opt = app->add_option_function<std::string>(
      names, [&target, name, lo, hi](const std::string& s) { target = parse_real(name, s, lo, hi); }, help);
  return opt->type_name("FLOAT")->default_str(real_text(target));
}

CLI::Option* add_optional_real(CLI::App* app, const std::string& names, std::optional<double>& target,
                               const std::string& help, double lo) {
  const std::string name = display_name(names);
  return app->add_option_function<std::string>(
      names, [&target, name, lo](const std::string& s) { target = parse_real(name, s, lo); }, help)
      ->type_name("FLOAT");
}

}  // namespace nnmf::cli
