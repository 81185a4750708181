#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "elementwise_math.glsl"

// RMSProp of engine/ops_optim.cpp (torch.optim.RMSprop without momentum), in
// place on param and sq; checked over three steps by SourceParity in
// tests/test_backend_parity.cpp.

layout(push_constant) uniform Push {
  uint n;       // elements of each tensor
  uint param;   // slot 0, param: [n], updated
  uint grad;    // slot 1, grad: [n]
  uint sq;      // slot 2, sq: [n], running mean of grad², updated
  float alpha;  // decay of sq
  float lr, eps;
  uint skip_nonfinite;  // 1: an element whose gradient is Inf or NaN is left as it is
} pc;

void main() {
  GRID_STRIDE(i, pc.n) {
    const float g = load1(pc.grad + i);
    if (pc.skip_nonfinite != 0u && is_nonfinite(g)) continue;
    const float sq = pc.alpha * load2(pc.sq + i) + (1.0 - pc.alpha) * g * g;
    store2(pc.sq + i, sq);
    store0(pc.param + i, load0(pc.param + i) - (pc.lr * g / (sqrt(sq) + pc.eps)));
  }
}
