#pragma once
/// @file png_image.hpp
/// A minimal PNG writer (8-bit RGB, no interlace, zlib from the system) and base64, so a heatmap's
/// cells can sit in the report as one small data: image instead of thousands of SVG elements.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/report/svg_plot.hpp"

namespace lineage::io::report {

/// PNG file bytes of a width x height image; `pixels` row-major, width * height of them.
/// Throws InternalError on a size mismatch or a zlib failure.
[[nodiscard]] std::string encode_png(std::uint32_t width, std::uint32_t height, const std::vector<Rgb>& pixels);

/// Standard base64 with padding (RFC 4648).
[[nodiscard]] std::string base64(std::string_view bytes);

}  // namespace lineage::io::report
