#include "io/dtype_decode.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace lineage::io {
namespace {

TEST(DtypeDecode, Bf16KnownPatterns) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_float(0xC000), -2.0f);
  EXPECT_TRUE(std::signbit(bf16_to_float(0x8000)));
  EXPECT_EQ(bf16_to_float(0x8000), 0.0f);
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_float(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_float(0x7FC0)));
  EXPECT_EQ(bf16_to_float(0x0001), std::bit_cast<float>(0x00010000u));  // subnormal
  EXPECT_EQ(bf16_to_float(0x7F7F), std::bit_cast<float>(0x7F7F0000u));  // max finite
}

TEST(DtypeDecode, Bf16RoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3F80);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties to even (down to 1.0).
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f), 0x3F80);
  // 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even): rounds up.
  EXPECT_EQ(float_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);
  EXPECT_EQ(float_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);  // above half: up
  EXPECT_TRUE(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(float_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // overflow -> inf
  EXPECT_EQ(float_to_bf16(-0.0f), 0x8000);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0, 1);
  for (int i = 0; i < 10000; ++i) {
    const float x = nd(rng);
    const float y = bf16_to_float(float_to_bf16(x));
    EXPECT_LE(std::fabs(x - y), std::fabs(x) * 0x1p-8f) << x;
  }
}

TEST(DtypeDecode, F16KnownPatternsAndRoundTrip) {
  EXPECT_EQ(f16_to_float(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_float(0x0001), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(f16_to_float(0x03FF), 1023 * 0x1p-24f);
  EXPECT_EQ(f16_to_float(0x0400), 0x1p-14f);  // smallest normal
  EXPECT_EQ(f16_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_float(0x7E00)));
  EXPECT_TRUE(std::signbit(f16_to_float(0x8000)));
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    EXPECT_EQ(float_to_f16(f), h) << std::hex << h;  // every half survives the round trip
  }
  EXPECT_EQ(float_to_f16(1.0f + 0x1p-11f), 0x3C00);  // tie to even
  EXPECT_EQ(float_to_f16(70000.0f), 0x7C00);
}

// float_at is decode_element's value as float, BF16 decoded inline: every BF16 pattern (NaN as
// NaN), and the other float formats through decode_element.
TEST(DtypeDecode, FloatAtIsTheElementDecodersValue) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    std::byte p[2];
    std::memcpy(p, &bits, sizeof bits);
    const float want = static_cast<float>(decode_element(Dtype::BF16, p));
    const float got = float_at(Dtype::BF16, p);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << std::hex << h;
    } else {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(want)) << std::hex << h;
    }
  }
  const float value = -3.25f;
  std::byte f32[4];
  std::memcpy(f32, &value, sizeof value);
  EXPECT_EQ(float_at(Dtype::F32, f32), value);
  const std::byte e4m3[1] = {std::byte{0x38}};
  EXPECT_EQ(float_at(Dtype::F8_E4M3, e4m3), 1.0f);
}

