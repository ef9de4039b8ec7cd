#pragma once
/// @file svg_plot.hpp
/// Small SVG plots for the report (`lineage report`): heatmaps, per-layer curves with a null
/// band, and strip histograms, each with axes, ticks, a title, axis units and (heatmaps) a
/// colour bar. Colours come from perceptually uniform, colour-blind-safe maps (viridis,
/// cividis) and the Okabe–Ito palette for lines.
///
/// Size is bounded whatever the model: heatmap cells are one embedded PNG (a 128 x 128 matrix
/// is a few kB, where one <rect> per cell would be megabytes), matrices beyond kMaxCells per side
/// are averaged into blocks, strips are histograms of at most kStripBins bars. Every plot's root
/// carries data-* attributes (data-plot, and those the caller adds) so tests can count them.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lineage::io::report {

inline constexpr std::size_t kMaxCells = 128;  ///< heatmap cells per side before blocks are averaged
inline constexpr int kStripBins = 40;

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

enum class ColourMap : std::uint8_t { viridis, cividis };

/// The map's colour at t in [0, 1] (clamped; NaN gives the map's colour at 0).
[[nodiscard]] Rgb colour_at(ColourMap map, double t) noexcept;
[[nodiscard]] std::string hex(Rgb c);
/// Line colour i of the Okabe–Ito palette (cycles after 8).
[[nodiscard]] std::string series_colour(std::size_t i);

/// Tick positions at 1, 2 or 5 x 10^k covering [lo, hi], about `target` of them, inside it.
[[nodiscard]] std::vector<double> nice_ticks(double lo, double hi, int target = 5);
/// A tick label without trailing zeros ("0.5", "10", "1e-06").
[[nodiscard]] std::string tick_label(double v);

/// Escapes &, <, >, " and ' for XML text and attributes (the report is well-formed XHTML).
[[nodiscard]] std::string xml_escape(std::string_view text);

/// Attributes written on a plot's root <svg> as data-NAME="value".
using DataAttributes = std::map<std::string, std::string>;

struct HeatmapSpec {
  std::string id;  ///< unique in the document (names the colour bar's gradient)
  std::string title;
  DataAttributes data;
  std::size_t rows = 0, cols = 0;
  std::vector<double> values;  ///< row-major rows x cols; NaN = not compared (drawn light grey)
  std::string row_title, col_title, colour_title;
  /// Category names; when empty the axis shows indices 0..n-1.
  std::vector<std::string> row_labels, col_labels;
  double lo = -1, hi = 1;  ///< colour scale domain
  ColourMap map = ColourMap::viridis;
  std::vector<std::pair<int, int>> marks;  ///< (row, col) cells to ring (a layer map)
  int size = 220;                          ///< plot area side, px
  std::string missing_note = "grey: not compared";
};
/// Rows or columns beyond kMaxCells are averaged (finite values) into equal blocks; the axes keep
/// the original indices and the title says so.
[[nodiscard]] std::string heatmap_svg(const HeatmapSpec& spec);

struct Series {
  std::string label;
  std::vector<double> x, y;  ///< NaN y breaks the line
};
struct Band {
  std::string label;
  std::vector<double> x, lo, hi;
};
struct LineChartSpec {
  std::string title;
  DataAttributes data;
  std::string x_title, y_title;
  std::vector<Series> series;
  std::optional<Band> band;
  std::optional<double> y_lo, y_hi;  ///< fixed domain; otherwise from the data
  int width = 460, height = 250;
};
/// One <path data-series="LABEL"> per series (points as circles when there are few), the band as
/// a shaded polygon behind them, and a legend.
[[nodiscard]] std::string line_chart_svg(const LineChartSpec& spec);

struct StripSpec {
  DataAttributes data;
  std::vector<double> values;  ///< non-finite values are left out
  double lo = -0.2, hi = 1;
  std::optional<std::pair<double, double>> band;  ///< null band drawn behind the bars
  std::optional<double> marker;                   ///< a vertical tick (the effect)
  int width = 200, height = 34;
};
/// A histogram of the values in at most kStripBins bars on a fixed axis: small enough for a table
/// cell, readable for one unit or thousands.
[[nodiscard]] std::string strip_svg(const StripSpec& spec);

}  // namespace lineage::io::report
