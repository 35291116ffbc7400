// SVG pictures of a fitted hierarchy (`nnmf topics --svg DIR`, `nnmf experiment table2`):
// heat maps of A(l) or of a classifier B, and a Sankey-like diagram of the topic hierarchy.
// Plain data in, SVG 1.1 text out, no file I/O. Output is deterministic (fixed layout, fixed
// number formatting), every label is XML-escaped, and margins are computed from estimated
// label widths so that no text is clipped.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nnmf/matrix.hpp"

namespace nnmf::cli {

/// @p s with & < > " ' replaced by XML entities.
std::string xml_escape(const std::string& s);

/// Width in pixels that the pictures assume for @p utf8 at @p font_size (0.6 em per code
/// point, 0.66 em bold: generous for Helvetica/Arial/DejaVu, so estimates err on the wide side).
double estimated_text_width(const std::string& utf8, double font_size, bool bold = false);

/// @p utf8 cut to @p max_chars code points, the last one an ellipsis, when it is longer.
std::string ellipsize(const std::string& utf8, std::size_t max_chars);

/// What a heat-map cell shows.
enum class HeatmapScale {
  column_share,  ///< M(i, j) / sum_i M(i, j): share of row i in column j (needs M >= 0)
  raw,           ///< M(i, j) itself; a diverging red/blue scale when some entry is negative
};

struct HeatmapStyle {
  std::string title;        ///< bold first line; "" = none
  std::string caption;      ///< what the cells are; "" = a default naming rows, columns and scale
  std::string row_name;                 ///< e.g. "layer-0 topics" (named by the default caption)
  std::string col_name;                 ///< e.g. "layer-1 topics"
  HeatmapScale scale = HeatmapScale::column_share;
  bool values = true;                   ///< print the value in each cell ...
  std::size_t max_value_rows = 40;      ///< ... unless the matrix has more rows than this
  std::size_t max_value_cols = 30;      ///< ... or more columns than this
  std::size_t max_label_chars = 40;     ///< longer labels end in an ellipsis
};

/// Heat map of the k_rows x k_cols matrix @p M, with a colour-scale legend.
/// Used for A(l), l >= 1 (rows: topics of layer l-1, columns: topics of layer l) and for a
/// supervised model's classifier B (rows: classes, columns: last-layer topics).
/// @param row_labels one per row of M, or empty for "0", "1", ...
/// @param col_labels one per column of M, or empty for "0", "1", ...
/// @throws DimensionMismatch label counts differ from M's shape; InvalidArgument M is empty,
///         has a non-finite entry, or has a negative entry with HeatmapScale::column_share.
std::string heatmap_svg(const Matrix<double>& M, const std::vector<std::string>& row_labels,
                        const std::vector<std::string>& col_labels, const HeatmapStyle& style = {});

/// One layer of the hierarchy: its topics, and for layer l >= 1 how layer l-1 feeds it.
struct HierarchyLayer {
  std::vector<std::string> labels;   ///< one per topic, e.g. "t3: space nasa orbit"
  std::vector<std::string> classes;  ///< optional, one per topic: the class it speaks for (bold in the box)
  std::vector<double> mass;          ///< optional, one per topic (>= 0): node heights follow it
  Matrix<double> weights;            ///< layer l >= 1: k(l-1) x k(l), e.g. A(l); layer 0: empty
  std::string name;                  ///< column heading; "" = "layer l (k topics)"
};

/// How links are coloured.
enum class LinkColour {
  last_layer,  ///< by the last-layer topic the link's target feeds most (branches of one colour)
  source,      ///< by the link's source topic
};

struct HierarchyStyle {
  std::string title = "Topic hierarchy";  ///< bold first line; "" = none
  std::string caption;                    ///< extra lines under the title ("\n" separates lines)
  double threshold = 0.1;  ///< links whose share is below this are not drawn
  bool normalise = true;   ///< weights are column-normalised (share of i in j); false: taken as shares
  bool reorder = true;     ///< order each layer's topics by the topic they feed (fewer crossings)
  LinkColour colour = LinkColour::last_layer;
  bool legend = true;      ///< explain widths, heights and colours under the diagram
  std::size_t max_label_chars = 40;  ///< longer labels end in an ellipsis
};

/// Sankey-like diagram of the hierarchy: one column of boxes per layer (layer 0 at left), a
/// ribbon from topic i of layer l-1 to topic j of layer l for every share s(i, j) >= threshold,
/// where s is the column-normalised weights(l). At its right end a ribbon covers s(i, j) of
/// node j's height (so the ribbons into j show what j is made of); at its left end the ribbons
/// leaving i are stacked and scaled down together when they would exceed node i's height.
/// Node heights are equal within a layer, or affine in the topic mass when mass is given
/// (a floor keeps every label readable). Font size and spacing adapt to the number of topics.
/// @throws InvalidArgument no layers, a layer without topics, a negative or non-finite weight
///         or mass; DimensionMismatch weights, classes or mass do not fit the layers' sizes.
std::string hierarchy_svg(const std::vector<HierarchyLayer>& layers, const HierarchyStyle& style = {});

}  // namespace nnmf::cli
