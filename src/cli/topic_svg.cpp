// See topic_svg.hpp. Every picture is laid out in two passes: sizes first (label widths from
// estimated_text_width, margins from the rotated or anchored extents of the labels), then the
// elements at absolute coordinates, so that the canvas encloses all of them.
#include "cli/topic_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "nnmf/error.hpp"

namespace nnmf::cli {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kPad = 16;         // blank border around every picture
constexpr double kAscent = 0.8;     // text extent above the baseline, in em
constexpr double kDescent = 0.25;   // ... and below it
constexpr double kTitleSize = 15;
constexpr double kCaptionSize = 11;
constexpr const char* kFontFamily = "Helvetica, Arial, sans-serif";

/// Coordinates with one decimal, without a trailing ".0" or a "-0".
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s == "-0.0") s = "0.0";
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

std::string fixed(double v, int prec) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.00"
  return s;
}

std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

enum class Anchor { start, middle, end };

struct TextSpec {
  double size = 11;
  Anchor anchor = Anchor::start;
  double rotate = 0;  // degrees, clockwise on screen (SVG rotate), about the anchor point
  bool bold = false;
  std::string fill;   // "" = inherit (black)
};

struct Extent {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// Box that text @p raw anchored at (x, y) covers, under the width estimate.
Extent text_extent(double x, double y, const std::string& raw, const TextSpec& t) {
  const double w = estimated_text_width(raw, t.size, t.bold);
  const double xa = t.anchor == Anchor::start ? 0 : t.anchor == Anchor::middle ? -w / 2 : -w;
  const double a = t.rotate * kPi / 180, c = std::cos(a), s = std::sin(a);
  const double cx[4] = {xa, xa + w, xa, xa + w}, cy[4] = {-kAscent * t.size, -kAscent * t.size,
                                                          kDescent * t.size, kDescent * t.size};
  Extent e{1e300, 1e300, -1e300, -1e300};
  for (int k = 0; k < 4; ++k) {
    const double px = x + cx[k] * c - cy[k] * s, py = y + cx[k] * s + cy[k] * c;
    e.x0 = std::min(e.x0, px), e.x1 = std::max(e.x1, px);
    e.y0 = std::min(e.y0, py), e.y1 = std::max(e.y1, py);
  }
  return e;
}

void put_text(std::ostream& os, double x, double y, const std::string& raw, const TextSpec& t,
              const std::string& extra = "") {
  static const char* anchors[] = {"start", "middle", "end"};
  os << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" font-size=\"" << num(t.size) << "\" text-anchor=\""
     << anchors[static_cast<int>(t.anchor)] << "\"";
  if (t.bold) os << " font-weight=\"bold\"";
  if (!t.fill.empty()) os << " fill=\"" << t.fill << "\"";
  if (t.rotate != 0) os << " transform=\"rotate(" << num(t.rotate) << " " << num(x) << " " << num(y) << ")\"";
  os << extra << ">" << xml_escape(raw) << "</text>\n";
}

void svg_open(std::ostream& os, double W, double H) {
  const long w = static_cast<long>(std::ceil(W)), h = static_cast<long>(std::ceil(H));
  os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << w << "\" height=\"" << h
     << "\" viewBox=\"0 0 " << w << " " << h << "\" font-family=\"" << kFontFamily << "\">\n"
     << "<rect x=\"0\" y=\"0\" width=\"" << w << "\" height=\"" << h << "\" fill=\"white\"/>\n";
}

/// Greedy word wrap of @p text (lines split at "\n" first) to @p width pixels.
std::vector<std::string> wrap(const std::string& text, double size, double width) {
  std::vector<std::string> out;
  std::stringstream paras(text);
  for (std::string para; std::getline(paras, para);) {
    std::stringstream words(para);
    std::string line;
    for (std::string w; words >> w;) {
      const std::string cand = line.empty() ? w : line + " " + w;
      if (!line.empty() && estimated_text_width(cand, size) > width) {
        out.push_back(line);
        line = w;
      } else {
        line = cand;
      }
    }
    out.push_back(line);
  }
  return out;
}

struct Rgb {
  double r, g, b;
};

std::string hex(const Rgb& c) {
  char buf[8];
  auto q = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 255.0))); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", q(c.r), q(c.g), q(c.b));
  return buf;
}

Rgb parse_hex(const char* h) {
  unsigned r = 0, g = 0, b = 0;
  std::sscanf(h + 1, "%02x%02x%02x", &r, &g, &b);
  return {double(r), double(g), double(b)};
}

Rgb mix(const Rgb& a, const Rgb& b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

// Sequential scale (ColorBrewer Blues) and the two halves of a diverging one (RdBu).
const char* const kBlues[] = {"#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"};
const char* const kReds[] = {"#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b"};
const char* const kDivBlues[] = {"#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac"};

Rgb ramp(const char* const* stops, double t) {
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int k = std::min(3, static_cast<int>(t));
  return mix(parse_hex(stops[k]), parse_hex(stops[k + 1]), t - k);
}

/// Colour of t in [0, 1] (sequential) or [-1, 1] (diverging).
Rgb heat(double t, bool diverging) {
  if (!diverging) return ramp(kBlues, t);
  return t < 0 ? ramp(kReds, -t) : ramp(kDivBlues, t);
}

// Tableau's 20 colours, the 10 strong ones first.
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
                                "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"};
