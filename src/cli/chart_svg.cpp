#include "cli/chart_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/topic_svg.hpp"
#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

constexpr double kW = 640, kH = 400, kLeft = 80, kRight = 180, kTop = 50, kBottom = 60;

std::string num(double v, int prec = 4) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", prec, v);
  return buf;
}

/// A round tick step (1, 2 or 5 x 10^n) giving about 5 ticks over @p span.
double tick_step(double span) {
  const double raw = span / 5, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double f : {1.0, 2.0, 5.0})
    if (raw <= f * mag) return f * mag;
  return 10 * mag;
}

/// The y axis: every y (and band) value inside, ends on ticks, not below 0 for data >= 0.
struct Axis {
  double lo, hi, step;
};

Axis y_axis(const std::vector<ChartSeries>& series) {
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (const auto* v : {&s.y, &s.low, &s.high})
      for (double y : *v) lo = std::min(lo, y), hi = std::max(hi, y);
  if (!(hi > lo)) hi = lo + std::max(1e-12, std::abs(lo) * 0.1);
  const double step = tick_step(hi - lo);
  return {std::floor(lo / step) * step, std::ceil(hi / step) * step, step};
}

void check(const std::vector<double>& x, const std::vector<ChartSeries>& series) {
  if (x.empty() || !std::is_sorted(x.begin(), x.end()) || std::adjacent_find(x.begin(), x.end()) != x.end())
    throw InvalidArgument("line_chart_svg: x must be nonempty and increasing");
  for (const auto& s : series) {
    if (s.y.size() != x.size() || (!s.low.empty() && s.low.size() != x.size()) ||
        (!s.high.empty() && s.high.size() != x.size()))
      throw InvalidArgument("line_chart_svg: series '" + s.name + "' does not have one value per x");
    for (const auto* v : {&s.y, &s.low, &s.high})
      for (double y : *v)
        if (!std::isfinite(y)) throw InvalidArgument("line_chart_svg: series '" + s.name + "' has a non-finite value");
  }
}

/// Data to picture coordinates.
struct Frame {
  double xlo, xhi, ylo, yhi, pw, ph;
  bool one_x;
  double px(double v) const { return kLeft + (one_x ? 0.5 : (v - xlo) / (xhi - xlo)) * pw; }
  double py(double v) const { return kTop + (1 - (v - ylo) / (yhi - ylo)) * ph; }
};

void draw_axes(std::ostream& os, const Frame& f, const Axis& ax, const std::vector<double>& x, const ChartStyle& st) {
  os << "<text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\">"
     << xml_escape(ellipsize(st.title, static_cast<std::size_t>((kW - 20) / 9.9))) << "</text>\n<rect x=\"" << kLeft
     << "\" y=\"" << kTop << "\" width=\"" << f.pw << "\" height=\"" << f.ph << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (double v = ax.lo; v <= ax.hi + 0.5 * ax.step; v += ax.step)  // y ticks
    os << "<line x1=\"" << kLeft - 4 << "\" x2=\"" << kLeft << "\" y1=\"" << f.py(v) << "\" y2=\"" << f.py(v)
       << "\" stroke=\"#888\"/><text x=\"" << kLeft - 6 << "\" y=\"" << f.py(v) + 4 << "\" text-anchor=\"end\">"
       << num(v) << "</text>\n";
  for (double v : x)
    os << "<text x=\"" << f.px(v) << "\" y=\"" << kTop + f.ph + 16 << "\" text-anchor=\"middle\">" << num(v) << "</text>\n";
  os << "<text x=\"" << kLeft + f.pw / 2 << "\" y=\"" << kH - 18 << "\" text-anchor=\"middle\">"
     << xml_escape(st.x_label) << "</text>\n<text transform=\"translate(18," << kTop + f.ph / 2
     << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(st.y_label) << "</text>\n";
}

/// The marks' lines, numbered, with their labels in the legend column below the series'.
void draw_marks(std::ostream& os, const Frame& f, const std::vector<ChartMark>& marks, std::size_t legend_rows) {
  for (std::size_t q = 0; q < marks.size(); ++q) {
    const ChartMark& mk = marks[q];
    const double ly = kTop + 10 + 20 * static_cast<double>(legend_rows + q);
    os << "<line x1=\"" << f.px(mk.x) << "\" x2=\"" << f.px(mk.x) << "\" y1=\"" << kTop << "\" y2=\"" << kTop + f.ph
       << "\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"" << f.px(mk.x) << "\" y=\"" << kTop - 4
       << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#333\">" << q + 1 << "</text>\n<text x=\""
       << kW - kRight + 16 << "\" y=\"" << ly + 4 << "\" fill=\"#333\">" << q + 1 << ": "
       << xml_escape(ellipsize(mk.label, 19)) << "</text>\n";
  }
}

/// One series: its band, line, points and legend entry (row @p row).
void draw_series(std::ostream& os, const Frame& f, const std::vector<double>& x, const ChartSeries& c, std::size_t row) {
  if (!c.low.empty()) {  // band: along high, back along low
    os << "<path d=\"";
    for (std::size_t i = 0; i < x.size(); ++i) os << (i ? " L" : "M") << f.px(x[i]) << " " << f.py(c.high[i]);
    for (std::size_t i = x.size(); i-- > 0;) os << " L" << f.px(x[i]) << " " << f.py(c.low[i]);
    os << " Z\" fill=\"" << c.colour << "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
  }
  os << "<polyline fill=\"none\" stroke=\"" << c.colour << "\" stroke-width=\"2\" points=\"";
  for (std::size_t i = 0; i < x.size(); ++i) os << (i ? " " : "") << f.px(x[i]) << "," << f.py(c.y[i]);
  os << "\"/>\n";
  for (std::size_t i = 0; i < x.size(); ++i)
    os << "<circle cx=\"" << f.px(x[i]) << "\" cy=\"" << f.py(c.y[i]) << "\" r=\"3\" fill=\"" << c.colour << "\"/>";
  const double ly = kTop + 10 + 20 * static_cast<double>(row);
  os << "\n<line x1=\"" << kW - kRight + 16 << "\" x2=\"" << kW - kRight + 40 << "\" y1=\"" << ly << "\" y2=\"" << ly
     << "\" stroke=\"" << c.colour << "\" stroke-width=\"2\"/><text x=\"" << kW - kRight + 46 << "\" y=\"" << ly + 4
     << "\">" << xml_escape(ellipsize(c.name, 16)) << "</text>\n";
}

}  // namespace

std::string line_chart_svg(const std::vector<double>& x, const std::vector<ChartSeries>& series,
                           const ChartStyle& style) {
  check(x, series);
  const Axis ax = y_axis(series);
  const Frame f{x.front(), x.back(), ax.lo, ax.hi, kW - kLeft - kRight, kH - kTop - kBottom, x.size() == 1};
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 "
     << kW << " " << kH << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  draw_axes(os, f, ax, x, style);
  draw_marks(os, f, style.marks, series.size());
  for (std::size_t s = 0; s < series.size(); ++s) draw_series(os, f, x, series[s], s);
  os << "</svg>\n";
  return os.str();
}

}  // namespace nnmf::cli
