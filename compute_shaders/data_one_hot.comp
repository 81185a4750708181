#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// one_hot(labels [B]) → [B, classes] of engine/ops_data.cpp: labels are
// float32 holding integers (truncated as the CPU's int64_t(l)); a label
// outside [0, classes) gives a zero row. One invocation per output element.

layout(push_constant) uniform Push {
  uint n;       // elements of y = B·classes
  uint labels;  // slot 0, labels: [B]
  uint y;       // slot 1, y: [B, classes]
  uint classes;
} pc;

void main() {
  GRID_STRIDE(i, pc.n) {
    const uint b = i / pc.classes, c = i - b * pc.classes;
    const float l = load0(pc.labels + b);
    store1(pc.y + i, l >= 0.0 && l < float(pc.classes) && uint(l) == c ? 1.0 : 0.0);
  }
}
