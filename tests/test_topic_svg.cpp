// The SVG pictures of `nnmf topics --svg` (src/cli/topic_svg.cpp): every label shown and
// escaped, every text element's estimated extent inside the viewBox, node boxes that neither
// overlap nor clip their labels, exactly the links at or above the threshold, deterministic output.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "cli/topic_svg.hpp"
#include "nnmf/error.hpp"

namespace nnmf::test {
namespace {

using cli::HeatmapScale;
using cli::HeatmapStyle;
using cli::HierarchyLayer;
using cli::HierarchyStyle;

struct SvgText {
  double x, y, size, rotate;
  std::string anchor, text;
  bool bold;
};

struct Svg {
  double width = 0, height = 0;
  std::vector<SvgText> texts;
};

std::string unescape(std::string s) {
  const std::pair<const char*, const char*> ents[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}};
  for (const auto& e : ents)
    for (std::size_t p; (p = s.find(e.first)) != std::string::npos;) s.replace(p, std::strlen(e.first), e.second);
  return s;
}

Svg parse(const std::string& svg) {
  Svg out;
  std::smatch m;
  const std::regex head(R"re(<svg [^>]*width="(\d+)" height="(\d+)" viewBox="0 0 (\d+) (\d+)")re");
  EXPECT_TRUE(std::regex_search(svg, m, head)) << "no width/height/viewBox";
  if (m.empty()) return out;
  EXPECT_EQ(m[1].str(), m[3].str());
  EXPECT_EQ(m[2].str(), m[4].str());
  out.width = std::stod(m[1]);
  out.height = std::stod(m[2]);
  const std::regex text(
      R"re(<text x="([-\d.]+)" y="([-\d.]+)" font-size="([\d.]+)" text-anchor="(\w+)"( font-weight="bold")?(?: fill="[^"]*")?(?: transform="rotate\(([-\d.]+) [-\d.]+ [-\d.]+\)")?>([^<]*)</text>)re");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text); it != std::sregex_iterator(); ++it) {
    const auto& t = *it;
    out.texts.push_back({std::stod(t[1]), std::stod(t[2]), std::stod(t[3]), t[6].matched ? std::stod(t[6]) : 0.0,
                         t[4], unescape(t[7]), t[5].matched});
  }
  // Every <text> element was understood.
  std::size_t n = 0;
  for (std::size_t p = 0; (p = svg.find("<text ", p)) != std::string::npos; ++p) ++n;
  EXPECT_EQ(n, out.texts.size());
  return out;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = 0; (p = s.find(what, p)) != std::string::npos; p += what.size()) ++n;
  return n;
}

/// Every text's estimated box (0.8 em above the baseline, 0.25 em below, width from
/// estimated_text_width), rotated about its anchor, lies inside the viewBox.
void expect_text_inside(const std::string& svg, const std::string& what) {
  const Svg s = parse(svg);
  ASSERT_GT(s.texts.size(), 0u) << what;
  for (const auto& t : s.texts) {
    const double w = cli::estimated_text_width(t.text, t.size, t.bold);
    const double xa = t.anchor == "start" ? 0 : t.anchor == "middle" ? -w / 2 : -w;
    const double a = t.rotate * 3.14159265358979323846 / 180;
    for (double cx : {xa, xa + w})
      for (double cy : {-0.8 * t.size, 0.25 * t.size}) {
        const double px = t.x + cx * std::cos(a) - cy * std::sin(a), py = t.y + cx * std::sin(a) + cy * std::cos(a);
        EXPECT_GE(px, 0) << what << ": '" << t.text << "' leaves the picture at the left";
        EXPECT_LE(px, s.width) << what << ": '" << t.text << "' leaves the picture at the right";
        EXPECT_GE(py, 0) << what << ": '" << t.text << "' leaves the picture at the top";
        EXPECT_LE(py, s.height) << what << ": '" << t.text << "' leaves the picture at the bottom";
      }
  }
}

