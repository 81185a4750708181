#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// Second pass of a split-K conv_gemm.comp dispatch: dst[i] = Σ_s part[s][i]
// (+ bias of i's channel), the slices summed in order so that the result does
// not depend on scheduling. part: [SPLITS, total] in the output's layout.
// Checked with the rest of the family by tests/test_backend_parity.cpp.

layout(constant_id = 0) const uint SPLITS = 1;
layout(constant_id = 1) const uint HAS_BIAS = 0;
layout(constant_id = 2) const uint PLANE = 1;  // elements per channel plane (H_OUT·W_OUT)
layout(constant_id = 3) const uint C_OUT = 1;  // output channels

layout(push_constant) uniform Push {
  uint part;  // slot 0: [SPLITS, total]
  uint dst;   // slot 1: [total]
  uint bias;  // slot 2: [C_OUT] when HAS_BIAS
  uint total;
} pc;

void main() {
  GRID_STRIDE(i, pc.total) {
    float s = 0.0;
    for (uint k = 0; k < SPLITS; ++k) s += load0(pc.part + k * pc.total + i);
    if (HAS_BIAS != 0) s += load2(pc.bias + (i / PLANE) % C_OUT);
    store1(pc.dst + i, s);
  }
}
