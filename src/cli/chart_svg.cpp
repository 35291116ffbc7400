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

}  // namespace

std::string line_chart_svg(const std::vector<double>& x, const std::vector<ChartSeries>& series,
                           const ChartStyle& style) {
  check(x, series);
  const Axis ax = y_axis(series);
  const double ylo = ax.lo, yhi = ax.hi;
  const double xlo = x.front(), xhi = x.size() > 1 ? x.back() : x.front() + 1;
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto px = [&](double v) { return kLeft + (x.size() > 1 ? (v - xlo) / (xhi - xlo) : 0.5) * pw; };
  auto py = [&](double v) { return kTop + (1 - (v - ylo) / (yhi - ylo)) * ph; };
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 "
     << kW << " " << kH << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
     << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
     << "<text x=\"10\" y=\"24\" font-size=\"15\" font-weight=\"bold\">"
     << xml_escape(ellipsize(style.title, static_cast<std::size_t>((kW - 20) / 9.9)))
     << "</text>\n<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << pw << "\" height=\"" << ph
     << "\" fill=\"none\" stroke=\"#888\"/>\n";
  for (double v = ylo; v <= yhi + 0.5 * ax.step; v += ax.step) {  // y ticks
    os << "<line x1=\"" << kLeft - 4 << "\" x2=\"" << kLeft << "\" y1=\"" << py(v) << "\" y2=\"" << py(v)
       << "\" stroke=\"#888\"/><text x=\"" << kLeft - 6 << "\" y=\"" << py(v) + 4 << "\" text-anchor=\"end\">"
       << num(v) << "</text>\n";
  }
  for (double v : x)
    os << "<text x=\"" << px(v) << "\" y=\"" << kTop + ph + 16 << "\" text-anchor=\"middle\">" << num(v) << "</text>\n";
  os << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kH - 18 << "\" text-anchor=\"middle\">"
     << xml_escape(style.x_label) << "</text>\n<text transform=\"translate(18," << kTop + ph / 2
     << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(style.y_label) << "</text>\n";
  for (std::size_t q = 0; q < style.marks.size(); ++q) {  // the lines, their labels beside the legend
    const ChartMark& mk = style.marks[q];
    const double ly = kTop + 10 + 20 * static_cast<double>(series.size() + q);
    os << "<line x1=\"" << px(mk.x) << "\" x2=\"" << px(mk.x) << "\" y1=\"" << kTop << "\" y2=\"" << kTop + ph
       << "\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"" << px(mk.x) << "\" y=\"" << kTop - 4
       << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#333\">" << q + 1 << "</text>\n<text x=\""
       << kW - kRight + 16 << "\" y=\"" << ly + 4 << "\" fill=\"#333\">" << q + 1 << ": "
       << xml_escape(ellipsize(mk.label, 19)) << "</text>\n";
  }
  for (std::size_t s = 0; s < series.size(); ++s) {
    const ChartSeries& c = series[s];
    if (!c.low.empty()) {  // band: along high, back along low
      os << "<path d=\"";
      for (std::size_t i = 0; i < x.size(); ++i) os << (i ? " L" : "M") << px(x[i]) << " " << py(c.high[i]);
      for (std::size_t i = x.size(); i-- > 0;) os << " L" << px(x[i]) << " " << py(c.low[i]);
      os << " Z\" fill=\"" << c.colour << "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
    }
    os << "<polyline fill=\"none\" stroke=\"" << c.colour << "\" stroke-width=\"2\" points=\"";
    for (std::size_t i = 0; i < x.size(); ++i) os << (i ? " " : "") << px(x[i]) << "," << py(c.y[i]);
    os << "\"/>\n";
    for (std::size_t i = 0; i < x.size(); ++i)
      os << "<circle cx=\"" << px(x[i]) << "\" cy=\"" << py(c.y[i]) << "\" r=\"3\" fill=\"" << c.colour << "\"/>";
    const double ly = kTop + 10 + 20 * static_cast<double>(s);
    os << "\n<line x1=\"" << kW - kRight + 16 << "\" x2=\"" << kW - kRight + 40 << "\" y1=\"" << ly << "\" y2=\"" << ly
       << "\" stroke=\"" << c.colour << "\" stroke-width=\"2\"/><text x=\"" << kW - kRight + 46 << "\" y=\"" << ly + 4
       << "\">" << xml_escape(ellipsize(c.name, 16)) << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace nnmf::cli