std::vector<std::string> long_labels(std::size_t n, const std::string& prefix) {
  const char* words[] = {"space", "nasa", "orbit", "launch", "windows", "graphics", "hockey", "baseball",
                         "encryption", "christianity", "motorcycles", "electronics"};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    std::string s = prefix + std::to_string(i) + ":";
    for (std::size_t w = 0; w < 3 + i % 6; ++w) s += std::string(" ") + words[(i * 7 + w * 5) % 12];
    out.push_back(s);
  }
  return out;
}

/// Deterministic non-negative (rows x cols) weights with a dominant entry per row.
Matrix<double> weights(index_t rows, index_t cols) {
  Matrix<double> W(rows, cols);
  for (index_t j = 0; j < cols; ++j)
    for (index_t i = 0; i < rows; ++i) W(i, j) = (i % cols == j ? 1.0 : 0.02) + 0.01 * double((i * 13 + j * 7) % 5);
  return W;
}

std::vector<HierarchyLayer> hierarchy(const std::vector<index_t>& ranks) {
  std::vector<HierarchyLayer> L(ranks.size());
  for (std::size_t l = 0; l < ranks.size(); ++l) {
    L[l].labels = long_labels(static_cast<std::size_t>(ranks[l]), l == 0 ? "t" : l == 1 ? "T" : "U");
    if (l > 0) L[l].weights = weights(ranks[l - 1], ranks[l]);
  }
  return L;
}

TEST(TopicSvg, HeatmapShowsEveryLabelEscaped) {
  const Matrix<double> M(4, 2, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8});
  HeatmapStyle st;
  st.title = "A(1) & <friends>";
  const std::string svg = cli::heatmap_svg(M, {"r0", "r1 & co", "<r2>", "r3 \"q\""}, {"c0 <x>", "c1"}, st);
  for (const char* s : {">r0<", ">r1 &amp; co<", ">&lt;r2&gt;<", ">r3 &quot;q&quot;<", ">c0 &lt;x&gt;<", ">c1<",
                        ">A(1) &amp; &lt;friends&gt;<"})
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  EXPECT_EQ(svg.find("<r2>"), std::string::npos);
  EXPECT_EQ(svg.find("<x>"), std::string::npos);
  // Column shares with two decimals: column 0 is 1, 2, 3, 4 over 10.
  for (const char* v : {">0.10<", ">0.20<", ">0.30<", ">0.40<"}) EXPECT_NE(svg.find(v), std::string::npos) << v;
  expect_text_inside(svg, "4 x 2");
}

TEST(TopicSvg, HeatmapTextInsideViewBox) {
  for (auto [k0, k1] : {std::pair<index_t, index_t>{4, 2}, {9, 4}, {20, 6}, {100, 20}, {6, 6}, {1, 1}}) {
    const auto svg = cli::heatmap_svg(weights(k0, k1), long_labels(std::size_t(k0), "t"),
                                      long_labels(std::size_t(k1), "T"), {});
    expect_text_inside(svg, std::to_string(k0) + " x " + std::to_string(k1));
  }
  // A title much wider than the matrix widens the picture.
  HeatmapStyle st;
  st.title = std::string(150, 'W');
  expect_text_inside(cli::heatmap_svg(weights(2, 2), {}, {}, st), "long title");
}

TEST(TopicSvg, HeatmapDropsValuesOfLargeMatricesKeepsLabels) {
  const auto rows = long_labels(100, "t"), cols = long_labels(20, "T");
  const auto svg = cli::heatmap_svg(weights(100, 20), rows, cols, {});
  const Svg s = parse(svg);
  std::size_t values = 0;
  for (const auto& t : s.texts) values += std::regex_match(t.text, std::regex(R"(\d\.\d\d)"));
  EXPECT_EQ(values, 3u);  // only the legend's ticks
  for (const auto& r : rows) EXPECT_NE(svg.find(">" + cli::ellipsize(r, 40) + "<"), std::string::npos) << r;
  for (const auto& c : cols) EXPECT_NE(svg.find(">" + cli::ellipsize(c, 40) + "<"), std::string::npos) << c;
  const auto small = parse(cli::heatmap_svg(weights(20, 6), {}, {}, {}));
  values = 0;
  for (const auto& t : small.texts) values += std::regex_match(t.text, std::regex(R"(\d\.\d\d)"));
  EXPECT_EQ(values, 20u * 6u + 3u);
}

