#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "elementwise_math.glsl"
#include "shader_codes.glsl"

// y = f(a, b) elementwise with NumPy broadcasting (rank ≤ 5), f chosen by
// specialization constant 0: add, sub, mul, div and the same-shape pairs
// leaky_relu_backward(dy, x), clamp_backward(dy, x), bce_with_logits(x, t) of
// engine/ops_elementwise.cpp, in the forms of its CPU reference kernels (the
// backend parity tests compare them). Specialization constant 1 = 0 is the
// fast path where a, b and y all have y's shape.

// Op codes: BINARY_* of shader_codes.h (BinaryCode in the encoders).
layout(constant_id = 0) const uint OP = BINARY_ADD;
layout(constant_id = 1) const uint BROADCAST = 0;

layout(push_constant) uniform Push {
  uint n;       // elements of y
  uint a;       // slot 0, a: broadcast to y's shape by the strides sa
  uint b;       // slot 1, b: broadcast to y's shape by the strides sb
  uint y;       // slot 2, y: [dim[0], ..., dim[4]], row-major
  float alpha;  // leaky_relu_backward: negative slope; clamp_backward: [alpha, beta]
  float beta;
  // y's shape right-aligned in 5 axes (leading axes 1), and the element
  // strides of a and b along them (0 on broadcast axes).
  uint dim[5];
  uint sa[5];
  uint sb[5];
} pc;

float apply(float a, float b) {
  // As on the CPU: a NaN operand is the result, except that the backward
  // passes select dy by x, and a NaN x selects alpha·dy (leaky_relu) or 0
  // (clamp). Explicit, as the NaN tests of elementwise_math.glsl explain.
  if (OP != BINARY_LEAKY_RELU_BACKWARD && OP != BINARY_CLAMP_BACKWARD && (is_nan(a) || is_nan(b)))
    return is_nan(a) ? a : b;
  if (OP == BINARY_ADD) return a + b;
  if (OP == BINARY_SUB) return a - b;
  if (OP == BINARY_MUL) return a * b;
  if (OP == BINARY_DIV) return a / b;
  if (OP == BINARY_LEAKY_RELU_BACKWARD) return is_nan(a) || (!is_nan(b) && b > 0.0) ? a : pc.alpha * a;  // a = dy, b = x
  if (OP == BINARY_CLAMP_BACKWARD) return !is_nan(b) && b >= pc.alpha && b <= pc.beta ? a : 0.0;          // a = dy, b = x
  // BINARY_BCE_WITH_LOGITS, a = logits x, b = targets t:
  // max(x, 0) − x·t + log1p(exp(−|x|)), log1p accurate where exp(−|x|) is tiny.
  return (a > 0.0 ? a : 0.0) - a * b + log1p_small(exp(-abs(a)));
}

void main() {
  GRID_STRIDE(i, pc.n) {
    uint ia = i, ib = i;
    if (BROADCAST != 0) {
      ia = 0;
      ib = 0;
      // Peel coordinates from the last axis; once the rest is 0 every
      // remaining coordinate is 0 and adds nothing.
      uint rest = i;
      for (int k = 4; k >= 0 && rest != 0; --k) {
        const uint q = rest / pc.dim[k], c = rest - q * pc.dim[k];
        ia += c * pc.sa[k];
        ib += c * pc.sb[k];
        rest = q;
      }
    }
    store2(pc.y + i, apply(load0(pc.a + ia), load1(pc.b + ib)));
  }
}
