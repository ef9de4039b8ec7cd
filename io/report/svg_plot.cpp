#include "io/report/svg_plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>

#include "io/report/png_image.hpp"

namespace lineage::io::report {
namespace {

// Matplotlib's maps sampled evenly (viridis at k/10, cividis at k/9) and interpolated linearly:
// the stops are close enough that the interpolation keeps them perceptually uniform.
constexpr std::array<Rgb, 11> kViridis{{{68, 1, 84},
                                        {72, 36, 117},
                                        {65, 68, 135},
                                        {53, 95, 141},
                                        {42, 120, 142},
                                        {33, 145, 140},
                                        {34, 168, 132},
                                        {68, 191, 112},
                                        {122, 209, 81},
                                        {189, 223, 38},
                                        {253, 231, 37}}};
constexpr std::array<Rgb, 10> kCividis{{{0, 34, 78},
                                        {18, 53, 112},
                                        {59, 73, 108},
                                        {87, 93, 109},
                                        {112, 113, 115},
                                        {138, 134, 120},
                                        {165, 156, 116},
                                        {195, 179, 105},
                                        {225, 204, 85},
                                        {254, 232, 56}}};
constexpr Rgb kMissing{235, 235, 235};

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string data_attributes(const DataAttributes& data) {
  std::string out;
  for (const auto& [k, v] : data) out += " data-" + k + "=\"" + xml_escape(v) + "\"";
  return out;
}

std::string svg_open(double width, double height, const std::string& plot, const DataAttributes& data) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(width) + "\" height=\"" + fmt(height) +
         "\" viewBox=\"0 0 " + fmt(width) + " " + fmt(height) + "\" font-family=\"sans-serif\" font-size=\"11\"" +
         " data-plot=\"" + plot + "\"" + data_attributes(data) + ">\n";
}

std::string text(double x, double y, const std::string& body, const std::string& extra = {}) {
  return "<text x=\"" + fmt(x) + "\" y=\"" + fmt(y) + "\"" + extra + ">" + xml_escape(body) + "</text>\n";
}

/// Which categorical labels to print so that they do not overlap: every k-th.
std::size_t label_step(std::size_t n, double room_px, double px_per_label) {
  const auto fits = static_cast<std::size_t>(std::max(1.0, room_px / px_per_label));
  return n <= fits ? 1 : (n + fits - 1) / fits;
}

}  // namespace

Rgb colour_at(ColourMap map, double t) noexcept {
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0);
  const Rgb* stops = map == ColourMap::viridis ? kViridis.data() : kCividis.data();
  const std::size_t n = map == ColourMap::viridis ? kViridis.size() : kCividis.size();
  const double pos = t * static_cast<double>(n - 1);
  const auto i = std::min(static_cast<std::size_t>(pos), n - 2);
  const double f = pos - static_cast<double>(i);
  auto mix = [f](std::uint8_t a, std::uint8_t b) {
    return static_cast<std::uint8_t>(std::lround(a + (static_cast<double>(b) - a) * f));
  };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g), mix(stops[i].b, stops[i + 1].b)};
}

std::string hex(Rgb c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c.r, c.g, c.b);
  return buf;
}

std::string series_colour(std::size_t i) {
  // Okabe & Ito (2008), distinguishable under the common colour-vision deficiencies; black last.
  static constexpr std::array<const char*, 8> kPalette{"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                                       "#e69f00", "#56b4e9", "#f0e442", "#000000"};
  return kPalette[i % kPalette.size()];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi - lo < 1e-12) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  // Integer multiples of the step, so that 0.1 + 0.2 never prints as 0.30000000000000004.
  for (auto k = static_cast<long long>(std::ceil(lo / step - 1e-9)); static_cast<double>(k) * step <= hi + step * 1e-9;
       ++k) {
    ticks.push_back(static_cast<double>(k) * step);
  }
  return ticks;
}

