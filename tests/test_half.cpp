// round_to_half (platform/half.h) against binary16 values decoded here from
// their bit fields in double (an independent reading of IEEE 754): every one
// of the 63,488 finite halves is kept; the midpoint between two neighbours
// goes to the one with an even last bit, and anything off the midpoint to the
// nearer; overflow from 65520, NaN kept, signs symmetric. half_bits and
// half_value (what the Vulkan backend writes and reads) are each other's
// inverse on all 65,536 patterns and agree with decode(). round_to_bfloat16
// the same way against bfloat16 values decoded from their fields: every
// finite one kept, midpoints to even, overflow past the largest, NaN kept.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "platform/half.h"

using namespace gantry;

namespace {

// The value of half bit pattern h (finite patterns only).
double decode(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

TEST(Half, EveryFiniteHalfIsKept) {
  int count = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1f) == 0x1f) continue;  // infinities and NaNs
    const float v = float(decode(uint16_t(h)));
    ASSERT_EQ(round_to_half(v), v) << "half 0x" << std::hex << h;
    ++count;
  }
  EXPECT_EQ(count, 63488);
}

TEST(Half, BetweenNeighboursRoundsToNearestTiesToEven) {
  for (uint32_t h = 0; h < 0x7bff; ++h) {  // each positive finite half and the next one up
    const double lo = decode(uint16_t(h)), hi = decode(uint16_t(h + 1)), mid = (lo + hi) / 2;
    const float even = float((h & 1) ? hi : lo);
    ASSERT_EQ(round_to_half(float(mid)), even) << "midpoint above half 0x" << std::hex << h;
    ASSERT_EQ(round_to_half(-float(mid)), -even) << "negative midpoint above half 0x" << std::hex << h;
    // The floats just below and above the midpoint (exact in float: halves need 11 bits).
    ASSERT_EQ(round_to_half(std::nextafter(float(mid), 0.0f)), float(lo)) << "below the midpoint, 0x" << std::hex << h;
    ASSERT_EQ(round_to_half(std::nextafter(float(mid), 1e9f)), float(hi)) << "above the midpoint, 0x" << std::hex << h;
  }
}

TEST(Half, OverflowZerosAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(round_to_half(65504.0f), 65504.0f);
  EXPECT_EQ(round_to_half(std::nextafter(65520.0f, 0.0f)), 65504.0f);
  EXPECT_EQ(round_to_half(65520.0f), inf);  // the midpoint to 2¹⁶: ties to even, which is infinity's 0 fraction
  EXPECT_EQ(round_to_half(-1e30f), -inf);
  EXPECT_EQ(round_to_half(inf), inf);
  EXPECT_TRUE(std::isnan(round_to_half(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(round_to_half(std::ldexp(1.0f, -25)), 0.0f);  // half of the smallest subnormal: ties to 0
  EXPECT_EQ(round_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), std::ldexp(1.0f, -24));
  EXPECT_EQ(round_to_half(1e-30f), 0.0f);
  EXPECT_TRUE(std::signbit(round_to_half(-1e-30f)));  // −0 keeps its sign
}

TEST(Half, BitPatternsRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float v = half_value(uint16_t(h));
    const bool nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff) != 0;
    if (nan) {
      ASSERT_TRUE(std::isnan(v)) << "half 0x" << std::hex << h;
      ASSERT_EQ(half_bits(v), (h & 0x8000) | 0x7e00) << "half 0x" << std::hex << h;
      continue;
    }
    if (((h >> 10) & 0x1f) != 0x1f) {
      ASSERT_EQ(double(v), decode(uint16_t(h))) << "half 0x" << std::hex << h;
    }
    ASSERT_EQ(half_bits(v), h) << "half 0x" << std::hex << h;
    ASSERT_EQ(std::signbit(v), (h & 0x8000) != 0) << "half 0x" << std::hex << h;
  }
  EXPECT_EQ(half_bits(65520.0f), 0x7c00);  // rounded first: overflow to infinity
  EXPECT_EQ(half_bits(1.0f + 1.0f / 4096), 0x3c00);
  EXPECT_EQ(half_value(0x7c00), std::numeric_limits<float>::infinity());
}

// The value of bfloat16 bit pattern b (finite patterns only): 8 exponent bits
// biased by 127, 7 fraction bits, subnormals below 2⁻¹²⁶.
double decode_bf16(uint16_t b) {
  const int e = (b >> 7) & 0xff, m = b & 0x7f;
  const double v = e == 0 ? std::ldexp(m, -133) : std::ldexp(128 + m, e - 134);
  return (b & 0x8000) ? -v : v;
}

TEST(Bfloat16, EveryFiniteBfloat16IsKept) {
  int count = 0;
  for (uint32_t b = 0; b < 0x10000; ++b) {
    if (((b >> 7) & 0xff) == 0xff) continue;  // infinities and NaNs
    const float v = float(decode_bf16(uint16_t(b)));
    ASSERT_EQ(round_to_bfloat16(v), v) << "bfloat16 0x" << std::hex << b;
    ++count;
  }
  EXPECT_EQ(count, 65280);
}

TEST(Bfloat16, BetweenNeighboursRoundsToNearestTiesToEven) {
  for (uint32_t b = 0; b < 0x7f7f; ++b) {  // each positive finite bfloat16 and the next one up
    const double lo = decode_bf16(uint16_t(b)), hi = decode_bf16(uint16_t(b + 1)), mid = (lo + hi) / 2;
    const float even = float((b & 1) ? hi : lo);
    ASSERT_EQ(round_to_bfloat16(float(mid)), even) << "midpoint above 0x" << std::hex << b;
    ASSERT_EQ(round_to_bfloat16(-float(mid)), -even) << "negative midpoint above 0x" << std::hex << b;
    ASSERT_EQ(round_to_bfloat16(std::nextafter(float(mid), 0.0f)), float(lo))
        << "below the midpoint, 0x" << std::hex << b;
    ASSERT_EQ(round_to_bfloat16(std::nextafter(float(mid), std::numeric_limits<float>::infinity())), float(hi))
        << "above the midpoint, 0x" << std::hex << b;
  }
}

TEST(Bfloat16, OverflowZerosAndNaN) {
  const float inf = std::numeric_limits<float>::infinity(), largest = float(decode_bf16(0x7f7f));
  EXPECT_EQ(round_to_bfloat16(largest), largest);
  EXPECT_EQ(round_to_bfloat16(std::numeric_limits<float>::max()), inf);  // past the midpoint to 2¹²⁸
  EXPECT_EQ(round_to_bfloat16(-std::numeric_limits<float>::max()), -inf);
  EXPECT_EQ(round_to_bfloat16(inf), inf);
  EXPECT_TRUE(std::isnan(round_to_bfloat16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload lies only in the dropped bits stays a NaN (not infinity).
  EXPECT_TRUE(std::isnan(round_to_bfloat16(std::bit_cast<float>(0x7f800001u))));
  EXPECT_EQ(round_to_bfloat16(1e-45f), 0.0f);  // float32's smallest subnormal, under half of bfloat16's
  EXPECT_TRUE(std::signbit(round_to_bfloat16(-1e-45f)));
  EXPECT_EQ(round_to_bfloat16(65520.0f), 65536.0f);  // where binary16 overflows, bfloat16 goes on
}

}  // namespace