Rgb palette(std::size_t k) { return parse_hex(kPalette[k % 20]); }

std::vector<std::string> labels_or_indices(const std::vector<std::string>& given, index_t n, std::size_t max_chars,
                                           const char* what, const Matrix<double>& M) {
  if (given.empty()) {
    std::vector<std::string> out;
    for (index_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
    return out;
  }
  if (static_cast<index_t>(given.size()) != n)
    throw DimensionMismatch("heatmap_svg: " + std::to_string(given.size()) + " " + what + " labels for a matrix with " +
                            std::to_string(n) + " " + what + "s (M is " + std::to_string(M.rows()) + " x " +
                            std::to_string(M.cols()) + ")");
  std::vector<std::string> out;
  for (const auto& s : given) out.push_back(ellipsize(s, max_chars));
  return out;
}

std::string value_text(double v, double vmax, bool share) {
  if (share || vmax < 1000) return fixed(v, 2);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        // Control characters other than tab/newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n') o += ' ';
        else o += ch;
    }
  }
  return o;
}

double estimated_text_width(const std::string& utf8, double font_size, bool bold) {
  return static_cast<double>(code_points(utf8)) * font_size * (bold ? 0.66 : 0.6);
}

std::string ellipsize(const std::string& utf8, std::size_t max_chars) {
  if (max_chars == 0 || code_points(utf8) <= max_chars) return utf8;
  std::size_t n = 0, i = 0;
  for (; i < utf8.size(); ++i) {
    if ((static_cast<unsigned char>(utf8[i]) & 0xC0) != 0x80) {
      if (n == max_chars - 1) break;
      ++n;
    }
  }
  std::string out = utf8.substr(0, i);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + "\xE2\x80\xA6";  // U+2026 horizontal ellipsis
}

// ---------------------------------------------------------------------------------------------
// Heat map

