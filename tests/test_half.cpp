// round_to_half (platform/half.h) against binary16 values decoded here from
// their bit fields in double (an independent reading of IEEE 754): every one
// of the 63,488 finite halves is kept; the midpoint between two neighbours
// goes to the one with an even last bit, and anything off the midpoint to the
// nearer; overflow from 65520, NaN kept, signs symmetric. half_bits and
// half_value (what the Vulkan backend writes and reads) are each other's
// inverse on all 65,536 patterns and agree with decode().
#include <gtest/gtest.h>

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

}  // namespace
