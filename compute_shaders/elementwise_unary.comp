#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "elementwise_math.glsl"
#include "shader_codes.glsl"

// y = f(x) elementwise, f chosen by specialization constant 0: the unary ops of
// engine/ops_elementwise.cpp (and a plain copy for assign, ops_optim.cpp), in
// the same forms as their CPU reference kernels, which the backend parity
// tests compare against. x and y may be the same tensor or distinct ones.

// Op codes: UNARY_* of shader_codes.h (UnaryCode in the encoders).
layout(constant_id = 0) const uint OP = UNARY_SCALE;

layout(push_constant) uniform Push {
  uint n;       // elements
  uint x;       // slot 0, x: [n]
  uint y;       // slot 1, y: [n]
  float alpha;  // scale: alpha·x + beta; leaky_relu: negative slope; clamp: [alpha, beta]
  float beta;
} pc;

// tanh(|x|) = expm1(2|x|) / (expm1(2|x|) + 2): no cancellation near 0 and no
// inf/inf for large |x| (tanh(10) is 1 in float32); GLSL's tanh may be
// neither.
float tanh_stable(float x) {
  const float a = abs(x);
  if (a > 10.0) return x > 0.0 ? 1.0 : -1.0;
  const float e = expm1_accurate(2.0 * a);
  const float t = e / (e + 2.0);
  return x < 0.0 ? -t : t;
}

// exp of a non-positive number only, as stable_sigmoid on the CPU.
float sigmoid_stable(float x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  const float e = exp(x);
  return e / (1.0 + e);
}

float apply(float x) {
  // Every op here maps NaN to NaN on the CPU (leaky_relu as alpha·x, clamp by
  // failing both comparisons); explicit, so that no comparison or GLSL
  // function whose NaN behaviour the spec leaves open decides it.
  if (is_nan(x)) return x;
  if (OP == UNARY_SCALE) return pc.alpha * x + pc.beta;
  if (OP == UNARY_SQUARE) return x * x;
  if (OP == UNARY_SQRT) return x < 0.0 ? uintBitsToFloat(0x7FC00000u) : sqrt(x);  // GLSL: undefined; CPU: NaN
  if (OP == UNARY_EXP) return exp(x);
  if (OP == UNARY_TANH) return tanh_stable(x);
  if (OP == UNARY_SIGMOID) return sigmoid_stable(x);
  if (OP == UNARY_LEAKY_RELU) return x > 0.0 ? x : pc.alpha * x;
  if (OP == UNARY_CLAMP) return x < pc.alpha ? pc.alpha : (x > pc.beta ? pc.beta : x);
  // UNARY_COPY (assign)
  return x;
}

void main() {
  GRID_STRIDE(i, pc.n) { store1(pc.y + i, apply(load0(pc.x + i))); }
}