std::string heatmap_svg(const Matrix<double>& M, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const HeatmapStyle& st) {
  const index_t k0 = M.rows(), k1 = M.cols();
  if (k0 == 0 || k1 == 0)
    throw InvalidArgument("heatmap_svg: M is empty (" + std::to_string(k0) + " x " + std::to_string(k1) + ")");
  const bool share = st.scale == HeatmapScale::column_share;
  double vmin = 0;
  for (index_t j = 0; j < k1; ++j)
    for (index_t i = 0; i < k0; ++i) {
      const double v = M(i, j);
      if (!std::isfinite(v))
        throw InvalidArgument("heatmap_svg: M(" + std::to_string(i) + ", " + std::to_string(j) + ") is not finite");
      vmin = std::min(vmin, v);
    }
  if (share && vmin < 0)
    throw InvalidArgument("heatmap_svg: column shares need M >= 0, but M has the entry " + fixed(vmin, 4) +
                          " (use HeatmapScale::raw)");
  const auto rows = labels_or_indices(row_labels, k0, st.max_label_chars, "row", M);
  const auto cols = labels_or_indices(col_labels, k1, st.max_label_chars, "column", M);

  Matrix<double> H(k0, k1);  // (k0, k1) the values shown
  double vmax = 0;
  for (index_t j = 0; j < k1; ++j) {
    double s = 0;
    for (index_t i = 0; i < k0; ++i) s += M(i, j);
    for (index_t i = 0; i < k0; ++i) {
      H(i, j) = share ? (s > 0 ? M(i, j) / s : 0) : M(i, j);
      vmax = std::max(vmax, std::fabs(H(i, j)));
    }
  }
  const bool diverging = !share && vmin < 0;
  const double scale_max = vmax > 0 ? vmax : 1;

  // Sizes.
  const bool show_values = st.values && static_cast<std::size_t>(k0) <= st.max_value_rows &&
                           static_cast<std::size_t>(k1) <= st.max_value_cols;
  const double f = k0 > 40 ? 10 : 11;  // label and value font
  double value_w = 0;
  if (show_values)
    for (index_t j = 0; j < k1; ++j)
      for (index_t i = 0; i < k0; ++i)
        value_w = std::max(value_w, estimated_text_width(value_text(H(i, j), vmax, share), f));
  const double cw = show_values ? std::max(44.0, value_w + 12) : (k1 > 30 ? 16 : 24);
  const double ch = show_values ? 22 : (k0 > 40 ? 14 : 18);

  double row_w = 0;
  for (const auto& r : rows) row_w = std::max(row_w, estimated_text_width(r, f));
  const double left = kPad + row_w + 8;
  const double mat_w = cw * static_cast<double>(k1), mat_h = ch * static_cast<double>(k0);

  double col_w = 0;
  for (const auto& c : cols) col_w = std::max(col_w, estimated_text_width(c, f));
  const bool rotate = col_w > cw - 6;
  // Slanted column labels are cw * sin(angle) apart across their lines: the flattest angle
  // that leaves 1.3 em between them.
  double angle = 0;
  if (rotate)
    for (double a : {45.0, 60.0, 90.0}) {
      angle = a;
      if (cw * std::sin(a * kPi / 180) >= 1.3 * f) break;
    }
  TextSpec col_spec{f, rotate ? Anchor::start : Anchor::middle, -angle, false, ""};
  // Column j's label anchor relative to (matrix left, matrix top): slanted labels start a
  // little right of the column centre so that the text's midline points at it.
  const double col_shift = 0.35 * f * std::sin(angle * kPi / 180);
  auto col_anchor_x = [&](index_t j) { return cw * (static_cast<double>(j) + 0.5) + col_shift; };
  const double col_gap = 5;
  double col_above = 0, col_right = 0;  // how far the labels reach above the top and right of the matrix
  for (index_t j = 0; j < k1; ++j) {
    const Extent e = text_extent(col_anchor_x(j), -col_gap, cols[static_cast<std::size_t>(j)], col_spec);
    col_above = std::max(col_above, -e.y0);
    col_right = std::max(col_right, e.x1 - mat_w);
  }

  // Legend: heading, then a vertical colour bar with three ticks.
  const double lf = 10, leg_gap = 22, bar_w = 14;
  const std::string leg_title = share ? "share" : "value";
  const double bar_h = std::max(80.0, std::min(mat_h - 2 * lf, 220.0));
  std::vector<double> ticks = diverging ? std::vector<double>{-scale_max, 0, scale_max}
                                        : std::vector<double>{0, scale_max / 2, scale_max};
  double tick_w = 0;
  for (double t : ticks) tick_w = std::max(tick_w, estimated_text_width(value_text(t, vmax, share), lf));
  const double leg_w = std::max(estimated_text_width(leg_title, lf, true), bar_w + 4 + 4 + tick_w);

  const double content_right = left + mat_w + std::max(col_right, leg_gap + leg_w);
  std::string caption = st.caption;
  if (caption.empty()) {
    if (!st.row_name.empty()) caption += "rows: " + st.row_name + "; ";
    if (!st.col_name.empty()) caption += "columns: " + st.col_name + "; ";
    caption += share ? "cell: share of the row in the column (each column sums to 1)" : "cell: the value of the entry";
  }
  const double title_w = st.title.empty() ? 0 : estimated_text_width(st.title, kTitleSize, true);
  const double wrap_w = std::max(content_right - kPad, 560.0);
  const auto cap_lines = wrap(caption, kCaptionSize, wrap_w);
  double cap_w = 0;
  for (const auto& l : cap_lines) cap_w = std::max(cap_w, estimated_text_width(l, kCaptionSize));
  const double W = std::max({content_right + kPad, kPad + title_w + kPad, kPad + cap_w + kPad});

  double y = kPad;
  const double title_y = y + kAscent * kTitleSize;
  if (!st.title.empty()) y += kTitleSize * 1.35;
  const double cap_y = y + kAscent * kCaptionSize;
  y += kCaptionSize * 1.4 * static_cast<double>(cap_lines.size());
  const double top = y + 4 + col_above;
  const double leg_x = left + mat_w + leg_gap, leg_head_y = top + kAscent * lf, bar_y = top + lf + 6;
  const double H_total = std::max(top + mat_h, bar_y + bar_h + kDescent * lf + lf / 2) + kPad;

  std::ostringstream os;
  svg_open(os, W, H_total);
  os << "<defs><linearGradient id=\"nnmf-heat-scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 8; ++k) {
    const double t = k / 8.0;
    os << "<stop offset=\"" << fixed(t, 3) << "\" stop-color=\"" << hex(heat(diverging ? 2 * t - 1 : t, diverging))
       << "\"/>";
  }
  os << "</linearGradient></defs>\n";
  if (!st.title.empty()) put_text(os, kPad, title_y, st.title, {kTitleSize, Anchor::start, 0, true, ""});
  for (std::size_t k = 0; k < cap_lines.size(); ++k)
    put_text(os, kPad, cap_y + kCaptionSize * 1.4 * static_cast<double>(k), cap_lines[k],
             {kCaptionSize, Anchor::start, 0, false, "#444444"});
  for (index_t j = 0; j < k1; ++j)
    put_text(os, left + col_anchor_x(j), top - col_gap, cols[static_cast<std::size_t>(j)], col_spec);
  for (index_t i = 0; i < k0; ++i) {
    const double yc = top + ch * (static_cast<double>(i) + 0.5);
    put_text(os, left - 6, yc + 0.35 * f, rows[static_cast<std::size_t>(i)], {f, Anchor::end, 0, false, ""});
    for (index_t j = 0; j < k1; ++j) {
      const double t = H(i, j) / scale_max, x = left + cw * static_cast<double>(j);
      os << "<rect x=\"" << num(x) << "\" y=\"" << num(top + ch * static_cast<double>(i)) << "\" width=\"" << num(cw)
         << "\" height=\"" << num(ch) << "\" fill=\"" << hex(heat(t, diverging))
         << "\" stroke=\"#dddddd\" stroke-width=\"0.5\"/>\n";
      if (show_values)
        put_text(os, x + cw / 2, yc + 0.35 * f, value_text(H(i, j), vmax, share),
                 {f, Anchor::middle, 0, false, std::fabs(t) > 0.55 ? "white" : "black"});
    }
  }
  put_text(os, leg_x, leg_head_y, leg_title, {lf, Anchor::start, 0, true, ""});
  os << "<rect x=\"" << num(leg_x) << "\" y=\"" << num(bar_y) << "\" width=\"" << num(bar_w) << "\" height=\""
     << num(bar_h) << "\" fill=\"url(#nnmf-heat-scale)\" stroke=\"#999999\" stroke-width=\"0.5\"/>\n";
  for (std::size_t k = 0; k < ticks.size(); ++k) {
    const double ty = bar_y + bar_h * (1 - static_cast<double>(k) / 2);
    os << "<line x1=\"" << num(leg_x + bar_w) << "\" y1=\"" << num(ty) << "\" x2=\"" << num(leg_x + bar_w + 4)
       << "\" y2=\"" << num(ty) << "\" stroke=\"#666666\"/>\n";
    put_text(os, leg_x + bar_w + 6, ty + 0.35 * lf, value_text(ticks[k], vmax, share),
             {lf, Anchor::start, 0, false, "#333333"});
  }
  os << "</svg>\n";
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Hierarchy

