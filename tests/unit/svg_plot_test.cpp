// The report's plotting primitives (io/report): colour maps, ticks, escaping, the PNG writer
// (decoded back with zlib), and the bounds that keep plots small at 1 and 512 cells per side.
#include "io/report/svg_plot.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "io/report/png_image.hpp"

namespace lineage::io::report {
namespace {

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + what.size())) ++n;
  return n;
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<unsigned char>(s[at + 3]);
}

std::string unbase64(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<std::uint32_t>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xffu);
    }
  }
  return out;
}

/// The PNG inside a heatmap's data: URI.
std::string embedded_png(const std::string& svg) {
  const std::string tag = "data:image/png;base64,";
  const auto from = svg.find(tag) + tag.size();
  return unbase64(svg.substr(from, svg.find('"', from) - from));
}

double luma(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

TEST(ReportColour, EndpointsAreMatplotlibs) {
  EXPECT_EQ(colour_at(ColourMap::viridis, 0), (Rgb{68, 1, 84}));
  EXPECT_EQ(colour_at(ColourMap::viridis, 1), (Rgb{253, 231, 37}));
  EXPECT_EQ(colour_at(ColourMap::cividis, 0), (Rgb{0, 34, 78}));
  EXPECT_EQ(colour_at(ColourMap::cividis, 1), (Rgb{254, 232, 56}));
  EXPECT_EQ(colour_at(ColourMap::viridis, -3), colour_at(ColourMap::viridis, 0));
  EXPECT_EQ(colour_at(ColourMap::viridis, 7), colour_at(ColourMap::viridis, 1));
  EXPECT_EQ(colour_at(ColourMap::viridis, std::nan("")), colour_at(ColourMap::viridis, 0));
  EXPECT_EQ(hex(Rgb{68, 1, 84}), "#440154");
}

TEST(ReportColour, LightnessRisesMonotonically) {
  // What makes the maps readable in grey and by colour-blind readers: lightness orders values.
  for (const auto map : {ColourMap::viridis, ColourMap::cividis}) {
    double last = -1;
    for (int k = 0; k <= 50; ++k) {
      const double l = luma(colour_at(map, k / 50.0));
      EXPECT_GT(l, last) << "at " << k / 50.0;
      last = l;
    }
  }
}

TEST(ReportTicks, NiceSteps) {
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(nice_ticks(0, 63, 6), (std::vector<double>{0, 20, 40, 60}));  // 10.5 a step rounds up to 20
  EXPECT_EQ(nice_ticks(0, 127, 6), (std::vector<double>{0, 50, 100}));
  EXPECT_EQ(nice_ticks(-1, 1, 4), (std::vector<double>{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(nice_ticks(0, 0, 5), (std::vector<double>{0}));
  EXPECT_EQ(nice_ticks(1, 0, 1), (std::vector<double>{0, 1}));
  EXPECT_TRUE(nice_ticks(0, std::numeric_limits<double>::infinity()).empty());
  EXPECT_EQ(tick_label(0.6000000000000001), "0.6");
  EXPECT_EQ(tick_label(10), "10");
}

TEST(ReportText, EscapesMarkup) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
}

TEST(ReportPng, Base64Vectors) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(unbase64(base64(std::string("\x00\xff\x10", 3))), std::string("\x00\xff\x10", 3));
}

TEST(ReportPng, DecodesToThePixels) {
  const std::vector<Rgb> pixels{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}, {13, 14, 15}, {16, 17, 18}};
  const auto png = encode_png(3, 2, pixels);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // IHDR: length 13, then width, height, depth 8, colour type 2 (RGB).
  EXPECT_EQ(be32(png, 8), 13u);
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), 3u);
  EXPECT_EQ(be32(png, 20), 2u);
  EXPECT_EQ(png[24], 8);
  EXPECT_EQ(png[25], 2);
  // Every chunk's CRC, and the IDAT inflated back to filter byte + RGB per row.
  std::size_t at = 8;
  std::string idat;
  while (at < png.size()) {
    const auto len = be32(png, at);
    const auto type = png.substr(at + 4, 4);
    const auto crc = crc32(0, reinterpret_cast<const Bytef*>(png.data() + at + 4), len + 4);
    EXPECT_EQ(be32(png, at + 8 + len), crc) << type;
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  EXPECT_EQ(at, png.size());
  std::string raw(2 * (1 + 3 * 3), '\0');
  uLongf raw_size = raw.size();
  ASSERT_EQ(uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_size, reinterpret_cast<const Bytef*>(idat.data()),
                       idat.size()),
            Z_OK);
  EXPECT_EQ(raw_size, raw.size());
  EXPECT_EQ(raw, std::string("\0\1\2\3\4\5\6\7\10\11\0\12\13\14\15\16\17\20\21\22", 20));
  EXPECT_THROW((void)encode_png(2, 2, pixels), std::exception);
}

