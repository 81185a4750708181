// IEEE 754 binary16 ("half"): 1 sign bit, 5 exponent bits, 10 fraction bits;
// largest finite 65504, smallest normal 2⁻¹⁴, subnormals down to 2⁻²⁴. What
// fp16 storage does to a float32 value, rounded to nearest with ties to even
// (IEEE 754-2019, §4.3.1), overflowing to ±infinity from 65520 (the midpoint
// between 65504 and 2¹⁶) up, NaN kept. Checked in tests/test_half.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace gantry {

// Units in the last place of a half at 1: the unit roundoff of fp16 storage.
constexpr double kHalfUnitRoundoff = 1.0 / 2048.0;  // 2⁻¹¹

inline float round_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = x & 0x80000000u, mag = x ^ sign;
  if (mag >= 0x7f800000u) return f;  // infinity or NaN
  if (mag >= 0x477ff000u) {          // |f| ≥ 65520: rounds past 65504
    x = sign | 0x7f800000u;
  } else if (mag < 0x38800000u) {  // |f| < 2⁻¹⁴: a multiple of 2⁻²⁴ (a subnormal half, or 0)
    // Scaling by powers of two is exact here; nearbyint rounds half to even.
    return std::copysign(std::nearbyint(std::fabs(f) * 16777216.0f) / 16777216.0f, f);
  } else {  // keep 10 of the 23 fraction bits: add just under half a unit, plus the kept lsb (ties to even)
    x = sign | ((mag + 0xfffu + ((mag >> 13) & 1u)) & ~0x1fffu);
  }
  std::memcpy(&f, &x, 4);
  return f;
}

// The binary16 bit pattern of round_to_half(f) (NaNs come back quiet, sign kept).
inline uint16_t half_bits(float f) {
  f = round_to_half(f);
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t(x >> 16 & 0x8000u);
  const uint32_t mag = x & 0x7fffffffu;
  if (mag > 0x7f800000u) return sign | 0x7e00u;                               // NaN
  if (mag == 0x7f800000u) return sign | 0x7c00u;                              // infinity
  if (mag < 0x38800000u) return sign | uint16_t(std::fabs(f) * 16777216.0f);  // subnormal or 0: exact
  return sign | uint16_t(((mag >> 23) - 112u) << 10 | (mag >> 13 & 0x3ffu));  // exponent rebiased 127 → 15
}

// The float32 value of a binary16 bit pattern (exact: every half is a float).
inline float half_value(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, exp = h >> 10 & 0x1fu, frac = h & 0x3ffu;
  if (exp == 0) return std::copysign(float(frac) / 16777216.0f, sign ? -1.0f : 1.0f);
  const uint32_t x = sign | (exp == 31 ? 0x7f800000u | frac << 13 : (exp + 112u) << 23 | frac << 13);
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// bfloat16 (Kalamkar et al., "A Study of BFLOAT16 for Deep Learning
// Training", 2019): the upper half of a float32 — its sign, its 8 exponent
// bits (so its range: no overflow below float32's), 7 fraction bits. What
// bf16 storage does to a float32 value: rounded to nearest, ties to even, on
// the 16 bits dropped; NaN kept; past the largest bfloat16 (0x7f7f…), from the
// midpoint to 2¹²⁸ up, ±infinity (the carry runs into the exponent).
constexpr double kBfloat16UnitRoundoff = 1.0 / 256.0;  // 2⁻⁸

inline float round_to_bfloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return f;  // NaN
  x = (x + 0x7fffu + ((x >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace gantry