namespace {

constexpr double kHeadingSize = 11;   // column headings, bold
constexpr double kLegendSize = 10.5;  // legend text
constexpr double kSampleW = 56;       // the legend's sample ribbon

struct LayerLayout {
  std::size_t k = 0;
  double font = 11, min_h = 16, gap = 10;
  double x = 0, w = 0;          // box column
  std::vector<double> y, h;     // per topic (original index): box top and height
  std::vector<std::size_t> order, pos;  // order[p] = topic at position p; pos[topic] = p
  std::vector<std::size_t> root;        // per topic: palette index of its colour group
  std::vector<std::string> labels, classes;
  std::string heading;
};

struct Link {
  std::size_t l, i, j;  // from topic i of layer l-1 to topic j of layer l
  double share, wt, ws, yt, ys;  // widths at target and source ends, tops of the ends
};

/// Canvas width, the caption's lines, and the baselines and tops above the columns.
struct Frame {
  double W = 0;
  std::vector<std::string> cap_lines;
  double title_y = 0, cap_y = 0, head_y = 0;
  double top = 0;  // top of the columns of boxes
};

/// "layer l", as messages and default headings name it.
std::string layer_name(std::size_t l) { return "layer " + std::to_string(l); }

/// Throws unless layer @p l has topics, and masses and class names (when given) that fit them.
void check_topics(const HierarchyLayer& ly, std::size_t l) {
  const std::size_t k = ly.labels.size();
  if (k == 0) throw InvalidArgument("hierarchy_svg: " + layer_name(l) + " has no topics (no labels)");
  if (!ly.mass.empty() && ly.mass.size() != k)
    throw DimensionMismatch("hierarchy_svg: " + layer_name(l) + " has " + std::to_string(k) + " labels but " +
                            std::to_string(ly.mass.size()) + " masses");
  if (!ly.classes.empty() && ly.classes.size() != k)
    throw DimensionMismatch("hierarchy_svg: " + layer_name(l) + " has " + std::to_string(k) + " labels but " +
                            std::to_string(ly.classes.size()) + " class names");
  for (double m : ly.mass)
    if (!std::isfinite(m) || m < 0)
      throw InvalidArgument("hierarchy_svg: " + layer_name(l) + " has the mass " + fixed(m, 4) + " (need >= 0)");
}

/// Throws unless the weights of layer @p l >= 1 are finite, >= 0 and k(l-1) x k(l), k(l-1) = @p kp.
void check_weights(const HierarchyLayer& ly, std::size_t l, std::size_t kp) {
  const auto& W = ly.weights;
  const std::size_t k = ly.labels.size();
  if (static_cast<std::size_t>(W.rows()) != kp || static_cast<std::size_t>(W.cols()) != k)
    throw DimensionMismatch("hierarchy_svg: " + layer_name(l) + "'s weights are " + std::to_string(W.rows()) + " x " +
                            std::to_string(W.cols()) + " but layers " + std::to_string(l - 1) + " and " +
                            std::to_string(l) + " have " + std::to_string(kp) + " and " + std::to_string(k) +
                            " topics");
  for (index_t j = 0; j < W.cols(); ++j)
    for (index_t i = 0; i < W.rows(); ++i)
      if (!std::isfinite(W(i, j)) || W(i, j) < 0)
        throw InvalidArgument("hierarchy_svg: " + layer_name(l) + "'s weight (" + std::to_string(i) + ", " +
                              std::to_string(j) + ") is " + fixed(W(i, j), 4) + " (need finite and >= 0)");
}

/// Checks the layers in order, each one's topics before its weights, so the first fault is the one reported.
void check_layers(const std::vector<HierarchyLayer>& layers) {
  if (layers.empty()) throw InvalidArgument("hierarchy_svg: no layers");
  for (std::size_t l = 0; l < layers.size(); ++l) {
    check_topics(layers[l], l);
    if (l > 0) check_weights(layers[l], l, layers[l - 1].labels.size());
  }
}

/// Shares s_l(i, j), l >= 1: (k(l-1), k(l)), the column-normalised weights(l), or the weights as given
/// without @p normalise. Entry 0 is empty.
std::vector<Matrix<double>> link_shares(const std::vector<HierarchyLayer>& layers, bool normalise) {
  std::vector<Matrix<double>> S(layers.size());
  for (std::size_t l = 1; l < layers.size(); ++l) {
    const auto& W = layers[l].weights;
    S[l] = Matrix<double>(W.rows(), W.cols());
    for (index_t j = 0; j < W.cols(); ++j) {
      double s = 0;
      for (index_t i = 0; i < W.rows(); ++i) s += W(i, j);
      for (index_t i = 0; i < W.rows(); ++i) S[l](i, j) = normalise ? (s > 0 ? W(i, j) / s : 0) : W(i, j);
    }
  }
  return S;
}

/// Where topic i of layer l goes most, @p s = s_{l+1}: argmax_j s(i, j), ties to the first.
std::size_t best_target(const Matrix<double>& s, std::size_t i) {
  index_t b = 0;
  for (index_t j = 1; j < s.cols(); ++j)
    if (s(static_cast<index_t>(i), j) > s(static_cast<index_t>(i), b)) b = j;
  return static_cast<std::size_t>(b);
}

/// Font, spacing, shown labels and heading of layer @p l, which depend on its number of topics only.
LayerLayout layer_text(const HierarchyLayer& ly, std::size_t l, std::size_t max_chars) {
  LayerLayout g;
  g.k = ly.labels.size();
  g.font = g.k <= 24 ? 11 : g.k <= 50 ? 10 : 9;
  g.min_h = g.font + 5;
  g.gap = g.k <= 24 ? 10 : g.k <= 50 ? 5 : 3;
  for (const auto& s : ly.labels) g.labels.push_back(ellipsize(s, max_chars));
  for (const auto& s : ly.classes) g.classes.push_back(ellipsize(s, max_chars));
  g.heading = ly.name.empty() ? layer_name(l) + " (" + std::to_string(g.k) + (g.k == 1 ? " topic)" : " topics)")
                              : ellipsize(ly.name, 2 * max_chars);
  return g;
}

/// Colour groups of layer @p g from those of the @p next layer (each topic takes the group of the topic it feeds
/// most, @p s = the next layer's shares) and, with @p reorder, g's topics grouped by that topic, strongest first.
void group_by_target(LayerLayout& g, const LayerLayout& next, const Matrix<double>& s, bool reorder) {
  std::vector<std::size_t> bt(g.k);
  for (std::size_t i = 0; i < g.k; ++i) {
    bt[i] = best_target(s, i);
    g.root[i] = next.root[bt[i]];
  }
  if (reorder)
    std::stable_sort(g.order.begin(), g.order.end(), [&](std::size_t a, std::size_t b) {
      if (next.pos[bt[a]] != next.pos[bt[b]]) return next.pos[bt[a]] < next.pos[bt[b]];
      return s(static_cast<index_t>(a), static_cast<index_t>(bt[a])) >
             s(static_cast<index_t>(b), static_cast<index_t>(bt[b]));
    });
}

/// Order (right to left: the last layer as given, each earlier layer grouped by the topic it
/// feeds most, strongest first) and colour groups.
void order_topics(std::vector<LayerLayout>& Ly, const std::vector<Matrix<double>>& S, const HierarchyStyle& st) {
  for (std::size_t lr = Ly.size(); lr-- > 0;) {
    auto& g = Ly[lr];
    g.order.resize(g.k);
    std::iota(g.order.begin(), g.order.end(), std::size_t(0));
    g.root.resize(g.k);
    if (lr + 1 == Ly.size()) {
      for (std::size_t i = 0; i < g.k; ++i) g.root[i] = i;
    } else {
      group_by_target(g, Ly[lr + 1], S[lr + 1], st.reorder);
    }
    g.pos.resize(g.k);
    for (std::size_t p = 0; p < g.k; ++p) g.pos[g.order[p]] = p;
    if (st.colour == LinkColour::source)
      for (std::size_t i = 0; i < g.k; ++i) g.root[i] = g.pos[i];
  }
}

/// Widest label of @p g, with its class name (bold, 10 px apart) where it has one.
double widest_label(const LayerLayout& g) {
  double w = 0;
  for (std::size_t i = 0; i < g.k; ++i) {
    double wi = estimated_text_width(g.labels[i], g.font);
    if (!g.classes.empty() && !g.classes[i].empty()) wi += 10 + estimated_text_width(g.classes[i], g.font, true);
    w = std::max(w, wi);
  }
  return w;
}

/// Horizontal layout: boxes as wide as their widest label (+ class name), ribbons between.
/// Returns the right end of the boxes and headings.
double place_columns(std::vector<LayerLayout>& Ly) {
  const std::size_t L = Ly.size();
  double x = kPad;
  for (std::size_t l = 0; l < L; ++l) {
    auto& g = Ly[l];
    g.x = x;
    g.w = widest_label(g) + 12;
    const double ribbon_gap = std::max({g.k, l + 1 < L ? Ly[l + 1].k : 0}) > 40 ? 220 : 170;
    const double head_w = estimated_text_width(g.heading, kHeadingSize, true);
    x += std::max(g.w + ribbon_gap, head_w + 20);
  }
  double content_right = 0;
  for (const auto& g : Ly)
    content_right = std::max({content_right, g.x + g.w, g.x + estimated_text_width(g.heading, kHeadingSize, true)});
  return content_right;
}

/// Vertical layout: every column has the same height, enough for the most crowded one.
/// With masses, the boxes need room above their floor to differ in height.
double column_height(const std::vector<LayerLayout>& Ly, const std::vector<HierarchyLayer>& layers) {
  double col_h = 360;
  for (std::size_t l = 0; l < Ly.size(); ++l) {
    const auto& g = Ly[l];
    const double room = layers[l].mass.empty() ? 1 : g.k > 50 ? 1.3 : 1.6;
    col_h = std::max(col_h, static_cast<double>(g.k) * (room * g.min_h + g.gap) - g.gap);
  }
  return col_h;
}

/// Box heights filling a column @p col_h tall: equal, or min_h plus a share of the rest that follows @p mass.
void size_boxes(LayerLayout& g, const std::vector<double>& mass, double col_h) {
  const double avail = col_h - static_cast<double>(g.k - 1) * g.gap;
  const double msum = std::accumulate(mass.begin(), mass.end(), 0.0);
  g.h.assign(g.k, avail / static_cast<double>(g.k));
  if (!mass.empty() && msum > 0)
    for (std::size_t i = 0; i < g.k; ++i)
      g.h[i] = g.min_h + (avail - static_cast<double>(g.k) * g.min_h) * mass[i] / msum;
}

/// Box tops: each column's boxes stacked from @p top in their order, gap apart.
void stack_boxes(std::vector<LayerLayout>& Ly, double top) {
  for (auto& g : Ly) {
    g.y.assign(g.k, 0);
    double yy = top;
    for (std::size_t p = 0; p < g.k; ++p) {
      const std::size_t i = g.order[p];
      g.y[i] = yy;
      yy += g.h[i] + g.gap;
    }
  }
}

/// Canvas width (content, title and caption, at least 640 px with links and 360 without) and the rows above the
/// columns: title, caption wrapped to the canvas, headings.
Frame layout_frame(double content_right, std::size_t L, const HierarchyStyle& st) {
  Frame f;
  f.W = std::max(content_right + kPad, L > 1 ? 640.0 : 360.0);
  const double title_w = st.title.empty() ? 0 : estimated_text_width(st.title, kTitleSize, true);
  f.W = std::max(f.W, 2 * kPad + title_w);
  if (!st.caption.empty()) f.cap_lines = wrap(st.caption, kCaptionSize, f.W - 2 * kPad);
  for (const auto& c : f.cap_lines) f.W = std::max(f.W, 2 * kPad + estimated_text_width(c, kCaptionSize));

  double y = kPad;
  f.title_y = y + kAscent * kTitleSize;
  if (!st.title.empty()) y += kTitleSize * 1.35;
  f.cap_y = y + kAscent * kCaptionSize;
  y += kCaptionSize * 1.4 * static_cast<double>(f.cap_lines.size());
  f.head_y = y + 6 + kAscent * kHeadingSize;
  f.top = f.head_y + kDescent * kHeadingSize + 10;
  return f;
}

/// Target ends (@p ll is ordered by target, then source position): the ends into one node are stacked, centred
/// on it, and scaled down together when they would exceed its height.
void stack_target_ends(std::vector<Link>& ll, const LayerLayout& dst) {
  for (std::size_t a = 0; a < ll.size();) {
    std::size_t b = a;
    double tot = 0;
    while (b < ll.size() && ll[b].j == ll[a].j) tot += ll[b++].wt;
    const double hj = dst.h[ll[a].j], c = tot > hj ? hj / tot : 1;
    double yy = dst.y[ll[a].j] + (hj - tot * c) / 2;
    for (std::size_t q = a; q < b; ++q) {
      ll[q].wt *= c;
      ll[q].yt = yy;
      yy += ll[q].wt;
    }
    a = b;
  }
}

/// Source ends, in the order of their targets: stacked, centred and scaled down like the target ends.
void stack_source_ends(std::vector<Link>& ll, const LayerLayout& src) {
  for (std::size_t pi = 0; pi < src.k; ++pi) {
    const std::size_t i = src.order[pi];
    double tot = 0;
    for (const auto& k : ll)
      if (k.i == i) tot += k.wt;
    const double hi = src.h[i], c = tot > hi ? hi / tot : 1;
    double yy = src.y[i] + (hi - tot * c) / 2;
    for (auto& k : ll)
      if (k.i == i) {
        k.ws = k.wt * c;
        k.ys = yy;
        yy += k.ws;
      }
  }
}

/// Links: widths at the target end are s(i, j) of node j's height; the ends are stacked in
/// the order of the nodes at the other end, centred, and scaled down together if too tall.
/// Only shares s > 0 and >= @p threshold make a link.
std::vector<Link> place_links(const std::vector<LayerLayout>& Ly, const std::vector<Matrix<double>>& S,
                              double threshold) {
  std::vector<Link> links;
  for (std::size_t l = 1; l < Ly.size(); ++l) {
    const auto& src = Ly[l - 1];
    const auto& dst = Ly[l];
    std::vector<Link> ll;
    for (std::size_t pj = 0; pj < dst.k; ++pj)
      for (std::size_t pi = 0; pi < src.k; ++pi) {
        const std::size_t i = src.order[pi], j = dst.order[pj];
        const double s = S[l](static_cast<index_t>(i), static_cast<index_t>(j));
        if (s > 0 && s >= threshold) ll.push_back({l, i, j, s, s * dst.h[j], 0, 0, 0});
      }
    stack_target_ends(ll, dst);
    stack_source_ends(ll, src);
    links.insert(links.end(), ll.begin(), ll.end());
  }
  return links;
}

/// The legend's sentences, unwrapped: what ribbons, box heights and colours mean (none without st.legend).
std::vector<std::string> legend_lines(const std::vector<HierarchyLayer>& layers, const HierarchyStyle& st) {
  std::vector<std::string> leg_lines;
  if (!st.legend) return leg_lines;
  const bool links = layers.size() > 1;
  if (links) {
    leg_lines.push_back(std::string("Ribbon from topic i of layer l-1 to topic j of layer l: ") +
                        (st.normalise ? "the share s(i, j) of i in j, the column-normalised weight "
                                        "A(l)[i, j] / sum_i A(l)[i, j]"
                                      : "the weight s(i, j) as given") +
                        "; at its right end it covers s(i, j) of box j.");
    leg_lines.push_back("Ribbons with s(i, j) < " + fixed(st.threshold, 2) +
                        " are not drawn; the ribbons leaving a box are narrowed together where they would not "
                        "fit it.");
  }
  bool any_mass = false;
  for (const auto& ly : layers) any_mass = any_mass || !ly.mass.empty();
  leg_lines.push_back(any_mass ? "Box heights follow the topic mass (above a floor that keeps labels readable)."
                               : "Box heights are equal within a layer.");
  if (links)
    leg_lines.push_back(st.colour == LinkColour::last_layer
                            ? "Colour: the last-layer topic that a topic feeds most (following its widest ribbon)."
                            : "Colour: the ribbon's source topic.");
  return leg_lines;
}

/// How far the legend's text starts right of the left margin: past the sample ribbon when there is one.
double legend_indent(bool sample) { return sample ? kSampleW + 12 : 0; }

/// @p lines wrapped to the width a canvas @p W wide leaves them.
std::vector<std::string> wrap_legend(const std::vector<std::string>& lines, double W, bool sample) {
  std::vector<std::string> out;
  for (const auto& l : lines)
    for (auto& w : wrap(l, kLegendSize, W - 2 * kPad - legend_indent(sample))) out.push_back(w);
  return out;
}

/// Title, caption and column headings.
void draw_headings(std::ostream& os, const Frame& f, const std::vector<LayerLayout>& Ly, const HierarchyStyle& st) {
  if (!st.title.empty()) put_text(os, kPad, f.title_y, st.title, {kTitleSize, Anchor::start, 0, true, ""});
  for (std::size_t k = 0; k < f.cap_lines.size(); ++k)
    put_text(os, kPad, f.cap_y + kCaptionSize * 1.4 * static_cast<double>(k), f.cap_lines[k],
             {kCaptionSize, Anchor::start, 0, false, "#444444"});
  for (const auto& g : Ly) put_text(os, g.x, f.head_y, g.heading, {kHeadingSize, Anchor::start, 0, true, "#333333"});
}

/// One ribbon per link, from the right side of its source box to the left side of its target box, with the
/// full labels and the share as tooltip.
void draw_links(std::ostream& os, const std::vector<Link>& links, const std::vector<LayerLayout>& Ly,
                const std::vector<HierarchyLayer>& layers, LinkColour colour_by) {
  for (const auto& k : links) {
    const auto& src = Ly[k.l - 1];
    const auto& dst = Ly[k.l];
    const double x0 = src.x + src.w, x1 = dst.x, xm = (x0 + x1) / 2;
    const std::size_t colour = colour_by == LinkColour::last_layer ? dst.root[k.j] : src.root[k.i];
    os << "<path class=\"link\" d=\"M" << num(x0) << "," << num(k.ys) << " C" << num(xm) << "," << num(k.ys) << " "
       << num(xm) << "," << num(k.yt) << " " << num(x1) << "," << num(k.yt) << " L" << num(x1) << ","
       << num(k.yt + k.wt) << " C" << num(xm) << "," << num(k.yt + k.wt) << " " << num(xm) << ","
       << num(k.ys + k.ws) << " " << num(x0) << "," << num(k.ys + k.ws) << " Z\" fill=\"" << hex(palette(colour))
       << "\" fill-opacity=\"0.45\"><title>"
       << xml_escape(layers[k.l - 1].labels[k.i] + " \xE2\x86\x92 " + layers[k.l].labels[k.j] + ": " +
                     fixed(k.share, 2))
       << "</title></path>\n";
  }
}

/// Box of topic @p i of layer @p g (tooltip: full label, class, mass), its label and its class name.
void draw_node(std::ostream& os, const LayerLayout& g, const HierarchyLayer& ly, std::size_t i) {
  const Rgb c = palette(g.root[i]);
  std::string tip = ly.labels[i];
  if (!ly.classes.empty() && !ly.classes[i].empty()) tip += " (" + ly.classes[i] + ")";
  if (!ly.mass.empty()) tip += ", mass " + fixed(ly.mass[i], 3);
  os << "<rect class=\"node\" x=\"" << num(g.x) << "\" y=\"" << num(g.y[i]) << "\" width=\"" << num(g.w)
     << "\" height=\"" << num(g.h[i]) << "\" rx=\"2\" fill=\"" << hex(mix(c, {255, 255, 255}, 0.8))
     << "\" stroke=\"" << hex(c) << "\"><title>" << xml_escape(tip) << "</title></rect>\n";
  const double yb = g.y[i] + g.h[i] / 2 + 0.35 * g.font;
  put_text(os, g.x + 6, yb, g.labels[i], {g.font, Anchor::start, 0, false, "#111111"});
  if (!g.classes.empty() && !g.classes[i].empty())
    put_text(os, g.x + g.w - 6, yb, g.classes[i], {g.font, Anchor::end, 0, true, hex(mix(c, {0, 0, 0}, 0.35))});
}

/// The legend's text from @p leg_top down, after a sample ribbon, narrowing like the ones leaving a crowded box
/// (with @p sample).
void draw_legend(std::ostream& os, const std::vector<std::string>& lines, double leg_top, bool sample) {
  if (!lines.empty() && sample) {
    const double sx = kPad, sy = leg_top - 2;
    os << "<path d=\"M" << num(sx) << "," << num(sy + 4) << " C" << num(sx + kSampleW / 2) << "," << num(sy + 4)
       << " " << num(sx + kSampleW / 2) << "," << num(sy) << " " << num(sx + kSampleW) << "," << num(sy) << " L"
       << num(sx + kSampleW) << "," << num(sy + 16) << " C" << num(sx + kSampleW / 2) << "," << num(sy + 16) << " "
       << num(sx + kSampleW / 2) << "," << num(sy + 10) << " " << num(sx) << "," << num(sy + 10)
       << " Z\" fill=\"#1f77b4\" fill-opacity=\"0.45\"/>\n";
  }
  const double x = kPad + legend_indent(sample), y0 = leg_top + kAscent * kLegendSize;
  for (std::size_t k = 0; k < lines.size(); ++k)
    put_text(os, x, y0 + kLegendSize * 1.45 * static_cast<double>(k), lines[k],
             {kLegendSize, Anchor::start, 0, false, "#333333"});
}

}  // namespace

