#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "elementwise_math.glsl"
#include "shader_codes.glsl"

// Sources of engine/ops_data.cpp: constant fill, and Philox normal/uniform
// fills keyed by (seed, step, stream) that reproduce platform/philox.h element
// for element (checked by SourceParity in tests/test_backend_parity.cpp).
// Specialization constant 0 picks the kind. One invocation per Philox block
// of 4 elements, so each block is generated once.

// Kinds: FILL_* of shader_codes.h (FillCode in the encoder).
layout(constant_id = 0) const uint KIND = FILL_CONSTANT;

layout(push_constant) uniform Push {
  uint n;       // elements
  uint y;       // slot 0: y [n]
  uint stream;  // Philox stream (normal, uniform)
  float alpha;  // fill: the value; normal: mean; uniform: lo
  float beta;   // normal: std; uniform: hi
} pc;

// log(u) for u in (0, 1]; near 1, where −2·log(u1) feeds Box–Muller's
// sqrt, through log1p of the exact u − 1 (log there may be 2^-21 off).
float log_unit(float u) { return u >= 0.5 ? log1p_small(u - 1.0) : log(u); }

// theta in [0, 2π) as the same angle in [−π, π], the range where the Vulkan
// spec bounds the error of sin and cos (2^-11 absolute; "Precision and
// Operation of SPIR-V Instructions"), so that the samples are the CPU's up to
// float rounding. Above π_f, theta − 2π_f is exact (Sterbenz: theta is within
// a factor 2 of 2π_f) and adding 2π_f − 2π = 1.7484556e-7 leaves one rounding
// (precise: the two constants must not be folded into one).
float within_pi(float theta) {
  precise float reduced = (theta - 6.28318530717958647692) + 1.7484556e-7;
  return theta >= 3.14159265358979323846 ? reduced : theta;
}

void main() {
  GRID_STRIDE(block, (pc.n + 3) / 4) {
    float v[4];
    if (KIND == FILL_CONSTANT) {
      v = float[4](pc.alpha, pc.alpha, pc.alpha, pc.alpha);
    } else {
      const uvec4 w = philox_block(pc.stream, block);
      if (KIND == FILL_UNIFORM) {
        for (int k = 0; k < 4; ++k) v[k] = pc.alpha + (pc.beta - pc.alpha) * philox_uniform01(w[k]);
      } else {
        // Box–Muller as philox_normal: words (0,1) → elements 0,1 and
        // words (2,3) → elements 2,3; u1 in (0, 1] so its log is finite.
        for (int pair = 0; pair < 4; pair += 2) {
          const float u1 = float((w[pair] >> 8) + 1u) * (1.0 / 16777216.0);
          const float u2 = philox_uniform01(w[pair + 1]);
          const float r = sqrt(-2.0 * log_unit(u1));
          const float theta = 6.28318530717958647692 * u2;  // the CPU's angle, in [0, 2π)
          v[pair] = pc.alpha + pc.beta * (r * cos(within_pi(theta)));
          v[pair + 1] = pc.alpha + pc.beta * (r * sin(within_pi(theta)));
        }
      }
    }
    const uint first = block * 4;
    for (uint k = 0; k < 4 && first + k < pc.n; ++k) store0(pc.y + first + k, v[k]);
  }
}
