#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// gather_backward(dy [B, W...], index [B]) → [rows, W...] of
// engine/ops_data.cpp: dy's rows added into the rows they were gathered
// from, deterministically and without float atomics. One invocation per
// column walks the batch in order, so every output element is summed by one
// invocation in the CPU's order (bit for bit its result). The output must be
// zeroed first (encode_data.cpp dispatches data_fill before this).

layout(push_constant) uniform Push {
  uint width;  // elements per row (the invocation count)
  uint dy;     // slot 0, dy: [B, width]
  uint index;  // slot 1, index: [B], float32; rows outside [0, rows) are skipped
  uint y;      // slot 2, y: [rows, width], zeroed
  uint batch;  // B
  uint rows;
} pc;

void main() {
  GRID_STRIDE(c, pc.width) {
    for (uint i = 0; i < pc.batch; ++i) {
      const float r = load1(pc.index + i);
      if (!(r >= 0.0 && r < float(pc.rows))) continue;
      const uint at = pc.y + uint(r) * pc.width + c;
      store2(at, load2(at) + load0(pc.dy + i * pc.width + c));
    }
  }
}
