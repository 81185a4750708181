#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "elementwise_math.glsl"

// Adam of engine/ops_optim.cpp (torch.optim.Adam's arithmetic), in place on
// param, m and v. The update count t = step·t_per_step + t_offset + 1 comes
// from the step uniforms. The CPU forms the bias corrections 1 − β^t in
// double; here they are −expm1(t·ln β) in float with ln β from the host, so
// 1 − β^t does not cancel when β^t is near 1 (β2 = 0.999, t small).

layout(push_constant) uniform Push {
  uint n;      // elements of each tensor
  uint param;  // slot 0, param: [n], updated
  uint grad;   // slot 1, grad: [n]
  uint m;      // slot 2, m: [n], first moment, updated
  uint v;      // slot 3, v: [n], second moment, updated
  float lr, beta1, beta2, eps;
  float ln_beta1, ln_beta2;  // ln β, formed in double on the host
  float t_per_step;          // updates per step
  float t_first;             // t_offset + 1
  uint skip_nonfinite;       // 1: an element whose gradient is Inf or NaN is left as it is
} pc;

void main() {
  const float step = float(step_u.step_hi) * 4294967296.0 + float(step_u.step_lo);
  const float t = step * pc.t_per_step + pc.t_first;
  const float bc1 = -expm1_accurate(t * pc.ln_beta1), bc2 = -expm1_accurate(t * pc.ln_beta2);
  const float step_size = pc.lr / bc1, rbc2 = 1.0 / sqrt(bc2);
  GRID_STRIDE(i, pc.n) {
    const float g = load1(pc.grad + i);
    if (pc.skip_nonfinite != 0u && is_nonfinite(g)) continue;
    const float m = pc.beta1 * load2(pc.m + i) + (1.0 - pc.beta1) * g;
    const float v = pc.beta2 * load3(pc.v + i) + (1.0 - pc.beta2) * g * g;
    store2(pc.m + i, m);
    store3(pc.v + i, v);
    store0(pc.param + i, load0(pc.param + i) - (step_size * m / (sqrt(v) * rbc2 + pc.eps)));
  }
}
