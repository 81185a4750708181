#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "elementwise_math.glsl"

// gather(data [R, W...], index [B]) → [B, W...] of engine/ops_data.cpp: rows
// of data picked by float32 indices holding integers. An index outside
// [0, R) (or NaN) fills its row with NaN, as on the CPU, so the trainers'
// NaN guard reports it. One invocation per output element.

layout(push_constant) uniform Push {
  uint n;      // elements of y = B·width
  uint data;   // slot 0, data: [rows, width]
  uint index;  // slot 1, index: [B], float32
  uint y;      // slot 2, y: [B, width]
  uint width;  // elements per row
  uint rows;   // R
} pc;

void main() {
  GRID_STRIDE(i, pc.n) {
    const uint b = i / pc.width, c = i - b * pc.width;
    const float r = load1(pc.index + b);
    // NaN tested on its bits (elementwise_math.glsl); truncation as the CPU's int64_t(r).
    store2(pc.y + i, !is_nan(r) && r >= 0.0 && r < float(pc.rows) ? load0(pc.data + uint(r) * pc.width + c)
                                                                   : uintBitsToFloat(0x7FC00000u));
  }
}