TEST(TopicSvg, LongLabelsEndInAnEllipsis) {
  const std::string longer(60, 'x');
  const auto svg = cli::heatmap_svg(weights(2, 2), {longer, "b"}, {"c", "d"}, {});
  EXPECT_EQ(svg.find(longer), std::string::npos);
  EXPECT_NE(svg.find(std::string(39, 'x') + "\xE2\x80\xA6"), std::string::npos);
  EXPECT_EQ(cli::ellipsize("short", 40), "short");
  EXPECT_EQ(cli::ellipsize("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xE2\x80\xA6");  // cut between code points
}

TEST(TopicSvg, HeatmapRejectsBadInput) {
  EXPECT_THROW(cli::heatmap_svg(weights(3, 2), {"a", "b"}, {}, {}), DimensionMismatch);
  EXPECT_THROW(cli::heatmap_svg(weights(3, 2), {}, {"a"}, {}), DimensionMismatch);
  EXPECT_THROW(cli::heatmap_svg(Matrix<double>(0, 2), {}, {}, {}), InvalidArgument);
  Matrix<double> neg = weights(3, 2);
  neg(1, 1) = -0.5;
  EXPECT_THROW(cli::heatmap_svg(neg, {}, {}, {}), InvalidArgument);
  HeatmapStyle raw;
  raw.scale = HeatmapScale::raw;  // a classifier B may be negative
  const auto svg = cli::heatmap_svg(neg, {}, {}, raw);
  EXPECT_NE(svg.find(">-0.50<"), std::string::npos);
  expect_text_inside(svg, "raw, negative");
  neg(0, 0) = std::nan("");
  EXPECT_THROW(cli::heatmap_svg(neg, {}, {}, raw), InvalidArgument);
}

TEST(TopicSvg, HierarchyTextInsideViewBoxAndNodesApart) {
  for (const auto& ranks : std::vector<std::vector<index_t>>{{9}, {9, 4, 2}, {20, 6}, {100, 20, 6}, {6, 6}}) {
    std::string what = "ranks";
    for (auto k : ranks) what += " " + std::to_string(k);
    auto L = hierarchy(ranks);
    L.back().classes.assign(static_cast<std::size_t>(ranks.back()), "talk.politics.mideast");
    const auto svg = cli::hierarchy_svg(L, {});
    expect_text_inside(svg, what);
    // Boxes of one column do not overlap, and each label fits inside its box.
    const std::regex node(R"re(<rect class="node" x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)")re");
    std::map<std::string, std::vector<std::pair<double, double>>> columns;
    std::vector<std::array<double, 4>> boxes;
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), node); it != std::sregex_iterator(); ++it) {
      const double y = std::stod((*it)[2]), h = std::stod((*it)[4]);
      columns[(*it)[1]].push_back({y, y + h});
      boxes.push_back({std::stod((*it)[1]), y, std::stod((*it)[3]), h});
    }
    std::size_t nodes = 0;
    for (auto k : ranks) nodes += static_cast<std::size_t>(k);
    EXPECT_EQ(boxes.size(), nodes) << what;
    for (auto& c : columns) {
      std::sort(c.second.begin(), c.second.end());
      for (std::size_t i = 1; i < c.second.size(); ++i) EXPECT_LE(c.second[i - 1].second, c.second[i].first) << what;
    }
    const Svg s = parse(svg);
    for (const auto& l : L)
      for (std::size_t i = 0; i < l.labels.size(); ++i) {
        const std::string shown = cli::ellipsize(l.labels[i], 40);
        const auto t = std::find_if(s.texts.begin(), s.texts.end(), [&](const SvgText& x) { return x.text == shown; });
        ASSERT_NE(t, s.texts.end()) << what << ": " << shown;
        const auto b = std::find_if(boxes.begin(), boxes.end(), [&](const std::array<double, 4>& r) {
          return t->x >= r[0] && t->x <= r[0] + r[2] && t->y >= r[1] && t->y <= r[1] + r[3];
        });
        ASSERT_NE(b, boxes.end()) << what << ": " << shown << " is in no box";
        EXPECT_LE(t->x + cli::estimated_text_width(shown, t->size), (*b)[0] + (*b)[2]) << shown;
        EXPECT_GE(t->y - 0.8 * t->size, (*b)[1] - 0.5) << shown;
        EXPECT_LE(t->y + 0.25 * t->size, (*b)[1] + (*b)[3] + 0.5) << shown;
      }
  }
}