TEST(ReportHeatmap, AxesLegendAndOneImage) {
  HeatmapSpec h;
  h.id = "t";
  h.title = "attn <q>";
  h.data = {{"family", "layers"}, {"scale", "raw"}};
  h.rows = 3, h.cols = 4;
  h.values = {0, 0.5, 1, -1, std::nan(""), 0.2, 0.3, 0.4, 0.1, 0.1, 0.1, 0.1};
  h.row_title = "suspect layer";
  h.col_title = "parent layer";
  h.colour_title = "Pearson";
  h.marks = {{1, 2}, {9, 9}};
  const auto svg = heatmap_svg(h);
  EXPECT_NE(svg.find("data-plot=\"heatmap\" data-family=\"layers\" data-scale=\"raw\""), std::string::npos);
  EXPECT_NE(svg.find("attn &lt;q&gt;"), std::string::npos);
  EXPECT_EQ(count(svg, "<image "), 1u);
  EXPECT_EQ(count(svg, "data-legend=\"colour\""), 1u);
  EXPECT_EQ(count(svg, "<stop "), 11u);
  EXPECT_EQ(count(svg, "data-mark="), 1u);  // the mark outside the matrix is dropped
  EXPECT_NE(svg.find(">suspect layer<"), std::string::npos);
  EXPECT_NE(svg.find(">Pearson<"), std::string::npos);
  const auto png = embedded_png(svg);
  EXPECT_EQ(be32(png, 16), 4u);  // one pixel per cell
  EXPECT_EQ(be32(png, 20), 3u);
}

TEST(ReportHeatmap, OneCellAndFiveHundredTwelveStaySmall) {
  HeatmapSpec one;
  one.id = "one";
  one.rows = one.cols = 1;
  one.values = {0.5};
  const auto small = heatmap_svg(one);
  EXPECT_EQ(be32(embedded_png(small), 16), 1u);
  EXPECT_NE(small.find(">0<"), std::string::npos);  // the single index is labelled

  // 512 x 512 noise, the worst case for compression: averaged into 128 x 128 blocks of 4 x 4.
  HeatmapSpec big;
  big.id = "big";
  big.rows = big.cols = 512;
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  for (std::size_t i = 0; i < 512 * 512; ++i) big.values.push_back(u(rng));
  const auto svg = heatmap_svg(big);
  const auto png = embedded_png(svg);
  EXPECT_EQ(be32(png, 16), kMaxCells);
  EXPECT_EQ(be32(png, 20), kMaxCells);
  EXPECT_NE(svg.find("blocks of 4 x 4 averaged"), std::string::npos);
  EXPECT_LT(svg.size(), 80'000u);
}

TEST(ReportCurves, OnePathPerSeriesBandAndBreaks) {
  LineChartSpec c;
  c.title = "text/attn_q";
  c.data = {{"role", "text/attn_q"}};
  c.series = {{"vs parent", {0, 1, 2, 3}, {0.9, 0.95, std::nan(""), 0.97}},
              {"vs control1", {0, 1, 2, 3}, {0, 0.01, 0, 0}}};
  c.band = Band{"null", {0, 1, 2, 3}, {-0.1, -0.1, -0.1, -0.1}, {0.1, 0.1, 0.1, 0.1}};
  const auto svg = line_chart_svg(c);
  EXPECT_EQ(count(svg, "data-series="), 2u);
  EXPECT_NE(svg.find("data-series=\"vs parent\""), std::string::npos);
  EXPECT_EQ(count(svg, "data-band=\"null\""), 1u);
  // The NaN at layer 2 starts a new sub-path.
  const auto parent = svg.substr(svg.find("<path d=\"", svg.find("data-band")));
  EXPECT_EQ(count(parent.substr(0, parent.find('"', 9)), "M"), 2u);

  LineChartSpec one;
  one.series = {{"vs parent", {0}, {0.5}}};
  EXPECT_EQ(count(line_chart_svg(one), "<circle "), 1u);  // a single layer is a visible point

  LineChartSpec many;
  many.series = {{"vs parent", {}, {}}};
  for (int l = 0; l < 128; ++l) many.series[0].x.push_back(l), many.series[0].y.push_back(0.5);
  const auto long_svg = line_chart_svg(many);
  EXPECT_EQ(count(long_svg, "<circle "), 0u);  // 128 layers: a line, no dots
  EXPECT_LT(long_svg.size(), 6'000u);
}

TEST(ReportStrip, HistogramIsBoundedAndShowsOneUnit) {
  StripSpec s;
  s.band = std::make_pair(-0.05, 0.05);
  s.marker = 0.9;
  for (int i = 0; i < 100'000; ++i) s.values.push_back(std::sin(i) * 0.5 + 0.4);
  const auto svg = strip_svg(s);
  EXPECT_LE(count(svg, "fill=\"#0072b2\""), static_cast<std::size_t>(kStripBins));
  EXPECT_EQ(count(svg, "data-band=\"null\""), 1u);
  EXPECT_LT(svg.size(), 5'000u);
  StripSpec one;
  one.values = {0.3, std::nan("")};
  EXPECT_EQ(count(strip_svg(one), "fill=\"#0072b2\""), 1u);
}

}  // namespace
}  // namespace lineage::io::report