std::string tick_label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string heatmap_svg(const HeatmapSpec& spec) {
  const std::size_t rows = std::max<std::size_t>(spec.rows, 1), cols = std::max<std::size_t>(spec.cols, 1);
  // Blocks of `br` x `bc` source cells become one drawn cell.
  const std::size_t br = (rows + kMaxCells - 1) / kMaxCells, bc = (cols + kMaxCells - 1) / kMaxCells;
  const std::size_t dr = (rows + br - 1) / br, dc = (cols + bc - 1) / bc;
  std::vector<Rgb> pixels(dr * dc, kMissing);
  for (std::size_t r = 0; r < dr; ++r) {
    for (std::size_t c = 0; c < dc; ++c) {
      double sum = 0;
      int n = 0;
      for (std::size_t i = r * br; i < std::min(rows, (r + 1) * br); ++i) {
        for (std::size_t j = c * bc; j < std::min(cols, (c + 1) * bc); ++j) {
          const std::size_t k = i * spec.cols + j;
          if (i < spec.rows && j < spec.cols && k < spec.values.size() && std::isfinite(spec.values[k])) {
            sum += spec.values[k];
            ++n;
          }
        }
      }
      if (n) pixels[r * dc + c] = colour_at(spec.map, (sum / n - spec.lo) / (spec.hi - spec.lo));
    }
  }
  const double left = 58, top = 34, side = spec.size, bar_gap = 16, bar_w = 12, right = 64, bottom = 56;
  // Non-square matrices keep square cells up to a 2:1 aspect.
  const double aspect = std::clamp(static_cast<double>(cols) / static_cast<double>(rows), 0.5, 2.0);
  const double pw = aspect >= 1 ? side : side * aspect, ph = aspect >= 1 ? side / aspect : side;
  const double width = left + pw + bar_gap + bar_w + right, height = top + ph + bottom;
  std::string out = svg_open(width, height, "heatmap", spec.data);
  std::string title = spec.title;
  if (br > 1 || bc > 1) title += " (blocks of " + std::to_string(br) + " x " + std::to_string(bc) + " averaged)";
  out += text(4, 14, title, " font-weight=\"bold\" font-size=\"12\"");
  out += "<image x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64," +
         base64(encode_png(static_cast<std::uint32_t>(dc), static_cast<std::uint32_t>(dr), pixels)) + "\"/>\n";
  out += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
  const double cw = pw / static_cast<double>(cols), ch = ph / static_cast<double>(rows);
  // Axes: categories, or indices at nice ticks (cell centres).
  auto axis = [&](bool is_row) {
    const auto& labels = is_row ? spec.row_labels : spec.col_labels;
    const std::size_t n = is_row ? rows : cols;
    const double cell = is_row ? ch : cw;
    std::vector<std::pair<double, std::string>> ticks;
    if (!labels.empty()) {
      const auto step = label_step(n, is_row ? ph : pw, is_row ? 12 : 14);
      for (std::size_t i = 0; i < labels.size() && i < n; i += step) ticks.emplace_back(i, labels[i]);
    } else {
      for (double t : nice_ticks(0, static_cast<double>(n - 1), n < 6 ? static_cast<int>(n) : 6)) {
        ticks.emplace_back(t, tick_label(t));
      }
    }
    for (const auto& [i, label] : ticks) {
      const double at = (is_row ? top : left) + (i + 0.5) * cell;
      if (is_row) {
        out += "<path d=\"M" + fmt(left - 4) + " " + fmt(at) + " h4\" stroke=\"#333\"/>\n";
        out += text(left - 6, at + 4, label, " text-anchor=\"end\"");
      } else if (!labels.empty()) {
        out += "<path d=\"M" + fmt(at) + " " + fmt(top + ph) + " v4\" stroke=\"#333\"/>\n";
        out += text(at + 3, top + ph + 8, label,
                    " text-anchor=\"end\" transform=\"rotate(-45 " + fmt(at + 3) + " " + fmt(top + ph + 8) + ")\"");
      } else {
        out += "<path d=\"M" + fmt(at) + " " + fmt(top + ph) + " v4\" stroke=\"#333\"/>\n";
        out += text(at, top + ph + 15, label, " text-anchor=\"middle\"");
      }
    }
  };
  axis(true);
  axis(false);
  if (spec.col_labels.empty()) {
    out += text(left + pw / 2, top + ph + 32, spec.col_title, " text-anchor=\"middle\"");
  }
  out += text(12, top + ph / 2, spec.row_title,
              " text-anchor=\"middle\" transform=\"rotate(-90 12 " + fmt(top + ph / 2) + ")\"");
  if (!spec.col_labels.empty()) out += text(left, top - 6, spec.col_title);
  // Rings on marked cells (the layer map), at their source position.
  for (const auto& [r, c] : spec.marks) {
    if (r < 0 || c < 0 || static_cast<std::size_t>(r) >= rows || static_cast<std::size_t>(c) >= cols) continue;
    out += "<rect x=\"" + fmt(left + c * cw) + "\" y=\"" + fmt(top + r * ch) + "\" width=\"" + fmt(std::max(cw, 2.0)) +
           "\" height=\"" + fmt(std::max(ch, 2.0)) + "\" fill=\"none\" stroke=\"#d55e00\" stroke-width=\"1.5\"" +
           " data-mark=\"1\"/>\n";
  }
  // Colour bar: a gradient of 11 stops with ticks of the domain.
  const double bx = left + pw + bar_gap;
  const std::string gid = "cb-" + spec.id;
  out += "<defs><linearGradient id=\"" + gid + "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int k = 0; k <= 10; ++k) {
    out += "<stop offset=\"" + tick_label(k / 10.0) + "\" stop-color=\"" + hex(colour_at(spec.map, k / 10.0)) + "\"/>";
  }
  out += "</linearGradient></defs>\n";
  out += "<rect x=\"" + fmt(bx) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(bar_w) + "\" height=\"" + fmt(ph) +
         "\" fill=\"url(#" + gid + ")\" stroke=\"#333\" data-legend=\"colour\"/>\n";
  for (double t : nice_ticks(spec.lo, spec.hi, 4)) {
    const double y = top + ph - (t - spec.lo) / (spec.hi - spec.lo) * ph;
    out += "<path d=\"M" + fmt(bx + bar_w) + " " + fmt(y) + " h3\" stroke=\"#333\"/>\n";
    out += text(bx + bar_w + 5, y + 4, tick_label(t));
  }
  out +=
      text(bx + bar_w + 42, top + ph / 2, spec.colour_title,
           " text-anchor=\"middle\" transform=\"rotate(90 " + fmt(bx + bar_w + 42) + " " + fmt(top + ph / 2) + ")\"");
  out += text(left, top + ph + 48, spec.missing_note, " font-size=\"9\" fill=\"#666\"");
  return out + "</svg>\n";
}