TEST(TopicSvg, HierarchyDrawsExactlyTheLinksAtOrAboveThreshold) {
  // Column shares of A(1): column 0 = (0.05, 0.15, 0.8), column 1 = (0.5, 0.5, 0).
  std::vector<HierarchyLayer> L(2);
  L[0].labels = {"a", "b", "c"};
  L[1].labels = {"X", "Y"};
  L[1].weights = Matrix<double>(3, 2, std::vector<double>{0.1, 0.3, 1.6, 2, 2, 0});
  const auto svg = cli::hierarchy_svg(L, {});
  EXPECT_EQ(count(svg, "<path class=\"link\""), 4u);
  EXPECT_EQ(svg.find("a \xE2\x86\x92 X"), std::string::npos);  // 0.05 < 0.1
  EXPECT_EQ(svg.find("c \xE2\x86\x92 Y"), std::string::npos);  // 0
  for (const char* s : {"b \xE2\x86\x92 X: 0.15", "c \xE2\x86\x92 X: 0.80", "a \xE2\x86\x92 Y: 0.50", "b \xE2\x86\x92 Y: 0.50"})
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  HierarchyStyle st;
  st.threshold = 0.2;
  EXPECT_EQ(count(cli::hierarchy_svg(L, st), "<path class=\"link\""), 3u);
  st.threshold = 0;
  EXPECT_EQ(count(cli::hierarchy_svg(L, st), "<path class=\"link\""), 5u);  // zero shares never drawn

  // Larger: the count matches the shares at or above the threshold, layer by layer.
  const auto big = hierarchy({100, 20, 6});
  std::size_t expected = 0;
  for (std::size_t l = 1; l < big.size(); ++l) {
    const auto& W = big[l].weights;
    for (index_t j = 0; j < W.cols(); ++j) {
      double s = 0;
      for (index_t i = 0; i < W.rows(); ++i) s += W(i, j);
      for (index_t i = 0; i < W.rows(); ++i) expected += W(i, j) / s >= 0.1;
    }
  }
  EXPECT_GT(expected, 0u);
  EXPECT_EQ(count(cli::hierarchy_svg(big, {}), "<path class=\"link\""), expected);
}

TEST(TopicSvg, RibbonEndsLieOnTheirBoxes) {
  for (const auto& ranks : std::vector<std::vector<index_t>>{{9, 4, 2}, {100, 20, 6}}) {
    auto L = hierarchy(ranks);
    for (std::size_t i = 0; i < L[0].labels.size(); ++i) L[0].mass.push_back(1.0 + double(i % 7));
    const auto svg = cli::hierarchy_svg(L, {});
    const std::regex node(R"re(<rect class="node" x="([-\d.]+)" y="([-\d.]+)" width="([\d.]+)" height="([\d.]+)")re");
    std::vector<std::array<double, 4>> boxes;  // x0, y0, x1, y1
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), node); it != std::sregex_iterator(); ++it) {
      const double x = std::stod((*it)[1]), y = std::stod((*it)[2]);
      boxes.push_back({x, y, x + std::stod((*it)[3]), y + std::stod((*it)[4])});
    }
    const std::string n = R"(([-\d.]+))";
    const std::regex link("<path class=\"link\" d=\"M" + n + "," + n + " C[^L]* " + n + "," + n + " L" + n + "," + n +
                          " C[^Z]* " + n + "," + n + " Z\"");
    std::size_t links = 0;
    auto on_box = [&](double x, double ya, double yb, int side) {
      return std::any_of(boxes.begin(), boxes.end(), [&](const std::array<double, 4>& b) {
        return std::fabs(x - b[side]) < 0.11 && ya >= b[1] - 0.11 && yb <= b[3] + 0.11;
      });
    };
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), link); it != std::sregex_iterator(); ++it, ++links) {
      double v[8];
      for (int k = 0; k < 8; ++k) v[k] = std::stod((*it)[k + 1]);
      // v: source x, top; target x, top; target x, bottom; source x, bottom
      EXPECT_LE(v[1], v[7]);
      EXPECT_LE(v[3], v[5]);
      EXPECT_TRUE(on_box(v[0], v[1], v[7], 2)) << "source end of link " << links << " is off its box";
      EXPECT_TRUE(on_box(v[2], v[3], v[5], 0)) << "target end of link " << links << " is off its box";
    }
    EXPECT_EQ(links, count(svg, "<path class=\"link\""));
  }
}

