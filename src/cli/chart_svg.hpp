// A line chart of error against rank, for `nnmf select-rank -o DIR` (select-rank.svg).
#pragma once

#include <string>
#include <vector>

namespace nnmf::cli {

/// One curve: y over the chart's x values, with an optional band [low, high] (e.g. the range
/// over replicates); empty low/high = no band.
struct ChartSeries {
  std::string name;
  std::string colour;  ///< CSS colour
  std::vector<double> y, low, high;
};

/// A vertical line at x with a label (e.g. the chosen rank).
struct ChartMark {
  double x = 0;
  std::string label;
};

struct ChartStyle {
  std::string title, x_label, y_label;
  std::vector<ChartMark> marks;
};

/// x must be increasing; every series has one y per x. Throws InvalidArgument otherwise or on
/// a non-finite value.
std::string line_chart_svg(const std::vector<double>& x, const std::vector<ChartSeries>& series,
                           const ChartStyle& style);

}  // namespace nnmf::cli