TEST(DtypeDecode, Fp8Formats) {
  EXPECT_EQ(f8e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(f8e4m3_to_float(0x7E), 448.0f);  // max finite of e4m3fn
  EXPECT_TRUE(std::isnan(f8e4m3_to_float(0x7F)));
  EXPECT_TRUE(std::isnan(f8e4m3_to_float(0xFF)));
  EXPECT_EQ(f8e4m3_to_float(0x01), 0x1p-9f);  // smallest subnormal
  EXPECT_EQ(f8e4m3_to_float(0xB8), -1.0f);
  EXPECT_EQ(f8e5m2_to_float(0x3C), 1.0f);
  EXPECT_EQ(f8e5m2_to_float(0x7B), 57344.0f);
  EXPECT_EQ(f8e5m2_to_float(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f8e5m2_to_float(0x01), 0x1p-16f);
}

TEST(DtypeDecode, Fp8E4m3EveryPatternIsItsDefinition) {
  // (-1)^s * 2^(e - 7) * (1 + m/8), subnormals 2^-6 * m/8, S.1111.111 NaN: computed here the
  // slow way for all 256 bytes, against the decoder's bits.
  for (unsigned b = 0; b < 256; ++b) {
    const int e = static_cast<int>((b >> 3) & 0xF), m = static_cast<int>(b & 7);
    const float got = f8e4m3_to_float(static_cast<std::uint8_t>(b));
    if (e == 0xF && m == 7) {  // a quiet NaN with the byte's sign: 0x7f and 0xff keep different bits
      EXPECT_EQ(std::bit_cast<std::uint32_t>(got), (b & 0x80) ? 0xFFC00000u : 0x7FC00000u) << b;
      continue;
    }
    const double magnitude = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    const double want = (b & 0x80) ? -magnitude : magnitude;
    EXPECT_EQ(std::bit_cast<std::uint32_t>(got), std::bit_cast<std::uint32_t>(static_cast<float>(want))) << b;
  }
}

TEST(DtypeDecode, Fp8E4m3EncoderRoundsToNearestEvenAndSaturates) {
  // Every code is its own value's encoding (NaN's two included); a value between two codes goes to
  // the nearer, at the midpoint to the even one; beyond 448 it saturates, as a quantiser clamps.
  for (unsigned b = 0; b < 256; ++b) {
    EXPECT_EQ(float_to_f8e4m3(f8e4m3_to_float(static_cast<std::uint8_t>(b))), b) << b;
  }
  for (unsigned b = 0; b < 0x7E; ++b) {
    const double lo = f8e4m3_to_float(static_cast<std::uint8_t>(b)),
                 hi = f8e4m3_to_float(static_cast<std::uint8_t>(b + 1));
    const double mid = (lo + hi) / 2;
    const auto even = static_cast<unsigned>(b % 2 == 0 ? b : b + 1);
    EXPECT_EQ(float_to_f8e4m3(static_cast<float>(mid)), even) << b;
    EXPECT_EQ(float_to_f8e4m3(static_cast<float>(-mid)), even | 0x80u) << b;
    EXPECT_EQ(float_to_f8e4m3(std::nextafter(static_cast<float>(mid), 0.0f)), b) << b;
    EXPECT_EQ(float_to_f8e4m3(std::nextafter(static_cast<float>(mid), 1e9f)), b + 1) << b;
  }
  EXPECT_EQ(float_to_f8e4m3(1e6f), 0x7Eu);
  EXPECT_EQ(float_to_f8e4m3(-449.0f), 0xFEu);
  EXPECT_EQ(float_to_f8e4m3(std::numeric_limits<float>::infinity()), 0x7Eu);
  EXPECT_EQ(float_to_f8e4m3(std::numeric_limits<float>::quiet_NaN()), 0x7Fu);
}

TEST(DtypeDecode, ElementsAndBulk) {
  const std::int64_t i64 = -5;
  EXPECT_EQ(decode_element(Dtype::I64, reinterpret_cast<const std::byte*>(&i64)), -5.0);
  const std::uint8_t b = 2;
  EXPECT_EQ(decode_element(Dtype::BOOL, reinterpret_cast<const std::byte*>(&b)), 1.0);
  const std::uint16_t raw[3] = {0x3F80, 0xC040, 0x0000};
  std::vector<float> out(3);
  decode_to_float(Dtype::BF16, std::as_bytes(std::span(raw)), out);
  EXPECT_EQ(out, (std::vector<float>{1.0f, -3.0f, 0.0f}));
  const std::uint16_t half[2] = {0x3C00, 0xC000};
  std::vector<float> out2(2);
  decode_to_float(Dtype::F16, std::as_bytes(std::span(half)), out2);
  EXPECT_EQ(out2, (std::vector<float>{1.0f, -2.0f}));
  EXPECT_THROW(decode_to_float(Dtype::F32, std::as_bytes(std::span(half)), out2), std::exception);
}

// The bulk decoders are vectorised separately from the element functions: every stored pattern
// (zeros, subnormals, infinities, NaN payloads, both signs) must decode to the same bits, in the
// eight-wide body and in the scalar tail (65,536 + 3 elements leave a tail of 3).
TEST(DtypeDecode, BulkDecodersEqualTheElementDecodersOnEveryPattern) {
  std::vector<std::uint16_t> all(65536 + 3);
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint16_t>((i * 40503u) & 0xFFFFu);
  std::vector<float> out(all.size());
  decode_to_float(Dtype::F16, std::as_bytes(std::span(all)), out);
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(out[i]), std::bit_cast<std::uint32_t>(f16_to_float(all[i])))
        << "F16 0x" << std::hex << all[i];
  }
  decode_to_float(Dtype::BF16, std::as_bytes(std::span(all)), out);
  for (std::size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(out[i]), std::bit_cast<std::uint32_t>(bf16_to_float(all[i])))
        << "BF16 0x" << std::hex << all[i];
  }
  // FP8: every byte, in an order that is not the table's, and an odd count.
  std::vector<std::uint8_t> bytes(256 * 3 + 5);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>((i * 167u) & 0xFFu);
  std::vector<float> out8(bytes.size());
  decode_to_float(Dtype::F8_E4M3, std::as_bytes(std::span(bytes)), out8);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(out8[i]), std::bit_cast<std::uint32_t>(f8e4m3_to_float(bytes[i])))
        << "F8_E4M3 0x" << std::hex << static_cast<int>(bytes[i]);
  }
  decode_to_float(Dtype::F8_E5M2, std::as_bytes(std::span(bytes)), out8);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    ASSERT_EQ(std::bit_cast<std::uint32_t>(out8[i]), std::bit_cast<std::uint32_t>(f8e5m2_to_float(bytes[i])))
        << "F8_E5M2 0x" << std::hex << static_cast<int>(bytes[i]);
  }
}

}  // namespace
}  // namespace lineage::io