std::string line_chart_svg(const LineChartSpec& spec) {
  const double left = 52, top = 30, right = 150, bottom = 40;
  const double pw = spec.width - left - right, ph = spec.height - top - bottom;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  auto see = [&](const std::vector<double>& xs, const std::vector<double>& ys) {
    for (std::size_t i = 0; i < xs.size() && i < ys.size(); ++i) {
      if (!std::isfinite(xs[i]) || !std::isfinite(ys[i])) continue;
      xlo = std::min(xlo, xs[i]), xhi = std::max(xhi, xs[i]);
      ylo = std::min(ylo, ys[i]), yhi = std::max(yhi, ys[i]);
    }
  };
  for (const auto& s : spec.series) see(s.x, s.y);
  if (spec.band) see(spec.band->x, spec.band->lo), see(spec.band->x, spec.band->hi);
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  if (spec.y_lo) ylo = *spec.y_lo;
  if (spec.y_hi) yhi = *spec.y_hi;
  if (xhi - xlo < 1) xlo -= 0.5, xhi += 0.5;  // one layer: centre it
  if (yhi - ylo < 1e-9) ylo -= 0.5, yhi += 0.5;
  const double pad = (yhi - ylo) * 0.05;
  if (!spec.y_lo) ylo -= pad;
  if (!spec.y_hi) yhi += pad;
  auto px = [&](double x) { return left + (x - xlo) / (xhi - xlo) * pw; };
  auto py = [&](double y) { return top + ph - (std::clamp(y, ylo, yhi) - ylo) / (yhi - ylo) * ph; };
  std::string out = svg_open(spec.width, spec.height, "curves", spec.data);
  out += text(4, 14, spec.title, " font-weight=\"bold\" font-size=\"12\"");
  out += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (double t : nice_ticks(ylo, yhi, 5)) {
    out += "<path d=\"M" + fmt(left) + " " + fmt(py(t)) + " h" + fmt(pw) + "\" stroke=\"#e4e4e4\"/>\n";
    out += text(left - 4, py(t) + 4, tick_label(t), " text-anchor=\"end\"");
  }
  const auto xt = nice_ticks(std::ceil(xlo), std::floor(xhi), 6);
  for (double t : xt) {
    if (std::abs(t - std::round(t)) > 1e-9) continue;  // layers are integers
    out += "<path d=\"M" + fmt(px(t)) + " " + fmt(top + ph) + " v4\" stroke=\"#333\"/>\n";
    out += text(px(t), top + ph + 15, tick_label(t), " text-anchor=\"middle\"");
  }
  out += text(left + pw / 2, top + ph + 32, spec.x_title, " text-anchor=\"middle\"");
  out += text(12, top + ph / 2, spec.y_title,
              " text-anchor=\"middle\" transform=\"rotate(-90 12 " + fmt(top + ph / 2) + ")\"");
  double ly = top + 4;
  auto legend = [&](const std::string& swatch, const std::string& label) {
    out += swatch;
    out += text(left + pw + 30, ly + 4, label);
    ly += 15;
  };
  if (spec.band) {
    const auto& b = *spec.band;
    std::string d;
    for (std::size_t i = 0; i < b.x.size(); ++i) {
      if (!std::isfinite(b.lo[i]) || !std::isfinite(b.hi[i])) continue;
      d += (d.empty() ? "M" : "L") + fmt(px(b.x[i])) + " " + fmt(py(b.hi[i])) + " ";
    }
    std::string back;
    for (std::size_t i = b.x.size(); i-- > 0;) {
      if (!std::isfinite(b.lo[i]) || !std::isfinite(b.hi[i])) continue;
      back += "L" + fmt(px(b.x[i])) + " " + fmt(py(b.lo[i])) + " ";
    }
    if (!d.empty()) {
      // One layer gives a zero-width polygon: widen it to a visible bar.
      out += "<path d=\"" + d + back + "Z\" fill=\"#bbbbbb\" fill-opacity=\"0.55\" stroke=\"#999\"" +
             " stroke-width=\"" + (b.x.size() == 1 ? "6" : "0.5") + "\" data-band=\"null\"/>\n";
      legend(
          "<rect x=\"" + fmt(left + pw + 8) + "\" y=\"" + fmt(ly - 1) + "\" width=\"16\" height=\"9\" fill=\"#bbb\"/>",
          b.label);
    }
  }
  for (std::size_t s = 0; s < spec.series.size(); ++s) {
    const auto& se = spec.series[s];
    const auto colour = series_colour(s);
    std::string d;
    bool pen = false;
    std::string dots;
    const std::size_t n = std::min(se.x.size(), se.y.size());
    for (std::size_t i = 0; i < n; ++i) {
      if (!std::isfinite(se.y[i])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + fmt(px(se.x[i])) + " " + fmt(py(se.y[i])) + " ";
      pen = true;
      const bool alone = (i == 0 || !std::isfinite(se.y[i - 1])) && (i + 1 >= n || !std::isfinite(se.y[i + 1]));
      if (n <= 40 || alone) {
        dots += "<circle cx=\"" + fmt(px(se.x[i])) + "\" cy=\"" + fmt(py(se.y[i])) + "\" r=\"2.5\" fill=\"" + colour +
                "\"/>";
      }
    }
    out += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\" data-series=\"" +
           xml_escape(se.label) + "\"/>\n";
    if (!dots.empty()) out += "<g>" + dots + "</g>\n";
    legend("<path d=\"M" + fmt(left + pw + 8) + " " + fmt(ly + 3) + " h16\" stroke=\"" + colour +
               "\" stroke-width=\"2\"/>",
           se.label);
  }
  return out + "</svg>\n";
}

std::string strip_svg(const StripSpec& spec) {
  const double w = spec.width, h = spec.height, axis_y = h - 11;
  auto px = [&](double v) { return 2 + (std::clamp(v, spec.lo, spec.hi) - spec.lo) / (spec.hi - spec.lo) * (w - 4); };
  std::array<int, kStripBins> bins{};
  int most = 0;
  for (double v : spec.values) {
    if (!std::isfinite(v)) continue;
    const auto b = std::clamp(static_cast<int>((v - spec.lo) / (spec.hi - spec.lo) * kStripBins), 0, kStripBins - 1);
    most = std::max(most, ++bins[static_cast<std::size_t>(b)]);
  }
  std::string out = svg_open(w, h, "strip", spec.data);
  if (spec.band) {
    out += "<rect x=\"" + fmt(px(spec.band->first)) + "\" y=\"1\" width=\"" +
           fmt(std::max(1.5, px(spec.band->second) - px(spec.band->first))) + "\" height=\"" + fmt(axis_y - 1) +
           "\" fill=\"#bbbbbb\" fill-opacity=\"0.6\" data-band=\"null\"/>\n";
  }
  const double bw = (w - 4) / kStripBins;
  for (int b = 0; b < kStripBins; ++b) {
    if (!bins[static_cast<std::size_t>(b)]) continue;
    // Heights on a square-root scale so that a single unit stays visible beside thousands.
    const double bh = std::max(2.0, (axis_y - 2) * std::sqrt(static_cast<double>(bins[static_cast<std::size_t>(b)]) /
                                                             static_cast<double>(most)));
    out += "<rect x=\"" + fmt(2 + b * bw) + "\" y=\"" + fmt(axis_y - bh) + "\" width=\"" +
           fmt(std::max(1.0, bw - 0.5)) + "\" height=\"" + fmt(bh) + "\" fill=\"#0072b2\"/>\n";
  }
  if (spec.marker) {
    out +=
        "<path d=\"M" + fmt(px(*spec.marker)) + " 0 V" + fmt(axis_y) + "\" stroke=\"#d55e00\" stroke-width=\"1.5\"/>\n";
  }
  out += "<path d=\"M2 " + fmt(axis_y) + " H" + fmt(w - 2) + "\" stroke=\"#333\"/>\n";
  for (double t : nice_ticks(spec.lo, spec.hi, 4)) {
    out += text(px(t), h - 1, tick_label(t), " text-anchor=\"middle\" font-size=\"8\"");
  }
  return out + "</svg>\n";
}

}  // namespace lineage::io::report
