// Philox4x32-10 counter-based random numbers (Salmon, Moraes, Dror, Shaw,
// "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11), keyed by
// (seed, step, stream). Checked against the Random123 known-answer vectors in
// tests/test_philox.cpp. The GLSL and CUDA copies must stay word for word the
// same arithmetic: counter = {element/4, stream, step lo, step hi},
// key = {seed lo, seed hi}; element i takes word i%4 of its block.
#pragma once

#include <cmath>
#include <cstdint>

// The CUDA kernels call these same functions (cuda/data.cu): one definition
// for host and device rather than a copy that could drift.
#include "platform/host_device.h"

namespace gantry {

struct Philox4 {
  uint32_t v[4];
};

GANTRY_HD constexpr Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key bumps
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kM0) * ctr.v[0];
    const uint64_t p1 = uint64_t(kM1) * ctr.v[2];
    ctr = Philox4{{uint32_t(p1 >> 32) ^ ctr.v[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ ctr.v[3] ^ k1, uint32_t(p0)}};
    k0 += kW0;
    k1 += kW1;
  }
  return ctr;
}

GANTRY_HD inline Philox4 philox_block(uint64_t seed, uint64_t step, uint32_t stream, uint32_t block) {
  return philox4x32_10(Philox4{{block, stream, uint32_t(step), uint32_t(step >> 32)}}, uint32_t(seed),
                       uint32_t(seed >> 32));
}

// 24 high bits → [0, 1): exactly representable in float32 on every backend.
GANTRY_HD inline float philox_uniform01(uint32_t w) { return float(w >> 8) * (1.0f / 16777216.0f); }

// Uniform in [0, 1) for element `i` of stream `stream` at step `step`.
GANTRY_HD inline float philox_uniform(uint64_t seed, uint64_t step, uint32_t stream, uint32_t i) {
  return philox_uniform01(philox_block(seed, step, stream, i >> 2).v[i & 3]);
}

// Standard normal by Box–Muller: words (0,1) give elements 0,1 of a block
// and words (2,3) give elements 2,3; u1 is taken in (0, 1] so log(u1) is finite.
GANTRY_HD inline float philox_normal(uint64_t seed, uint64_t step, uint32_t stream, uint32_t i) {
  const Philox4 b = philox_block(seed, step, stream, i >> 2);
  const uint32_t pair = (i & 2u);
  const float u1 = float((b.v[pair] >> 8) + 1u) * (1.0f / 16777216.0f);
  const float u2 = philox_uniform01(b.v[pair + 1]);
  const float r = std::sqrt(-2.0f * std::log(u1));
  const float theta = 6.28318530717958647692f * u2;
  return (i & 1u) ? r * std::sin(theta) : r * std::cos(theta);
}

}  // namespace gantry
