#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

// One strided copy for the layout ops (encode_reduce.cpp): broadcast_to
// (source strides 0 on broadcast axes), reshape (a flat copy), concat (one
// dispatch per input into its window of the output), slice (a window of the
// source) and slice_backward (PAD: the whole output, zero outside the window).
// The same functions as engine/ops_reduce.cpp. The encoder drops size-1 axes
// and merges axes that are contiguous in both tensors, so most copies walk
// one or two dims.

// 1: slice_backward. Axis 3 of the walk is the sliced axis: destination
// coordinates [win_lo, win_hi) read the source at coordinate − win_lo, the rest are 0.
layout(constant_id = 0) const uint PAD = 0;

layout(push_constant) uniform Push {
  uint src_off, dst_off;  // slots 0 and 1
  uint n;                   // elements to write: the product of d0..d4
  uint rank;                // dims in use, right-aligned: d(5 − rank) .. d4
  uint d0, d1, d2, d3, d4;  // the walked shape, outermost first (unused: 1)
  uint s0, s1, s2, s3, s4;  // source strides
  uint t0, t1, t2, t3, t4;  // destination strides
  uint win_lo, win_hi;      // PAD only
} pc;

void main() {
  const uint d[5] = uint[5](pc.d0, pc.d1, pc.d2, pc.d3, pc.d4);
  const uint s[5] = uint[5](pc.s0, pc.s1, pc.s2, pc.s3, pc.s4);
  const uint t[5] = uint[5](pc.t0, pc.t1, pc.t2, pc.t3, pc.t4);
  GRID_STRIDE(i, pc.n) {
    uint rem = i, src = pc.src_off, dst = pc.dst_off;
    bool inside = true;
    for (int k = 4; k >= 5 - int(pc.rank); --k) {
      uint c = rem % d[k];
      rem /= d[k];
      dst += c * t[k];
      if (PAD != 0u && k == 3) {
        inside = c >= pc.win_lo && c < pc.win_hi;
        c -= pc.win_lo;  // wraps when outside; unused then
      }
      src += c * s[k];
    }
    // a branch, not ?:, so that no load is issued at the wrapped address
    float v = 0.0;
    if (inside) v = load0(src);
    store1(dst, v);
  }
}
