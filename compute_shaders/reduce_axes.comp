#version 450
#extension GL_GOOGLE_include_directive : require
#ifdef GANTRY_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"
#include "elementwise_math.glsl"
#include "shader_codes.glsl"

// Every reduction over an axis set of a rank ≤ 5 row-major tensor, and the ops
// that finish one: reduce_sum, normalize, rstd, normalize_backward and
// log_softmax (encoded by encode_reduce.cpp; the same functions as the CPU
// references in engine/ops_reduce.cpp, ops_norm.cpp and ops_softmax.cpp).
// Sums are fp32 in a fixed order (per-lane strided sums, then a shared-memory
// tree; chunk partials the same way): no atomics, so a step is deterministic.
//
// Indexing: output element o runs row-major over the kept axes, inner index j
// row-major over the reduced axes. The encoder merges adjacent axes of the
// same kind, leaving ≤ 3 kept and ≤ 3 reduced segments (outermost first,
// unused ones dim 1 / stride 0), so x[o, j] = x[kept_base(o) + red_off(j)].
//
// Work: a workgroup of LOCAL lanes (a power of two: 256, or 128 where the
// device allows no more) takes OUT_TILE consecutive outputs (a "tile") and
// one chunk of j; the R_LANES = LOCAL / OUT_TILE lanes of one output stride
// over the chunk and meet in a tree. Outputs along a contiguous innermost axis
// go in one tile, so lanes read neighbouring addresses either way.
//   PHASE 0  chunks == 1: statistics and result in one dispatch
//   PHASE 1  statistics of each (output, chunk) → scratch[outer][chunks][2]
//   PHASE 2  combine each output's chunks (a strided sum and a tree) and finish
// Built twice (vulkan.cmake): reduce_axes, and reduce_axes_subgroup with
// GANTRY_SUBGROUP, which meets each output's lanes by subgroupAdd/Max instead
// of the tree whenever they make whole subgroups (see subgroup_reduce).
layout(constant_id = 0) const uint OUT_TILE = 1;  // power of two ≤ LOCAL
layout(constant_id = 1) const uint OP = REDUCE_SUM;  // REDUCE_* of shader_codes.h (ReduceCode in the encoder)
layout(constant_id = 2) const uint PHASE = 0;

// OP:
//   REDUCE_SUM                 out[o] = Σ x                                  stats (Σ x, 0)
//   REDUCE_NORMALIZE           out = (x − mean) · rstd                       stats (mean, M2)
//   REDUCE_RSTD                out[o] = 1 / sqrt(M2 / n + eps)               stats (mean, M2)
//   REDUCE_NORMALIZE_BACKWARD  out = rstd·(dy − mean dy − x̂·mean(dy·x̂))     stats (Σ dy, Σ dy·x̂)
//   REDUCE_LOG_SOFTMAX         out = (x − max) − log Σ exp(x − max)          stats (max, Σ exp), PHASE 0 only

const uint R_LANES = LOCAL / OUT_TILE;

// Slots (common.glsl): x in 0, x̂ in 1, rstd in 2, out in 3; the scratch in 3
// for PHASE 1 (which writes no output) and in 2 for PHASE 2 (which then reads
// rstd from the scratch's tail, copied there by PHASE 1).
layout(push_constant) uniform Push {
  uint x_off;        // x, or dy for normalize_backward: [outer × inner] as above
  uint xhat_off;     // normalize_backward: x̂, the shape of dy
  uint rstd_off;     // normalize_backward: rstd, [outer] (PHASE 2: its copy in the scratch)
  uint out_off;      // [outer] (sum, rstd) or the shape of x
  uint scratch_off;  // PHASE 1, 2: [outer][chunks][2], then for normalize_backward rstd's copy [outer]
  uint outer, inner, chunks, chunk_len;
  uint eps_bits;
  uint rd0, rd1, rd2, rs0, rs1, rs2;  // reduced segments: dims, strides
  uint kd0, kd1, kd2, ks0, ks1, ks2;  // kept segments: dims, strides
} pc;

// 8·LOCAL bytes (and as much again for part[] below): encode_reduce.cpp
// declares them for the dispatch (Dispatch::shared_bytes).
shared vec2 red[LOCAL];

uint lane, ol, rl;  // this invocation: index, output within the tile, lane within the output

uint kept_base(uint o) {
  return (o % pc.kd2) * pc.ks2 + ((o / pc.kd2) % pc.kd1) * pc.ks1 + (o / (pc.kd2 * pc.kd1)) * pc.ks0;
}

// Walks j = first, first + R_LANES, ... keeping j's reduced-segment digits, so
// the loop needs no division: R_LANES in those digits is added with carries.
struct Cursor {
  uvec3 digit;
  uint j, base, off;
};
uvec3 step_digits;