std::string hierarchy_svg(const std::vector<HierarchyLayer>& layers, const HierarchyStyle& st) {
  check_layers(layers);
  const auto S = link_shares(layers, st.normalise);
  std::vector<LayerLayout> Ly;
  for (std::size_t l = 0; l < layers.size(); ++l) Ly.push_back(layer_text(layers[l], l, st.max_label_chars));
  order_topics(Ly, S, st);

  const double content_right = place_columns(Ly);
  const double col_h = column_height(Ly, layers);
  for (std::size_t l = 0; l < Ly.size(); ++l) size_boxes(Ly[l], layers[l].mass, col_h);
  const Frame f = layout_frame(content_right, layers.size(), st);
  stack_boxes(Ly, f.top);
  const auto links = place_links(Ly, S, st.threshold);

  const bool sample = layers.size() > 1;  // a sample ribbon in the legend
  const auto legend = wrap_legend(legend_lines(layers, st), f.W, sample);
  const double leg_top = f.top + col_h + 24;
  const double H_total =
      (legend.empty() ? f.top + col_h : leg_top + kLegendSize * 1.45 * static_cast<double>(legend.size())) + kPad;

  std::ostringstream os;
  svg_open(os, f.W, H_total);
  draw_headings(os, f, Ly, st);
  draw_links(os, links, Ly, layers, st.colour);
  for (std::size_t l = 0; l < Ly.size(); ++l)
    for (std::size_t p = 0; p < Ly[l].k; ++p) draw_node(os, Ly[l], layers[l], Ly[l].order[p]);
  draw_legend(os, legend, leg_top, sample);
  os << "</svg>\n";
  return os.str();
}

}  // namespace nnmf::cli
