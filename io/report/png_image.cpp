#include "io/report/png_image.hpp"

#include <zlib.h>

#include "core/errors.hpp"

namespace lineage::io::report {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xffu);
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  std::string body(type, 4);
  body += data;
  out += body;
  // The CRC covers the chunk type and data, not the length.
  put_u32(out, static_cast<std::uint32_t>(
                   crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

}  // namespace

std::string encode_png(std::uint32_t width, std::uint32_t height, const std::vector<Rgb>& pixels) {
  if (width == 0 || height == 0 || pixels.size() != static_cast<std::size_t>(width) * height) {
    throw InternalError("encode_png: " + std::to_string(pixels.size()) + " pixels for " + std::to_string(width) +
                        " x " + std::to_string(height));
  }
  // Scanlines, each with filter type 0 (none): heatmaps are runs of equal cells, which deflate
  // compresses well without prediction.
  std::string raw;
  raw.reserve(static_cast<std::size_t>(height) * (1 + 3 * static_cast<std::size_t>(width)));
  for (std::uint32_t y = 0; y < height; ++y) {
    raw += '\0';
    for (std::uint32_t x = 0; x < width; ++x) {
      const auto& p = pixels[static_cast<std::size_t>(y) * width + x];
      raw += static_cast<char>(p.r);
      raw += static_cast<char>(p.g);
      raw += static_cast<char>(p.b);
    }
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), 9) != Z_OK) {
    throw InternalError("encode_png: zlib compress2 failed");
  }
  packed.resize(packed_size);
  std::string header;
  put_u32(header, width);
  put_u32(header, height);
  header += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit depth, RGB, deflate, filter 0, no interlace
  std::string out("\x89PNG\r\n\x1a\n", 8);
  put_chunk(out, "IHDR", header);
  put_chunk(out, "IDAT", packed);
  put_chunk(out, "IEND", {});
  return out;
}

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto v = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63u];
  }
  if (const auto rest = bytes.size() - i; rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63u];
    out += kAlphabet[(v >> 12) & 63u];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63u] : '=';
    out += '=';
  }
  return out;
}

}  // namespace lineage::io::report