uint red_off(uvec3 d) { return d.x * pc.rs0 + d.y * pc.rs1 + d.z * pc.rs2; }
Cursor cursor_at(uint j, uint base) {
  Cursor k;
  k.digit = uvec3(j / (pc.rd1 * pc.rd2), (j / pc.rd2) % pc.rd1, j % pc.rd2);
  k.j = j;
  k.base = base;
  k.off = base + red_off(k.digit);
  return k;
}
void advance(inout Cursor k) {
  k.digit.z += step_digits.z;  // step_digits.z < rd2 and .y < rd1: one carry at most
  uint carry = k.digit.z >= pc.rd2 ? 1u : 0u;
  k.digit.z -= carry * pc.rd2;
  k.digit.y += step_digits.y + carry;
  carry = k.digit.y >= pc.rd1 ? 1u : 0u;
  k.digit.y -= carry * pc.rd1;
  k.digit.x += step_digits.x + carry;
  k.off = k.base + red_off(k.digit);
  k.j += R_LANES;
}

vec2 meet(vec2 a, vec2 b, bool take_max) { return take_max ? max(a, b) : a + b; }

#ifdef GANTRY_SUBGROUP
shared vec2 part[LOCAL];  // one per subgroup: gl_SubgroupSize may be as small as 1

// gl_SubgroupSize is a power of two ≤ 128 known only at run time. The lanes of
// one output make whole subgroups when all subgroups are full and R_LANES is a
// multiple of the size; otherwise the tree. Uniform in the workgroup.
bool subgroups_fit() { return gl_NumSubgroups * gl_SubgroupSize == LOCAL && R_LANES % gl_SubgroupSize == 0u; }

// Loads run with lane = rl·OUT_TILE + ol (neighbouring outputs, neighbouring
// lanes), so for OUT_TILE > 1 the values first go through red[] into
// output-major order over the subgroups: slot i = subgroup·size + invocation
// takes output i / R_LANES, lane i % R_LANES. No lane-to-subgroup layout is
// assumed. Each subgroup reduces, leaves one partial, and every lane combines
// its output's R_LANES / size partials in order: deterministic, as the tree.
vec2 subgroup_reduce(vec2 v, bool take_max) {
  barrier();  // the previous call's readers are done with red[] and part[]
  if (OUT_TILE > 1u) {
    red[lane] = v;
    barrier();
    const uint i = gl_SubgroupID * gl_SubgroupSize + gl_SubgroupInvocationID;
    v = red[(i % R_LANES) * OUT_TILE + i / R_LANES];
  }
  v = take_max ? subgroupMax(v) : subgroupAdd(v);
  if (gl_SubgroupInvocationID == 0u) part[gl_SubgroupID] = v;
  barrier();
  const uint per = R_LANES / gl_SubgroupSize, first = ol * per;
  v = part[first];
  for (uint k = 1u; k < per; ++k) v = meet(v, part[first + k], take_max);
  return v;
}
#endif

// Sum (or max) over the R_LANES lanes of each output; every lane gets its output's result.
// Called in uniform control flow only (it has barriers).
vec2 group_reduce(vec2 v, bool take_max) {
#ifdef GANTRY_SUBGROUP
  if (subgroups_fit()) return subgroup_reduce(v, take_max);
#endif
  barrier();  // the previous call's readers are done with red[]
  red[lane] = v;
  barrier();
  for (uint s = R_LANES / 2u; s > 0u; s >>= 1u) {
    if (rl < s) red[lane] = meet(red[lane], red[lane + s * OUT_TILE], take_max);
    barrier();
  }
  return red[ol];
}
vec2 group_sum(vec2 v) { return group_reduce(v, false); }
float group_max(float v) { return group_reduce(vec2(v, 0), true).x; }

// Statistics of x[o, j0 .. j1) (the chunk's; the whole group's when chunks == 1).
vec2 chunk_stats(uint base, uint j0, uint j1) {
  const float n = float(max(j1 - j0, 1u));
  if (OP == REDUCE_NORMALIZE_BACKWARD) {
    vec2 s = vec2(0);
    for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k)) {
      const float dy = load0(pc.x_off + k.off);
      s += vec2(dy, dy * load1(pc.xhat_off + k.off));
    }
    return group_sum(s);
  }
  if (OP == REDUCE_LOG_SOFTMAX) {
    float m = uintBitsToFloat(0xff800000u);  // −inf
    for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k)) m = max(m, load0(pc.x_off + k.off));
    m = group_max(m);
    float s = 0;
    // A NaN x makes the row NaN, as on the CPU (is_nan: see elementwise_math.glsl).
    for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k)) {
      const float d = load0(pc.x_off + k.off) - m;
      s += is_nan(d) ? d : exp(d);
    }
    return vec2(m, group_sum(vec2(s, 0)).x);
  }
  float s = 0;
  for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k)) s += load0(pc.x_off + k.off);
  s = group_sum(vec2(s, 0)).x;
  if (OP == REDUCE_SUM) return vec2(s, 0);
  // Two passes, as the CPU reference: the second re-reads the chunk (cached)
  // and avoids the cancellation of Σx² − n·mean².
  const float mean = s / n;
  float m2 = 0;
  for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k)) {
    const float d = load0(pc.x_off + k.off) - mean;
    m2 += d * d;
  }
  return vec2(mean, group_sum(vec2(m2, 0)).x);
}