TEST(TopicSvg, HierarchyEscapesLabelsAndShowsClasses) {
  std::vector<HierarchyLayer> L(2);
  L[0].labels = {"t0: at&t <unix>", "t1: \"quoted\""};
  L[0].mass = {3, 1};
  L[1].labels = {"T0: r&d"};
  L[1].classes = {"comp & sci"};
  L[1].weights = Matrix<double>(2, 1, std::vector<double>{1, 1});
  HierarchyStyle st;
  st.title = "a <title>";
  st.caption = "line one & more\nline two";
  const auto svg = cli::hierarchy_svg(L, st);
  for (const char* s : {">t0: at&amp;t &lt;unix&gt;<", ">t1: &quot;quoted&quot;<", ">T0: r&amp;d<", ">comp &amp; sci<",
                        ">a &lt;title&gt;<", ">line one &amp; more<", ">line two<"})
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  EXPECT_EQ(svg.find("<unix>"), std::string::npos);
  EXPECT_EQ(svg.find("a <title>"), std::string::npos);
  expect_text_inside(svg, "escaped");
}

TEST(TopicSvg, OutputIsDeterministicAndWellFormed) {
  const auto L = hierarchy({20, 6});
  const auto a = cli::hierarchy_svg(L, {}), b = cli::hierarchy_svg(L, {});
  EXPECT_EQ(a, b);
  const auto h = cli::heatmap_svg(weights(20, 6), {}, {}, {});
  EXPECT_EQ(h, cli::heatmap_svg(weights(20, 6), {}, {}, {}));
  for (const auto* s : {&a, &h}) {
    EXPECT_EQ(s->rfind("</svg>\n"), s->size() - 7);
    EXPECT_NE(s->find("fill=\"white\""), std::string::npos);  // white background
    EXPECT_EQ(count(*s, "<text "), count(*s, "</text>"));
    EXPECT_EQ(s->find("nan"), std::string::npos);
    EXPECT_EQ(s->find("inf"), std::string::npos);
  }
}

TEST(TopicSvg, HierarchyRejectsBadInput) {
  EXPECT_THROW(cli::hierarchy_svg({}, {}), InvalidArgument);
  auto L = hierarchy({4, 2});
  L[1].weights = weights(3, 2);
  EXPECT_THROW(cli::hierarchy_svg(L, {}), DimensionMismatch);
  L = hierarchy({4, 2});
  L[1].weights(0, 0) = -1;
  EXPECT_THROW(cli::hierarchy_svg(L, {}), InvalidArgument);
  L = hierarchy({4, 2});
  L[0].mass = {1, 2};
  EXPECT_THROW(cli::hierarchy_svg(L, {}), DimensionMismatch);
  L = hierarchy({4, 2});
  L[1].classes = {"only one"};
  EXPECT_THROW(cli::hierarchy_svg(L, {}), DimensionMismatch);
  L = hierarchy({4, 2});
  L[1].labels.clear();
  EXPECT_THROW(cli::hierarchy_svg(L, {}), InvalidArgument);
}

}  // namespace
}  // namespace nnmf::test