// Output o's statistics from its chunks in scratch: the output's lanes take
// every R_LANES-th chunk, then meet in the tree (a fixed order again). Moments
// combine as in Chan, Golub & LeVeque (1979): mean = Σ n_c·mean_c / n,
// M2 = Σ M2_c + n_c·(mean_c − mean)². Uniform control flow only.
vec2 combine_chunks(uint o, bool valid) {
  const uint p = pc.scratch_off + o * pc.chunks * 2u;
  const uint chunks = valid ? pc.chunks : 0u;
  if (OP != REDUCE_NORMALIZE && OP != REDUCE_RSTD) {
    vec2 s = vec2(0);
    for (uint c = rl; c < chunks; c += R_LANES) s += vec2(load2(p + 2u * c), load2(p + 2u * c + 1u));
    return group_sum(s);
  }
  float s = 0;
  for (uint c = rl; c < chunks; c += R_LANES)
    s += float(min(pc.chunk_len, pc.inner - c * pc.chunk_len)) * load2(p + 2u * c);
  const float mean = group_sum(vec2(s, 0)).x / float(pc.inner);
  float m2 = 0;
  for (uint c = rl; c < chunks; c += R_LANES) {
    const float d = load2(p + 2u * c) - mean;
    m2 += load2(p + 2u * c + 1u) + float(min(pc.chunk_len, pc.inner - c * pc.chunk_len)) * d * d;
  }
  return vec2(mean, group_sum(vec2(m2, 0)).x);
}

// 1 / sqrt(variance + eps); a NaN variance stays NaN (see elementwise_math.glsl).
float rstd_of(float variance) {
  const float v = variance + uintBitsToFloat(pc.eps_bits);
  return is_nan(v) ? v : 1.0 / sqrt(v);
}

void main() {
  lane = gl_LocalInvocationIndex;
  ol = lane % OUT_TILE;
  rl = lane / OUT_TILE;
  step_digits = uvec3(R_LANES / (pc.rd1 * pc.rd2), (R_LANES / pc.rd2) % pc.rd1, R_LANES % pc.rd2);
  const float inv_n = 1.0 / float(pc.inner);
  const uint tiles = (pc.outer + OUT_TILE - 1u) / OUT_TILE;
  // sum and rstd finish once per output, not once per chunk
  const bool per_output = PHASE == 2u && (OP == REDUCE_SUM || OP == REDUCE_RSTD);
  const uint chunks = per_output ? 1u : pc.chunks;
  // w is uniform in the workgroup, so the barriers below are in uniform control flow.
  for (uint w = gl_WorkGroupID.x; w < tiles * chunks; w += gl_NumWorkGroups.x) {
    const uint chunk = w % chunks;
    const uint o = (w / chunks) * OUT_TILE + ol;
    const bool valid = o < pc.outer;
    const uint base = valid ? kept_base(o) : 0u;
    const uint j0 = chunk * pc.chunk_len;
    const uint j1 = valid ? min(pc.inner, j0 + pc.chunk_len) : j0;

    vec2 st;
    if (PHASE == 2u) {
      st = combine_chunks(o, valid);
    } else {
      st = chunk_stats(base, j0, j1);
      if (PHASE == 1u) {
        if (valid && rl == 0u) {
          const uint p = pc.scratch_off + (o * pc.chunks + chunk) * 2u;
          store3(p, st.x);
          store3(p + 1u, st.y);
          // PHASE 2 has no slot left for rstd: it reads this copy (the encoder points rstd_off at it).
          if (OP == REDUCE_NORMALIZE_BACKWARD && chunk == 0u)
            store3(pc.scratch_off + pc.outer * pc.chunks * 2u + o, load2(pc.rstd_off + o));
        }
        continue;
      }
    }

    if (OP == REDUCE_SUM || OP == REDUCE_RSTD) {
      if (valid && rl == 0u)
        store3(pc.out_off + o, OP == REDUCE_SUM ? st.x : rstd_of(st.y * inv_n));
    } else if (OP == REDUCE_NORMALIZE) {
      const float mean = st.x, rstd = rstd_of(st.y * inv_n);
      for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k))
        store3(pc.out_off + k.off, (load0(pc.x_off + k.off) - mean) * rstd);
    } else if (OP == REDUCE_NORMALIZE_BACKWARD) {
      const float m1 = st.x * inv_n, m2 = st.y * inv_n;
      float r = 0.0;
      if (valid) r = load2(pc.rstd_off + o);  // a branch: no load past rstd's end
      for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k))
        store3(pc.out_off + k.off, r * (load0(pc.x_off + k.off) - m1 - load1(pc.xhat_off + k.off) * m2));
    } else {  // log_softmax: (x − max) − log Σ, not x − (max + log Σ): see ops_softmax.cpp
      const float log_sum = is_nan(st.y) ? st.y : log(st.y);
      for (Cursor k = cursor_at(j0 + rl, base); k.j < j1; advance(k))
        store3(pc.out_off + k.off, (load0(pc.x_off + k.off) - st.x) - log_sum);
    }
  }
}
